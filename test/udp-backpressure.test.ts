// The send side under real backpressure: a namespace whose only route leaves through a veth
// device behind a slow token-bucket qdisc (tbf, 8 Mbit/s). A socket with the smallest send
// buffer soon gets EAGAIN (its buffer is held by datagrams waiting in the qdisc) and, when the
// qdisc's own limit overflows, ENOBUFS. tunio must wait (POLLOUT / retry timer), keep what it
// accepted in a bounded queue, drop and count what does not fit, and say so in events:
// 'congestion' -> 'drop' (queueFull) -> 'drain'. Every datagram send() accepted must pass the
// qdisc in the end (tc's own "Sent" counter), none lost to ENOBUFS.
import t from 'tap'
import * as path from 'path'
import { check, createNetns, deleteNetns, netnsSkipReason, runIn } from './helpers/netns'

const dist = path.join(__dirname, '..', 'dist', 'index.js')

const CHILD = `
const arg = JSON.parse(process.argv[1])
const { openUdp } = require(arg.dist)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
;(async () => {
  const udp = await openUdp({ bind: '10.99.0.1:0', sendBufferSize: arg.sndbuf, sendQueueLength: arg.queue, gso: false })
  const events = []
  udp.on('congestion', (e) => events.push({ type: 'congestion', ...e }))
  udp.on('drain', () => events.push({ type: 'drain' }))
  udp.on('drop', (e) => events.push({ type: 'drop', ...e }))
  let accepted = 0
  for (let i = 0; i < arg.bursts; i++) {
    const burst = []
    for (let j = 0; j < arg.burst; j++) burst.push(Buffer.alloc(arg.size, i & 0xff))
    accepted += udp.send(burst, { address: '10.99.0.2', port: 9 })
    await sleep(1)
  }
  // 8 Mbit/s drains 1,000 bytes per ms: wait until the queue is empty (or give up).
  for (let i = 0; i < 400 && udp.stats().sendQueued > 0; i++) await sleep(25)
  await sleep(50)
  const stats = udp.stats()
  udp.close()
  console.log(JSON.stringify({ events, stats, accepted }))
})().catch((err) => { console.error(err); process.exit(1) })
`

// A 4 KiB send buffer fills first (EAGAIN); with 1 MiB the qdisc's 20 KB limit overflows first
// (ENOBUFS, which IP_RECVERR makes the kernel report instead of a silent drop).
const skip = netnsSkipReason() || (process.getuid?.() === 0 ? false : 'needs root (tc qdisc in a namespace)')

for (const c of [{ sndbuf: 4096, reason: 'EAGAIN', wait: 'sendWouldBlock' }, { sndbuf: 1 << 20, reason: 'ENOBUFS', wait: 'sendNoBuffers' }]) {
t.test(`${c.reason} behind a slow qdisc: congestion, queueFull drops, drain; nothing accepted is lost`, { skip }, async (t) => {
  const ns = await createNetns('bp')
  t.teardown(() => deleteNetns(ns))
  // A veth pair inside the namespace: bp1 has no address, so what arrives there is discarded.
  // A static neighbour entry means no ARP is needed for 10.99.0.2.
  await check(['ip', '-n', ns, 'link', 'add', 'bp0', 'type', 'veth', 'peer', 'name', 'bp1'])
  await check(['ip', '-n', ns, 'addr', 'add', '10.99.0.1/24', 'dev', 'bp0'])
  // No IPv6 on the link: its router solicitations would pass the qdisc and spoil the count.
  await check(['ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1'])
  await check(['ip', '-n', ns, 'link', 'set', 'bp0', 'up'])
  await check(['ip', '-n', ns, 'link', 'set', 'bp1', 'up'])
  await check(['ip', '-n', ns, 'neigh', 'replace', '10.99.0.2', 'lladdr', '02:00:00:00:00:02', 'dev', 'bp0', 'nud', 'permanent'])
  // 8 Mbit/s, 16 KB bucket, at most 20 KB queued: bursts overflow the qdisc (ENOBUFS) and the
  // datagrams it holds fill the 4 KiB send buffer (EAGAIN).
  await check(['ip', 'netns', 'exec', ns, 'tc', 'qdisc', 'replace', 'dev', 'bp0', 'root', 'tbf', 'rate', '8mbit', 'burst', '16kb', 'limit', '20kb'])

  const arg = { dist, sndbuf: c.sndbuf, bursts: 40, burst: 50, size: 1000, queue: 64 }
  const r = await runIn(ns, [process.execPath, '-e', CHILD, JSON.stringify(arg)], { timeoutMs: 60_000 })
  t.equal(r.code, 0, 'child ran') || t.comment(r.stderr)
  const { events, stats, accepted } = JSON.parse(r.stdout.trim().split('\n').pop() as string)
  const qdisc = await runIn(ns, ['tc', '-s', 'qdisc', 'show', 'dev', 'bp0'])
  const sent = Number(/Sent \d+ bytes (\d+) pkt/.exec(qdisc.stdout)?.[1])
  const qdiscDropped = Number(/dropped (\d+)/.exec(qdisc.stdout)?.[1])
  t.comment(`accepted ${accepted} of ${arg.bursts * arg.burst}; waits ${JSON.stringify(stats.waits)}; drops ${JSON.stringify(stats.drops)}; ` +
    `qdisc sent ${sent} dropped ${qdiscDropped}; events ${events.length}`)

  const congestion = events.filter((e: any) => e.type === 'congestion')
  const drains = events.filter((e: any) => e.type === 'drain')
  const drops = events.filter((e: any) => e.type === 'drop')
  t.ok(congestion.length >= 1, `'congestion' events: ${JSON.stringify(congestion.slice(0, 3))}`)
  t.ok(congestion.some((e: any) => e.reason === c.reason), `one names ${c.reason}`)
  t.ok(congestion.every((e: any) => (e.reason === 'EAGAIN' || e.reason === 'ENOBUFS') && e.queued > 0), 'each names EAGAIN or ENOBUFS and what waits')
  t.ok(stats.waits[c.wait] > 0, `stats count the waits (${c.wait} ${stats.waits[c.wait]})`)
  t.ok(drains.length >= 1, `'drain' events: ${drains.length}`)
  t.equal(events[events.length - 1].type, 'drain', 'the last event is a drain: the queue emptied')
  // Congestion and drain alternate: each episode ends before the next begins.
  const episodes = events.filter((e: any) => e.type !== 'drop').map((e: any) => e.type)
  t.ok(episodes.every((type: string, i: number) => type === (i % 2 === 0 ? 'congestion' : 'drain')), `episodes alternate: ${episodes.slice(0, 8).join(',')}`)

  t.ok(drops.length >= 1 && drops.every((e: any) => e.reason === 'queueFull'), 'drops are queue-full drops')
  const dropped = drops.reduce((n: number, e: any) => n + e.count, 0)
  t.equal(dropped, stats.drops.queueFull, `'drop' counts add up to stats.drops.queueFull (${dropped})`)
  t.equal(accepted + dropped, arg.bursts * arg.burst, 'every datagram was either accepted or reported dropped')
  t.equal(stats.sendQueued, 0, 'the queue drained')
  t.equal(stats.datagramsOut, accepted, 'every accepted datagram was sent')
  t.equal(sent, accepted, 'and passed the qdisc: none lost to ENOBUFS (they were retried)')
  t.equal(stats.drops.sendFailed, 0, 'no send failed')
})
}

