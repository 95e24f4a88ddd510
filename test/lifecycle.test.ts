// Lifecycle: close while a read is pending, double close, use after close, leases outliving
// their device, GC of unreleased leases, worker.terminate() with open devices, fd leaks.
// TUN parts run in a child process inside a throwaway network namespace (always deleted).
import t, { type Test } from 'tap'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { execFileSync, spawnSync } from 'child_process'
import { openUdp, Pool, type PacketBatch } from '../lib/index'
import { forceGsoEioOnce } from '../lib/test-hooks'

const dist = path.join(__dirname, '..', 'dist', 'index.js')
const gc = (globalThis as { gc?: () => void }).gc

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

function fdCount (): number { return fs.readdirSync('/proc/self/fd').length }

async function readWithin (read: Promise<PacketBatch | null>, ms: number): Promise<PacketBatch | null | 'timeout'> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), ms) })
  try { return await Promise.race([read, timeout]) } finally { clearTimeout(timer) }
}

/** Sends `n` datagrams to `rx` and reads until `n` arrived; returns the batches (not released). */
async function receive (rx: Awaited<ReturnType<typeof openUdp>>, n: number, size = 100): Promise<PacketBatch[]> {
  const tx = await openUdp({ bind: '127.0.0.1:0', gso: false })
  try {
    const dgrams = Array.from({ length: n }, (_, i) => Buffer.alloc(size, i + 1))
    t.equal(tx.send(dgrams, `127.0.0.1:${rx.local.port}`), n)
    const batches: PacketBatch[] = []
    let got = 0
    while (got < n) {
      const b = await readWithin(rx.read(), 5000)
      if (b === 'timeout' || b === null) throw new Error(`receive: ${String(b)} after ${got}/${n}`)
      batches.push(b)
      got += b.length
    }
    return batches
  } finally { tx.close() }
}

t.test('UDP: close during a pending read resolves it with null; later reads too', async (t) => {
  const udp = await openUdp({ bind: '127.0.0.1:0' })
  const pending = udp.read()
  const pending2 = udp.read()
  await tick()
  udp.close()
  t.equal(await readWithin(pending, 2000), null, 'pending read -> null')
  t.equal(await readWithin(pending2, 2000), null, 'second pending read -> null')
  t.equal(await udp.read(), null, 'read after close -> null')
  const it = udp[Symbol.asyncIterator]()
  t.same(await it.next(), { value: undefined, done: true }, 'iterator ends')
})

t.test('UDP: close twice, dispose after close, use after close', async (t) => {
  const udp = await openUdp({ bind: '127.0.0.1:0' })
  t.equal(udp.closed, false)
  const closeEvents: boolean[] = []
  udp.on('close', () => closeEvents.push(udp.closed))
  udp.close()
  t.equal(udp.closed, true)
  t.doesNotThrow(() => udp.close(), 'second close is a no-op')
  t.doesNotThrow(() => udp[Symbol.dispose](), 'dispose after close is a no-op')
  t.same(closeEvents, [true], "one 'close' event, emitted with the socket closed")
  t.throws(() => udp.send([Buffer.from('x')], '127.0.0.1:9'), { code: 'ERR_TUNIO_CLOSED' })
  t.throws(() => forceGsoEioOnce(udp), { code: 'ERR_TUNIO_CLOSED' })
  // A lease handed to send() after close stays with the caller (nothing was taken).
  const pool = new Pool({ capBytes: 1 << 20 })
  const lease = pool.lease(10)
  t.throws(() => udp.send(lease, '127.0.0.1:9'), { code: 'ERR_TUNIO_CLOSED' })
  t.equal(lease.held, true, 'lease still held by the caller')
  lease.release()
  t.equal(pool.stats().slotsInUse, 0)
})

