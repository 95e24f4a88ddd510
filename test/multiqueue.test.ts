// Multi-queue TUN: a name another process holds is refused unless the caller attaches, and
// worker threads that each attach one queue carry several TCP flows through a two-TUN wire
// (test/fixtures/mq-forwarder.js) with every byte intact, traffic on both queues, and a clean
// shutdown that leaves no fd behind.
import t from 'tap'
import { spawn, type ChildProcess } from 'child_process'
import * as path from 'path'
import { sumStats } from '../lib/index'
import { buildWire, check, createNetns, deleteNetns, netnsSkipReason, nextJsonLine, runIn } from './helpers/netns'
import { packet } from './helpers/packets'
import { tcpFlows } from './helpers/tcp-transfer'

const skip = netnsSkipReason()
const dist = path.join(__dirname, '..', 'dist', 'index.js')

/** `ip -d -j link show`'s tun data: numqueues (attached) and numdisabled (detached). */
async function tunQueues (ns: string, dev: string): Promise<{ numqueues: number, numdisabled: number }> {
  const j = JSON.parse(await check(['ip', '-n', ns, '-d', '-j', 'link', 'show', dev]))
  return j[0].linkinfo.info_data
}

t.test('a TUN name held by another process is refused unless the caller attaches', { skip }, async (t) => {
  const ns = await createNetns('h')
  let holder: ChildProcess | undefined
  t.teardown(async () => { holder?.kill('SIGKILL'); await deleteNetns(ns) })
  // The holder: one multi-queue device (2 queues) and one single-queue device, kept open
  // until its stdin closes.
  holder = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', `
    const { openTun } = require(${JSON.stringify(dist)})
    Promise.all([openTun({ name: 'mqheld', queues: 2 }), openTun({ name: 'sqheld' })]).then((devs) => {
      console.log(JSON.stringify({ ready: true }))
      process.stdin.on('end', () => devs.forEach((d) => d.close())).resume()
    }, (e) => console.log(JSON.stringify({ ready: false, error: e.message })))`], { stdio: ['pipe', 'pipe', 'inherit'] })
  t.same(await nextJsonLine(holder), { ready: true }, 'holder process opened both devices')
  t.match(await tunQueues(ns, 'mqheld'), { numqueues: 2, numdisabled: 0 }, 'kernel: 2 queues attached')

  // A second process tries every way of opening the held names.
  const r = await runIn(ns, [process.execPath, '-e', `
    const { openTun } = require(${JSON.stringify(dist)})
    const { execFileSync } = require('child_process')
    const attempt = async (o) => {
      try { const d = await openTun(o); return { ok: true, tun: d } } catch (e) { return { ok: false, code: e.code, errno: e.errno, syscall: e.syscall, message: e.message } }
    }
    ;(async () => {
      const out = {}
      for (const [k, o] of Object.entries({
        mq2: { name: 'mqheld', queues: 2 }, mq1: { name: 'mqheld' }, mqFlag: { name: 'mqheld', multiQueue: true },
        sq: { name: 'sqheld' }, sqAttach: { name: 'sqheld', attach: true }
      })) { const a = await attempt(o); delete a.tun; out[k] = a }
      const att = await attempt({ name: 'mqheld', attach: true, queues: 1 })
      out.attach = { ok: att.ok, code: att.code, queues: att.tun?.queues.length, multiQueue: att.tun?.multiQueue }
      out.whileAttached = JSON.parse(execFileSync('ip', ['-d', '-j', 'link', 'show', 'mqheld'])).at(0).linkinfo.info_data.numqueues
      att.tun?.close()
      out.afterClose = JSON.parse(execFileSync('ip', ['-d', '-j', 'link', 'show', 'mqheld'])).at(0).linkinfo.info_data.numqueues
      console.log(JSON.stringify(out))
    })()`])
  t.equal(r.code, 0, `second process ran ${r.stderr}`)
  const out = JSON.parse(r.stdout)
  for (const k of ['mq2', 'mq1', 'mqFlag', 'sq']) {
    t.equal(out[k].ok, false, `${k}: refused`)
    t.equal(out[k].code, 'ERR_TUNIO_TUN_EXISTS', `${k}: ERR_TUNIO_TUN_EXISTS`)
    t.equal(out[k].errno, 'EEXIST', `${k}: errno EEXIST`)
    t.match(out[k].message, /"(mq|sq)held"/, `${k}: the message names the device: ${out[k].message}`)
    t.match(out[k].message, /: a device named '(mq|sq)held' already exists; pass attach: true to open queues on it: ioctl\(TUNSETIFF\) failed/, `${k}: the message points at attach`)
    t.equal(out[k].syscall, 'ioctl(TUNSETIFF)', `${k}: syscall is a system call`)
  }
  t.equal(out.sqAttach.ok, false, `attaching to a single-queue device someone reads fails (${out.sqAttach.code} ${out.sqAttach.errno})`)
  t.equal(out.sqAttach.errno, 'EBUSY', 'the kernel answers EBUSY for a single-queue device in use')
  t.same(out.attach, { ok: true, queues: 1, multiQueue: true }, `attach: true opened one more queue ${out.attach.code ?? ''}`)
  t.equal(out.whileAttached, 3, 'the kernel counted 3 queues while the second process was attached')
  t.equal(out.afterClose, 2, 'closing the attached queue detached it; the holder keeps its 2')
  holder.stdin?.end()
})

const byPort = (xs: any[]): any[] => [...xs].sort((x, y) => x.port - y.port)

t.test('2 queues in 2 workers carry 16 TCP flows through a two-TUN wire', { skip }, async (t) => {
  const wire = await buildWire({ offload: 'auto', workers: 2 })
  t.teardown(async () => { await wire.destroy() })
  t.equal(wire.ready.workers, 2, 'two workers attached')
  t.ok(wire.ready.a.multiQueue, 'tunA is multi-queue')
  // Several flows so that the kernel's flow hash puts some on each queue (16 flows all on one
  // of two queues would happen with probability 2^-15).
  const FLOWS = 16
  const BYTES = 4 << 20
  const r = await tcpFlows({ ns: wire.nsA, host: '10.77.1.1' }, wire.nsB, { port: 5101, flows: FLOWS, bytes: BYTES, timeoutMs: 90_000 })
  t.equal(r.received.length, FLOWS, `${FLOWS} flows arrived`)
  t.same(byPort(r.received), byPort(r.sent), 'every flow: same byte count and sha256 on both ends')
  t.equal(r.received.reduce((n: number, x: any) => n + x.bytes, 0), FLOWS * BYTES, 'all bytes arrived')

  const s = await wire.stats()
  t.equal(s.workers.length, 2)
  s.workers.forEach((w: any, i: number) => {
    t.same(w.errors, [], `worker ${i}: no forwarding errors`)
    t.equal(w.b.queues.length, 1, `worker ${i} holds one queue of tunB`)
    t.ok(w.b.packetsIn > 100, `worker ${i}'s queue of tunB carried data (${w.b.packetsIn} packets in, ${w.b.superpacketsIn} superpackets)`)
    t.ok(w.a.packetsIn > 0, `worker ${i}'s queue of tunA carried the ACKs (${w.a.packetsIn} packets in)`)
  })
  const total = sumStats<any>(s.workers.map((w: any) => w.b))
  t.equal(total.packetsIn, s.workers[0].b.packetsIn + s.workers[1].b.packetsIn, 'sumStats adds the workers\' counters')
  t.equal(total.queues.length, 2, 'sumStats lists every worker\'s queue')
  t.ok(total.bytesIn >= FLOWS * BYTES, `tunB read at least the payload bytes (${total.bytesIn})`)
  for (const side of ['a', 'b']) {
    t.equal(s.main[side].queues[0].attached, false, `main thread's queue of tun${side.toUpperCase()} is detached`)
    t.equal(s.main[side].packetsIn, 0, `the detached queue of tun${side.toUpperCase()} received nothing`)
  }
  t.match(await tunQueues(wire.nsA, 'tunA'), { numqueues: 2, numdisabled: 1 }, 'kernel: 2 attached queues + the detached holder')

  const final = await wire.destroy()
  t.ok(final?.final, 'the forwarder printed its final line')
  t.same(final.exitCodes, [0, 0], 'both workers exited on their own with code 0')
  t.same(final.workers.map((w: any) => w.errors), [[], []], 'no errors while stopping')
  t.equal(final.fds.during.tun, 6, '6 /dev/net/tun fds while running (2 held by main + 2 per worker)')
  t.equal(final.fds.afterWorkers.tun, 2, 'after the workers exited only the main thread\'s 2 remain')
  t.equal(final.fds.afterWorkers.total, final.fds.before.total + 2, `no other fd leaked by the workers (before ${final.fds.before.total}, after ${final.fds.afterWorkers.total})`)
  t.equal(final.fds.afterAll.tun, 0, 'no TUN fd after closing the devices')
})

