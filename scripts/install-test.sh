#!/usr/bin/env bash
# Install test (CI stage; needs root for the namespace): packs tunio as users get it and
# installs the tarball into fresh temporary projects, then opens a TUN and exchanges a UDP
# datagram each way through it inside a throwaway namespace (test/fixtures/install-consumer.js).
#   prebuild  PATH holds only node, npm and sh: no compiler, make or python reachable. The
#             install must not build; prebuilds/linux-<arch>/tunio.node must be what loads.
#   source    npm_config_build_from_source=true: node-gyp-build must compile from the
#             tarball's sources; build/Release/tunio.node must be what loads.
#   bash scripts/install-test.sh [prebuild] [source]     (default: both)
# Needs prebuilds/ (npm run build:prebuilds) and dependencies from the npm registry.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

modes=("$@")
if [ ${#modes[@]} -eq 0 ]; then modes=(prebuild source); fi
arch=$(node -p process.arch)
if [ ! -f "prebuilds/linux-$arch/tunio.node" ]; then
  echo "install-test: prebuilds/linux-$arch/tunio.node missing: run npm run build:prebuilds" >&2
  exit 1
fi

work=$(mktemp -d /tmp/tunio-install-test.XXXXXX)
ns=""
cleanup() {
  if [ -n "$ns" ]; then ip netns del "$ns" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== npm pack"
npm pack --silent --pack-destination "$work" >/dev/null
tarball=$(ls "$work"/tunio-*.tgz)
echo "   $(basename "$tarball"): $(stat -c %s "$tarball") bytes"

# Same header directory for node-gyp as the rest of the build (no header download).
# shellcheck source=scripts/addon-build-tree.sh
. "$root/scripts/addon-build-tree.sh"
nodedir_arg=$(node_gyp_dir_args)
nodedir=${nodedir_arg#--nodedir=}

# A PATH with nothing but node, npm and a POSIX shell (npm runs install scripts through sh).
bare=$work/bare-bin
mkdir -p "$bare"
ln -s "$(command -v node)" "$bare/node"
ln -s "$(readlink -f "$(command -v npm)")" "$bare/npm"
ln -s "$(readlink -f /bin/sh)" "$bare/sh"
for tool in cc gcc g++ c++ clang make python3 python; do
  if PATH=$bare command -v "$tool" >/dev/null 2>&1; then
    echo "install-test: $tool is reachable from the bare PATH" >&2
    exit 1
  fi
done

run_consumer() {
  local project=$1
  ns=tunio-inst-$$-$RANDOM
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  cp "$root/test/fixtures/install-consumer.js" "$project/"
  local out
  out=$(cd "$project" && ip netns exec "$ns" node install-consumer.js)
  ip netns del "$ns"
  ns=""
  echo "$out"
}

# Asserts on the consumer's JSON: the expected addon file and only it, both directions.
check_result() {
  local json=$1 expected=$2
  node -e '
    const r = JSON.parse(process.argv[1]); const expected = process.argv[2]
    const fail = (m) => { console.error("install-test: " + m + "\n" + process.argv[1]); process.exit(1) }
    if (r.addons.length !== 1 || r.addons[0] !== expected) fail("expected only " + expected + " to be loaded")
    if (!r.readSrcPortMatches || !r.readPayload.startsWith("ping ")) fail("the datagram read from the TUN is not ours")
    if (r.writeAccepted !== 1) fail("tun.write did not accept the reply")
    if (r.received !== "pong " + r.readPayload || r.receivedFrom !== "10.77.0.2:9999") fail("the reply did not arrive")
    console.log("   loaded " + expected)
    console.log("   TUN read: \"" + r.readPayload + "\", kernel received: \"" + r.received + "\" from " + r.receivedFrom +
      "; offload " + JSON.stringify(r.offload))
  ' "$json" "$expected"
}

new_project() {
  local dir=$work/$1
  mkdir -p "$dir"
  printf '{ "name": "tunio-install-%s", "version": "1.0.0", "private": true }\n' "$1" >"$dir/package.json"
  echo "$dir"
}

for mode in "${modes[@]}"; do
  case "$mode" in
    prebuild)
      echo "== install with no compiler on PATH (must use the prebuild)"
      project=$(new_project prebuild)
      start=$SECONDS
      (cd "$project" && env -i HOME="$HOME" PATH="$bare" npm_config_nodedir="$nodedir" \
        npm install --no-audit --no-fund --loglevel=warn "$tarball")
      echo "   npm install: $((SECONDS - start)) s"
      if [ -e "$project/node_modules/tunio/build" ]; then
        echo "install-test: the install built something (node_modules/tunio/build exists)" >&2
        exit 1
      fi
      check_result "$(run_consumer "$project")" "$project/node_modules/tunio/prebuilds/linux-$arch/tunio.node"
      ;;
    source)
      echo "== install with npm_config_build_from_source=true (must compile)"
      project=$(new_project source)
      start=$SECONDS
      (cd "$project" && npm_config_build_from_source=true npm_config_nodedir="$nodedir" \
        npm install --no-audit --no-fund --loglevel=warn "$tarball")
      echo "   npm install: $((SECONDS - start)) s"
      check_result "$(run_consumer "$project")" "$project/node_modules/tunio/build/Release/tunio.node"
      ;;
    *) echo "install-test: unknown mode $mode" >&2; exit 1 ;;
  esac
done
echo "== install test passed (${modes[*]})"
