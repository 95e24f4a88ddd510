// examples/wireguard against Debian's wireguard-go, and against itself, in network namespaces
// joined by veth (scripts/netns.js, scripts/wireguard-netns.js). Needs root, wireguard-go, wg and
// ping; skipped otherwise. Everything made here is removed on exit. About a minute in all.
import t from 'tap'
import { execFileSync, type ChildProcess } from 'child_process'
import * as path from 'path'

/* eslint-disable @typescript-eslint/no-var-requires */
const netns = require(path.join(__dirname, '..', 'scripts', 'netns.js'))
const wg = require(path.join(__dirname, '..', 'scripts', 'wireguard-netns.js'))
const RELAY = path.join(__dirname, 'fixtures', 'udp-relay.js')
const MB64 = 64 * 1024 * 1024

const skip = process.getuid?.() !== 0
  ? 'needs root (network namespaces, TUN devices)'
  : !wg.hasWireguardGo() ? 'needs wireguard-go and wg (apt-get install wireguard-go wireguard-tools)' : !netns.has('ping') ? 'needs ping (iputils-ping)' : ''

/** The next JSON line a child prints on stdout (after `since` characters of its output). */
async function jsonLine (child: ChildProcess & { output: string }, since: number): Promise<any> {
  await netns.waitFor(() => child.output.slice(since).split('\n').some((l: string) => l.startsWith('{')), 10000 * netns.TIME_SCALE)
  return JSON.parse(child.output.slice(since).split('\n').find((l: string) => l.startsWith('{')) as string)
}