t.test('UDP: leases read before close stay valid until released', async (t) => {
  const pool = new Pool({ capBytes: 1 << 20 })
  const rx = await openUdp({ bind: '127.0.0.1:0', pool, gro: false })
  const batches = await receive(rx, 8, 300)
  rx.close()
  const leases = batches.flatMap((b) => [...b])
  t.equal(leases.length, 8)
  t.ok(pool.stats().slotsInUse >= 8, 'pool memory still held after close')
  const seen = leases.map((l) => { t.equal(l.length, 300); t.equal(l.buffer.length, 300); return l.buffer[0] }).sort((a, b) => a - b)
  t.same(seen, [1, 2, 3, 4, 5, 6, 7, 8], 'contents intact after close')
  t.ok(leases.every((l) => l.remote?.port !== undefined), 'metadata readable after close')
  for (const b of batches) b.release()
  t.equal(pool.stats().slotsInUse, 0, 'all memory back')
  t.equal(pool.stats().inUseBytes, 0)
})

t.test('UDP: received leases that are garbage-collected are counted in pool.stats().leaked', async (t) => {
  if (!gc) { t.fail('needs node --expose-gc (tap config)'); return }
  const pool = new Pool({ capBytes: 1 << 20 })
  const rx = await openUdp({ bind: '127.0.0.1:0', pool, gro: false })
  await (async () => {
    const batches = await receive(rx, 6)
    for (const b of batches) for (const l of b) void l.buffer[0] // materialise the leases, keep nothing
  })()
  rx.close()
  t.ok(pool.stats().slotsInUse >= 6)
  for (let i = 0; i < 20 && pool.stats().slotsInUse > 0; i++) { gc(); await tick() }
  t.equal(pool.stats().slotsInUse, 0, 'memory returned by the finalizers')
  t.equal(pool.stats().leaked, 6, 'six leaked packets')
})

t.test('UDP: no fd leak over 50 open/close cycles', async (t) => {
  const before = fdCount()
  const socks = []
  for (let i = 0; i < 50; i++) socks.push(await openUdp({ bind: i % 2 === 0 ? '127.0.0.1:0' : '[::1]:0' }))
  t.ok(fdCount() >= before + 50, 'one fd (at least) per socket while open')
  const pending = socks.map((s) => s.read())
  for (const s of socks) s.close()
  t.same(await Promise.all(pending), socks.map(() => null))
  await tick()
  t.equal(fdCount(), before, 'fd count back to where it was')
})

// ---- TUN and workers: in a child process inside a throwaway namespace -----------------------

function canNetns (): boolean {
  return process.getuid?.() === 0 && fs.existsSync('/dev/net/tun') && spawnSync('ip', ['netns', 'list']).status === 0
}