// close() with datagrams waiting (what Udp.close() documents): they are discarded, their pool
// memory comes back at once, they are neither a 'drop' nor a 'drain', 'close' comes once.
const CLOSE_CHILD = `
const arg = JSON.parse(process.argv[1])
const { openUdp, Pool } = require(arg.dist)
;(async () => {
  const pool = new Pool({ capBytes: 8 << 20 })
  const udp = await openUdp({ bind: '10.99.0.1:0', sendBufferSize: 4096, gso: false, pool })
  const events = []
  for (const name of ['congestion', 'drain', 'drop', 'close']) udp.on(name, (e) => events.push(name))
  const burst = Array.from({ length: 200 }, () => Buffer.alloc(1000, 7))
  const accepted = udp.send(burst, { address: '10.99.0.2', port: 9 })
  const queued = udp.stats().sendQueued
  const inUseBefore = pool.stats().inUseBytes
  udp.close()
  udp.close()
  await new Promise((resolve) => setTimeout(resolve, 200))
  console.log(JSON.stringify({ accepted, queued, inUseBefore, inUseAfter: pool.stats().inUseBytes, events }))
})().catch((err) => { console.error(err); process.exit(1) })
`

t.test('close() with datagrams waiting for the kernel: discarded, memory back, no drain or drop, one close', { skip }, async (t) => {
  const ns = await createNetns('bpc')
  t.teardown(() => deleteNetns(ns))
  await check(['ip', '-n', ns, 'link', 'add', 'bp0', 'type', 'veth', 'peer', 'name', 'bp1'])
  await check(['ip', '-n', ns, 'addr', 'add', '10.99.0.1/24', 'dev', 'bp0'])
  await check(['ip', '-n', ns, 'link', 'set', 'bp0', 'up'])
  await check(['ip', '-n', ns, 'link', 'set', 'bp1', 'up'])
  await check(['ip', '-n', ns, 'neigh', 'replace', '10.99.0.2', 'lladdr', '02:00:00:00:00:02', 'dev', 'bp0', 'nud', 'permanent'])
  await check(['ip', 'netns', 'exec', ns, 'tc', 'qdisc', 'replace', 'dev', 'bp0', 'root', 'tbf', 'rate', '1mbit', 'burst', '4kb', 'limit', '400kb'])
  const r = await runIn(ns, [process.execPath, '-e', CLOSE_CHILD, JSON.stringify({ dist })], { timeoutMs: 60_000 })
  t.equal(r.code, 0, 'child ran') || t.comment(r.stderr)
  const o = JSON.parse(r.stdout.trim().split('\n').pop() as string)
  t.equal(o.accepted, 200, 'send() accepted all 200')
  t.ok(o.queued > 0, `${o.queued} waited for the kernel (a 4 KiB send buffer behind a 1 Mbit/s qdisc)`)
  t.ok(o.inUseBefore > 0, 'holding pool memory')
  t.equal(o.inUseAfter, 0, 'close() returned their pool memory')
  t.same(o.events, ['congestion', 'close'], "one 'congestion', then one 'close': no 'drain' or 'drop' for the discarded datagrams")
})
