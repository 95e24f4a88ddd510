// Operability switches: each offload turned off by its environment variable at open and on and
// off again at run time (udp.setOffload / tun.setOffload), with the kernel's own traffic as
// the witness: GSO sends and GRO reads on UDP, superpackets read and coalesced writes on a TUN
// wire carrying kernel TCP. And SO_RXQ_OVFL: the receive-queue drops of a flooded socket.
import t from 'tap'
import * as fs from 'fs'
import * as path from 'path'
import { buildWire, netnsSkipReason, nextJsonLine, type Wire } from './helpers/netns'
import { tcpTransfer } from './helpers/tcp-transfer'

const dist = path.join(__dirname, '..', 'dist', 'index.js')
const built = fs.existsSync(dist) ? false : 'dist/ not built (npm run build:ts)'
// eslint-disable-next-line @typescript-eslint/no-var-requires
const tunio = (): typeof import('../lib/index') => require(dist)
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Runs `fn` with the environment variables set, restoring them afterwards. */
async function withEnv<T> (vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]))
  Object.assign(process.env, vars)
  try { return await fn() } finally {
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v }
  }
}

// A read that times out stays pending and takes the next batch: keep it for the next call
// instead of starting another (a second pending read would take, and lose, datagrams).
const pendingReads = new Map<unknown, Promise<any>>()
/** The next batch of `udp`, or undefined after `ms`. */
async function readWithin (udp: any, ms: number): Promise<any> {
  const p = pendingReads.get(udp) ?? udp.read()
  pendingReads.set(udp, p)
  const r = await Promise.race([p, sleep(ms).then(() => pendingReads)])
  if (r === pendingReads) return undefined
  pendingReads.delete(udp)
  return r
}

/** Sends `n` datagrams of `size` bytes in one send() and reads until all arrived (or 5 s). */
async function roundTrip (tx: any, rx: any, n: number, size: number): Promise<number> {
  tx.send(Array.from({ length: n }, () => Buffer.alloc(size, 1)), rx.local)
  let got = 0
  const deadline = Date.now() + 5000
  while (got < n && Date.now() < deadline) {
    const batch = await readWithin(rx, 200)
    if (batch === undefined || batch === null) continue
    got += batch.length
    batch.release()
  }
  return got
}

t.test('UDP GSO/GRO: off by environment variable, on and off again at run time', { skip: built || (process.platform !== 'linux' ? 'not Linux' : false) }, async (t) => {
  const { openUdp } = tunio()
  const [tx, rx] = await withEnv({ TUNIO_DISABLE_UDP_GSO: '1', TUNIO_DISABLE_UDP_GRO: 'true' }, async () =>
    [await openUdp({ bind: '127.0.0.1:0', gso: true }), await openUdp({ bind: '127.0.0.1:0' })])
  t.teardown(() => { tx.close(); rx.close() })
  const kernelHas = await (async () => { const p = await openUdp({ bind: '127.0.0.1:0' }); const f = p.features; p.close(); return f })()
  t.equal(tx.features.gso, false, 'TUNIO_DISABLE_UDP_GSO=1: no GSO (even with gso: true, the operator wins)')
  t.equal(rx.features.gro, false, 'TUNIO_DISABLE_UDP_GRO=true: no GRO')
  const s0 = { tx: tx.stats(), rx: rx.stats() }
  t.equal(await roundTrip(tx, rx, 64, 1000), 64, 'all datagrams arrive')
  const s1 = { tx: tx.stats(), rx: rx.stats() }
  t.equal(s1.tx.gsoSends - s0.tx.gsoSends, 0, 'no GSO sends')
  t.equal(s1.rx.groReads - s0.rx.groReads, 0, 'no GRO reads')
  if (!kernelHas.gso || !kernelHas.gro) { t.comment('this kernel lacks UDP GSO/GRO: the run-time half is skipped'); return }

  t.equal(tx.setOffload('gso', true), true, 'GSO on at run time')
  t.equal(rx.setOffload('gro', true), true, 'GRO on at run time')
  t.equal(await roundTrip(tx, rx, 64, 1000), 64)
  const s2 = { tx: tx.stats(), rx: rx.stats() }
  t.ok(s2.tx.gsoSends - s1.tx.gsoSends >= 1, `GSO sends again (${s2.tx.gsoSends - s1.tx.gsoSends})`)
  t.ok(s2.rx.groReads - s1.rx.groReads >= 1, `GRO reads again (${s2.rx.groReads - s1.rx.groReads})`)

  t.equal(tx.setOffload('gso', false), false, 'GSO off at run time')
  t.equal(rx.setOffload('gro', false), false, 'GRO off at once (the receive queue was empty)')
  t.same([tx.features.gso, rx.features.gro], [false, false], 'features say so')
  t.equal(await roundTrip(tx, rx, 64, 1000), 64)
  const s3 = { tx: tx.stats(), rx: rx.stats() }
  t.equal(s3.tx.gsoSends - s2.tx.gsoSends, 0, 'no GSO sends after the switch')
  t.equal(s3.rx.groReads - s2.rx.groReads, 0, 'no GRO reads after the switch')
  t.equal(s3.rx.datagramsIn - s2.rx.datagramsIn, 64, 'one datagram per message')

  t.throws(() => tx.setOffload('tso' as any, true), { code: 'ERR_TUNIO_INVALID_ARG', argument: 'offload' })
  t.throws(() => tx.setOffload('gso', 1 as any), { code: 'ERR_TUNIO_INVALID_ARG', argument: 'enabled' })
})