if (skip !== '') {
  t.pass(`skipped: ${skip}`)
} else {
  execFileSync(process.execPath, [path.join(__dirname, '..', 'scripts', 'build-examples.js')], { stdio: 'inherit' })

  t.test('example initiates to wireguard-go: ping, IPv6, 64 MB of TCP hashed each way', async (t) => {
    const wire = netns.createWire('wa')
    t.teardown(() => wire.cleanup())
    const k = wg.keys()
    // JSON status lines every 250 ms: the counters as they were between the two transfers.
    const a = await wg.start(wire, 'a', 'example', k, { stats: '250ms', statsFormat: 'json' })
    const b = await wg.start(wire, 'b', 'wireguard-go', k)
    const statusNow = async (): Promise<any> => {
      const since = a.child.output.length
      await netns.waitFor(() => a.child.output.slice(since).includes('\n{'), 5000 * netns.TIME_SCALE)
      const lines = a.child.output.slice(since).split('\n').filter((l: string) => l.startsWith('{"device"'))
      return JSON.parse(lines[lines.length - 1] ?? a.child.output.slice(since).split('\n').filter((l: string) => l.startsWith('{'))[0])
    }
    t.equal(wg.ping(wire, 'a', 'b'), 0, 'ping from the example\'s side through the tunnel')
    t.equal(wg.ping(wire, 'a', 'b', { v6: true }), 0, 'IPv6 inside the tunnel')
    const ab = await netns.tcpTransfer(wire, 'a', 'b', MB64, { timeoutMs: 90000 })
    t.ok(ab.ok, `example -> wireguard-go: ${ab.bytes} bytes, sha256 ${ab.received} (sent ${ab.sent})`) || t.comment(ab.output)
    const mid = await statusNow()
    const ba = await netns.tcpTransfer(wire, 'b', 'a', MB64, { port: 7101, timeoutMs: 90000 })
    t.ok(ba.ok, `wireguard-go -> example: ${ba.bytes} bytes, sha256 ${ba.received} (sent ${ba.sent})`) || t.comment(ba.output)
    const dump = b.dump()
    t.ok(Number(dump[0][4]) > 0, 'wireguard-go reports a completed handshake with the example')
    const fa = await a.stop()
    await b.stop()
    t.ok(fa, 'the example printed its final JSON stats on SIGTERM')
    t.equal(a.child.exitCode, 0, 'and exited cleanly')
    const peer = fa.device.peers[0]
    t.ok(peer.initiationsSent >= 1 && fa.device.handshake.responsesReceived >= 1, 'the example initiated the handshake')
    t.ok(peer.rxBytes >= MB64 && peer.txBytes >= MB64, `payload both ways (tx ${peer.txBytes}, rx ${peer.rxBytes})`)
    t.same(fa.device.dataplane, { ...fa.device.dataplane, authFailed: 0, replayed: 0, sourceNotAllowed: 0 }, 'nothing forged, replayed or misrouted')
    // The offloads survive sealing and opening: sealed segments of a TUN superpacket go out as
    // one UDP_SEGMENT send, and opened packets are written as coalesced superpackets.
    // Sending (the example -> wireguard-go transfer, counters up to `mid`) and receiving (the
    // other transfer, counters from `mid` to the end) are judged on their own traffic.
    const u = mid.udp
    const tin = mid.tun
    const packetsOut = fa.tun.packetsOut - mid.tun.packetsOut
    const segmentsOut = fa.tun.segmentsOut - mid.tun.segmentsOut
    t.comment(`sending: ${tin.superpacketsIn} TUN superpackets in -> ${u.gsoSends} GSO sends carrying ${u.gsoSegments} of ${u.datagramsOut} datagrams; ` +
      `receiving: ${packetsOut} packets written, ${segmentsOut} of them inside ${fa.tun.superpacketsOut - mid.tun.superpacketsOut} coalesced superpackets`)
    t.ok(u.gsoSegments >= 0.8 * u.datagramsOut, 'most sealed datagrams left in UDP_SEGMENT sends')
    t.ok(u.gsoSends <= 1.1 * tin.superpacketsIn, 'at most 1.1 GSO sends per TUN superpacket')
    t.ok(segmentsOut >= 0.5 * packetsOut, 'most opened packets written inside coalesced superpackets')
    t.notOk(wire.exec('a', 'ip', ['link']).includes(a.name), 'the TUN is gone after SIGTERM')
  })

  t.test('wireguard-go initiates (through a relay); a forged and a replayed datagram are dropped and counted; wireguard-go restarts; roaming', async (t) => {
    const wire = netns.createWire('wb')
    t.teardown(() => wire.cleanup())
    const k = wg.keys()
    // The example knows no endpoint: only wireguard-go can start. It talks to the relay in a,
    // which forwards to the example on 127.0.0.1 and can replay or forge what it forwarded.
    const a = await wg.start(wire, 'a', 'example', k, { endpoint: false })
    const relay = wire.spawn('a', process.execPath, [RELAY, netns.WIRE.a, '51900', '127.0.0.1', String(wg.PORT)], { stdio: ['pipe', 'pipe', 'pipe'] })
    await netns.waitFor(() => relay.output.includes('"ready"'), 10000 * netns.TIME_SCALE)
    const goPeer = { ...wg.peerOf(k, 'a'), endpoint: `${netns.WIRE.a}:51900` }
    let b = await wg.startWireguardGo(wire, 'b', { privateKey: k.b.private, peers: [goPeer] })
    t.equal(wg.ping(wire, 'b', 'a'), 0, 'ping from wireguard-go\'s side: it initiates, the example answers')
    t.equal(wg.ping(wire, 'b', 'a', { v6: true }), 0, 'IPv6 too')
    for (const cmd of ['replay', 'forge']) {
      const since = relay.output.length
      relay.stdin.write(`${cmd}\n`)
      const r = await jsonLine(relay, since)
      t.ok(r.ok, `relay sent a ${cmd === 'replay' ? 'replayed' : 'forged'} data message (${r.length} bytes)`)
    }
    t.equal(wg.ping(wire, 'b', 'a'), 0, 'traffic goes on after them')

    // wireguard-go restarts: a new process, new sessions, the example still holds the old one.
    const before = b.dump()
    await b.stop()
    b = await wg.startWireguardGo(wire, 'b', { privateKey: k.b.private, peers: [goPeer], name: b.name })
    t.equal(wg.ping(wire, 'b', 'a', { timeoutSec: 10 }), 0, 'after the restart, traffic resumes from wireguard-go\'s side')
    t.equal(wg.ping(wire, 'a', 'b'), 0, 'and from the example\'s side')
    t.ok(Number(before[0][4]) > 0 && Number(b.dump()[0][4]) > 0, 'wireguard-go has a handshake before and after')

    // Roaming: wireguard-go now sends to the example directly, no longer through the relay.
    wire.exec('b', 'wg', ['set', b.name, 'peer', k.a.public, 'endpoint', `${netns.WIRE.a}:${wg.PORT}`])
    t.equal(wg.ping(wire, 'b', 'a'), 0, 'wireguard-go moved to the example\'s address: ping')
    t.equal(wg.ping(wire, 'a', 'b'), 0, 'and from the example\'s side')
    const fa = await a.stop()
    await b.stop()
    relay.stdin.end()
    const d = fa.device
    t.equal(d.dataplane.replayed, 1, 'exactly the replayed datagram counted as replayed')
    t.equal(d.dataplane.authFailed, 1, 'exactly the forged datagram counted as failing authentication')
    t.ok(d.handshake.initiationsReceived >= 2 && d.handshake.responsesSent >= 2, `the example answered both wireguard-go processes (${d.handshake.initiationsReceived} initiations)`)
    t.ok(d.peers[0].handshakesCompleted >= 2, 'two sessions confirmed')
    t.equal(d.handshake.mac1Invalid, 0, 'every handshake message from wireguard-go had a MAC1 we accept')
    t.equal(d.peers[0].endpoint, `${netns.WIRE.b}:${wg.PORT}`, 'the example followed wireguard-go to its new address')
    t.ok(d.peers[0].roamed >= 1, `and counted the move (${d.peers[0].roamed})`)
  })

  t.test('the example against itself: two peers behind one interface, routed by AllowedIPs; a foreign inner source dropped', async (t) => {
    const wire = netns.createWire('ws')
    t.teardown(() => wire.cleanup())
    const hub = wg.genKey()
    const s1 = wg.genKey()
    const s2 = wg.genKey()
    // a: the hub, 10.8.1.1 and 10.8.2.1; b: two example processes, spokes 10.8.1.2 (port 51820) and 10.8.2.2 (51821).
    const a = await wg.startExample(wire, 'a', {
      privateKey: hub.private,
      addresses: ['10.8.1.1/24', '10.8.2.1/24'],
      peers: [
        { publicKey: s1.public, allowedIPs: ['10.8.1.2/32'], endpoint: `${netns.WIRE.b}:51820` },
        { publicKey: s2.public, allowedIPs: ['10.8.2.2/32'], endpoint: `${netns.WIRE.b}:51821` }
      ]
    })
    const spoke = async (key: any, net: number, port: number): Promise<any> => await wg.startExample(wire, 'b', {
      privateKey: key.private,
      listenPort: port,
      // .50 is an extra address the hub does not allow for this spoke.
      addresses: [`10.8.${net}.2/24`, `10.9.${net}.50/32`],
      peers: [{ publicKey: hub.public, allowedIPs: [`10.8.${net}.0/24`], endpoint: `${netns.WIRE.a}:${wg.PORT}` }]
    })
    const b1 = await spoke(s1, 1, 51820)
    const b2 = await spoke(s2, 2, 51821)
    const ping = (ns: string, args: string[]): number => { try { wire.exec(ns, 'ping', ['-c', '3', '-i', '0.2', '-W', '5', ...args]); return 0 } catch (e: any) { return e.status ?? 1 } }
    t.equal(ping('a', ['10.8.1.2']), 0, 'hub -> spoke 1')
    t.equal(ping('a', ['10.8.2.2']), 0, 'hub -> spoke 2')
    t.equal(ping('b', ['-I', '10.8.2.2', '10.8.2.1']), 0, 'spoke 2 -> hub')
    t.not(ping('b', ['-c', '2', '-W', '1', '-I', '10.9.2.50', '10.8.2.1']), 0, 'spoke 2 with a source outside its AllowedIPs gets no answer')
    const fa = await a.stop()
    await b1.stop()
    await b2.stop()
    const [p1, p2] = fa.device.peers
    t.ok(p1.txPackets >= 3 && p1.rxPackets >= 3, `spoke 1 carried its pings (tx ${p1.txPackets}, rx ${p1.rxPackets})`)
    t.ok(p2.txPackets >= 3 && p2.rxPackets >= 3, `spoke 2 carried its pings (tx ${p2.txPackets}, rx ${p2.rxPackets})`)
    t.ok(p2.sourceNotAllowed >= 1 && p1.sourceNotAllowed === 0, `the foreign source was dropped and counted on spoke 2's peer (${p2.sourceNotAllowed})`)
    t.equal(fa.device.dataplane.sourceNotAllowed, p2.sourceNotAllowed, 'and in the device total')
    t.equal(fa.device.handshake.mac1Invalid + fa.device.dataplane.authFailed, 0, 'nothing failed MAC1 or authentication')
  })
}
