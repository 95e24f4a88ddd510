#!/usr/bin/env bash
# Builds every fuzz/*.cc libFuzzer target against all core sources (node scripts/sources.js
# core) with ASan + UBSan, runs each for N seconds (default 30) on a fresh copy of its seed
# corpus (fuzz/corpus/<target>/), and fails if any target crashes. Prints exec counts.
#   scripts/fuzz.sh [seconds-per-target]     (npm run fuzz: 300 s per target)
# Crash inputs are kept in build-fuzz/artifacts/<target>/ for reproduction:
#   build-fuzz/<target> build-fuzz/artifacts/<target>/crash-...
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
secs=${1:-30}
cxx=${CXX_FUZZ:-clang++-14}
out=build-fuzz
mkdir -p "$out/obj"
san=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
flags=(-std=c++17 -g -O1 -Wall -Wextra -Isrc-native/core "${san[@]}")

# Core objects once (instrumented for coverage, no fuzzer main), then one link per target.
objs=()
for src in $(node scripts/sources.js core); do
  obj="$out/obj/$(basename "${src%.cc}").o"
  "$cxx" "${flags[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
  objs+=("$obj")
done

targets=()
for f in fuzz/*.cc; do
  t=$(basename "${f%.cc}")
  # libcrypto: the AEAD target's OpenSSL (inside Node the addon uses Node's; see evp_api.h).
  "$cxx" "${flags[@]}" -fsanitize=fuzzer "$f" "${objs[@]}" -o "$out/$t" -Wl,--no-as-needed -lcrypto -ldl
  targets+=("$t")
done

declare -A execs
failed=()
for t in "${targets[@]}"; do
  corpus="$out/corpus/$t"
  rm -rf "$corpus"
  mkdir -p "$corpus" "$out/artifacts/$t"
  if [ -d "fuzz/corpus/$t" ]; then cp -r "fuzz/corpus/$t/." "$corpus/"; fi
  log="$out/$t.log"
  echo "== $t: ${secs}s"
  if "$out/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$out/artifacts/$t/" "$corpus" >"$log" 2>&1; then
    :
  else
    failed+=("$t")
    tail -n 40 "$log"
  fi
  execs[$t]=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
done

echo
echo "exec counts (${secs}s per target):"
for t in "${targets[@]}"; do printf '  %-22s %s\n' "$t" "${execs[$t]}"; done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]} (see $out/<target>.log and $out/artifacts/)"
  exit 1
fi
echo "all fuzz targets ran without crashes"