t.test('GRO switched off with coalesced datagrams still queued: applied once the queue is empty, nothing merged', { skip: built || (process.platform !== 'linux' ? 'not Linux' : false) }, async (t) => {
  const { openUdp } = tunio()
  const tx = await openUdp({ bind: '127.0.0.1:0' })
  const rx = await openUdp({ bind: '127.0.0.1:0' })
  t.teardown(() => { tx.close(); rx.close() })
  if (!tx.features.gso || !rx.features.gro) { t.comment('no UDP GSO/GRO here'); return }
  tx.send(Array.from({ length: 32 }, () => Buffer.alloc(700, 2)), rx.local)  // one GSO send: queued as one GRO datagram
  await sleep(50)
  t.equal(rx.setOffload('gro', false), true, 'still on: a coalesced datagram waits in the queue')
  let got = 0
  let sizesOk = true
  const deadline = Date.now() + 5000
  while (got < 32 && Date.now() < deadline) {
    const batch = await rx.read()
    if (batch === null) break
    for (const l of batch) sizesOk = sizesOk && l.length === 700
    got += batch.length
    batch.release()
  }
  t.equal(got, 32, 'all 32 datagrams, split as they were sent')
  t.ok(sizesOk, 'every one 700 bytes')
  // The next read finds the queue empty (read() tries the socket at once): that applies the switch.
  const next = rx.read()
  t.equal(rx.features.gro, false, 'GRO is off once a read found the queue empty')
  tx.send(Array.from({ length: 16 }, () => Buffer.alloc(700, 4)), rx.local)
  let later = 0
  for (let batch = await next; batch !== null; batch = later < 16 ? await rx.read() : null) {
    later += batch.length
    batch.release()
  }
  t.equal(later, 16, 'later datagrams arrive')
  t.equal(rx.stats().groReads, 1, 'no GRO read after the switch (only the one before it)')
})

