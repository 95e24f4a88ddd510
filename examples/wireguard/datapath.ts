/**
 * The data plane: transport data messages between the TUN and the UDP socket.
 *
 * TUN -> UDP: route each packet by its destination (AllowedIPs), seal it with the peer's
 * current session (header: type 4, receiver index, counter; ChaCha20-Poly1305 with the counter
 * nonce; zero padding to a multiple of 16), send to the peer's endpoint.
 * UDP -> TUN: handshake messages go to the device; data messages are opened with the session
 * their receiver index names, checked against the replay window and against the peer's
 * AllowedIPs (inner source), then written to the TUN in one call per batch so that tunio
 * coalesces them back into superpackets.
 */
import { ipBytes } from './config'
import { aeadOpen, aeadSeal } from './crypto'
import type { Device } from './device'
import { DATA_HEADER_LEN, MSG_DATA, MSG_INITIATION, MSG_RESPONSE, MSG_COOKIE_REPLY, TAG_LEN } from './handshake'
import type { Keypair, Peer, PeerEndpoint } from './peer'
import type { PacketBatch } from '../../lib/index'

/** Packets held per peer while a handshake is in flight (as wireguard-go's staged queue). */
const MAX_STAGED = 128
const PAD = 16
const EMPTY = new Uint8Array(0)

export interface DataPlaneCounters {
  /** Data messages whose tag did not verify (forged, corrupted, or another key). */
  authFailed: number
  /** Data messages whose counter was seen before or is too old for the window. */
  replayed: number
  /** Decrypted packets whose inner source is not in the sending peer's AllowedIPs. */
  sourceNotAllowed: number
  /** Decrypted packets that are not IPv4/IPv6 or shorter than their IP header says. */
  notIp: number
}

export class DataPlane {
  readonly counters: DataPlaneCounters = { authFailed: 0, replayed: 0, sourceNotAllowed: 0, notIp: 0 }
  readonly #staged = new Map<Peer, Buffer[]>()

  constructor (private readonly device: Device) {}

  installKeypair (_peer: Peer, _kp: Keypair): void {}
  forget (peer: Peer): void { this.#staged.delete(peer) }

  // ---- TUN -> UDP ---------------------------------------------------------------------------
  fromTun (batch: PacketBatch): void {
    const d = this.device
    const now = d.now()
    const groups = new Map<Peer, Buffer[]>()
    for (const lease of batch) {
      const buf = lease.buffer
      const peer = d.routes.lookupPacket(buf, 0, buf.length, 'dst')
      if (peer === undefined) { d.counters.data.noRoute++; continue }
      let g = groups.get(peer)
      if (g === undefined) groups.set(peer, g = [])
      g.push(buf)
    }
    for (const [peer, packets] of groups) {
      if (peer.endpoint === undefined) { d.counters.data.noEndpoint += packets.length; continue }
      const kp = d.sendingKeypair(peer, now)
      if (kp === undefined) { this.#stage(peer, packets.map((p) => Buffer.from(p))); continue }
      this.#sealAndSend(peer, kp, packets, now)
    }
    batch.release()
  }

  #sealAndSend (peer: Peer, kp: Keypair, packets: Uint8Array[], now: number): void {
    const out: Buffer[] = []
    let bytes = 0
    for (const p of packets) {
      const padded = p.length === 0 ? 0 : Math.ceil(p.length / PAD) * PAD
      const plain = padded === p.length ? p : Buffer.concat([p, Buffer.alloc(padded - p.length)])
      const msg = Buffer.allocUnsafe(DATA_HEADER_LEN + padded + TAG_LEN)
      msg.writeUInt32LE(MSG_DATA, 0)
      msg.writeUInt32LE(kp.remoteIndex, 4)
      msg.writeBigUInt64LE(BigInt(kp.sendCounter), 8)
      msg.set(aeadSeal(kp.keys.send, BigInt(kp.sendCounter), plain, EMPTY), DATA_HEADER_LEN)
      kp.sendCounter++
      out.push(msg)
      bytes += p.length
    }
    this.device.udp.send(out, peer.endpoint as PeerEndpoint)
    const keepalive = packets.length === 1 && packets[0].length === 0
    if (keepalive) peer.counters.keepalivesSent++
    else {
      peer.counters.txPackets += packets.length
      peer.counters.txBytes += bytes
      peer.timers.dataSent(now)
    }
    peer.timers.anyAuthenticatedPacketSent()
    peer.timers.anyAuthenticatedPacketTraversal(now)
  }

  sendKeepalive (peer: Peer): void {
    const now = this.device.now()
    if (peer.endpoint === undefined) return
    const kp = this.device.sendingKeypair(peer, now)
    if (kp !== undefined) this.#sealAndSend(peer, kp, [EMPTY], now)
  }

  #stage (peer: Peer, packets: Buffer[]): void {
    let q = this.#staged.get(peer)
    if (q === undefined) this.#staged.set(peer, q = [])
    q.push(...packets)
    if (q.length > MAX_STAGED) {
      this.device.counters.data.stagedDropped += q.length - MAX_STAGED
      q.splice(0, q.length - MAX_STAGED)
    }
  }

