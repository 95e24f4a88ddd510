#!/usr/bin/env node
// The one list of native sources, shared by binding.gyp, CMakeLists.txt and the native test
// build: every .cc under src-native/core (no Node headers) and src-native/addon (N-API glue).
// Usage: node scripts/sources.js [core|addon|all] [--absolute]
'use strict'
const fs = require('fs')
const path = require('path')

const root = path.join(__dirname, '..')
function list (dir) {
  return fs.readdirSync(path.join(root, dir))
    .filter((f) => f.endsWith('.cc'))
    .sort()
    .map((f) => `${dir}/${f}`)
}
function sources (which) {
  if (which === 'core') return list('src-native/core')
  if (which === 'addon') return list('src-native/addon')
  return [...list('src-native/core'), ...list('src-native/addon')]
}
module.exports = { sources }
if (require.main === module) {
  const which = process.argv[2] || 'all'
  const absolute = process.argv.includes('--absolute')
  const out = sources(which).map((s) => (absolute ? path.join(root, s) : s))
  process.stdout.write(out.join(process.argv.includes('--lines') ? '\n' : ' ') + '\n')
}
