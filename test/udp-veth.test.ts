// UDP across a veth pair between two throwaway namespaces: integrity through a real device,
// and GRO on the receiver (GSO superpackets cross veth whole, UDP_GRO delivers them coalesced).
import t from 'tap'
import { execFileSync, spawn } from 'child_process'
import * as fs from 'fs'
import * as path from 'path'

const dist = path.join(__dirname, '..', 'dist', 'index.js')
const created: string[] = []
let counter = 0
// scripts/sanitize-addon.sh sets TUNIO_SANITIZED=1: the ASan addon is several times slower,
// so deadlines stretch (volumes and assertions stay the same).
const TIME_SCALE = process.env.TUNIO_SANITIZED === '1' ? 4 : 1

function ip (...args: string[]): void { execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 }) }

function cleanup (): void {
  while (created.length > 0) {
    const ns = created.pop() as string
    try { ip('netns', 'del', ns) } catch { /* already gone */ }
  }
}
process.on('exit', cleanup)

function skipReason (): string | false {
  if (process.platform !== 'linux') return 'not Linux'
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root for network namespaces'
  if (!fs.existsSync(dist)) return 'dist/ not built (npm run build:ts)'
  return false
}

/** Two namespaces joined by a veth pair: A has 10.91.0.1 / fd91::1, B has 10.91.0.2 / fd91::2. */
function makePair (): { a: string, b: string } {
  const a = `tunio-u${process.pid}-${counter++}`
  const b = `tunio-u${process.pid}-${counter++}`
  for (const ns of [a, b]) { ip('netns', 'add', ns); created.push(ns); ip('-n', ns, 'link', 'set', 'lo', 'up') }
  ip('link', 'add', 'va', 'netns', a, 'type', 'veth', 'peer', 'name', 'vb', 'netns', b)
  ip('-n', a, 'addr', 'add', '10.91.0.1/24', 'dev', 'va')
  ip('-n', b, 'addr', 'add', '10.91.0.2/24', 'dev', 'vb')
  ip('-n', a, 'addr', 'add', 'fd91::1/64', 'dev', 'va', 'nodad')
  ip('-n', b, 'addr', 'add', 'fd91::2/64', 'dev', 'vb', 'nodad')
  ip('-n', a, 'link', 'set', 'va', 'mtu', '9000', 'up')
  ip('-n', b, 'link', 'set', 'vb', 'mtu', '9000', 'up')
  // Permanent neighbours both ways: otherwise the first round waits in the kernel's queue for
  // an unresolved neighbour, which is bounded (neigh unres_qlen_bytes), and what does not fit
  // is dropped without telling the sender. Seen with IPv6 (neighbour discovery): the kernel
  // accepted all 16 datagrams, one round never left the veth.
  const mac = (ns: string, dev: string): string => (JSON.parse(execFileSync('ip', ['-n', ns, '-j', 'link', 'show', dev]).toString())[0].address as string)
  const macA = mac(a, 'va')
  const macB = mac(b, 'vb')
  for (const [ns, dev, addr, lladdr] of [[a, 'va', '10.91.0.2', macB], [a, 'va', 'fd91::2', macB], [b, 'vb', '10.91.0.1', macA], [b, 'vb', 'fd91::1', macA]]) {
    ip('-n', ns, 'neigh', 'replace', addr, 'lladdr', lladdr, 'dev', dev, 'nud', 'permanent')
  }
  return { a, b }
}

/** Runs `code` with node inside `ns`; resolves with the JSON it prints last. */
function inNs (ns: string, code: string, input: { timeoutMs?: number, [k: string]: unknown }, onLine?: (line: string) => void): Promise<any> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code, JSON.stringify({ dist, ...input, timeoutMs: (input.timeoutMs ?? 8000) * TIME_SCALE })],
      { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`child in ${ns} timed out: ${err}`)) }, 20_000 * TIME_SCALE)
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const lines = out.split('\n')
      out = lines.pop() as string
      for (const l of lines) { if (l === 'READY') onLine?.(l); else if (l.length > 0) last = l }
    })
    let last = ''
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    child.on('exit', (c) => {
      clearTimeout(timer)
      if (out.length > 0) last = out
      if (c !== 0) reject(new Error(`child in ${ns} exited ${c}: ${err}`))
      else { try { resolve(JSON.parse(last)) } catch (e) { reject(new Error(`bad output ${last}: ${err}`)) } }
    })
  })
}

// Deterministic payload from (tag, index, size), the same in sender and receiver.
const COMMON = `
const crypto = require('crypto')
const arg = JSON.parse(process.argv[1])
const { openUdp } = require(arg.dist)
function payload (seed, size) {
  const out = Buffer.alloc(size)
  let block = crypto.createHash('sha256').update(seed).digest()
  for (let off = 0; off < size; off += 32) { block.copy(out, off, 0, Math.min(32, size - off)); block = crypto.createHash('sha256').update(block).digest() }
  return out
}
const digest = (b) => crypto.createHash('sha256').update(b).digest('hex') + ':' + b.length
`

const RECEIVER = COMMON + `
;(async () => {
  const rx = await openUdp({ bind: arg.bind, recvBufferSize: 4 << 20 })
  console.log('READY')
  const got = []
  const timer = setTimeout(() => { console.log(JSON.stringify({ got, stats: rx.stats(), timeout: true })); process.exit(0) }, arg.timeoutMs)
  while (got.length < arg.count) {
    const batch = await rx.read()
    for (const l of batch) { got.push({ d: digest(l.buffer), remote: l.remote }); l.release() }
  }
  clearTimeout(timer)
  console.log(JSON.stringify({ got, stats: rx.stats(), features: rx.features }))
  rx.close()
})().catch((e) => { console.error(e); process.exit(1) })
`

