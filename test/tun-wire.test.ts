// End-to-end: kernel TCP between two namespaces through two TUN devices joined by a tunio
// forwarder (for await (batch of a) b.write(batch)), with offloads on and off, IPv4 and IPv6,
// malformed input, and the kernel's link counters against the forwarder's.
import t from 'tap'
import { spawn, type ChildProcess } from 'child_process'
import * as path from 'path'
import {
  buildWire, netnsSkipReason, nextJsonLine, runIn, ipLinkStats, tcpInCsumErrors, type Wire, type WireOptions
} from './helpers/netns'
import { intactTransfer, tcpTransfer } from './helpers/tcp-transfer'

const skip = netnsSkipReason()

const INJECT = path.join(__dirname, 'fixtures', 'udp-inject.py')
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { snmp } = require(path.join(__dirname, '..', 'scripts', 'netns.js'))

/** Packets the qdisc of a device dropped (sum over its qdiscs). */
async function qdiscDrops (ns: string, dev: string): Promise<number> {
  const r = await runIn(ns, ['tc', '-s', '-j', 'qdisc', 'show', 'dev', dev])
  if (r.code !== 0) return 0
  return JSON.parse(r.stdout).reduce((n: number, q: any) => n + (q.drops ?? 0), 0)
}
const SINK = `
const s = require('dgram').createSocket('udp4')
s.on('message', () => {})
s.bind(Number(process.argv[2]), process.argv[1], () => console.log(JSON.stringify({ listening: true })))
`
function sumDrops (o: Record<string, number>): number { return Object.values(o).reduce((x, y) => x + y, 0) }

function spawnIn (ns: string, code: string, args: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
}

async function withWire (t: { teardown: (fn: () => unknown) => void, comment: (...m: unknown[]) => void }, opts: WireOptions): Promise<Wire> {
  const wire = await buildWire(opts)
  t.teardown(async () => {
    await wire.destroy()
    // TUNIO_DEBUG=1: the forwarder logs every packet a TUN refused (see tun_io.cc).
    if (process.env.TUNIO_DEBUG !== undefined && wire.stderr() !== '') t.comment(`forwarder stderr:\n${wire.stderr()}`)
  })
  return wire
}

