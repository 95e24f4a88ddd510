// Platform behaviour of the loader (lib/binding.ts), each case in a fresh child process:
// - on a platform other than Linux (process.platform overridden before the package is loaded)
//   importing works through require and import, nothing native is loaded, and opening a pool,
//   a TUN or a UDP socket fails with ERR_TUNIO_UNSUPPORTED_PLATFORM;
// - the same child on Linux does load the addon (so the "not loaded" check can fail);
// - TUNIO_ADDON_PATH loads exactly the given file, and a wrong path is ERR_TUNIO_BINDING_NOT_FOUND.
// Whether the addon is loaded is read from /proc/self/maps of the child, not from our own code.
import t from 'tap'
import * as fs from 'fs'
import * as path from 'path'
import { spawnSync } from 'child_process'

const root = path.join(__dirname, '..')
const dist = path.join(root, 'dist', 'index.js')
const distEsm = path.join(root, 'dist', 'index.mjs')

interface ChildReport {
  cjsExports: string[]
  esmSameInstance: boolean
  supported: boolean
  pool: string
  tun: string
  udp: string
  rejects: boolean | string
  message: string
  mappedAddons: string[]
}

// Runs in the child: optionally pretends to be another platform, imports tunio both ways,
// tries to open each kind of device and reports the error codes and the mapped .node files.
function childSource (platform: string | null): string {
  return `
    ${platform ? `Object.defineProperty(process, 'platform', { value: ${JSON.stringify(platform)} })` : ''}
    const fs = require('fs')
    const code = (e) => (e && e.code) || 'ok'
    ;(async () => {
      const cjs = require(${JSON.stringify(dist)})
      const esm = await import(${JSON.stringify(distEsm)})
      const out = { cjsExports: Object.keys(cjs).sort(), esmSameInstance: esm.openTun === cjs.openTun,
        supported: cjs.isSupportedPlatform() }
      try { new cjs.Pool(); out.pool = 'ok' } catch (e) { out.pool = code(e); out.message = e.message }
      // openTun()/openUdp() are async: they reject (never throw synchronously); new Pool() throws.
      try { const p = cjs.openTun({ name: 'tunio-plat0' }); out.rejects = p instanceof Promise; p.catch(() => {}) } catch (e) { out.rejects = 'threw ' + code(e) }
      out.tun = await cjs.openTun({ name: 'tunio-plat0' }).then((d) => { d.close(); return 'ok' }, code)
      out.udp = await cjs.openUdp({ bind: '127.0.0.1:0' }).then((d) => { d.close(); return 'ok' }, code)
      out.mappedAddons = [...new Set(fs.readFileSync('/proc/self/maps', 'utf8').split('\\n')
        .map((l) => l.split(/\\s+/)[5]).filter((f) => f && f.endsWith('.node')))]
      process.stdout.write(JSON.stringify(out))
    })().catch((e) => { console.error(e); process.exit(1) })
  `
}

function runChild (platform: string | null, env: NodeJS.ProcessEnv = {}): ChildReport {
  const r = spawnSync(process.execPath, ['-e', childSource(platform)], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env }
  })
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`)
  return JSON.parse(r.stdout) as ChildReport
}

t.before(() => {
  if (!fs.existsSync(dist) || !fs.existsSync(distEsm)) throw new Error('dist/ is missing: run npm run build:ts first')
})

for (const platform of ['darwin', 'win32', 'freebsd']) {
  t.test(`on ${platform}: import works, opening throws ERR_TUNIO_UNSUPPORTED_PLATFORM, nothing native loaded`, async (t) => {
    const r = runChild(platform, { TUNIO_ADDON_PATH: '' })
    t.ok(r.cjsExports.includes('openTun') && r.cjsExports.includes('openUdp') && r.cjsExports.includes('Pool'), 'public API exported')
    t.ok(r.esmSameInstance, 'ESM entry re-exports the same functions')
    t.equal(r.supported, false, 'isSupportedPlatform() is false')
    t.equal(r.pool, 'ERR_TUNIO_UNSUPPORTED_PLATFORM', 'new Pool()')
    t.equal(r.tun, 'ERR_TUNIO_UNSUPPORTED_PLATFORM', 'openTun()')
    t.equal(r.rejects, true, 'openTun() returns a rejected promise (no synchronous throw)')
    t.equal(r.udp, 'ERR_TUNIO_UNSUPPORTED_PLATFORM', 'openUdp()')
    t.match(r.message, new RegExp(`Linux only.*this is ${platform}-`), 'message names the requirement and the platform')
    t.same(r.mappedAddons, [], 'no .node file mapped into the process')
  })
}

t.test('on linux the same child loads the addon and opens a UDP socket', async (t) => {
  const r = runChild(null, { TUNIO_ADDON_PATH: '' })
  t.equal(r.supported, true)
  t.equal(r.pool, 'ok')
  t.equal(r.udp, 'ok')
  t.equal(r.mappedAddons.filter((f) => path.basename(f) === 'tunio.node').length, 1, 'tunio.node is mapped')
})

t.test('TUNIO_ADDON_PATH loads the given file; a wrong path is ERR_TUNIO_BINDING_NOT_FOUND', async (t) => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const resolved = (require('node-gyp-build') as { path: (dir: string) => string }).path(root)
  const copy = path.join(fs.mkdtempSync(path.join(require('os').tmpdir(), 'tunio-addon-')), 'copy.node')
  fs.copyFileSync(resolved, copy)
  t.teardown(() => fs.rmSync(path.dirname(copy), { recursive: true, force: true }))
  const r = runChild(null, { TUNIO_ADDON_PATH: copy })
  t.equal(r.pool, 'ok')
  t.same(r.mappedAddons, [copy], 'only the file named by TUNIO_ADDON_PATH is mapped')

  const bad = runChild(null, { TUNIO_ADDON_PATH: path.join(path.dirname(copy), 'missing.node') })
  t.equal(bad.pool, 'ERR_TUNIO_BINDING_NOT_FOUND')
  t.match(bad.message, /TUNIO_ADDON_PATH=.*missing\.node/)
})

// When a whole run is pointed at another build (CI's cmake-js stage, npm run test:sanitize),
// prove that build is the one the tests load.
const runOverride = process.env.TUNIO_ADDON_PATH
t.test('the build named by TUNIO_ADDON_PATH for this run is the one loaded', { skip: runOverride ? false : 'TUNIO_ADDON_PATH not set for this run' }, async (t) => {
  const r = runChild(null)
  t.equal(r.pool, 'ok')
  t.same(r.mappedAddons.filter((f) => f.endsWith('tunio.node')), [path.resolve(runOverride as string)])
})