t.test('SO_RXQ_OVFL: a flooded socket with a tiny receive buffer counts what the kernel dropped', { skip: built || (process.platform !== 'linux' ? 'not Linux' : false) }, async (t) => {
  const { openUdp } = tunio()
  // No GSO/GRO: the kernel's drop counter counts skbs, so one datagram per skb keeps it exact.
  const tx = await openUdp({ bind: '127.0.0.1:0', gso: false })
  const rx = await openUdp({ bind: '127.0.0.1:0', gro: false, recvBufferSize: 1024 })
  t.teardown(() => { tx.close(); rx.close() })
  const flood = async (n: number): Promise<number> => {
    for (let i = 0; i < n; i += 100) tx.send(Array.from({ length: 100 }, () => Buffer.alloc(500, 3)), rx.local)
    await sleep(100)
    let got = 0
    for (;;) {
      const batch = await readWithin(rx, 300)
      if (batch === undefined || batch === null) break
      got += batch.length
      batch.release()
    }
    // The counter travels with each datagram as of when it was queued: one more, read alone,
    // carries every drop of the flood.
    got += await roundTrip(tx, rx, 1, 10) - 1
    return got
  }
  t.equal(rx.stats().receiveQueueDrops, 0, 'nothing dropped yet')
  const got1 = await flood(2000)
  const d1 = rx.stats().receiveQueueDrops
  t.ok(d1 > 0, `the kernel dropped datagrams (${d1})`)
  t.equal(got1 + d1, 2000, `read ${got1} + dropped ${d1} = the 2000 sent`)
  const got2 = await flood(2000)
  const d2 = rx.stats().receiveQueueDrops
  t.ok(d2 > d1, `the counter grows with the next flood (${d1} -> ${d2})`)
  t.equal(got2 + d2 - d1, 2000, 'and again accounts for every datagram')
})

// --- TUN: a wire of two TUN devices joined by tunio's forwarder, kernel TCP across ------------

/** 'bytes' over kernel TCP from nsB to 10.77.1.1 in nsA: true when they arrived intact. */
async function transfer (wire: Wire, bytes: number, port: number): Promise<boolean> {
  const r = await tcpTransfer(wire, '10.77.1.1', bytes, port, 40_000)
  return r.received.bytes === bytes && r.received.sha === r.sent.sha
}
async function command (wire: Wire, line: string): Promise<any> {
  const p = nextJsonLine(wire.forwarder)
  wire.forwarder.stdin?.write(line + '\n')
  return await p
}

t.test('TUN TSO reads and GRO writes: off by environment variable, on and off again at run time', { skip: netnsSkipReason() || built }, async (t) => {
  const wire = await withEnv({ TUNIO_DISABLE_TUN_TSO: '1', TUNIO_DISABLE_TUN_GRO: '1' }, async () => await buildWire({ offload: 'auto', ipv6: false }))
  t.teardown(async () => { await wire.destroy() })
  if (wire.ready.a.offload.tso4 !== true) { t.comment('kernel refused TSO on TUN: nothing to switch'); return }
  const MB = 8 << 20
  let port = 5301
  const round = async (what: string): Promise<{ readSuper: number, coalesced: number, stats: any }> => {
    const before = await wire.stats()
    t.ok(await transfer(wire, MB, port++), `${what}: 8 MB TCP intact`)
    const after = await wire.stats()
    return { readSuper: after.b.superpacketsIn - before.b.superpacketsIn, coalesced: after.a.superpacketsOut - before.a.superpacketsOut, stats: after }
  }
  const off = await round('env switches')
  t.same([off.stats.a.readOffload, off.stats.b.readOffload], [false, false], 'TUNIO_DISABLE_TUN_TSO: no read offload on either device')
  t.same([off.stats.a.coalescingTcp, off.stats.a.coalescingUdp], [false, false], 'TUNIO_DISABLE_TUN_GRO: no coalescing')
  t.equal(off.readSuper, 0, 'no superpackets read')
  t.equal(off.coalesced, 0, 'no coalesced writes')

  for (const side of ['a', 'b']) {
    t.same(await command(wire, `offload ${side} tso on`), { offload: 'tso', on: true }, `${side}: read offload on`)
    t.same(await command(wire, `offload ${side} coalescing on`), { offload: 'coalescing', on: true }, `${side}: coalescing on`)
  }
  const on = await round('switched on')
  t.ok(on.readSuper > 0, `superpackets read again (${on.readSuper})`)
  t.ok(on.coalesced > 0, `coalesced writes again (${on.coalesced})`)

  for (const side of ['a', 'b']) {
    t.same(await command(wire, `offload ${side} tso off`), { offload: 'tso', on: false })
    t.same(await command(wire, `offload ${side} coalescing off`), { offload: 'coalescing', on: false })
  }
  const again = await round('switched off')
  t.equal(again.readSuper, 0, 'no superpackets read after the switch')
  t.equal(again.coalesced, 0, 'no coalesced writes after the switch')
  t.same(again.stats.errors, [], 'no forwarder errors')
})
