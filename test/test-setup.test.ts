// The set-up step of `npm test` (scripts/test-setup.js, the list scripts/test-packages.txt) and
// what the tests do when a tool is missing: a clear message, never a compiler error.
// .ci/run proves the installing half for real (it removes the packages, then runs npm test in a
// fresh clone); here: the list, and the paths that must not install (not root, opted out).
import t from 'tap'
import { spawnSync } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'

const ROOT = path.join(__dirname, '..')
// eslint-disable-next-line @typescript-eslint/no-var-requires
const setup = require(path.join(ROOT, 'scripts', 'test-setup.js'))
const isRoot = process.getuid?.() === 0
const hasSetpriv = spawnSync('setpriv', ['--version']).status === 0
// tap puts its hooks (in node_modules, which nobody may not read) into NODE_OPTIONS of every
// child it sees spawned: env -u drops them in the child itself.
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--', 'env', '-u', 'NODE_OPTIONS']

/** A world-readable scratch dir with a copy of the scripts (nobody may not read the checkout). */
function scratch (t: { teardown: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunio-setup-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.mkdirSync(path.join(dir, 'scripts'))
  for (const f of ['test-setup.js', 'test-packages.txt', 'native-tests.sh']) {
    fs.copyFileSync(path.join(ROOT, 'scripts', f), path.join(dir, 'scripts', f))
  }
  for (const p of [dir, path.join(dir, 'scripts')]) fs.chmodSync(p, 0o755)
  return dir
}

t.test('scripts/test-packages.txt: Debian package names, each once, each with a reason', async (t) => {
  const pkgs: string[] = setup.readPackages()
  t.ok(pkgs.length > 0, `${pkgs.length} packages: ${pkgs.join(', ')}`)
  for (const p of pkgs) t.match(p, /^[a-z0-9][a-z0-9+.-]+$/, `${p} is a Debian package name`)
  t.same([...new Set(pkgs)], pkgs, 'no package listed twice')
  for (const line of fs.readFileSync(setup.LIST, 'utf8').split('\n')) {
    if (line.trim() === '' || line.trim().startsWith('#')) continue
    t.match(line, /#\s*\S/, `"${line.split('#')[0].trim()}" says why it is needed`)
  }
  const missing = setup.missingPackages(['tunio-no-such-package', 'dpkg'])
  t.same(missing, ['tunio-no-such-package'], 'dpkg-query: an unknown package is missing, dpkg itself is not')
})

t.test('a missing package when not root: named with the command that installs it, exit 0', { skip: !(isRoot && hasSetpriv) && 'needs root and setpriv to run as nobody' }, async (t) => {
  const dir = scratch(t)
  const list = path.join(dir, 'list.txt')
  fs.writeFileSync(list, 'dpkg   # here everywhere\ntunio-no-such-package  # missing\n')
  const r = spawnSync(NOBODY[0], [...NOBODY.slice(1), process.execPath, path.join(dir, 'scripts', 'test-setup.js')],
    { encoding: 'utf8', cwd: dir, env: { ...process.env, TUNIO_TEST_PACKAGES: list } })
  t.equal(r.status, 0, 'exit 0: the tests run and skip what needs it') || t.comment(r.stderr)
  t.match(r.stdout, /missing Debian packages: tunio-no-such-package \(not root, so not installing them\)/)
  t.match(r.stdout, /apt-get install --no-install-recommends tunio-no-such-package/)
  t.notMatch(r.stdout, /dpkg,|: dpkg/, 'the installed package is not named')
})

t.test('TUNIO_TEST_INSTALL=0: never installs, names what is missing', async (t) => {
  const dir = scratch(t)
  const list = path.join(dir, 'list.txt')
  fs.writeFileSync(list, 'tunio-no-such-package # missing\n')
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'test-setup.js')],
    { encoding: 'utf8', env: { ...process.env, TUNIO_TEST_PACKAGES: list, TUNIO_TEST_INSTALL: '0' } })
  t.equal(r.status, 0)
  t.match(r.stdout, /missing Debian packages: tunio-no-such-package \((TUNIO_TEST_INSTALL=0|not root)/)
  t.notMatch(r.stdout, /apt-get update -qq/, 'apt-get did not run')
})

t.test('native unit tests without doctest.h and openssl/evp.h: a clear message, no compiler error', async (t) => {
  const env = { ...process.env, DOCTEST_INCLUDE: '/nonexistent-tunio-doctest', OPENSSL_INCLUDE: '/nonexistent-tunio-openssl' }
  const script = path.join(scratch(t), 'scripts', 'native-tests.sh')
  const asMe = spawnSync('bash', [script], { encoding: 'utf8', env })
  const out = asMe.stdout + asMe.stderr
  t.match(out, /not found: doctest\.h \(Debian package doctest-dev\), openssl\/evp\.h \(Debian package libssl-dev\)/, 'names the packages')
  t.notMatch(out, /fatal error|No such file or directory/, 'the compiler never ran')
  t.equal(asMe.status, isRoot ? 1 : 0, isRoot ? 'root: fails (the set-up step should have installed it)' : 'not root: skips')
  if (isRoot && hasSetpriv) {
    const r = spawnSync(NOBODY[0], [...NOBODY.slice(1), 'bash', script], { encoding: 'utf8', cwd: '/', env })
    t.equal(r.status, 0, 'not root: exit 0') || t.comment(r.stderr)
    t.match(r.stdout, /skipping the native unit tests/)
  }
})
