// examples/echo-tunnel end to end: two namespaces joined by veth, a tunnel endpoint in each.
// Needs root (namespaces, TUN); skipped otherwise. Everything made here is removed on exit.
import t from 'tap'
import { execFileSync } from 'child_process'
import * as path from 'path'

// eslint-disable-next-line @typescript-eslint/no-var-requires
const netns = require(path.join(__dirname, '..', 'scripts', 'netns.js'))
const MB32 = 32 * 1024 * 1024

if (process.getuid?.() !== 0) {
  t.pass('skipped: needs root (network namespaces, TUN devices)')
} else {
  execFileSync(process.execPath, [path.join(__dirname, '..', 'scripts', 'build-examples.js')], { stdio: 'inherit' })

  t.test('two echo endpoints carry 32 MB of TCP intact, both directions', async (t) => {
    const wire = netns.createWire('e')
    t.teardown(() => wire.cleanup())
    const a = await netns.startEcho(wire, 'a')
    const b = await netns.startEcho(wire, 'b')
    const ab = await netns.tcpTransfer(wire, 'a', 'b', MB32)
    t.ok(ab.ok, `a -> b: ${ab.bytes} bytes, sha256 ${ab.received} (sent ${ab.sent})`) || t.comment(ab.output)
    const ba = await netns.tcpTransfer(wire, 'b', 'a', MB32, { port: 7101 })
    t.ok(ba.ok, `b -> a: ${ba.bytes} bytes, sha256 ${ba.received} (sent ${ba.sent})`) || t.comment(ba.output)
    const fa = await a.stop()
    const fb = await b.stop()
    t.ok(fa && fb, 'both endpoints printed final JSON stats on SIGTERM')
    t.ok(fa.tun.bytesIn >= MB32, 'endpoint a read the transfer from its TUN')
    t.equal(a.child.exitCode, 0, 'endpoint a exited cleanly')
  })

  t.test('interop: tunio on one side, socat on the other, TCP intact both directions', async (t) => {
    const wire = netns.createWire('i')
    t.teardown(() => wire.cleanup())
    const a = await netns.startEcho(wire, 'a')
    const b = await netns.startSocat(wire, 'b')
    // socat writes every datagram it receives to its TUN as one packet: anything but exactly
    // one well-formed IP packet per datagram would be dropped by the kernel (or break TCP).
    const ab = await netns.tcpTransfer(wire, 'a', 'b', 8 * 1024 * 1024)
    t.ok(ab.ok, `tunio -> socat: ${ab.bytes} bytes, hashes match`) || t.comment(ab.output)
    const ba = await netns.tcpTransfer(wire, 'b', 'a', 8 * 1024 * 1024, { port: 7101 })
    t.ok(ba.ok, `socat -> tunio: ${ba.bytes} bytes, hashes match`) || t.comment(ba.output)
    const fa = await a.stop()
    await b.stop()
    t.ok(fa.udp.datagramsOut > 1000, `tunio sent ${fa.udp.datagramsOut} datagrams to socat`)
    t.ok(fa.udp.bytesOut < fa.udp.datagramsOut * 1420 + 1, 'no datagram larger than the MTU (one IP packet each)')
  })

  t.test('the endpoint survives its peer not being up yet', async (t) => {
    const wire = netns.createWire('s')
    t.teardown(() => wire.cleanup())
    const a = await netns.startEcho(wire, 'a')
    // Traffic toward a peer that is not listening: ICMP port unreachable -> peerError events.
    const transfer = netns.tcpTransfer(wire, 'a', 'b', 4 * 1024 * 1024, { timeoutMs: 20000, listenAny: true })
    await new Promise((resolve) => setTimeout(resolve, 1000))
    t.equal(a.child.exitCode, null, 'endpoint a still running while the peer is down')
    const b = await netns.startEcho(wire, 'b')
    const r = await transfer
    t.ok(r.ok, `transfer completed after the peer came up: ${r.bytes} bytes, hashes match`) || t.comment(r.output)
    const fa = await a.stop()
    await b.stop()
    // The socket is unconnected: the ICMP port unreachables come from its error queue.
    t.comment(`peer errors counted while the peer was down: ${JSON.stringify(fa.peerErrors)}, drops.peer ${JSON.stringify(fa.udp.drops.peer)}`)
    t.ok((fa.peerErrors.ECONNREFUSED ?? 0) >= 1, 'ECONNREFUSED reported while the peer was down')
    t.equal(fa.udp.drops.peer.connRefused, 0, 'and no datagram dropped because of it')
    t.equal(a.child.exitCode, 0, 'endpoint a ran to a clean exit')
  })
}