  /** Sends what waited for a session; false when nothing waited. */
  sendStaged (peer: Peer): boolean {
    const q = this.#staged.get(peer)
    if (q === undefined || q.length === 0) return false
    this.#staged.delete(peer)
    const kp = peer.current
    if (kp === undefined || peer.endpoint === undefined) return false
    this.#sealAndSend(peer, kp, q, this.device.now())
    return true
  }

  dropStaged (peer: Peer): void {
    const q = this.#staged.get(peer)
    if (q !== undefined) this.device.counters.data.stagedDropped += q.length
    this.#staged.delete(peer)
  }

  // ---- UDP -> TUN ---------------------------------------------------------------------------
  fromUdp (batch: PacketBatch): void {
    const d = this.device
    const now = d.now()
    const out: Buffer[] = []
    for (const lease of batch) {
      const msg = lease.buffer
      const type = msg.length >= 4 ? msg[0] : 0
      if (type === MSG_INITIATION || type === MSG_RESPONSE || type === MSG_COOKIE_REPLY) {
        const r = lease.remote
        if (r === undefined) continue
        d.handleHandshake(new Uint8Array(msg), { address: r.address, port: r.port }, sourceBytes(r.address, r.port))
        continue
      }
      if (type !== MSG_DATA || msg.length < DATA_HEADER_LEN + TAG_LEN || msg[1] !== 0 || msg[2] !== 0 || msg[3] !== 0) { d.counters.data.malformed++; continue }
      const entry = d.indices.get(msg.readUInt32LE(4))
      const kp = entry?.keypair
      if (entry === undefined || kp === undefined) { d.counters.data.unknownIndex++; continue }
      const peer = entry.peer
      if (now - kp.created >= 180_000) { d.counters.data.expiredSession++; continue }
      const counter = msg.readBigUInt64LE(8)
      const plain = aeadOpen(kp.keys.receive, counter, msg.subarray(DATA_HEADER_LEN), EMPTY)
      if (plain === undefined) { this.counters.authFailed++; continue }
      if (!kp.replay.accept(Number(counter))) { this.counters.replayed++; continue }
      if (kp === peer.next) d.confirmNext(peer, kp)
      const r = lease.remote
      if (r !== undefined) d.roam(peer, { address: r.address, port: r.port })
      peer.timers.anyAuthenticatedPacketReceived()
      peer.timers.anyAuthenticatedPacketTraversal(now)
      d.keepFreshOnReceive(peer, kp, now)
      if (plain.length === 0) { peer.counters.keepalivesReceived++; continue }
      const len = ipLength(plain)
      if (len === 0 || len > plain.length) { this.counters.notIp++; continue }
      if (d.routes.lookupPacket(plain, 0, len, 'src') !== peer) { this.counters.sourceNotAllowed++; peer.counters.sourceNotAllowed++; continue }
      peer.counters.rxPackets++
      peer.counters.rxBytes += len
      peer.timers.dataReceived(now)
      out.push(Buffer.from(plain.buffer, plain.byteOffset, len))
    }
    batch.release()
    if (out.length > 0) d.tun.write(out)
  }

  stats (): DataPlaneCounters { return { ...this.counters } }
}

/** An IP packet's own length from its header (0 when it is not IPv4/IPv6). */
export function ipLength (p: Uint8Array): number {
  if (p.length >= 20 && p[0] >> 4 === 4) return (p[2] << 8) | p[3]
  if (p.length >= 40 && p[0] >> 4 === 6) return 40 + ((p[4] << 8) | p[5])
  return 0
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
