/**
 * The data plane: transport data messages between the TUN and the UDP socket, in batches, on
 * tunio's native batch API. No JavaScript object is made per packet:
 *
 * TUN -> UDP: `batch.headers(40)` copies every packet's IP header into one array; each
 * destination is looked up in the AllowedIPs trie; `batch.split()` makes one batch per peer
 * (skipped when the whole batch goes to one peer, the usual case); the peer's session `Aead`
 * seals the batch in place (WireGuard header in the TUN read's headroom, padding to 16 and the
 * tag in its tailroom); `udp.send()` sends it to the peer's endpoint, equal-size runs as one
 * UDP_SEGMENT send.
 *
 * UDP -> TUN: `batch.headers(8)` gives each datagram's type and receiver index; `split()` makes
 * one batch per session (and one of handshake messages, handled one at a time by the device);
 * each session's `Aead` opens its batch in place (tag check, replay window, padding trimmed to
 * the IP length; failures dropped and counted natively); `headers(40)` again on the plaintexts
 * for the inner source check against the sender's AllowedIPs (drops: `split()` with group 255);
 * every session's batch goes to one `tun.write()` call, which coalesces them into superpackets.
 */
import { Aead, getDefaultPool, type AeadStats, type PacketBatch } from '../../lib/index'
import { ipBytes } from './config'
import type { Device } from './device'
import { DATA_HEADER_LEN, MSG_COOKIE_REPLY, MSG_DATA, MSG_INITIATION, MSG_RESPONSE, TAG_LEN } from './handshake'
import type { Keypair, Peer } from './peer'
import { expired, REJECT_AFTER_MESSAGES } from './timers'

/** Packets held per peer while a handshake is in flight (as wireguard-go's staged queue). */
const MAX_STAGED = 128
/** WireGuard pads plaintexts to a multiple of 16 bytes (up to the MTU). */
const PAD = 16
/** What a TUN read reserves around each packet for sealing in place. */
export const HEADROOM = DATA_HEADER_LEN
export const TAILROOM = TAG_LEN + PAD - 1
/** Bytes of each packet looked at: an IPv6 header (its addresses end at byte 40). */
const IP_HEADER_BYTES = 40
/** Bytes of each datagram looked at: type, reserved, receiver index. */
const MESSAGE_HEADER_BYTES = 8
/** The replay window of each session (RFC 6479; WireGuard's reference uses 8,192 bits). */
const REPLAY_WINDOW = 8192
const RELEASE = 255
/** split() makes at most 255 groups: peers (or sessions) beyond that in one batch wait a turn. */
const MAX_GROUPS = 254

export interface DataPlaneCounters {
  /** Data messages whose tag did not verify (forged, corrupted, or another key). */
  authFailed: number
  /** Data messages whose counter was seen before or is too old for the window. */
  replayed: number
  /** Decrypted packets whose inner source is not in the sending peer's AllowedIPs. */
  sourceNotAllowed: number
  /** Decrypted packets that are not IPv4/IPv6 (or shorter than their IP header says). */
  notIp: number
  /** Other drops by the session ciphers (too short, foreign header, counter limit, no room). */
  otherCipherDrops: number
  /** Batches sealed / opened (one native call each). */
  batchesSealed: number
  batchesOpened: number
}

/** Reusable scratch arrays, grown to the largest batch seen. */
class Scratch {
  headers = new Uint8Array(0)
  lengths = new Int32Array(0)
  groups = new Uint8Array(0)
  counters = new BigUint64Array(0)
  /** Room for `n` packets of IP_HEADER_BYTES (the most any headers() call here asks for). */
  ensure (n: number): void {
    if (this.headers.length < n * IP_HEADER_BYTES) this.headers = new Uint8Array(n * IP_HEADER_BYTES * 2)
    if (this.lengths.length < n) {
      this.lengths = new Int32Array(n * 2)
      this.groups = new Uint8Array(n * 2)
      this.counters = new BigUint64Array(n * 2)
    }
  }
}

export class DataPlane {
  readonly #counters = { sourceNotAllowed: 0, batchesSealed: 0, batchesOpened: 0 }
  /** Cipher drops of sessions already gone (live sessions are summed in stats()). */
  readonly #retired: AeadStats['drops'] = { noRoom: 0, tooShort: 0, headerMismatch: 0, counterLimit: 0, authFailed: 0, notIp: 0, cryptoError: 0, replayed: 0 } as AeadStats['drops']
  readonly #staged = new Map<Peer, { batches: PacketBatch[], packets: number }>()
  readonly #out = new Scratch()
  readonly #in = new Scratch()
  /** Groups of the batch being classified: peers (outbound) or sessions (inbound). */
  readonly #peers: Peer[] = []
  readonly #sessions: Keypair[] = []
  #mark = 0

