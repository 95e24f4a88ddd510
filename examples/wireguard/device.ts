/**
 * The WireGuard device: one TUN, one UDP socket, the configured peers. Handshake messages are
 * handled one at a time here (they are rare); data messages go through the data plane in
 * batches (datapath.ts). Timers of all peers run from one interval.
 */
import { randomInt } from 'crypto'
import type { Tun, Udp } from '../../lib/index'
import { AllowedIPs } from './allowed-ips'
import type { WireGuardConfig } from './config'
import { equal } from './crypto'
import {
  checkMac1, checkMac2, consumeInitiation, consumeResponse, CookieGenerator, COOKIE_REPLY_LEN, COOKIE_SECRET_MAX_AGE_MS,
  createInitiation, createResponse, INITIATION_LEN, localIdentity, MSG_COOKIE_REPLY, MSG_INITIATION,
  openCookieReply, peerIdentity, receiverIndex, RESPONSE_LEN, responseSenderIndex, timestampAfter, writeMacs, type LocalIdentity
} from './handshake'
import { Keypair, Peer, type PeerEndpoint } from './peer'
import { expired, HANDSHAKE_INITIATION_RATE_MS, needsRekeyOnReceive, needsRekeyOnSend, REKEY_TIMEOUT_MS } from './timers'
import { DataPlane } from './datapath'

/** Handshake messages per second above which we answer with cookie replies instead (5.3). */
export const UNDER_LOAD_HANDSHAKES_PER_SECOND = 4096
const TIMER_TICK_MS = 100

/** Counters of the device as a whole (per-peer ones are in Peer.counters). */
export interface DeviceCounters {
  handshake: {
    initiationsReceived: number, responsesReceived: number, cookieRepliesReceived: number
    responsesSent: number, cookieRepliesSent: number
    /** MAC1 wrong, unknown peer, bad encryption, stale timestamp, rate, unknown index, wrong length. */
    invalid: number
    mac1Invalid: number
    replayedTimestamp: number
    rateLimited: number
  }
  data: {
    /** Data message for an index we do not have (old session, or garbage). */
    unknownIndex: number
    /** Session older than REJECT_AFTER_TIME. */
    expiredSession: number
    /** Packets from the TUN for an address no peer's AllowedIPs holds. */
    noRoute: number
    /** Packets for a peer without a known endpoint. */
    noEndpoint: number
    /** Packets dropped while waiting for a handshake (the queue holds 128 per peer). */
    stagedDropped: number
    /** Datagrams too short or of an unknown message type. */
    malformed: number
  }
}

export class Device {
  readonly local: LocalIdentity
  readonly peers: Peer[] = []
  readonly routes = new AllowedIPs<Peer>()
  /** Our indices: a pending handshake or a session, and whose. */
  readonly indices = new Map<number, { peer: Peer, keypair?: Keypair }>()
  readonly counters: DeviceCounters = {
    handshake: { initiationsReceived: 0, responsesReceived: 0, cookieRepliesReceived: 0, responsesSent: 0, cookieRepliesSent: 0, invalid: 0, mac1Invalid: 0, replayedTimestamp: 0, rateLimited: 0 },
    data: { unknownIndex: 0, expiredSession: 0, noRoute: 0, noEndpoint: 0, stagedDropped: 0, malformed: 0 }
  }

  readonly data: DataPlane
  readonly #cookies: CookieGenerator
  #handshakesThisSecond = 0
  #secondStart = 0
  #underLoadUntil = 0
  #timer: NodeJS.Timeout | undefined

