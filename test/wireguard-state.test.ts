// examples/wireguard: the timers (with a fake clock) and cryptokey routing. (The replay window
// is tunio's native one, Aead's replayWindow: test-native/replay_window_test.cc, and the interop
// test drops a replayed datagram from wireguard-go.)
import t from 'tap'
import {
  PeerTimers, REKEY_TIMEOUT_MS, REKEY_TIMEOUT_JITTER_MAX_MS, KEEPALIVE_TIMEOUT_MS, MAX_HANDSHAKE_ATTEMPTS,
  REJECT_AFTER_TIME_MS, REKEY_AFTER_TIME_MS, needsRekeyOnSend, needsRekeyOnReceive, expired, REKEY_AFTER_MESSAGES
} from '../examples/wireguard/timers'
import { AllowedIPs } from '../examples/wireguard/allowed-ips'
import { parsePrefix, ipBytes } from '../examples/wireguard/config'
import { packet } from './helpers/packets'

interface Fired { initiations: boolean[], keepalives: number, gaveUp: number, zeroed: number }
function timersWith (keepalive = 0, random = () => 0.5): { timers: PeerTimers, fired: Fired } {
  const fired: Fired = { initiations: [], keepalives: 0, gaveUp: 0, zeroed: 0 }
  const timers = new PeerTimers({
    sendInitiation: (retry) => { fired.initiations.push(retry) },
    sendKeepalive: () => { fired.keepalives++ },
    giveUp: () => { fired.gaveUp++ },
    zeroKeyMaterial: () => { fired.zeroed++ }
  }, keepalive, random)
  return { timers, fired }
}

t.test('timers: handshake retransmission with jitter, then giving up', async (t) => {
  const { timers, fired } = timersWith(0, () => 0.999)
  let now = 1000
  timers.handshakeInitiated(now)
  const jitter = Math.floor(0.999 * REKEY_TIMEOUT_JITTER_MAX_MS)
  t.equal(timers.retransmitHandshake, now + REKEY_TIMEOUT_MS + jitter, 'REKEY_TIMEOUT plus up to 333 ms of jitter')
  timers.tick(now + REKEY_TIMEOUT_MS + jitter - 1)
  t.same(fired.initiations, [], 'not before the deadline')
  // The device calls handshakeInitiated() each time it sends one: follow that loop.
  let sent = 0
  while (fired.gaveUp === 0 && sent < 100) {
    now = timers.retransmitHandshake
    timers.tick(now)
    if (fired.initiations.length > sent) { sent = fired.initiations.length; timers.handshakeInitiated(now) }
  }
  t.equal(sent, MAX_HANDSHAKE_ATTEMPTS, `${MAX_HANDSHAKE_ATTEMPTS} retries`)
  t.ok(fired.initiations.every((r) => r), 'all marked as retries')
  t.equal(fired.gaveUp, 1, 'then it gives up')
  t.equal(timers.zeroKeyMaterial, now + REJECT_AFTER_TIME_MS * 3, 'and key material goes after 3 x REJECT_AFTER_TIME')
  timers.tick(timers.zeroKeyMaterial)
  t.equal(fired.zeroed, 1, 'zeroed')
  t.equal(timers.next, Infinity, 'nothing armed after that')
})

t.test('timers: a completed handshake stops the retransmissions', async (t) => {
  const { timers, fired } = timersWith()
  timers.handshakeInitiated(0)
  timers.tick(REKEY_TIMEOUT_MS + REKEY_TIMEOUT_JITTER_MAX_MS)
  t.equal(fired.initiations.length, 1)
  timers.handshakeInitiated(REKEY_TIMEOUT_MS + REKEY_TIMEOUT_JITTER_MAX_MS)
  timers.handshakeComplete()
  t.equal(timers.handshakeAttempts, 0)
  timers.tick(60_000)
  t.equal(fired.initiations.length, 1, 'no more initiations')
})

t.test('timers: passive keepalive after received data, cancelled by anything we send', async (t) => {
  const { timers, fired } = timersWith()
  timers.dataReceived(0)
  timers.dataReceived(100) // while armed: one more keepalive will be needed
  timers.tick(KEEPALIVE_TIMEOUT_MS - 1)
  t.equal(fired.keepalives, 0)
  timers.tick(KEEPALIVE_TIMEOUT_MS)
  t.equal(fired.keepalives, 1, 'a keepalive after KEEPALIVE_TIMEOUT of silence from us')
  t.equal(timers.sendKeepalive, 2 * KEEPALIVE_TIMEOUT_MS, 're-armed for the data that came in meanwhile')
  timers.anyAuthenticatedPacketSent()
  timers.tick(3 * KEEPALIVE_TIMEOUT_MS)
  t.equal(fired.keepalives, 1, 'our own packet made the second one unnecessary')
})