/** An IPv4 or IPv6 TCP packet (no payload) from 10.8.0.src:sport to 10.8.0.dst:dport (fd08::src, fd08::dst). */
function innerPacket (v6: boolean, src: number, dst: number, sport: number, dport: number): Buffer {
  const address = (host: number): number[] => v6 ? [0xfd, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, host] : [10, 8, 0, host]
  return packet({ version: v6 ? 6 : 4, src: address(src), dst: address(dst), sport, dport })
}

t.test('innerFlowSteering keeps each carried flow (both directions) on one socket of the group', async (t) => {
  const { openUdp } = await import('../lib/index')
  const count = async (steer: boolean): Promise<Map<string, Set<number>>> => {
    const group = [await openUdp({ bind: '127.0.0.1:0', reusePort: true, innerFlowSteering: steer ? 2 : undefined })]
    group.push(await openUdp({ bind: { address: '127.0.0.1', port: group[0].local.port }, reusePort: true, innerFlowSteering: steer ? 2 : undefined }))
    const sender = await openUdp({ bind: '127.0.0.1:0' })
    const seen = new Map<string, Set<number>>() // flow -> indexes of the sockets that got it
    let expected = 0
    // Even client ports, as Linux gives connect(): a hash that only looked at low bits would
    // put all of them on one socket.
    for (const v6 of [false, true]) {
      for (let i = 0; i < 16; i++) {
        const sport = 40000 + 2 * i
        // One send each: equal-size datagrams of one send() leave as one UDP_SEGMENT message,
        // which the kernel delivers (and steers) as a whole.
        sender.send([innerPacket(v6, 1, 2, sport, 5201)], group[0].local)
        sender.send([innerPacket(v6, 2, 1, 5201, sport)], group[0].local)
        expected += 2
      }
    }
    sender.send([Buffer.from('not an IP packet')], group[0].local) // falls back to the kernel's hash
    expected++
    let got = 0
    await Promise.all(group.map(async (u, index) => {
      while (got < expected) {
        const batch = await Promise.race([u.read(), new Promise<null>((resolve) => setTimeout(() => resolve(null), 2000))])
        if (batch === null) break
        for (const l of batch) {
          got++
          const b = l.buffer
          const v6 = (b[0] >> 4) === 6
          if (b.length !== (v6 ? 60 : 40)) continue // the non-IP datagram
          const off = v6 ? 40 : 20
          const ports = [b.readUInt16BE(off), b.readUInt16BE(off + 2)].sort((x, y) => x - y).join('-')
          const key = `${v6 ? 'v6' : 'v4'} ${ports}`
          if (!seen.has(key)) seen.set(key, new Set())
          seen.get(key)?.add(index)
        }
        batch.release()
      }
    }))
    for (const u of [...group, sender]) u.close()
    t.equal(got, expected, `every datagram arrived (${got})`)
    return seen
  }
  const steered = await count(true)
  t.equal(steered.size, 32, '32 flows seen')
  t.ok([...steered.values()].every((s) => s.size === 1), 'each flow, both directions, reached exactly one socket')
  const onSocket = [0, 1].map((i) => [...steered.values()].filter((s) => s.has(i)).length)
  t.ok(onSocket[0] > 0 && onSocket[1] > 0, `both sockets got flows (${onSocket.join(' / ')})`)
  // Without the program one sender (one outer 4-tuple) always lands on one socket: the reason
  // a tunnel needs it.
  const plain = await count(false)
  const used = new Set([...plain.values()].flatMap((s) => [...s]))
  t.equal(used.size, 1, 'without steering every datagram of the one sender reached the same socket')
})