  constructor (
    readonly config: WireGuardConfig,
    readonly tun: Tun,
    readonly udp: Udp,
    /** Milliseconds, monotonic (tests pass a fake clock). */
    readonly now: () => number = () => performance.now(),
    /** Handshake messages (with a valid MAC1) per second from which MAC2 is required. */
    private readonly underLoadPerSecond = UNDER_LOAD_HANDSHAKES_PER_SECOND
  ) {
    this.local = localIdentity(config.privateKey)
    this.#cookies = new CookieGenerator(this.local)
    for (const pc of config.peers) {
      if (equal(pc.publicKey, this.local.publicKey)) continue // wg(8) ignores a peer with our own key too
      // The timer actions name the peer they belong to (called only once it exists).
      const peer: Peer = new Peer(pc, peerIdentity(this.local, pc.publicKey, pc.presharedKey), {
        sendInitiation: (retry) => this.sendInitiation(peer, retry),
        sendKeepalive: () => this.sendKeepalive(peer),
        giveUp: () => this.data.dropStaged(peer),
        zeroKeyMaterial: () => this.zeroKeyMaterial(peer)
      })
      this.peers.push(peer)
      for (const prefix of pc.allowedIPs) this.routes.insert(prefix, peer)
    }
    this.data = new DataPlane(this)
  }

  /** Starts the loops and the timers; resolves when either side closes or fails. */
  start (): Array<Promise<void>> {
    this.#timer = setInterval(() => this.tick(), TIMER_TICK_MS)
    // Persistent keepalives start at once (wg(8) sends one when the peer is configured).
    for (const p of this.peers) if (p.config.persistentKeepalive > 0 && p.endpoint !== undefined) this.sendKeepalive(p)
    return [
      (async () => { for await (const batch of this.tun) this.data.fromTun(batch) })(),
      (async () => { for await (const batch of this.udp) this.data.fromUdp(batch) })()
    ]
  }