const SENDER = COMMON + `
;(async () => {
  const tx = await openUdp({ bind: arg.bind })
  const expected = []
  for (const round of arg.rounds) {
    const bufs = round.sizes.map((s, i) => payload(round.tag + '-' + i, s))
    const n = tx.send(bufs, arg.to)
    if (n !== bufs.length) throw new Error('accepted ' + n)
    for (const b of bufs) expected.push(digest(b))
    await new Promise((r) => setTimeout(r, 30))
  }
  console.log(JSON.stringify({ expected, local: tx.local, stats: tx.stats(), features: tx.features }))
  tx.close()
})().catch((e) => { console.error(e); process.exit(1) })
`

async function roundTrip (t: any, ns: { a: string, b: string }, family: 4 | 6, rounds: Array<{ tag: string, sizes: number[] }>): Promise<{ rx: any, tx: any }> {
  const rxAddr = family === 4 ? '10.91.0.2' : 'fd91::2'
  const txBind = family === 4 ? '10.91.0.1:0' : '[fd91::1]:0'
  const count = rounds.reduce((n, r) => n + r.sizes.length, 0)
  let ready: () => void = () => {}
  const readyP = new Promise<void>((resolve) => { ready = resolve })
  const rxP = inNs(ns.b, RECEIVER, { bind: family === 4 ? '10.91.0.2:5555' : '[fd91::2]:5555', count }, () => ready())
  await Promise.race([readyP, rxP])
  const tx = await inNs(ns.a, SENDER, { bind: txBind, to: { address: rxAddr, port: 5555 }, rounds })
  const rx = await rxP
  t.notOk(rx.timeout, 'receiver got everything before its deadline')
  t.equal(rx.got.length, tx.expected.length, 'datagram count')
  t.same(rx.got.map((g: any) => g.d).sort(), [...tx.expected].sort(), 'boundaries and bytes intact')
  const wantAddr = family === 4 ? '10.91.0.1' : 'fd91::1'
  t.ok(rx.got.every((g: any) => g.remote.address === wantAddr && g.remote.port === tx.local.port), `remote is ${wantAddr}:${tx.local.port}`)
  return { rx, tx }
}

const skip = skipReason()

t.test('across a veth pair', { skip }, async (t) => {
  let ns: { a: string, b: string }
  try { ns = makePair() } catch (e) { cleanup(); throw e }
  t.teardown(cleanup)

  t.test('IPv4 mixed sizes arrive intact', async (t) => {
    // Sizes interleaved (no equal-size runs above the MTU: see the todo below), 3 rounds.
    const sizes = [0, 1, 100, 1400, 8000, 8952, 20000, 65507]
    await roundTrip(t, ns, 4, [0, 1, 2].map((r) => ({ tag: `v4-${r}`, sizes })))
  })

  t.test('IPv6 mixed sizes arrive intact', async (t) => {
    const sizes = [0, 1, 100, 1400, 8000, 8932, 20000, 65487]
    await roundTrip(t, ns, 6, [0, 1].map((r) => ({ tag: `v6-${r}`, sizes })))
  })

  t.test('equal datagrams larger than the MTU (a GSO run the device cannot take)', async (t) => {
    // Bug: the run 3 x 20000 goes out as one UDP_SEGMENT message with gso_size 20000 > MTU;
    // the kernel answers EMSGSIZE and all three are dropped (counted as peer messageSize)
    // instead of being sent one by one (IP fragmentation) or split.
    // The receiver says READY once bound (a fixed wait here lost the race at load 13); its
    // deadline only matters when a datagram is lost, so it can be generous.
    let ready: () => void = () => {}
    const readyP = new Promise<void>((resolve) => { ready = resolve })
    const rxP = inNs(ns.b, RECEIVER, { bind: '10.91.0.2:5555', count: 3, timeoutMs: 10_000 }, () => ready())
    await Promise.race([readyP, rxP])
    const tx = await inNs(ns.a, SENDER, { bind: '10.91.0.1:0', to: { address: '10.91.0.2', port: 5555 }, rounds: [{ tag: 'big', sizes: [20000, 20000, 20000] }] })
    const rx = await rxP
    t.equal(rx.got.length, 3, 'all three arrive')
    t.same(rx.got.map((g: any) => g.d).sort(), [...tx.expected].sort(), 'bytes intact')
    t.equal(tx.stats.drops.peer.messageSize, 0, 'none dropped as EMSGSIZE')
  })

  t.test('GSO send and GRO receive across the device', async (t) => {
    const rounds = Array.from({ length: 4 }, (_, r) => ({ tag: `gro-${r}`, sizes: new Array(40).fill(1400) }))
    const { rx, tx } = await roundTrip(t, ns, 4, rounds)
    t.equal(tx.stats.gsoSends, 4, 'one UDP_SEGMENT message per round')
    t.equal(tx.stats.gsoSegments, 160)
    t.equal(tx.stats.gsoFallbacks, 0, 'veth takes GSO without EIO')
    t.ok(rx.stats.groReads >= 1, `receiver saw coalesced reads (groReads ${rx.stats.groReads})`)
    t.ok(rx.stats.messagesIn < 160, `fewer kernel messages (${rx.stats.messagesIn}) than datagrams (160)`)
    t.equal(rx.stats.datagramsIn, 160)
  })
})
