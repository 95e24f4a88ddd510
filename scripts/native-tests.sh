#!/usr/bin/env bash
# Builds and runs the native unit tests of src-native/core (no Node) with doctest.
#   scripts/native-tests.sh            g++, -O1, warnings as errors
#   SANITIZE=1 scripts/native-tests.sh clang++ with ASan + UBSan
#   ARCH=arm64 scripts/native-tests.sh  cross-compiled with aarch64-linux-gnu-g++ and run under
#                                       qemu-aarch64 (npm run test:arm64; see docs/testing.md)
# Extra arguments go to the doctest binary (e.g. -tc="gso*"). DOCTEST_INCLUDE: where doctest.h
# is (default /usr/include/doctest, Debian's doctest-dev); OPENSSL_INCLUDE: where openssl/evp.h
# is (default /usr/include, Debian's libssl-dev).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# doctest and OpenSSL's headers are Debian packages (in scripts/test-packages.txt, which `npm
# test` installs as root): without them say so instead of failing with the compiler's "No such
# file or directory". Not root: skip (nothing could install them); root: fail.
doctest_dir=${DOCTEST_INCLUDE:-/usr/include/doctest}
missing=()
[ -f "$doctest_dir/doctest.h" ] || missing+=("doctest.h (Debian package doctest-dev)")
# The AEAD tests (x64 only, see arm64 below) include <openssl/evp.h> and link libcrypto.
if [ "${ARCH:-}" != arm64 ] && [ ! -f "${OPENSSL_INCLUDE:-/usr/include}/openssl/evp.h" ]; then
  missing+=("openssl/evp.h (Debian package libssl-dev)")
fi
if [ ${#missing[@]} -gt 0 ]; then
  msg="native-tests: not found: $(IFS=,; echo "${missing[*]}" | sed 's/,/, /g'); as root \`npm test\` installs the packages of scripts/test-packages.txt"
  if [ "$(id -u)" != 0 ]; then echo "$msg: skipping the native unit tests"; exit 0; fi
  echo "$msg" >&2
  exit 1
fi
out=build-native
mkdir -p "$out"
core=$(node scripts/sources.js core)
tests=$(ls test-native/*.cc)
flags=(-std=c++17 -g -Wall -Wextra -Werror -Isrc-native/core "-I$doctest_dir")
runner=()
runner_args=()
# OpenSSL's libcrypto: the AEAD core resolves its EVP functions with dlsym (inside Node they
# are Node's own); linking libcrypto here puts the same symbols in the global scope.
# --no-as-needed: nothing references libcrypto directly, it must stay linked anyway.
libs=(-Wl,--no-as-needed -lcrypto -ldl)
if [ "${ARCH:-}" = arm64 ]; then
  cxx=aarch64-linux-gnu-g++
  bin=$out/unit_tests_arm64
  flags+=(-O1)
  # -L: the aarch64 loader and libraries of Debian's cross toolchain packages.
  runner=(qemu-aarch64 -L /usr/aarch64-linux-gnu)
  # qemu-user 7.2 answers recvmsg() without a data buffer (msg_iovlen 0, as the IP_RECVERR
  # error-queue reader calls it) with 0 and no control messages instead of performing it, so
  # the error-queue tests cannot run there (native x64 runs them; see docs/testing.md).
  # The AEAD tests need libcrypto and its headers for arm64 (libssl-dev:arm64, a multiarch
  # package the cross toolchain does not bring): they run natively on x64 and under ASan.
  # qemu-user 7.2 also answers RTM_NEWRULE with EOPNOTSUPP (it does not translate FIB rule
  # messages), so the routes-and-rules test against the kernel runs natively on x64 only.
  skip="udp socket: ICMP port unreachable*,udp socket: a local EMSGSIZE*,udp socket: unconnected*,routes and rules against the kernel*"
  tests=$(ls test-native/*.cc | grep -v aead_test.cc)
  libs=(-ldl)
  echo "native-tests (arm64 under qemu): skipping test cases matching: $skip"
  runner_args=(-tce="$skip")
elif [ "${SANITIZE:-0}" = 1 ]; then
  cxx=${CXX_SAN:-clang++-14}
  bin=$out/unit_tests_san
  flags+=(-O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
else
  cxx=${CXX:-g++}
  bin=$out/unit_tests
  flags+=(-O1)
fi
if ! command -v "$cxx" >/dev/null; then
  echo "native-tests: compiler $cxx not found" >&2
  exit 1
fi
# One object per source, compiled in parallel (one job per CPU: the serial compile was most
# of this script's time), then one link. Objects go to a directory per binary, so the
# sanitized and arm64 builds never mix with this one.
objdir=$bin.objs
rm -rf "$objdir"
mkdir -p "$objdir"
export cxx objdir
export flags_line="${flags[*]}"
# shellcheck disable=SC2086,SC2016
printf '%s\n' $core $tests | xargs -P "$(nproc)" -I{} sh -c 'o="$objdir/$(echo "$1" | tr / _).o"; $cxx $flags_line -c "$1" -o "$o"' sh {}
"$cxx" "${flags[@]}" "$objdir"/*.o -o "$bin" "${libs[@]}"
"${runner[@]}" "$bin" "${runner_args[@]}" "$@"