let nsSeq = 0
/** Runs `body` (CommonJS, `tunio` in scope, may await) in a fresh namespace; returns what it prints as JSON last. */
function inNetns (t: Test, body: string, args: string[] = []): any {
  const ns = `tunio-lc-${process.pid}-${nsSeq++}`
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunio-lc-'))
  const file = path.join(dir, 'child.js')
  fs.writeFileSync(file, `'use strict'
const tunio = new Proxy({}, { get: (_, k) => require(${JSON.stringify(dist)})[k] })
const fs = require('fs')
const fdCount = () => fs.readdirSync('/proc/self/fd').length
/** What each open fd refers to (the readdir fd itself is gone by readlink time). */
const fdTargets = () => fs.readdirSync('/proc/self/fd').flatMap((fd) => { try { return [fs.readlinkSync('/proc/self/fd/' + fd)] } catch { return [] } })
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const within = (p, ms) => Promise.race([p, sleep(ms).then(() => 'timeout')])
const catchCode = (fn) => { try { fn(); return 'no error' } catch (e) { return e.code } }
// No IPv6 in this namespace: no router solicitations or MLD reports queued on a fresh device.
fs.writeFileSync('/proc/sys/net/ipv6/conf/default/disable_ipv6', '1')
fs.writeFileSync('/proc/sys/net/ipv6/conf/all/disable_ipv6', '1')
;(async () => {
${body}
})().then((r) => { console.log(JSON.stringify(r)) }, (e) => { console.error(e); process.exit(1) })
`)
  try {
    execFileSync('ip', ['netns', 'add', ns])
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '--expose-gc', ...args, file], { encoding: 'utf8', timeout: 120_000 })
    if (r.status !== 0) {
      t.fail(`child failed (status ${r.status}, signal ${r.signal})`, { stdout: r.stdout, stderr: r.stderr })
      return undefined
    }
    return JSON.parse(r.stdout.trim().split('\n').pop() as string)
  } finally {
    spawnSync('ip', ['netns', 'del', ns])
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const noNetns = !canNetns() && 'needs root, /dev/net/tun and ip netns'

t.test('TUN: close during pending read, close twice, write/linkStats after close', { skip: noNetns }, async (t) => {
  const r = inNetns(t, `
    const tun = await tunio.openTun({ name: 'lc0', queues: 2, up: false })
    const p0 = tun.read()
    const p1 = tun.queues[1].read()
    await sleep(20)
    const closeEvents = []
    tun.on('close', () => closeEvents.push(tun.closed))
    tun.close()
    const res = { r0: await within(p0, 2000), r1: await within(p1, 2000), after: await tun.read() }
    res.closed = tun.closed
    res.second = catchCode(() => tun.close())
    res.dispose = catchCode(() => tun[Symbol.dispose]())
    res.closeEvents = closeEvents
    res.write = catchCode(() => tun.write([Buffer.alloc(40)]))
    res.writeQ1 = catchCode(() => tun.queues[1].write([Buffer.alloc(40)]))
    res.linkStats = catchCode(() => tun.linkStats())
    const pool = tunio.getDefaultPool()
    const lease = pool.lease(40)
    res.writeLease = catchCode(() => tun.write(lease))
    res.leaseHeld = lease.held
    lease.release()
    await sleep(50)
    res.linkGone = !fs.readFileSync('/proc/net/dev', 'utf8').includes('lc0:')
    return res
  `)
  if (!r) return
  t.equal(r.r0, null, 'pending read on queue 0 -> null')
  t.equal(r.r1, null, 'pending read on queue 1 -> null')
  t.equal(r.after, null, 'read after close -> null')
  t.equal(r.closed, true)
  t.equal(r.second, 'no error', 'second close is a no-op')
  t.equal(r.dispose, 'no error')
  t.same(r.closeEvents, [true], "one 'close' event, emitted with the device closed")
  t.equal(r.write, 'ERR_TUNIO_CLOSED')
  t.equal(r.writeQ1, 'ERR_TUNIO_CLOSED')
  t.equal(r.linkStats, 'ERR_TUNIO_CLOSED')
  t.equal(r.writeLease, 'ERR_TUNIO_CLOSED')
  t.equal(r.leaseHeld, true, 'a lease refused by a closed device stays with the caller')
  t.equal(r.linkGone, true, 'non-persistent device removed on close')
})

t.test('TUN: leases read before close stay valid until released; all memory back after release', { skip: noNetns }, async (t) => {
  const r = inNetns(t, `
    const dgram = require('dgram')
    const pool = new tunio.Pool({ capBytes: 1 << 20 })
    const tun = await tunio.openTun({ name: 'lc1', addresses: ['10.77.0.1/24'], pool })
    // Datagrams routed into the device: the kernel hands them to us as IP packets.
    const s = dgram.createSocket('udp4')
    await new Promise((r) => s.bind(0, '10.77.0.1', r))
    const n = 10
    for (let i = 0; i < n; i++) s.send(Buffer.alloc(200, i + 1), 9999, '10.77.0.2')
    const keep = []
    const batches = []
    let got = 0
    while (got < n) {
      const b = await within(tun.read(), 5000)
      if (b === 'timeout' || b === null) throw new Error('read: ' + b + ' after ' + got)
      batches.push(b)
      for (const l of b) {
        const ip = l.buffer
        if (ip.length !== 228 || ip[9] !== 17) { l.release(); continue } // not our datagrams
        got++
        keep.push(l)
      }
    }
    s.close()
    tun.close()
    const res = { inUseAfterClose: pool.stats().slotsInUse }
    res.kept = keep.map((l) => [l.length, l.buffer[28], l.buffer[227]])
    for (const b of batches) b.release()
    res.afterRelease = pool.stats().slotsInUse
    res.inUseBytes = pool.stats().inUseBytes
    return res
  `)
  if (!r) return
  t.ok(r.inUseAfterClose > 0, 'packets still held after close')
  t.equal(r.kept.length, 10)
  for (const [len, first, last] of r.kept) {
    t.equal(len, 228, 'IPv4 + UDP + 200')
    t.equal(first, last, 'payload intact after close')
  }
  t.equal(r.afterRelease, 0, 'all memory back after release')
  t.equal(r.inUseBytes, 0)
})

for (const mainLoads of [true, false]) {
  const title = mainLoads
    ? 'worker.terminate() with an open UDP socket and TUN device'
    : 'worker.terminate() with open devices when only workers loaded the addon'
  // Regression: when only workers had loaded the addon, node unloaded it at worker exit before
  // libuv ran the close callbacks living in it (SIGSEGV); binding.gyp links with -z nodelete.
  t.test(title, { skip: noNetns }, async (t) => {
  const r = inNetns(t, `
    ${mainLoads ? 'tunio.getDefaultPool()' : ''}
    const { Worker } = require('worker_threads')
    // Node 24 opens /dev/null once per process with its first Worker (a plain worker without
    // tunio shows it too): a worker that loads nothing runs first, so only tunio's fds count.
    await new Promise((res) => new Worker('', { eval: true }).once('exit', res))
    const before = fdCount()
    const targetsBefore = fdTargets()
    const code = \`
      const { parentPort } = require('worker_threads')
      const tunio = require(\${JSON.stringify(${JSON.stringify(dist)})})
      ;(async () => {
        const tun = await tunio.openTun({ name: 'lcw', queues: 2 })
        const udp = await tunio.openUdp({ bind: '127.0.0.1:0' })
        const held = udp.pool.lease(100)
        void tun.read(); void udp.read()       // pending reads with watchers armed
        parentPort.postMessage({ port: udp.local.port, held: held.held })
        setInterval(() => {}, 1000)
      })()
    \`
    const results = []
    for (let i = 0; i < 5; i++) {
      const w = new Worker(code, { eval: true })
      const msg = await new Promise((res, rej) => { w.once('message', res); w.once('error', rej) })
      const exit = await w.terminate()
      results.push({ port: msg.port, exit })
    }
    await sleep(100)
    return {
      results,
      fdsBefore: before,
      fdsAfter: fdCount(),
      fdsAdded: fdTargets().filter((x) => { const i = targetsBefore.indexOf(x); if (i < 0) return true; targetsBefore.splice(i, 1); return false }),
      linkGone: !fs.readFileSync('/proc/net/dev', 'utf8').includes('lcw:')
    }
  `)
  if (!r) return
  t.equal(r.results.length, 5, 'five workers opened devices and were terminated')
  for (const x of r.results) t.equal(x.exit, 1, 'terminated (exit code 1)')
  t.equal(r.fdsAfter, r.fdsBefore, 'every fd of the workers closed') || t.comment(`fds added: ${r.fdsAdded.join(', ')}`)
  t.equal(r.linkGone, true, 'TUN device removed with its fds')
  })
}

t.test('no fd leaks: 50 UDP sockets and 20 TUN devices opened and closed', { skip: noNetns }, async (t) => {
  const r = inNetns(t, `
    const before = fdCount()
    const socks = []
    for (let i = 0; i < 50; i++) socks.push(await tunio.openUdp({ bind: '127.0.0.1:0' }))
    const tuns = []
    for (let i = 0; i < 20; i++) tuns.push(await tunio.openTun({ name: 'lcfd' + i, queues: i % 3 === 0 ? 2 : 1, addresses: ['10.78.' + i + '.1/24'] }))
    const during = fdCount()
    const pending = [...socks.map((s) => s.read()), ...tuns.map((x) => x.read())]
    for (const s of socks) s.close()
    for (const x of tuns) x.close()
    const ends = await Promise.all(pending)
    await sleep(50)
    const links = fs.readFileSync('/proc/net/dev', 'utf8').split('\\n').filter((l) => l.includes('lcfd')).length
    return { before, during, after: fdCount(), allNull: ends.every((e) => e === null), links }
  `)
  if (!r) return
  t.ok(r.during >= r.before + 50 + 20, `fds while open: ${r.during} (before ${r.before})`)
  t.equal(r.allNull, true, 'every pending read ended with null')
  t.equal(r.after, r.before, 'fd count back to where it was')
  t.equal(r.links, 0, 'no device left behind')
})