t.test('echo tunnel with --workers 2 --steer inner-flow: 12 TCP flows intact, both workers busy', { skip }, async (t) => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const netns = require(path.join(__dirname, '..', 'scripts', 'netns.js'))
  const { execFileSync } = await import('child_process')
  execFileSync(process.execPath, [path.join(__dirname, '..', 'scripts', 'build-examples.js')], { stdio: 'inherit' })
  const wire = netns.createWire('w')
  t.teardown(() => wire.cleanup())
  const a = await netns.startEcho(wire, 'a', { workers: 2, steer: 'inner-flow' })
  const b = await netns.startEcho(wire, 'b', { workers: 2, steer: 'inner-flow' })
  // 12 flows: all of them hashed to one worker would happen with probability 2^-11.
  const r = await tcpFlows({ ns: wire.ns.b, host: netns.TUNNEL.b }, wire.ns.a, { port: 7200, flows: 12, bytes: 2 << 20, timeoutMs: 90_000 })
  t.equal(r.received.length, 12, '12 flows arrived')
  t.same(byPort(r.received), byPort(r.sent), 'every flow: same byte count and sha256 on both ends')
  const fa = await a.stop()
  const fb = await b.stop()
  t.equal(a.child.exitCode, 0, 'endpoint a exited cleanly')
  t.equal(b.child.exitCode, 0, 'endpoint b exited cleanly')
  t.equal(fa.workers.length, 2, 'a reported both workers')
  t.equal(fa.tun.queues.length, 2, 'the summed stats list both workers\' queues')
  fa.workers.forEach((w: any, i: number) => t.ok(w.tun.bytesIn > 1e6, `a: worker ${i} read ${w.tun.bytesIn} bytes from its queue`))
  fb.workers.forEach((w: any, i: number) => t.ok(w.udp.bytesIn > 1e6, `b: worker ${i} received ${w.udp.bytesIn} bytes on its socket`))
  t.equal(fa.tun.bytesIn, fa.workers[0].tun.bytesIn + fa.workers[1].tun.bytesIn, 'the aggregate is the sum of the workers')
})
