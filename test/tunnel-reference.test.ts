// bench/tunnel_reference.c (the C forwarder `npm run bench` measures tunio against) carries real
// TCP: two instances in namespaces joined by veth, 16 MB hashed each way, with its offloads
// working (superpackets read and split, datagrams coalesced back into superpackets). Without
// this the benchmark's reference could rot silently. Needs root and cc; about 10 s.
import t from 'tap'
import { endpointPair, netns, readyForTunnels, tcpBothWays } from './helpers/tunnels'

const MB16 = 16 * 1024 * 1024

if (readyForTunnels(t, { cc: 'a C compiler (cc, Debian package gcc)' })) {
  t.test('the C reference carries 16 MB of TCP intact both directions, offloads in use', async (t) => {
    const { wire, a, b } = await endpointPair(t, 'r', netns.startCReference)
    await tcpBothWays(t, wire, MB16)
    const gsoMaxSize = (): number => Number(/gso_max_size (\d+)/.exec(wire.exec('a', 'ip', ['-d', 'link', 'show', 'tun0']))?.[1])
    const cLink = gsoMaxSize()
    const fa = await a.stop()
    const fb = await b.stop()
    t.ok(fa && fb, 'both printed their final JSON counters on SIGTERM')
    t.comment(`a: ${JSON.stringify(fa)}`)
    t.comment(`b: ${JSON.stringify(fb)}`)
    // Both ways each side read superpackets from its TUN and wrote coalesced ones.
    for (const [name, f] of [['a', fa], ['b', fb]]) {
      t.ok(f.tun.superpacketsIn > 0 && f.tun.segmentsIn > f.tun.superpacketsIn, `${name} split TSO superpackets (${f.tun.superpacketsIn} into ${f.tun.segmentsIn})`)
      t.ok(f.tun.superpacketsOut > 0, `${name} wrote coalesced superpackets (${f.tun.superpacketsOut})`)
      t.ok(f.udp.gsoSends > 0, `${name} sent UDP_SEGMENT messages (${f.udp.gsoSends})`)
      t.equal(f.tun.drops.malformed + f.tun.drops.writeRejected, 0, `${name}: no packet refused or malformed`)
    }
    // The launcher sets the link up as tunio's openTun does by default: the same gso_max_size.
    const echo = await netns.startEcho(wire, 'a')
    t.equal(cLink, gsoMaxSize(), `gso_max_size ${cLink}: the same as tunio's default on the same MTU`)
    await echo.stop()
  })
}
