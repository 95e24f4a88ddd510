#!/usr/bin/env node
'use strict'
// The first step of `npm test`: the Debian packages the tests need (scripts/test-packages.txt,
// the one list) are installed when they are missing, the way `npm ci` sets up the build.
//   root with apt-get: apt-get update, then apt-get install of the missing packages (printed)
//   not root, no apt-get, or TUNIO_TEST_INSTALL=0: prints what is missing and the command that
//     installs it, and exits 0; the tests that need a missing tool skip with a message naming it
// Fails (exit 1) only when it tried to install and apt-get failed.
const { spawnSync } = require('child_process')
const fs = require('fs')
const path = require('path')

const LIST = path.join(__dirname, 'test-packages.txt')

/** The package names of the list (comments and blank lines dropped). */
function readPackages (file = LIST) {
  return fs.readFileSync(file, 'utf8').split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line !== '')
}

/** The packages dpkg does not report as installed; null when there is no dpkg to ask. */
function missingPackages (packages) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Abbrev}\n', ...packages], { encoding: 'utf8' })
  if (r.error !== undefined) return null
  const installed = new Set()
  for (const line of r.stdout.split('\n')) {
    const [name, status] = line.split(' ')
    // "ii": wanted install, installed. Anything else (rc: removed with config left) is missing.
    if (status === 'ii') installed.add(name.replace(/:.*/, ''))
  }
  return packages.filter((p) => !installed.has(p))
}

function hasCommand (cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
}

function apt (args) {
  console.log(`test set-up: apt-get ${args.join(' ')}`)
  const r = spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  return r.status === 0
}

function main () {
  const packages = readPackages(process.env.TUNIO_TEST_PACKAGES || LIST)
  const missing = missingPackages(packages)
  if (missing === null) {
    console.log(`test set-up: no dpkg here, so the Debian packages of scripts/test-packages.txt (${packages.join(', ')}) ` +
      'cannot be checked; tests whose tool is missing skip with a message')
    return 0
  }
  if (missing.length === 0) {
    console.log(`test set-up: the ${packages.length} test packages of scripts/test-packages.txt are installed`)
    return 0
  }
  const command = `apt-get update && apt-get install --no-install-recommends ${missing.join(' ')}`
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  let why = null
  if (process.env.TUNIO_TEST_INSTALL === '0') why = 'TUNIO_TEST_INSTALL=0'
  else if (!isRoot) why = 'not root'
  else if (!hasCommand('apt-get')) why = 'no apt-get'
  if (why !== null) {
    console.log(`test set-up: missing Debian packages: ${missing.join(', ')} (${why}, so not installing them). ` +
      `Install them with: ${isRoot ? '' : 'sudo sh -c \''}${command}${isRoot ? '' : '\''}. The tests that need them skip.`)
    return 0
  }
  console.log(`test set-up: installing the missing test packages: ${missing.join(', ')}`)
  if (!apt(['update', '-qq']) || !apt(['install', '-y', '-qq', '--no-install-recommends', ...missing])) {
    console.error(`test set-up: apt-get failed; the tests need ${missing.join(', ')} (scripts/test-packages.txt)`)
    return 1
  }
  const still = missingPackages(missing)
  if (still.length > 0) {
    console.error(`test set-up: still not installed after apt-get: ${still.join(', ')}`)
    return 1
  }
  console.log(`test set-up: installed ${missing.join(', ')}`)
  return 0
}

if (require.main === module) process.exitCode = main()

module.exports = { readPackages, missingPackages, LIST }
