# Sourced by the scripts that build the addon somewhere other than build/Release (sanitized
# build, prebuilds): node-gyp always writes <cwd>/build, so they build in a scratch copy of the
# inputs and leave the developer's build/Release alone.
#
#   addon_build_tree DIR   copies what binding.gyp needs into DIR: binding.gyp, package.json,
#                          src-native/, scripts/sources.js and a node-addon-api symlink
#   node_gyp_dir_args      prints --nodedir=... : npm's configured nodedir, else /usr when the
#                          distribution's node headers are installed (/usr/include/node), else
#                          nothing (node-gyp run directly does not read .npmrc; without a
#                          nodedir it would download headers)
# Both expect $root (the repository) to be set.

addon_build_tree() {
  local dir=$1
  mkdir -p "$dir/scripts" "$dir/node_modules"
  cp "$root/binding.gyp" "$root/package.json" "$dir/"
  cp -r "$root/src-native" "$dir/"
  cp "$root/scripts/sources.js" "$dir/scripts/"
  ln -s "$root/node_modules/node-addon-api" "$dir/node_modules/node-addon-api"
}

node_gyp_dir_args() {
  local nodedir=${npm_config_nodedir:-$(npm config get nodedir 2>/dev/null || true)}
  case "$nodedir" in
    ''|undefined|null) if [ -f /usr/include/node/node_api.h ]; then echo "--nodedir=/usr"; fi ;;
    *) echo "--nodedir=$nodedir" ;;
  esac
}
