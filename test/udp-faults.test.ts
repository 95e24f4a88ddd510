// A transient network fault never turns an offload off for good (issue 15, item 3). Before,
// one EMSGSIZE/EINVAL/EIO on a UDP_SEGMENT send switched GSO off for the socket's life and the
// echo tunnel ran at a quarter of its rate after a 2 s fault. See src-native/core/gso_backoff.h.
//
// Each fault is applied for 2 s under a TCP stream a -> b through the echo tunnel
// (examples/echo-tunnel.ts, two namespaces joined by veth, scripts/netns.js); afterwards the
// stream's rate must be back to >= 80% of its rate just before the fault within 5 s, and
// endpoint a's `gsoSends` must grow again.
//
// The machine is shared and loaded, so the rates are noisy: each comparison is of windows
// measured in the same test a few seconds apart (before: the best 1 s window of the 3 s before
// the fault; after: the best 1 s window ending within 5 s of the fault's end), and a failed
// comparison is measured again, up to 3 times, fault included. That is never vacuous: every
// attempt must see GSO in use (gsoSends growing) in its before-window and again after the
// fault, which a socket that turned GSO off (the old behaviour) never does again.
import t from 'tap'
import { execFileSync } from 'child_process'
import * as path from 'path'

// eslint-disable-next-line @typescript-eslint/no-var-requires
const netns = require(path.join(__dirname, '..', 'scripts', 'netns.js'))

// Four tunnels, each with up to 3 measured attempts: longer than tap's default 180 s per file
// on a loaded machine.
t.setTimeout(420_000 * netns.TIME_SCALE)
// Under the ASan + UBSan addon (TUNIO_SANITIZED=1, several times slower, rates dominated by the
// sanitizer) only GSO's return is asserted, not the rate.
const SANITIZED = process.env.TUNIO_SANITIZED === '1'
const FAULT_MS = 2000
const RECOVER_MS = 5000
const ATTEMPTS = 3
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

interface Sample { t: number, n: number }
interface GsoSample { t: number, gsoSends: number, gsoFallbacks: number, peerErrorEvents: number }

/** A TCP stream a -> b through the tunnel; the receiver prints its byte count every 100 ms. */
function startStream (wire: any, port = 7200): { samples: Sample[], stop: () => void } {
  const samples: Sample[] = []
  const rx = wire.spawn('b', process.execPath, ['-e', `
    let n = 0
    require('net').createServer((s) => { s.on('data', (d) => { n += d.length }); s.on('error', () => {}) })
      .listen(${port}, '${netns.TUNNEL.b}', () => console.log('listening'))
    setInterval(() => console.log(JSON.stringify({ t: Date.now(), n })), 100)`])
  let buf = ''
  rx.stdout.on('data', (d: Buffer) => {
    buf += d.toString()
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i); buf = buf.slice(i + 1)
      if (line.startsWith('{')) samples.push(JSON.parse(line))
    }
  })
  const tx = wire.spawn('a', process.execPath, ['-e', `
    const chunk = require('crypto').randomBytes(1 << 16)
    const connect = () => {
      const s = require('net').connect(${port}, '${netns.TUNNEL.b}')
      const pump = () => { while (s.write(chunk)); s.once('drain', pump) }
      s.on('connect', pump)
      s.on('error', () => setTimeout(connect, 200))
    }
    setTimeout(connect, 300)`])
  return { samples, stop: () => { tx.kill('SIGKILL'); rx.kill('SIGKILL') } }
}

/** Bytes per second over [from, to] (ms), from the samples nearest those times. */
function rate (samples: Sample[], from: number, to: number): number {
  const at = (ms: number): Sample | undefined => samples.find((s) => s.t >= ms)
  const a = at(from); const b = [...samples].reverse().find((s) => s.t <= to)
  if (a === undefined || b === undefined || b.t - a.t < 500) return 0
  return (b.n - a.n) / ((b.t - a.t) / 1000)
}

/** The best rate of 1 s windows (stepping 100 ms) inside [from, to]. */
function bestWindow (samples: Sample[], from: number, to: number): number {
  let best = 0
  for (let s = from; s + 1000 <= to; s += 100) best = Math.max(best, rate(samples, s, s + 1000))
  return best
}

function gsoAt (gso: GsoSample[], ms: number): GsoSample {
  return [...gso].reverse().find((g) => g.t <= ms) ?? { t: 0, gsoSends: 0, gsoFallbacks: 0, peerErrorEvents: 0 }
}

const mbit = (bps: number): string => `${(bps * 8 / 1e6).toFixed(0)} Mbit/s`

interface Fault { name: string, apply: (wire: any) => void, end: (wire: any) => void, refusesGso: boolean }

function icmpFragNeeded (wire: any): void {
  // From b to a: "fragmentation needed, next-hop MTU 576" quoting a datagram a sent to b's
  // tunnel port from its own, as a router on the path (or anyone who knows the ports) can.
  const py = `
import socket, struct
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return (~s) & 0xffff
a, b = '${netns.WIRE.a}', '${netns.WIRE.b}'
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 1448, 0, 0x4000, 64, 17, 0, socket.inet_aton(a), socket.inet_aton(b))
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
quoted = ip + struct.pack('!HHHH', 5555, 5555, 1428, 0)
icmp = struct.pack('!BBHHH', 3, 4, 0, 0, 576) + quoted
icmp = icmp[:2] + struct.pack('!H', csum(icmp)) + icmp[4:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.sendto(icmp, (a, 0))
`
  wire.exec('b', 'python3', ['-c', py])
}

