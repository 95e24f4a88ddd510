// examples/echo-tunnel end to end: two namespaces joined by veth, a tunnel endpoint in each.
// Needs root (namespaces, TUN); skipped otherwise. Everything made here is removed on exit.
import t from 'tap'
import { randomBytes } from 'crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'fs'
import { tmpdir } from 'os'
import * as path from 'path'
import { endpointPair, netns, readyForTunnels, tcpBothWays } from './helpers/tunnels'

const MB32 = 32 * 1024 * 1024

if (readyForTunnels(t)) {
  t.test('two echo endpoints carry 32 MB of TCP intact, both directions', async (t) => {
    const { wire, a, b } = await endpointPair(t, 'e', netns.startEcho)
    await tcpBothWays(t, wire, MB32)
    const fa = await a.stop()
    const fb = await b.stop()
    t.ok(fa && fb, 'both endpoints printed final JSON stats on SIGTERM')
    t.ok(fa.tun.bytesIn >= MB32, 'endpoint a read the transfer from its TUN')
    t.equal(a.child.exitCode, 0, 'endpoint a exited cleanly')
  })

  t.test('interop: tunio on one side, socat on the other, TCP intact both directions', {
    skip: !netns.has('socat') && 'socat not installed (Debian package socat, in scripts/test-packages.txt)'
  }, async (t) => {
    const wire = netns.createWire('i')
    t.teardown(() => wire.cleanup())
    const a = await netns.startEcho(wire, 'a')
    const b = await netns.startSocat(wire, 'b')
    // socat writes every datagram it receives to its TUN as one packet: anything but exactly
    // one well-formed IP packet per datagram would be dropped by the kernel (or break TCP).
    await tcpBothWays(t, wire, 8 * 1024 * 1024, { names: ['tunio', 'socat'] })
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

  for (const algorithm of ['chacha20-poly1305', 'aes-256-gcm']) {
    t.test(`encrypted echo tunnel (${algorithm}): 64 MB hashed both ways while forged datagrams are injected; offloads survive`, async (t) => {
      const MB64 = 64 * 1024 * 1024
      const dir = mkdtempSync(path.join(tmpdir(), 'tunio-aead-'))
      const wire = netns.createWire(algorithm === 'aes-256-gcm' ? 'g' : 'c')
      t.teardown(() => { wire.cleanup(); rmSync(dir, { recursive: true, force: true }) })
      const keyFile = path.join(dir, 'key')
      writeFileSync(keyFile, randomBytes(32).toString('base64') + '\n')
      const aead = { algorithm, keyFile }
      const a = await netns.startEcho(wire, 'a', { aead })
      const b = await netns.startEcho(wire, 'b', { aead })
      const udpErrors = (side: string): number => netns.snmp(wire.ns[side]).Udp.RcvbufErrors
      const rcvbufBefore = udpErrors('b')
      // A forger in namespace a sends b's tunnel port random datagrams (0 to 1,500 bytes, some
      // shaped like a sealed packet with a plausible counter) while the transfers run.
      const FORGED = 3000
      const forger = wire.spawn('a', process.execPath, ['-e', `
        const s = require('dgram').createSocket('udp4'); const c = require('crypto'); let n = 0
        const tick = () => { for (let k = 0; k < 20 && n < ${FORGED}; k++, n++) {
          const d = c.randomBytes(n % 7 === 0 ? n % 24 : 24 + c.randomInt(1477)); if (d.length >= 8) d.writeBigUInt64LE(BigInt(n), 0)
          s.send(d, 5555, '${netns.WIRE.b}') }
          if (n < ${FORGED}) setTimeout(tick, 5); else setTimeout(() => { console.log('sent', n); s.close() }, 100) }
        tick()`])
      await tcpBothWays(t, wire, MB64, { timeoutMs: 120000 * netns.TIME_SCALE })
      await forger.exited
      t.match(forger.output, `sent ${FORGED}`)
      const rcvbufLost = udpErrors('b') - rcvbufBefore
      const fa = await a.stop()
      const fb = await b.stop()
      const forgedDrops = fb.aead.open.drops.authFailed + fb.aead.open.drops.tooShort
      t.comment(`b: opened ${fb.aead.open.opened}, drops ${JSON.stringify(fb.aead.open.drops)}, UDP receive-buffer drops ${rcvbufLost}`)
      t.ok(forgedDrops <= FORGED && forgedDrops >= FORGED - rcvbufLost, `every forged datagram that reached b was dropped and counted (${forgedDrops} of ${FORGED})`)
      t.equal(fb.aead.open.drops.replayed + fb.aead.open.drops.counterLimit + fb.aead.open.drops.headerMismatch, 0, 'nothing else refused')
      t.equal(fa.aead.open.drops.authFailed + fa.aead.open.drops.tooShort + fa.aead.open.drops.replayed, 0, 'a received only authentic datagrams')
      t.equal(fa.aead.seal.drops.noRoom + fb.aead.seal.drops.noRoom, 0, 'every TUN read had room for counter and tag')
      // Offloads survive: sealed segments of a superpacket leave in one UDP_SEGMENT send, and
      // opened datagrams are coalesced into superpackets again on the TUN write.
      const perSuperpacket = fa.udp.gsoSends / fa.tun.superpacketsIn
      t.ok(fa.tun.superpacketsIn > 100, `a read ${fa.tun.superpacketsIn} TSO superpackets`)
      t.ok(perSuperpacket <= 1.1, `a: ${perSuperpacket.toFixed(3)} GSO sends per TUN superpacket (${fa.udp.gsoSends} / ${fa.tun.superpacketsIn})`)
      t.ok(fb.tun.superpacketsOut > 100 && fb.tun.segmentsOut > fb.tun.packetsOut / 2,
        `b coalesced opened datagrams: ${fb.tun.superpacketsOut} superpackets carrying ${fb.tun.segmentsOut} of ${fb.tun.packetsOut} packets`)
    })
  }
}
