#!/usr/bin/env bash
# Builds the addon with ASan + UBSan (clang-14) into build-asan/Release/tunio.node, without
# touching build/Release, then runs the tap suite against it.
#   scripts/sanitize-addon.sh                 build + tap (test/**/*.test.ts but five, below)
#   scripts/sanitize-addon.sh test/x.test.ts  build + tap on the given files
#   SANITIZE_BUILD_ONLY=1 scripts/sanitize-addon.sh
#
# How the sanitized addon gets loaded: TUNIO_ADDON_PATH (honoured by lib/binding.ts) names
# build-asan/Release/tunio.node for the tap run; build/Release is neither rebuilt nor touched.
#
# Runtime: node itself is not instrumented, so the ASan runtime is LD_PRELOADed (the addon is
# linked with -shared-libsan and leaves the runtime's symbols to the preload).
#   detect_leaks=0  LeakSanitizer reports V8's and node's own process-lifetime allocations
#                   (isolate, snapshot, ICU, libuv, OpenSSL) that are never freed at exit; they
#                   drown any real addon leak. Pool memory is accounted by pool.stats() and
#                   tested there (inUseBytes, leaked) instead.
#   handle_segv=0   V8 uses SIGSEGV for WebAssembly bounds checks and its own crash handler.
#   halt_on_error / abort_on_error: the first report fails the run (non-zero exit).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

cc=${CC_SAN:-clang-14}
cxx=${CXX_SAN:-clang++-14}
out=$root/build-asan
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g"

echo "== sanitize-addon: building ASan+UBSan addon with $cxx"
mkdir -p "$out/Release"
# build-asan/ is scratch output: keep it out of git without touching .gitignore.
printf '*\n' >"$out/.gitignore"
work=$(mktemp -d "$out/tree.XXXXXX")
cleanup_work() { rm -rf "$work"; }
trap cleanup_work EXIT

# shellcheck source=scripts/addon-build-tree.sh
. "$root/scripts/addon-build-tree.sh"
addon_build_tree "$work"

jobs=$(nproc 2>/dev/null || echo 2)
# Same headers as `npm run build:native`.
gyp_args=(rebuild --jobs="$jobs" --loglevel=warn)
nodedir_arg=$(node_gyp_dir_args)
if [ -n "$nodedir_arg" ]; then gyp_args+=("$nodedir_arg"); fi
(
  cd "$work"
  CC=$cc CXX=$cxx \
  CFLAGS="$san" CXXFLAGS="$san" \
  LDFLAGS="-fsanitize=address,undefined -shared-libsan" \
    "$root/node_modules/.bin/node-gyp" "${gyp_args[@]}"
)
cp "$work/build/Release/tunio.node" "$out/Release/tunio.node"
rm -rf "$work"
trap - EXIT
echo "   -> build-asan/Release/tunio.node"

if [ "${SANITIZE_BUILD_ONLY:-0}" = 1 ]; then exit 0; fi

asan_rt=$($cc -print-file-name=libclang_rt.asan-x86_64.so)
if [ ! -f "$asan_rt" ]; then echo "ASan runtime not found ($asan_rt): install libclang-rt-14-dev" >&2; exit 1; fi

export TUNIO_ADDON_PATH=$out/Release/tunio.node

echo "== sanitize-addon: tap suite with the sanitized addon"
# LD_PRELOAD reaches every child of the tests too, and the system's `ip` is not clean under
# ASan: iproute2 6.1's print_route calls strncpy on overlapping buffers (`ip route get`),
# which the preloaded runtime reports and aborts on. A shim first in PATH runs the real `ip`
# without the preload, and gives it back to the command of `ip netns exec NS CMD...` (a
# forwarder started in a namespace is node with the sanitized addon and needs it). Only `ip`
# is shimmed: it is the one tool found to trip ASan; the others run as they are.
real_ip=$(command -v ip)
shim_dir=$(mktemp -d "$out/shim.XXXXXX")
trap 'rm -rf "$shim_dir"' EXIT
cat >"$shim_dir/ip" <<SHIM
#!/bin/sh
# Written by scripts/sanitize-addon.sh: \$real_ip without the ASan preload.
preload=\${LD_PRELOAD:-}
unset LD_PRELOAD
if [ "\$1" = netns ] && [ "\$2" = exec ] && [ -n "\$preload" ]; then
  ns=\$3; shift 3
  exec $real_ip netns exec "\$ns" env LD_PRELOAD="\$preload" "\$@"
fi
exec $real_ip "\$@"
SHIM
chmod +x "$shim_dir/ip"
export PATH=$shim_dir:$PATH
export LD_PRELOAD=$asan_rt
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:handle_segv=0:halt_on_error=1:abort_on_error=1:allocator_may_return_null=1:detect_stack_use_after_return=0:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Tests with wall-clock deadlines (echo tunnel, UDP over veth) stretch them by this flag; they
# never lower volumes or weaken what they assert.
export TUNIO_SANITIZED=1
# Slower under ASan: give each file more time than the default 180 s.
# tap writes ASan/UBSan reports (stderr of the test process) with the failing test.
# With no files named: every test file but those that run no native code of ours, or only run
# code another file already covers (the sanitized run is the longest stage of CI):
#   typings     tsc on the published declarations, consumers run without loading the addon
#   api-docs    typedoc output compared with docs/api
#   test-setup  the apt package step of npm test
#   demo        scripts/demo.js's messages; its tunnel is echo-tunnel.test.ts's, which runs here
#   tunnel-reference  bench/tunnel_reference.c, the C forwarder (not built with the sanitizers);
#               its one use of the addon (an echo endpoint's gso_max_size) echo-tunnel covers
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  mapfile -t files < <(find test -name '*.test.ts' | sort | grep -v -x -e test/typings.test.ts \
    -e test/api-docs.test.ts -e test/test-setup.test.ts -e test/demo.test.ts \
    -e test/tunnel-reference.test.ts)
fi
"$root/node_modules/.bin/tap" --timeout=600 "${files[@]}"
