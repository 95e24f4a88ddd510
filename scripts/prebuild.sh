#!/usr/bin/env bash
# Builds the N-API prebuilds that ship in the npm tarball (npm run build:prebuilds):
#   prebuilds/linux-x64/tunio.node     with the host g++
#   prebuilds/linux-arm64/tunio.node   cross-compiled with Debian's g++-aarch64-linux-gnu
# node-gyp-build picks prebuilds/<platform>-<arch>/ at run time when there is no
# build/Release. Each architecture builds in a scratch copy of the inputs (build-prebuild/),
# so the developer's build/Release is not overwritten by a foreign binary.
#   PREBUILD_ARCHES="x64"  npm run build:prebuilds   only some architectures
#
# Not named "prebuild": npm runs a script of that name before every `npm run build`.
#
# Node API floor: the addon is built with NAPI_EXPERIMENTAL and node-addon-api then imports
# node_api_post_finalizer, which Node 20 has since 20.10.0; hence --target and "engines".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/addon-build-tree.sh
. "$root/scripts/addon-build-tree.sh"

arches=${PREBUILD_ARCHES:-"x64 arm64"}
target=node@20.10.0
scratch=$root/build-prebuild
mkdir -p "$scratch"
printf '*\n' >"$scratch/.gitignore"

nodedir_arg=$(node_gyp_dir_args)
if [ -z "$nodedir_arg" ]; then
  echo "prebuild: no node headers (npm nodedir or /usr/include/node); node-gyp would download them. Install them or set nodedir." >&2
  exit 1
fi
export npm_config_nodedir=${nodedir_arg#--nodedir=}
export PREBUILD_NODE_GYP=$root/node_modules/.bin/node-gyp
export JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

for arch in $arches; do
  case "$arch" in
    x64) cross="" ;;
    arm64) cross=aarch64-linux-gnu- ;;
    *) echo "prebuild: no toolchain configured for $arch" >&2; exit 1 ;;
  esac
  if ! command -v "${cross}g++" >/dev/null; then
    echo "prebuild: ${cross}g++ not found (apt-get install g++-aarch64-linux-gnu)" >&2
    exit 1
  fi
  tree=$(mktemp -d "$scratch/$arch.XXXXXX")
  addon_build_tree "$tree"
  echo "== prebuild linux-$arch (${cross}g++)"
  rm -rf "prebuilds/linux-$arch"
  CC=${cross}gcc CXX=${cross}g++ LINK=${cross}g++ AR=${cross}ar \
    "$root/node_modules/.bin/prebuildify" --napi --strip --strip-bin "${cross}strip" \
      --arch "$arch" --target "$target" --cwd "$tree" --out "$root"
  rm -rf "$tree"
  ls -l "prebuilds/linux-$arch/"
  file -L "prebuilds/linux-$arch/"*.node
done
