// examples/wireguard Device, handshake side, without sockets: a fake UDP socket records what the
// device sends and a fake clock drives it. Covers what the interop test cannot provoke from
// wireguard-go on demand: the device under load (cookie replies, then MAC2 from the cookie),
// replayed initiations, and the per-peer initiation rate.
import t from 'tap'
import { parseConfig } from '../examples/wireguard/config'
import { generateKeyPair } from '../examples/wireguard/crypto'
import { Device } from '../examples/wireguard/device'
import { sourceBytes } from '../examples/wireguard/datapath'
import * as hs from '../examples/wireguard/handshake'
import type { Tun, Udp } from '../lib/index'

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64')

function setup (): { device: Device, sent: Array<{ msg: Uint8Array, to: unknown }>, clock: { now: number }, initiator: { local: hs.LocalIdentity, peer: hs.PeerIdentity } } {
  const r = generateKeyPair()
  const i = generateKeyPair()
  const config = parseConfig(`[Interface]\nPrivateKey = ${b64(r.privateKey)}\nListenPort = 51820\n[Peer]\nPublicKey = ${b64(i.publicKey)}\nAllowedIPs = 10.0.0.2/32\n`, 'wgt.conf')
  const sent: Array<{ msg: Uint8Array, to: unknown }> = []
  const udp = { send: (msg: Uint8Array, to: unknown) => { sent.push({ msg: new Uint8Array(msg), to }); return 1 } } as unknown as Udp
  const clock = { now: 10_000 }
  // Under load from 64 handshake messages a second (the default, 4,096, would make the flood
  // below take seconds of X25519 work).
  const device = new Device(config, {} as unknown as Tun, udp, () => clock.now, LOAD)
  const local = hs.localIdentity(i.privateKey)
  return { device, sent, clock, initiator: { local, peer: hs.peerIdentity(local, r.publicKey) } }
}

const LOAD = 64
const FROM = { address: '192.0.2.7', port: 40000 }
const SRC = sourceBytes(FROM.address, FROM.port)

t.test('under load: cookie reply, then an initiation with MAC2 from the cookie is answered', async (t) => {
  const { device, sent, clock, initiator } = setup()
  const h = device.counters.handshake
  // A flood of initiations with a valid MAC1 (their contents do not decrypt).
  for (let n = 0; n < LOAD + 40; n++) {
    const m = new Uint8Array(hs.INITIATION_LEN)
    m[0] = hs.MSG_INITIATION
    m.fill(n & 0xff, 8, 116)
    hs.writeMacs(m, initiator.peer.mac1Key, undefined)
    device.handleHandshake(m, FROM, SRC)
  }
  t.equal(h.invalid, LOAD, `the first ${LOAD} in a second are processed (and refused: they do not decrypt)`)
  t.equal(h.cookieRepliesSent, 40, 'past that, each gets a cookie reply instead')
  t.ok(sent.every((s) => s.msg[0] === hs.MSG_COOKIE_REPLY && s.msg.length === hs.COOKIE_REPLY_LEN), 'only cookie replies were sent')

  // A real initiator, still under load: first a cookie reply, which it opens.
  const first = hs.createInitiation(initiator.local, initiator.peer, 7, Date.now())
  if (first === undefined) return
  const mac1 = hs.writeMacs(first.message, initiator.peer.mac1Key, undefined)
  sent.length = 0
  device.handleHandshake(first.message, FROM, SRC)
  t.equal(sent.length, 1)
  const cookie = hs.openCookieReply(sent[0].msg, initiator.peer, mac1)
  t.ok(cookie !== undefined, 'the initiator opens the cookie reply with its MAC1')
  t.equal(hs.receiverIndex(sent[0].msg), 7, 'addressed to its sender index')
  // Retried with MAC2: answered with a response the initiator can consume.
  const second = hs.createInitiation(initiator.local, initiator.peer, 8, Date.now(), { timestamp: hs.tai64n(Date.now() + 100) })
  if (second === undefined) return
  hs.writeMacs(second.message, initiator.peer.mac1Key, cookie)
  sent.length = 0
  device.handleHandshake(second.message, FROM, SRC)
  t.equal(sent.length, 1, 'one message back')
  t.equal(sent[0].msg[0], hs.MSG_RESPONSE, 'a response')
  const keys = hs.consumeResponse(initiator.local, initiator.peer, second.state, sent[0].msg)
  t.ok(keys !== undefined, 'which completes the handshake on the initiator\'s side')
  const peer = device.peers[0]
  t.ok(peer.next !== undefined && keys !== undefined && Buffer.compare(peer.next.keys.receive, keys.send) === 0, 'both sides hold the same session keys')
  t.same(sent[0].to, FROM, 'sent to where the initiation came from')
  t.same(peer.endpoint, FROM, 'which becomes the peer\'s endpoint')

  // The same MAC2 from another source address does not pass.
  sent.length = 0
  device.handleHandshake(second.message, { address: '192.0.2.8', port: 40000 }, sourceBytes('192.0.2.8', 40000))
  t.equal(sent[0]?.msg[0], hs.MSG_COOKIE_REPLY, 'another address gets a cookie reply (the cookie is per source)')

  // A second after the flood the device is no longer under load.
  clock.now += 2000
  const third = hs.createInitiation(initiator.local, initiator.peer, 9, Date.now(), { timestamp: hs.tai64n(Date.now() + 200) })
  if (third === undefined) return
  hs.writeMacs(third.message, initiator.peer.mac1Key, undefined)
  sent.length = 0
  device.handleHandshake(third.message, FROM, SRC)
  t.equal(sent[0]?.msg[0], hs.MSG_RESPONSE, 'not under load: answered without MAC2')
})

t.test('a replayed initiation and one too soon after the last are refused', async (t) => {
  const { device, sent, clock, initiator } = setup()
  const h = device.counters.handshake
  const init = hs.createInitiation(initiator.local, initiator.peer, 1, Date.now(), { timestamp: hs.tai64n(Date.now()) })
  if (init === undefined) return
  hs.writeMacs(init.message, initiator.peer.mac1Key, undefined)
  device.handleHandshake(init.message, FROM, SRC)
  t.equal(h.initiationsReceived, 1, 'the first is accepted')
  const soon = hs.createInitiation(initiator.local, initiator.peer, 2, Date.now(), { timestamp: hs.tai64n(Date.now() + 500) })
  if (soon === undefined) return
  hs.writeMacs(soon.message, initiator.peer.mac1Key, undefined)
  clock.now += 5 // 5 ms after the last accepted one
  device.handleHandshake(soon.message, FROM, SRC)
  t.equal(h.rateLimited, 1, 'a newer one within 20 ms of the last is refused (flood protection)')
  clock.now += 1000
  device.handleHandshake(init.message, FROM, SRC)
  t.equal(h.replayedTimestamp, 1, 'the first one again: its timestamp is not newer')
  device.handleHandshake(soon.message, FROM, SRC)
  t.equal(h.initiationsReceived, 2, 'the newer one a second later is accepted')
  t.equal(sent.filter((s) => s.msg[0] === hs.MSG_RESPONSE).length, 2, 'two responses in all')
  const bad = init.message.slice()
  bad[130] ^= 1
  device.handleHandshake(bad, FROM, SRC)
  t.equal(h.mac1Invalid, 1, 'a wrong MAC1 is counted')
})