  stop (): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    for (const p of this.peers) p.timers.stop()
  }

  tick (): void {
    const now = this.now()
    for (const p of this.peers) if (p.timers.next <= now) p.timers.tick(now)
  }

  // ---- indices --------------------------------------------------------------------------------
  newIndex (peer: Peer): number {
    for (;;) {
      const i = randomInt(0, 2 ** 32 - 1) >>> 0
      if (!this.indices.has(i)) { this.indices.set(i, { peer }); return i }
    }
  }

  #dropKeypair (kp: Keypair | undefined): void {
    if (kp === undefined) return
    this.indices.delete(kp.localIndex)
    this.data.retireKeypair(kp)
  }

  zeroKeyMaterial (peer: Peer): void {
    for (const kp of peer.keypairs()) this.#dropKeypair(kp)
    peer.previous = peer.current = peer.next = undefined
    if (peer.pending !== undefined) this.indices.delete(peer.pending.state.senderIndex)
    peer.pending = undefined
    this.data.forget(peer)
  }

  // ---- sending handshake messages -------------------------------------------------------------
  sendInitiation (peer: Peer, retry: boolean): void {
    const now = this.now()
    if (!retry) {
      // A new handshake (not a retransmission): at most one per REKEY_TIMEOUT.
      if (now - peer.lastInitiationSentAt < REKEY_TIMEOUT_MS) return
      peer.timers.handshakeAttempts = 0
    }
    if (peer.endpoint === undefined) return // it may still initiate to us
    if (peer.pending !== undefined) this.indices.delete(peer.pending.state.senderIndex)
    const index = this.newIndex(peer)
    const made = createInitiation(this.local, peer.identity, index, Date.now())
    if (made === undefined) { this.indices.delete(index); return }
    peer.pending = { state: made.state }
    peer.lastMac1 = writeMacs(made.message, peer.identity.mac1Key, this.#freshCookie(peer, now))
    peer.lastInitiationSentAt = now
    peer.counters.initiationsSent++
    this.#sendHandshake(peer, made.message, peer.endpoint)
    peer.timers.handshakeInitiated(now)
  }

  /** A keepalive: an empty data message, or a handshake first when there is no session. */
  sendKeepalive (peer: Peer): void {
    this.data.sendKeepalive(peer)
  }

  #freshCookie (peer: Peer, now: number): Uint8Array | undefined {
    const c = peer.cookie
    return c !== undefined && now - c.receivedAt < COOKIE_SECRET_MAX_AGE_MS ? c.value : undefined
  }

  #sendHandshake (peer: Peer, message: Uint8Array, to: PeerEndpoint): void {
    this.udp.send(message, to)
    const now = this.now()
    peer.timers.anyAuthenticatedPacketSent()
    peer.timers.anyAuthenticatedPacketTraversal(now)
  }

  // ---- receiving handshake messages -----------------------------------------------------------
  /** One handshake message (a copy: the datagram's lease is already released). */
  handleHandshake (msg: Uint8Array, from: PeerEndpoint, sourceBytes: Uint8Array): void {
    const now = this.now()
    const h = this.counters.handshake
    if (msg[0] === MSG_COOKIE_REPLY) {
      if (msg.length !== COOKIE_REPLY_LEN) { h.invalid++; return }
      const entry = this.indices.get(receiverIndex(msg))
      const peer = entry?.peer
      if (peer === undefined || peer.lastMac1 === undefined) { h.invalid++; return }
      const cookie = openCookieReply(msg, peer.identity, peer.lastMac1)
      if (cookie === undefined) { h.invalid++; return }
      h.cookieRepliesReceived++
      peer.cookie = { value: cookie, receivedAt: now }
      return // the retransmission timer sends the initiation again, now with MAC2
    }
    const expectLen = msg[0] === MSG_INITIATION ? INITIATION_LEN : RESPONSE_LEN
    if (msg.length !== expectLen) { h.invalid++; return }
    if (!checkMac1(msg, this.local.mac1Key)) { h.mac1Invalid++; return }
    // Under load, only messages that prove their source address (MAC2 from our cookie) go on.
    if (this.#underLoad(now)) {
      if (!checkMac2(msg, this.#cookies.cookieFor(sourceBytes, Date.now()))) {
        this.udp.send(this.#cookies.reply(msg, sourceBytes, Date.now()), from)
        h.cookieRepliesSent++
        return
      }
    }
    if (msg[0] === MSG_INITIATION) this.#onInitiation(msg, from, now)
    else this.#onResponse(msg, from, now)
  }

  #underLoad (now: number): boolean {
    if (now - this.#secondStart >= 1000) { this.#secondStart = now; this.#handshakesThisSecond = 0 }
    if (++this.#handshakesThisSecond > this.underLoadPerSecond) this.#underLoadUntil = now + 1000
    return now < this.#underLoadUntil
  }

  #onInitiation (msg: Uint8Array, from: PeerEndpoint, now: number): void {
    const h = this.counters.handshake
    const consumed = consumeInitiation(this.local, msg, (pub) => this.#peerByKey(pub)?.identity)
    if (consumed === undefined) { h.invalid++; return }
    const peer = this.#peerByKey(consumed.init.peerPublicKey) as Peer
    if (!timestampAfter(consumed.init.timestamp, peer.lastTimestamp)) { h.replayedTimestamp++; return }
    if (now - peer.lastInitiationConsumedAt < HANDSHAKE_INITIATION_RATE_MS) { h.rateLimited++; return }
    h.initiationsReceived++
    peer.lastTimestamp = consumed.init.timestamp
    peer.lastInitiationConsumedAt = now
    const index = this.newIndex(peer)
    const resp = createResponse(peer.identity, consumed.init, index)
    if (resp === undefined) { this.indices.delete(index); h.invalid++; return }
    peer.lastMac1 = writeMacs(resp.message, peer.identity.mac1Key, this.#freshCookie(peer, now))
    // The new session waits in `next` until the initiator's first data message confirms it.
    const kp = new Keypair(resp.keys, index, consumed.init.senderIndex, false, now)
    this.#dropKeypair(peer.next)
    peer.next = kp
    this.indices.set(index, { peer, keypair: kp })
    this.data.installKeypair(kp)
    this.#roam(peer, from)
    h.responsesSent++
    this.#sendHandshake(peer, resp.message, from)
    peer.timers.sessionDerived(now)
    peer.timers.anyAuthenticatedPacketReceived()
  }

  #onResponse (msg: Uint8Array, from: PeerEndpoint, now: number): void {
    const h = this.counters.handshake
    const index = receiverIndex(msg)
    const entry = this.indices.get(index)
    const peer = entry?.peer
    if (peer === undefined || entry?.keypair !== undefined || peer.pending === undefined || peer.pending.state.senderIndex !== index) { h.invalid++; return }
    const keys = consumeResponse(this.local, peer.identity, peer.pending.state, msg)
    if (keys === undefined) { h.invalid++; return }
    h.responsesReceived++
    peer.pending = undefined
    const kp = new Keypair(keys, index, responseSenderIndex(msg), true, now)
    this.indices.set(index, { peer, keypair: kp })
    this.data.installKeypair(kp)
    // As initiator the session is confirmed: it becomes current at once.
    this.#dropKeypair(peer.previous)
    this.#dropKeypair(peer.next)
    peer.next = undefined
    peer.previous = peer.current
    peer.current = kp
    peer.lastHandshakeAt = Date.now()
    peer.counters.handshakesCompleted++
    this.#roam(peer, from)
    peer.timers.handshakeComplete()
    peer.timers.sessionDerived(now)
    peer.timers.anyAuthenticatedPacketReceived()
    peer.timers.anyAuthenticatedPacketTraversal(now)
    // Send what waited for the session; with nothing waiting, a keepalive confirms it.
    if (!this.data.sendStaged(peer)) this.data.sendKeepalive(peer)
  }

  /** The responder's `next` session saw its first data message: it becomes current. */
  confirmNext (peer: Peer, kp: Keypair): void {
    if (peer.next !== kp) return
    this.#dropKeypair(peer.previous)
    peer.previous = peer.current
    peer.current = kp
    peer.next = undefined
    peer.lastHandshakeAt = Date.now()
    peer.counters.handshakesCompleted++
    peer.timers.handshakeComplete()
    this.data.sendStaged(peer)
  }

  #roam (peer: Peer, from: PeerEndpoint): void {
    const e = peer.endpoint
    if (e !== undefined && e.port === from.port && e.address === from.address) return
    if (e !== undefined) peer.counters.roamed++
    peer.endpoint = { address: from.address, port: from.port }
  }

  /** After an authenticated data message: follow the peer to the address it came from. */
  roam (peer: Peer, from: PeerEndpoint): void { this.#roam(peer, from) }

  #peerByKey (pub: Uint8Array): Peer | undefined {
    for (const p of this.peers) if (equal(p.identity.publicKey, pub)) return p
    return undefined
  }

  // ---- session freshness (called by the data plane once per batch and peer) -------------------
  /** The session to send on, or undefined (and a handshake started) when there is none usable. */
  sendingKeypair (peer: Peer, now: number): Keypair | undefined {
    const kp = peer.current
    if (kp === undefined || expired(kp.created, now) || kp.sendCounter >= Number.MAX_SAFE_INTEGER) {
      this.sendInitiation(peer, false)
      return undefined
    }
    if (needsRekeyOnSend(kp.isInitiator, kp.created, kp.sendCounter, now)) this.sendInitiation(peer, false)
    return kp
  }

  /** After receiving on `kp`: the initiator starts a new handshake before the session runs out. */
  keepFreshOnReceive (peer: Peer, kp: Keypair, now: number): void {
    if (kp === peer.current && !kp.rekeyRequestedOnReceive && needsRekeyOnReceive(kp.isInitiator, kp.created, now)) {
      kp.rekeyRequestedOnReceive = true
      this.sendInitiation(peer, false)
    }
  }

  /** Every counter, for status lines and the final JSON. */
  stats (): object {
    return {
      ...this.counters,
      dataplane: this.data.stats(),
      peers: this.peers.map((p) => ({
        publicKey: p.name,
        endpoint: p.endpoint !== undefined ? `${p.endpoint.address}:${p.endpoint.port}` : null,
        lastHandshake: p.lastHandshakeAt ?? null,
        ...p.counters
      }))
    }
  }
}
