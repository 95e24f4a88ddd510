// npm run demo (scripts/demo.js) as a newcomer runs it: it says what it builds before the build
// (which ran silently for ~8 s), the start-up no longer reports a peer error (the TUN's IPv6
// chatter reached the other endpoint before it listened: 'peer errors {"ECONNREFUSED":1}' on
// every run), and a run stopped with SIGTERM / Ctrl-C says what it cleaned up, and did.
import t from 'tap'
import * as path from 'path'
import { spawn, execFileSync, type ChildProcess } from 'child_process'
import { netnsSkipReason } from './helpers/netns'

const demo = path.join(__dirname, '..', 'scripts', 'demo.js')
const skip = netnsSkipReason()
const slow = process.env.TUNIO_SANITIZED === '1' ? 4 : 1

interface Run { child: ChildProcess, out: string, err: string, firstOutputMs: number | undefined, exited: Promise<{ code: number | null, signal: string | null }> }

function start (env: NodeJS.ProcessEnv): Run {
  const t0 = Date.now()
  const child = spawn(process.execPath, [demo], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const r: Run = { child, out: '', err: '', firstOutputMs: undefined, exited: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal }))) }
  child.stdout?.on('data', (d) => { r.firstOutputMs ??= Date.now() - t0; r.out += d })
  child.stderr?.on('data', (d) => { r.err += d })
  return r
}

/** The demo's namespaces that still exist (named after its pid). */
function leftover (pid: number | undefined): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(`tunio-demo${pid}-`))
}

function cleanupAfter (t: { teardown: (fn: () => void) => void }, r: Run): void {
  t.teardown(() => {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL')
    for (const n of leftover(r.child.pid)) { try { execFileSync('ip', ['netns', 'del', n]) } catch {} }
  })
}

t.test('a whole run: progress from the start, no start-up peer error, a summary, everything removed', { skip, timeout: 300_000 * slow }, async (t) => {
  const r = start({ DEMO_SECONDS: '2' })
  cleanupAfter(t, r)
  const { code } = await r.exited
  t.equal(code, 0, `the demo succeeds: ${r.err}`)
  t.ok(r.firstOutputMs !== undefined && r.firstOutputMs < 5000 * slow, `the first line comes before the build, after ${r.firstOutputMs} ms`)
  t.match(r.out, /^demo: building the library \(tsc: lib\/ -> dist\/\)/, 'it says what it builds first')
  t.match(r.out, /demo: done in [\d.]+ s\n[^]*demo: done in [\d.]+ s\n/, 'and when each step is done')
  t.match(r.out, /summary: [\d.]+ Gbit\/s TCP through the tunnel/)
  const peerErrors = [...r.out.matchAll(/peer errors (\{[^}]*\})/g)].map((m) => JSON.parse(m[1]))
  t.equal(peerErrors.length, 2, 'both endpoints report their peer errors')
  t.same(peerErrors, [{}, {}], 'none: nothing crossed the tunnel before both ends listened')
  t.match(r.out, /cleaned up: \d+ process\(es\) stopped, namespaces tunio-demo\d+-a and tunio-demo\d+-b deleted/)
  t.same(leftover(r.child.pid), [], 'no namespace of the demo is left')
})

t.test('SIGTERM in the middle: says what it cleaned up, and it is gone', { skip, timeout: 120_000 * slow }, async (t) => {
  const r = start({ DEMO_SECONDS: '60', DEMO_BUILD: '0' })
  cleanupAfter(t, r)
  const deadline = Date.now() + 60_000 * slow
  while (!/TCP a -> b through the tunnel|node TCP transfer/.test(r.out) && r.child.exitCode === null && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.ok(r.child.exitCode === null, `the demo is running TCP through the tunnel: ${r.out}${r.err}`)
  t.equal(leftover(r.child.pid).length, 2, 'its two namespaces exist')
  r.child.kill('SIGTERM')
  const { code } = await r.exited
  t.equal(code, 143, 'exits 128 + SIGTERM')
  t.match(r.err, /SIGTERM: cleaned up: [1-9]\d* process\(es\) stopped, namespaces tunio-demo\d+-a and tunio-demo\d+-b deleted \(with their veth and TUN devices\)/,
    `it says what it removed: ${r.err.trim()}`)
  t.same(leftover(r.child.pid), [], 'and the namespaces are gone')
})