const FAULTS: Fault[] = [
  {
    name: 'veth MTU 1280',
    apply: (w) => { for (const s of ['a', 'b']) w.exec(s, 'ip', ['link', 'set', 'veth0', 'mtu', '1280']) },
    end: (w) => { for (const s of ['a', 'b']) w.exec(s, 'ip', ['link', 'set', 'veth0', 'mtu', '1500']) },
    refusesGso: true
  },
  {
    name: 'ICMP fragmentation needed, MTU 576 (PMTU cache flushed after 2 s)',
    apply: (w) => icmpFragNeeded(w),
    end: (w) => w.exec('a', 'ip', ['route', 'flush', 'cache']),
    refusesGso: true
  },
  {
    name: 'TUN MTU 9000',
    apply: (w) => { for (const s of ['a', 'b']) w.exec(s, 'ip', ['link', 'set', 'tun0', 'mtu', '9000']) },
    end: (w) => { for (const s of ['a', 'b']) w.exec(s, 'ip', ['link', 'set', 'tun0', 'mtu', '1420']) },
    refusesGso: false
  },
  {
    name: 'blackhole route to the peer',
    apply: (w) => w.exec('a', 'ip', ['route', 'add', 'blackhole', `${netns.WIRE.b}/32`]),
    end: (w) => w.exec('a', 'ip', ['route', 'del', 'blackhole', `${netns.WIRE.b}/32`]),
    refusesGso: true
  }
]

const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces, TUN devices)' : false
if (!skip) execFileSync(process.execPath, [path.join(__dirname, '..', 'scripts', 'build-examples.js')], { stdio: 'inherit' })

for (const [index, fault] of FAULTS.entries()) {
  t.test(`${fault.name} for 2 s: throughput and GSO come back`, { skip, timeout: 120_000 * netns.TIME_SCALE }, async (t) => {
    const wire = netns.createWire(`f${index}`)
    t.teardown(() => wire.cleanup())
    const gso: GsoSample[] = []
    const onLine = (line: string): void => {
      if (!line.startsWith('{')) return
      const j = JSON.parse(line)
      gso.push({ t: Date.now(), gsoSends: j.udp.gsoSends, gsoFallbacks: j.udp.gsoFallbacks, peerErrorEvents: j.peerErrorEvents ?? 0 })
    }
    const a = await netns.startEcho(wire, 'a', { stats: '100ms', statsFormat: 'json', onLine })
    const b = await netns.startEcho(wire, 'b')
    const stream = startStream(wire)
    t.teardown(() => stream.stop())
    await sleep(2500 * netns.TIME_SCALE) // connect and leave slow start
    const figures: string[] = []
    let passed = false
    for (let attempt = 1; attempt <= ATTEMPTS && !passed; attempt++) {
      await sleep(3000)
      const faultAt = Date.now()
      const before = bestWindow(stream.samples, faultAt - 3000, faultAt)
      const gsoBefore = gsoAt(gso, faultAt).gsoSends - gsoAt(gso, faultAt - 3000).gsoSends
      fault.apply(wire)
      await sleep(FAULT_MS)
      fault.end(wire)
      const endAt = Date.now()
      const duringFallbacks = gsoAt(gso, endAt + 200).gsoFallbacks - gsoAt(gso, faultAt).gsoFallbacks
      let after = 0
      let recoveredMs = -1
      let gsoAfter = 0
      while (Date.now() < endAt + RECOVER_MS) {
        await sleep(250)
        const now = Date.now()
        after = Math.max(after, bestWindow(stream.samples, endAt, now))
        gsoAfter = gsoAt(gso, now).gsoSends - gsoAt(gso, endAt).gsoSends
        const rateBack = SANITIZED || (before > 0 && after >= 0.8 * before)
        if (rateBack && gsoAfter > 0 && gsoBefore > 0) { recoveredMs = now - endAt; break }
      }
      const line = `attempt ${attempt}: before ${mbit(before)} (gsoSends +${gsoBefore}), ` +
        `GSO refusals during the fault ${duringFallbacks}, after ${mbit(after)} (${(100 * after / Math.max(before, 1)).toFixed(0)}%, ` +
        `gsoSends +${gsoAfter}) ${recoveredMs >= 0 ? `recovered ${recoveredMs} ms after the fault ended` : 'NOT recovered within 5 s'}`
      figures.push(line)
      t.comment(`${fault.name}: ${line}`)
      if (fault.refusesGso && duringFallbacks === 0) t.comment('(this attempt saw no GSO refusal: the fault did not reach a GSO send)')
      passed = recoveredMs >= 0
    }
    t.ok(passed, `${fault.name}: ${SANITIZED ? '' : 'rate >= 80% of before and '}gsoSends growing within 5 s of the fault's end\n  ${figures.join('\n  ')}`)
    stream.stop()
    const fa = await a.stop()
    await b.stop()
    t.ok(fa, 'endpoint a printed its final stats')
    if (fault.refusesGso) t.ok(fa.udp.gsoFallbacks > 0, `the fault made the kernel refuse GSO sends (${fa.udp.gsoFallbacks}), and they were re-sent`)
    if (fault.name.startsWith('blackhole')) {
      // Every send to the peer was refused (EINVAL) for 2 s per attempt: thousands of errors,
      // merged per peer and errno into about one event a second (the first at once).
      const errors = fa.peerErrors.EINVAL ?? 0
      t.ok(errors > 100, `the blackhole refused ${errors} sends`)
      t.ok(fa.peerErrorEvents <= 10 * ATTEMPTS, `reported as ${fa.peerErrorEvents} 'peerError' events, not one per error`)
    }
    t.comment(`final a: gsoSends ${fa.udp.gsoSends}, gsoFallbacks ${fa.udp.gsoFallbacks}, peer errors ${JSON.stringify(fa.peerErrors)}, events ${fa.peerErrorEvents}`)
  })
}