t.test('timers: sent data without an answer starts a new handshake', async (t) => {
  const { timers, fired } = timersWith()
  timers.dataSent(0)
  timers.dataSent(3000) // does not push the deadline
  t.equal(timers.newHandshake, KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS)
  timers.tick(KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS)
  t.same(fired.initiations, [false], 'a new (not retried) initiation')
  timers.dataSent(20_000)
  timers.anyAuthenticatedPacketReceived()
  timers.tick(60_000)
  t.same(fired.initiations, [false], 'an answer cancels it')
})

t.test('timers: persistent keepalive', async (t) => {
  const { timers, fired } = timersWith(25)
  timers.anyAuthenticatedPacketTraversal(0)
  timers.tick(24_999)
  t.equal(fired.keepalives, 0)
  timers.tick(25_000)
  t.equal(fired.keepalives, 1, 'after 25 s without traffic')
  const off = timersWith(0)
  off.timers.anyAuthenticatedPacketTraversal(0)
  off.timers.tick(1e9)
  t.equal(off.fired.keepalives, 0, 'never when off')
})

t.test('session age and message limits', async (t) => {
  t.notOk(needsRekeyOnSend(true, 0, 0, REKEY_AFTER_TIME_MS - 1))
  t.ok(needsRekeyOnSend(true, 0, 0, REKEY_AFTER_TIME_MS), 'initiator rekeys after REKEY_AFTER_TIME')
  t.notOk(needsRekeyOnSend(false, 0, 0, REKEY_AFTER_TIME_MS), 'the responder does not (avoids both sides rekeying at once)')
  t.ok(needsRekeyOnSend(false, 0, REKEY_AFTER_MESSAGES, 1), 'either side after REKEY_AFTER_MESSAGES')
  t.notOk(needsRekeyOnReceive(true, 0, 164_999))
  t.ok(needsRekeyOnReceive(true, 0, 165_000), 'initiator rekeys on receive at REJECT - KEEPALIVE - REKEY_TIMEOUT')
  t.ok(expired(0, REJECT_AFTER_TIME_MS) && !expired(0, REJECT_AFTER_TIME_MS - 1), 'REJECT_AFTER_TIME')
})

t.test('cryptokey routing: longest prefix, v4 and v6, moves between peers', async (t) => {
  const r = new AllowedIPs<string>()
  const fail = (): never => { throw new Error('bad prefix') }
  const add = (p: string, v: string): void => r.insert(parsePrefix(p, 1, fail), v)
  add('10.0.0.0/8', 'wide')
  add('10.1.0.0/16', 'mid')
  add('10.1.2.3/32', 'host')
  add('0.0.0.0/0', 'default4')
  add('fd00::/8', 'six')
  add('fd00:1::/32', 'six-mid')
  const look = (a: string): string | undefined => { const b = ipBytes(a); return r.lookup(b.length === 4 ? 4 : 6, b, 0) }
  t.equal(look('10.1.2.3'), 'host')
  t.equal(look('10.1.2.4'), 'mid')
  t.equal(look('10.2.0.1'), 'wide')
  t.equal(look('192.0.2.1'), 'default4', '/0 catches the rest')
  t.equal(look('fd00:1::5'), 'six-mid')
  t.equal(look('fd77::1'), 'six')
  t.equal(look('2001:db8::1'), undefined, 'no v6 default')
  add('10.1.0.0/16', 'moved')
  t.equal(look('10.1.9.9'), 'moved', 'the same prefix for another peer moves it')

  // From packet bytes: an IPv4 header and an IPv6 header.
  const v4 = packet({ src: [10, 1, 2, 3], dst: [192, 0, 2, 9] })
  t.equal(r.lookupPacket(v4, 0, 20, 'src'), 'host')
  t.equal(r.lookupPacket(v4, 0, 20, 'dst'), 'default4')
  const v6 = Buffer.concat([Buffer.alloc(8), packet({ version: 6, src: ipBytes('fd00:1::9'), dst: ipBytes('2001:db8::1') }).subarray(0, 40)])
  t.equal(r.lookupPacket(v6, 8, 40, 'src'), 'six-mid', 'at an offset')
  t.equal(r.lookupPacket(v6, 8, 40, 'dst'), undefined)
  t.equal(r.lookupPacket(v6, 8, 39, 'src'), undefined, 'too short for IPv6')
  t.equal(r.lookupPacket(Uint8Array.of(0x20), 0, 1, 'dst'), undefined, 'not IP')
})