t.test('TUN wire through a tunio forwarder', { skip }, async (t) => {
  t.test('offload auto: 64 MB IPv4 TCP intact, superpackets both ways, no checksum errors', async (t) => {
    const wire = await withWire(t, { offload: 'auto' })
    t.ok(wire.ready.a.offload.tso4, 'kernel accepted TSO4 on tunA')
    const { r, s } = await intactTransfer(t, wire, '10.77.1.1', 64 << 20, 5001, 40_000)
    t.ok(s.b.superpacketsIn > 0, `tunB read superpackets (${s.b.superpacketsIn})`)
    t.ok(s.b.segmentsIn > s.b.superpacketsIn, `split into more segments (${s.b.segmentsIn})`)
    t.ok(s.a.superpacketsOut > 0, `tunA got coalesced writes (${s.a.superpacketsOut}, ${s.a.segmentsOut} segments)`)
    // At most the Router Solicitation tunA sends before tunB is up (EIO, see docs/offloads.md).
    t.ok(s.a.drops.writeRejected + s.b.drops.writeRejected <= 1, `no write of the transfer refused (${s.a.drops.writeRejected}/${s.b.drops.writeRejected})`)
    t.equal(await tcpInCsumErrors(wire.nsB), 0, 'TcpInCsumErrors in nsB is 0')
    // The ACKs of the transfer are written to tunB: pure ACKs, each kept out with noPayload.
    t.ok(s.b.coalesceRefusals.noPayload > 0, `tunB: pure ACKs refused as noPayload (${s.b.coalesceRefusals.noPayload})`)
    for (const side of ['a', 'b']) {
      const refused = Object.values(s[side].coalesceRefusals as Record<string, number>).reduce((x, y) => x + y, 0)
      const handed = s[side].packetsOut + sumDrops(s[side].drops)  // accepted, or dropped and counted
      t.ok(refused <= handed, `${side}: refusals (${refused}) at most the packets handed to write (${handed})`)
    }
    t.comment(`coalesce refusals a: ${JSON.stringify(s.a.coalesceRefusals)}`)
    t.comment(`offload auto: ${(r.received.bytes * 8 / r.ms / 1e6).toFixed(2)} Gbit/s incl. startup; b: ${s.b.packetsIn} pkts in, ${s.b.superpacketsIn} superpackets, ${s.b.syscalls.read} reads; a: ${s.a.superpacketsOut} coalesced writes, ${s.a.syscalls.writev} writev`)
  })

  t.test('offload false: 64 MB intact, no superpackets either way', async (t) => {
    const wire = await withWire(t, { offload: false })
    t.notOk(wire.ready.a.offload.vnetHdr, 'no virtio header')
    const { r, s } = await intactTransfer(t, wire, '10.77.1.1', 64 << 20, 5002, 40_000)
    for (const side of ['a', 'b']) {
      t.equal(s[side].superpacketsIn, 0, `${side}: no superpackets read`)
      t.equal(s[side].superpacketsOut, 0, `${side}: no coalesced writes`)
    }
    t.ok(s.b.packetsIn > (64 << 20) / 1500, `every segment read on its own (${s.b.packetsIn})`)
    t.comment(`offload false: ${(r.received.bytes * 8 / r.ms / 1e6).toFixed(2)} Gbit/s incl. startup; reads ${s.b.syscalls.read}, writev ${s.a.syscalls.writev}`)
  })

  t.test('IPv6: 16 MB intact with offload auto', async (t) => {
    const wire = await withWire(t, { offload: 'auto' })
    t.ok(wire.ready.a.offload.tso6, 'kernel accepted TSO6')
    const { s } = await intactTransfer(t, wire, 'fd77:1::1', 16 << 20, 5003, 40_000)
    t.ok(s.b.superpacketsIn > 0, `TSO6 superpackets read (${s.b.superpacketsIn})`)
    t.ok(s.a.superpacketsOut > 0, `coalesced IPv6 writes (${s.a.superpacketsOut})`)
  })

  t.test('forced EINVAL on a coalesced write: segments go one by one, nothing lost, coalescing off until a probe 1 s later, counted once', async (t) => {
    const wire = await withWire(t, { offload: 'auto' })
    t.ok(wire.ready.a.offload.tso4, 'kernel accepted TSO4 on tunA')
    const ack = nextJsonLine(wire.forwarder)
    wire.forwarder.stdin?.write('force-einval a\n')
    t.equal((await ack).forced, 'tunA', 'the next coalesced write to tunA will fail with EINVAL')
    const before = await wire.stats()
    t.equal(before.a.coalescingTcp, true, 'tunA coalesces TCP before')
    const csum0 = await tcpInCsumErrors(wire.nsA)
    const r = await tcpTransfer(wire, '10.77.1.1', 16 << 20, 5005, 40_000)
    t.equal(r.received.bytes, 16 << 20, 'all bytes arrived')
    t.equal(r.received.sha, r.sent.sha, 'sha256 matches: nothing lost')
    const s = await wire.stats()
    t.same(s.errors, [])
    t.equal(s.a.coalesceFallbacks, 1, 'stats.coalesceFallbacks is 1')
    t.equal(s.a.coalesceSuspensions, 1, 'stats.coalesceSuspensions is 1')
    const off = s.events.filter((e: { event: string }) => e.event === 'offload')
    t.match(off[0], { dev: 'a', offload: 'coalescing', enabled: false, errno: 'EINVAL', cause: 'writeRefused', queue: 0, retryMs: 1000 },
      "an 'offload' event says coalescing is suspended, why, and when it is probed")
    if (s.a.coalesceRetries === 0) {
      // The transfer ended within the back-off (1 s): coalescing is still off.
      t.equal(s.a.coalescingTcp, false, 'coalescing reports off for tunA')
      t.equal(s.a.coalescingUdp, false)
      t.equal(s.a.superpacketsOut, 0, 'no coalesced write reached the kernel')
    }
    // Not off for good: after the back-off the next write is a probe, and coalescing is back.
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const r2 = await tcpTransfer(wire, '10.77.1.1', 4 << 20, 5006, 40_000)
    t.equal(r2.received.sha, r2.sent.sha, 'a second transfer after the back-off arrives intact')
    const s2 = await wire.stats()
    t.ok(s2.a.coalesceRetries >= 1, `coalescing probed again (${s2.a.coalesceRetries})`)
    t.equal(s2.a.coalescingTcp, true, 'coalescing reports on again for tunA')
    t.ok(s2.a.superpacketsOut > s.a.superpacketsOut, `coalesced writes reach the kernel again (${s2.a.superpacketsOut})`)
    t.equal(s2.a.coalesceFallbacks, 1, 'and were not refused')
    t.equal(s2.a.coalesceRestores, 1, 'stats.coalesceRestores is 1')
    const off2 = s2.events.filter((e: { event: string }) => e.event === 'offload')
    t.same(off2.map((e: { dev: string, enabled: boolean }) => [e.dev, e.enabled]), [['a', false], ['a', true]],
      "two 'offload' events in all: suspended, then back (none for tunB)")
    t.match(off2[1], { offload: 'coalescing', enabled: true, errno: 'EINVAL', cause: 'writeRefused' })
    t.notOk('retryMs' in off2[1], 'no retryMs once it is back')
    t.ok(s.b.superpacketsIn > 0, `tunB still read superpackets (${s.b.superpacketsIn}): the split side is unaffected`)
    t.equal(s.a.drops.writeRejected, before.a.drops.writeRejected, 'no segment of the refused write was dropped')
    t.equal(await tcpInCsumErrors(wire.nsA), csum0, 'TcpInCsumErrors in nsA unchanged (segments had full checksums)')
    t.comment(`after forced EINVAL: tunA packetsOut ${s.a.packetsOut}, writev ${s.a.syscalls.writev}, coalesceFallbacks ${s.a.coalesceFallbacks}, drops ${JSON.stringify(s.a.drops)}`)
  })

  t.test('malformed packets from nsB: forwarder survives, later transfer intact, counters consistent', async (t) => {
    const wire = await withWire(t, { offload: 'auto' })
    // AF_PACKET on tunB reaches the TUN reader verbatim (no IP-layer fix-ups); a raw IP
    // socket with IP_HDRINCL adds kernel-routed cases (the kernel rewrites tot_len there).
    const py = `
import socket, struct
def ck(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return (~s) & 0xffff
def ip4(payload, proto=6, ihl=5, tot=None, opts=b'', ver=4):
    tot = 20 + len(opts) + len(payload) if tot is None else tot
    h = struct.pack('!BBHHHBBH4s4s', (ver << 4) | ihl, 0, tot, 1, 0, 64, proto, 0, socket.inet_aton('10.77.2.1'), socket.inet_aton('10.77.1.1')) + opts
    h = h[:10] + struct.pack('!H', ck(h)) + h[12:]
    return h + payload
tcp = struct.pack('!HHIIBBHHH', 1234, 5001, 1, 0, 5 << 4, 0x02, 1024, 0, 0)
udp_bad = struct.pack('!HHHH', 1234, 5001, 200, 0) + b'x' * 10
cases = [
  ip4(tcp[:8]),                          # truncated TCP header
  ip4(tcp, ihl=3),                       # IHL below 5
  ip4(tcp, ihl=15),                      # IHL beyond the packet
  ip4(tcp, tot=2000),                    # total length larger than the packet
  ip4(tcp, tot=30),                      # total length inside the TCP header
  ip4(tcp, opts=b'\\x01\\x01\\x01\\x00', ihl=6),   # IPv4 with options (valid)
  ip4(udp_bad, proto=17),                # UDP length larger than the datagram
  ip4(struct.pack('!HHHH', 1234, 5001, 4, 0), proto=17),  # UDP length below 8
  ip4(tcp, ver=6),                       # version 6 with an IPv4 header
  b'\\x45',                              # one byte
  b'\\x60' + b'\\0' * 20,                 # IPv6 header cut short
  b'',                                   # empty
]
p = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
sent = 0
for _ in range(20):
    for c in cases:
        try: p.sendto(c, ('tunB', 0x0800)); sent += 1
        except OSError: pass
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
r.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
for _ in range(20):
    for c in cases[:9]:
        try: r.sendto(c, ('10.77.1.1', 0)); sent += 1
        except OSError: pass
print(sent)
`
    const inj = await runIn(wire.nsB, ['python3', '-c', py])
    t.equal(inj.code, 0, `injector ran: ${inj.stderr.trim()}`)
    const injected = Number(inj.stdout.trim())
    t.ok(injected > 200, `injected ${injected} malformed packets`)
    await new Promise((resolve) => setTimeout(resolve, 300))
    const mid = await wire.stats()
    t.equal(wire.forwarder.exitCode, null, 'forwarder still running')
    t.same(mid.errors, [], 'no exceptions in the forwarder')
    t.comment(`after injection: tunB read ${mid.b.packetsIn} packets, drops b=${JSON.stringify(mid.b.drops)} a=${JSON.stringify(mid.a.drops)}, readErrors b=${mid.b.readErrors}, tunA coalesceFallbacks=${mid.a.coalesceFallbacks}`)
    const r = await tcpTransfer(wire, '10.77.1.1', 16 << 20, 5004, 40_000)
    t.equal(r.received.sha, r.sent.sha, 'later 16 MB transfer intact')
    const s = await wire.stats()
    t.same(s.errors, [])
    t.ok(s.a.superpacketsOut > 0, `coalescing still on after bad input (${s.a.superpacketsOut})`)

    // Counters: the kernel counts one skb per superpacket; the forwarder counts packets after
    // splitting, so compare skb counts: superpackets + plain packets.
    const la = await ipLinkStats(wire.nsA, 'tunA')
    const lb = await ipLinkStats(wire.nsB, 'tunB')
    const skbsRead = (q: any): number => q.superpacketsIn + (q.packetsIn - q.segmentsIn)
    const skbsWritten = (q: any): number => q.superpacketsOut + (q.packetsOut - q.segmentsOut)
    const near = (x: number, y: number): boolean => Math.abs(x - y) <= Math.max(20, 0.01 * Math.max(x, y))
    t.comment(`tunB tx ${lb.tx.packets} vs forwarder skbs read ${skbsRead(s.b)}; tunA rx ${la.rx.packets} (+dropped ${la.rx.dropped}) vs skbs written ${skbsWritten(s.a)}; tunA tx ${la.tx.packets} vs read ${skbsRead(s.a)}; tunB rx ${lb.rx.packets} vs written ${skbsWritten(s.b)}`)
    t.ok(near(lb.tx.packets, skbsRead(s.b)), 'tunB tx_packets ~ skbs the forwarder read from tunB')
    t.ok(near(la.tx.packets, skbsRead(s.a)), 'tunA tx_packets ~ skbs the forwarder read from tunA')
    t.ok(near(la.rx.packets + la.rx.dropped, skbsWritten(s.a) + s.a.drops.writeRejected), 'tunA rx(+dropped) ~ skbs written to tunA')
    t.ok(near(lb.rx.packets + lb.rx.dropped, skbsWritten(s.b) + s.b.drops.writeRejected), 'tunB rx(+dropped) ~ skbs written to tunB')
    t.ok(lb.tx.bytes <= s.b.bytesIn + 1e5 && lb.tx.bytes > 0.9 * s.b.bytesIn, `byte counts plausible (tunB tx ${lb.tx.bytes} B, forwarder read ${s.b.bytesIn} B after splitting)`)
  })

  t.test('UDP flood through tunB: forwarder keeps up or drops are counted; later transfer intact', async (t) => {
    const wire = await withWire(t, { offload: 'auto' })
    const N = 100_000
    const before = { b: snmp(wire.nsB).Udp, a: snmp(wire.nsA).Udp, lb: await ipLinkStats(wire.nsB, 'tunB'), la: await ipLinkStats(wire.nsA, 'tunA'), qdisc: await qdiscDrops(wire.nsB, 'tunB'), fw: await wire.stats() }
    // 100k datagrams as fast as one sender can go to a plain socket in nsA. A listener is
    // needed for per-datagram counts: the forwarder writes GRO-coalesced UDP superpackets, which
    // the kernel counts once in NoPorts but splits per datagram (InDatagrams / RcvbufErrors)
    // for a socket without UDP_GRO.
    const sink = spawnIn(wire.nsA, SINK, ['10.77.1.1', '9'])
    t.teardown(() => { sink.kill('SIGKILL') })
    t.same(await nextJsonLine(sink), { listening: true }, 'sink listening in nsA')
    const inj = await runIn(wire.nsB, ['python3', INJECT, 'flood', '10.77.1.1', '9', String(N), '1000'], { timeoutMs: 120_000 })
    t.equal(inj.code, 0, `flood ran: ${inj.stderr.trim()}`)
    t.equal(JSON.parse(inj.stdout).flood, N, `sent ${N} datagrams`)
    await new Promise((resolve) => setTimeout(resolve, 500))
    const after = { b: snmp(wire.nsB).Udp, a: snmp(wire.nsA).Udp, lb: await ipLinkStats(wire.nsB, 'tunB'), la: await ipLinkStats(wire.nsA, 'tunA'), qdisc: await qdiscDrops(wire.nsB, 'tunB'), fw: await wire.stats() }
    t.equal(wire.forwarder.exitCode, null, 'forwarder still running')
    t.same(after.fw.errors, [], 'no exceptions in the forwarder')
    const d = (k: string, x: any, y: any): number => y[k] - x[k]
    // InErrors includes RcvbufErrors (the sink cannot keep up) and checksum errors.
    const arrived = d('NoPorts', before.a, after.a) + d('InErrors', before.a, after.a) + d('InDatagrams', before.a, after.a)
    const lost = {
      senderSndbuf: d('SndbufErrors', before.b, after.b),
      qdiscTunB: after.qdisc - before.qdisc,
      tunBTxDropped: after.lb.tx.dropped - before.lb.tx.dropped,
      forwarder: sumDrops(after.fw.b.drops) + sumDrops(after.fw.a.drops) - sumDrops(before.fw.b.drops) - sumDrops(before.fw.a.drops),
      tunARxDropped: after.la.rx.dropped - before.la.rx.dropped
    }
    const lostTotal = Object.values(lost).reduce((x, y) => x + y, 0)
    t.comment(`arrived in nsA ${arrived}, lost ${JSON.stringify(lost)}; forwarder read ${after.fw.b.packetsIn - before.fw.b.packetsIn} from tunB, wrote ${after.fw.a.packetsOut - before.fw.a.packetsOut} to tunA`)
    t.equal(d('OutDatagrams', before.b, after.b), N, 'nsB kernel sent all of them')
    // Other packets share the devices (ICMP port unreachable back to nsB, IPv6 ND), so allow a
    // little slack; a leak anywhere in the path would be far larger.
    t.ok(Math.abs(arrived + lostTotal - N) <= Math.max(20, N * 0.001), `arrived ${arrived} + counted drops ${lostTotal} = sent ${N} (within 0.1%)`)
    t.ok(arrived > N / 10, 'a good part of the flood went through')
    const r = await tcpTransfer(wire, '10.77.1.1', 16 << 20, 5005, 40_000)
    t.equal(r.received.sha, r.sent.sha, 'a 16 MB TCP transfer after the flood is intact')
  })
})