  constructor (private readonly device: Device) {}

  /** New session keys: one Aead per direction, keyed once. */
  installKeypair (kp: Keypair): void {
    const header = (index: number): Uint8Array => {
      const h = new Uint8Array(DATA_HEADER_LEN)
      h[0] = MSG_DATA
      new DataView(h.buffer).setUint32(4, index, true)
      return h
    }
    const common = { algorithm: 'chacha20-poly1305' as const, nonce: 'counter-le' as const, counterOffset: 8, authenticate: 'none' as const, padTo: PAD, counterLimit: REJECT_AFTER_MESSAGES }
    kp.sealer = new Aead({ ...common, key: kp.keys.send, header: header(kp.remoteIndex), padLimit: this.device.config.mtu })
    kp.opener = new Aead({ ...common, key: kp.keys.receive, header: header(kp.localIndex), verifyHeader: true, replayWindow: REPLAY_WINDOW })
  }

  /** A session is gone: keep its drop counts. */
  retireKeypair (kp: Keypair): void {
    if (kp.opener === undefined || kp.sealer === undefined) return
    addDrops(this.#retired, kp.opener.stats().drops)
    addDrops(this.#retired, kp.sealer.stats().drops)
    kp.opener = kp.sealer = undefined
  }

  forget (peer: Peer): void { this.dropStaged(peer) }

  /**
   * Starts classifying a batch into groups (peers out, sessions in): each packet's first
   * `headerBytes` read into `s`, the group list emptied, and a new mark (a group's owner joins
   * the list once per mark).
   */
  #startPass (s: Scratch, batch: PacketBatch, headerBytes: number, groupList: unknown[]): { n: number, bytes: Uint8Array, lengths: Int32Array, groups: Uint8Array, mark: number } {
    const n = batch.length
    s.ensure(n)
    const { bytes, lengths } = batch.headers(headerBytes, s.headers, s.lengths)
    groupList.length = 0
    return { n, bytes, lengths, groups: s.groups, mark: ++this.#mark }
  }

  // ---- TUN -> UDP ---------------------------------------------------------------------------
  fromTun (batch: PacketBatch): void {
    const d = this.device
    const peers = this.#peers
    const { n, bytes, lengths, groups, mark } = this.#startPass(this.#out, batch, IP_HEADER_BYTES, peers)
    let dropped = 0
    for (let i = 0; i < n; i++) {
      const len = lengths[i]
      if (len < 0) { groups[i] = RELEASE; continue }
      const peer = d.routes.lookupPacket(bytes, i * IP_HEADER_BYTES, len, 'dst')
      if (peer === undefined || (peer.mark !== mark && peers.length >= MAX_GROUPS)) {
        d.counters.data.noRoute++
        groups[i] = RELEASE
        dropped++
        continue
      }
      if (peer.mark !== mark) { peer.mark = mark; peer.group = peers.length; peer.batchBytes = 0; peers.push(peer) }
      groups[i] = peer.group
      peer.batchBytes += len
    }
    if (peers.length === 0) { batch.release(); return }
    const now = d.now()
    if (peers.length === 1 && dropped === 0) { this.#send(peers[0], batch, now, peers[0].batchBytes); return }
    const parts = batch.split(groups, peers.length)
    for (let g = 0; g < parts.length; g++) this.#send(peers[g], parts[g], now, peers[g].batchBytes)
  }

  /** Seals one peer's batch with its current session and sends it, or stages it. */
  #send (peer: Peer, batch: PacketBatch, now: number, bytes: number): void {
    const d = this.device
    if (peer.endpoint === undefined) { d.counters.data.noEndpoint += batch.live; batch.release(); return }
    const kp = d.sendingKeypair(peer, now)
    if (kp === undefined || kp.sealer === undefined) { this.#stage(peer, batch); return }
    const count = batch.live
    try {
      kp.sealer.seal(batch)
    } catch {
      // ERR_TUNIO_AEAD_COUNTER_LIMIT: this session is used up; a new one is on its way.
      batch.release()
      kp.sendCounter = Number.MAX_SAFE_INTEGER
      d.sendInitiation(peer, false)
      return
    }
    this.#counters.batchesSealed++
    kp.sendCounter = Number(kp.sealer.nextCounter)
    d.udp.send(batch, peer.endpoint)
    if (bytes === 0) peer.counters.keepalivesSent += count
    else {
      peer.counters.txPackets += count
      peer.counters.txBytes += bytes
      peer.timers.dataSent(now)
    }
    peer.timers.anyAuthenticatedPacketSent()
    peer.timers.anyAuthenticatedPacketTraversal(now)
  }

  /** An empty data message: a keepalive (a handshake first when there is no session). */
  sendKeepalive (peer: Peer): void {
    if (peer.endpoint === undefined) return
    const now = this.device.now()
    const kp = this.device.sendingKeypair(peer, now)
    if (kp === undefined) return
    this.#send(peer, getDefaultPool().leaseBatch(1, 0, { headroom: HEADROOM, tailroom: TAILROOM }), now, 0)
  }

  #stage (peer: Peer, batch: PacketBatch): void {
    let q = this.#staged.get(peer)
    if (q === undefined) this.#staged.set(peer, q = { batches: [], packets: 0 })
    q.batches.push(batch)
    q.packets += batch.live
    while (q.packets > MAX_STAGED && q.batches.length > 1) {
      const old = q.batches.shift() as PacketBatch
      q.packets -= old.live
      this.device.counters.data.stagedDropped += old.release()
    }
  }

  /** Sends what waited for a session; false when nothing waited. */
  sendStaged (peer: Peer): boolean {
    const q = this.#staged.get(peer)
    if (q === undefined) return false
    this.#staged.delete(peer)
    const now = this.device.now()
    for (const b of q.batches) {
      const { lengths } = b.headers(1)
      let bytes = 0
      for (let i = 0; i < b.length; i++) if (lengths[i] > 0) bytes += lengths[i]
      this.#send(peer, b, now, bytes)
    }
    return q.batches.length > 0
  }

  dropStaged (peer: Peer): void {
    const q = this.#staged.get(peer)
    if (q === undefined) return
    for (const b of q.batches) this.device.counters.data.stagedDropped += b.release()
    this.#staged.delete(peer)
  }

  // ---- UDP -> TUN ---------------------------------------------------------------------------
  fromUdp (batch: PacketBatch): void {
    const d = this.device
    const sessions = this.#sessions
    const { n, bytes, lengths, groups, mark } = this.#startPass(this.#in, batch, MESSAGE_HEADER_BYTES, sessions)
    let handshakeGroup = -1
    let dropped = 0
    let lastIndex = -1
    let lastKp: Keypair | undefined
    for (let i = 0; i < n; i++) {
      const len = lengths[i]
      if (len < 0) { groups[i] = RELEASE; continue }
      const at = i * MESSAGE_HEADER_BYTES
      const type = bytes[at]
      if (type === MSG_DATA && len >= DATA_HEADER_LEN + TAG_LEN) {
        const index = (bytes[at + 4] | (bytes[at + 5] << 8) | (bytes[at + 6] << 16) | (bytes[at + 7] << 24)) >>> 0
        // Datagrams of one batch mostly belong to one session: skip the map when it repeats.
        if (index !== lastIndex) { lastIndex = index; lastKp = d.indices.get(index)?.keypair }
        const kp = lastKp
        if (kp === undefined || (kp.mark !== mark && sessions.length >= MAX_GROUPS)) { d.counters.data.unknownIndex++; groups[i] = RELEASE; dropped++; continue }
        if (kp.mark !== mark) { kp.mark = mark; kp.group = sessions.length; sessions.push(kp) }
        groups[i] = kp.group
      } else if (type === MSG_INITIATION || type === MSG_RESPONSE || type === MSG_COOKIE_REPLY) {
        if (handshakeGroup < 0) { handshakeGroup = MAX_GROUPS; dropped++ }
        groups[i] = handshakeGroup
      } else {
        d.counters.data.malformed++
        groups[i] = RELEASE
        dropped++
      }
    }
    let parts: PacketBatch[]
    if (sessions.length === 1 && dropped === 0) parts = [batch]
    else {
      // The handshake group is numbered after the sessions.
      if (handshakeGroup >= 0) for (let i = 0; i < n; i++) if (groups[i] === MAX_GROUPS) groups[i] = sessions.length
      parts = batch.split(groups, sessions.length + (handshakeGroup >= 0 ? 1 : 0))
    }
    // Handshake messages first: a response creates the session later data may use.
    if (handshakeGroup >= 0) this.#handshakes(parts[sessions.length])
    const now = d.now()
    const writes: PacketBatch[] = []
    for (let g = 0; g < sessions.length; g++) {
      const opened = this.#open(sessions[g], parts[g], now)
      if (opened !== undefined) writes.push(opened)
    }
    if (writes.length > 0) d.tun.write(writes)
  }

  /** Handshake messages are copied out (small and rare) and handled one at a time. */
  #handshakes (batch: PacketBatch): void {
    for (const lease of batch) {
      const r = lease.remote
      const msg = new Uint8Array(lease.buffer)
      lease.release()
      if (r !== undefined) this.device.handleHandshake(msg, { address: r.address, port: r.port }, sourceBytes(r.address, r.port))
    }
  }

  /** Opens one session's datagrams; returns what goes to the TUN (undefined: nothing). */
  #open (kp: Keypair, batch: PacketBatch, now: number): PacketBatch | undefined {
    const d = this.device
    const entry = d.indices.get(kp.localIndex)
    if (entry === undefined || kp.opener === undefined || expired(kp.created, now)) {
      d.counters.data.expiredSession += batch.release()
      return undefined
    }
    const peer = entry.peer
    const s = this.#in
    kp.opener.open(batch, s.counters)
    this.#counters.batchesOpened++
    const n = batch.length
    const { bytes, lengths } = batch.headers(IP_HEADER_BYTES, s.headers, s.lengths)
    // Everything still held authenticated: the session is confirmed and the peer is where the
    // newest of them came from.
    let last = -1
    for (let i = n - 1; i >= 0 && last < 0; i--) if (lengths[i] >= 0) last = i
    if (last < 0) return undefined
    if (kp === peer.next) d.confirmNext(peer, kp)
    const r = batch.at(last)?.remote
    if (r !== undefined) d.roam(peer, { address: r.address, port: r.port })
    peer.timers.anyAuthenticatedPacketReceived()
    peer.timers.anyAuthenticatedPacketTraversal(now)
    d.keepFreshOnReceive(peer, kp, now)
    // Keepalives (empty) and packets whose source this peer may not use are dropped.
    const groups = s.groups
    let drop = 0
    let packets = 0
    let total = 0
    for (let i = 0; i < n; i++) {
      const len = lengths[i]
      groups[i] = 0
      if (len < 0) continue
      if (len === 0) { peer.counters.keepalivesReceived++; groups[i] = RELEASE; drop++; continue }
      if (d.routes.lookupPacket(bytes, i * IP_HEADER_BYTES, len, 'src') !== peer) {
        this.#counters.sourceNotAllowed++
        peer.counters.sourceNotAllowed++
        groups[i] = RELEASE
        drop++
        continue
      }
      packets++
      total += len
    }
    if (packets === 0) { batch.release(); return undefined }
    peer.counters.rxPackets += packets
    peer.counters.rxBytes += total
    peer.timers.dataReceived(now)
    return drop === 0 ? batch : batch.split(groups, 1)[0]
  }

  stats (): DataPlaneCounters {
    const drops = { ...this.#retired }
    for (const p of this.device.peers) {
      for (const kp of p.keypairs()) {
        if (kp.opener !== undefined) addDrops(drops, kp.opener.stats().drops)
        if (kp.sealer !== undefined) addDrops(drops, kp.sealer.stats().drops)
      }
    }
    return {
      authFailed: drops.authFailed,
      replayed: drops.replayed,
      sourceNotAllowed: this.#counters.sourceNotAllowed,
      notIp: drops.notIp,
      otherCipherDrops: drops.noRoom + drops.tooShort + drops.headerMismatch + drops.counterLimit + drops.cryptoError,
      batchesSealed: this.#counters.batchesSealed,
      batchesOpened: this.#counters.batchesOpened
    }
  }
}

function addDrops (into: AeadStats['drops'], from: AeadStats['drops']): void {
  const a = into as unknown as Record<string, number>
  for (const [k, v] of Object.entries(from)) a[k] = (a[k] ?? 0) + v
}

/** The bytes a cookie is computed over: the source IP (4 or 16 bytes) and port (big-endian). */
export function sourceBytes (address: string, port: number): Uint8Array {
  const ip = ipBytes(address)
  const out = new Uint8Array(ip.length + 2)
  out.set(ip)
  out[ip.length] = port >> 8
  out[ip.length + 1] = port & 0xff
  return out
}
