/**
 * Leases: zero-copy views of packets in pool memory, released explicitly.
 *
 * A PacketBatch wraps the native batch of one read. Lease objects and their Buffers are made
 * only when asked for (at(i), iteration), so a batch handed straight to send()/write() costs
 * one call, not one JS object per packet. See docs/ownership.md for the rules.
 */
import { types } from 'util'
import { BatchBytes } from './batch-bytes'
import { asUint8Array, byteSourceLength, type ByteSource } from './bytes'
import { binding } from './binding'
import { invalidArg, leaseReleased, tunioError } from './errors'
import type { LeaseHandle, NativeBatch, NativeMeta } from './native'
import type { HostPort } from './options'
import { leakTracker } from './leak-debug'

/** An IP address and port as tunio reports them (v4-mapped IPv6 is shown as plain IPv4). */
export interface Endpoint { address: string, family: 'IPv4' | 'IPv6', port: number }
/** A local (destination) address of a received datagram, with the interface it came in on. */
export interface LocalAddress { address: string, family: 'IPv4' | 'IPv6', ifindex?: number }
/**
 * GSO metadata of a superpacket delivered whole (`split: false`): the fields of its
 * virtio-net header.
 */
export interface GsoInfo {
  /** VIRTIO_NET_HDR_GSO_*: 0 none, 1 TCPv4, 4 TCPv6, 5 UDP (USO); the ECN bit is in `ecn`. */
  type: number
  /** VIRTIO_NET_HDR_GSO_ECN was set: the TCP superpacket has the ECN CWR flag set. */
  ecn: boolean
  /** The L4 checksum still has to be completed (VIRTIO_NET_HDR_F_NEEDS_CSUM). */
  needsCsum: boolean
  /** Length of the IP + L4 headers as the kernel reported it. */
  hdrLen: number
  /** Payload bytes per segment (gso_size). */
  size: number
  /** Offset of the L4 header, where checksumming starts. */
  csumStart: number
  /** Offset of the checksum field from csumStart. */
  csumOffset: number
}

/**
 * One packet in pool memory. Leases come from reads (through a PacketBatch), from
 * `pool.lease()` / `pool.leaseFrom()`, and move to a device with send()/write().
 */
export abstract class Lease implements Disposable {
  /** @internal Leases come from reads, batches and pools, never from `new`. */
  protected constructor () {}

  /** True until release() or until ownership moved to send()/write(). */
  abstract get held (): boolean

  /**
   * A Buffer over exactly the packet's bytes (no copy where the runtime allows external
   * buffers; see docs/ownership.md for the copy fallback). Reading `lease.buffer` after
   * release() (or after the lease moved to send()/write()) throws ERR_TUNIO_LEASE_RELEASED. A
   * Buffer taken before that (and every subarray of it) is detached by release() and reads as
   * zero-length, in every lease mode, so it can never show another packet's bytes.
   */
  abstract get buffer (): Buffer

  /** Length of the packet in bytes (0 once released). */
  abstract get length (): number

  /**
   * UDP: the sender of a received datagram, which is where udp.send() sends the lease unless
   * its `to` argument says otherwise. Settable on any held lease ("1.2.3.4:5", "[::1]:5",
   * { address, port }; undefined clears it): with a destination of its own, a fresh lease can
   * go out in the same send() as leases for other peers, each to its own. Throws
   * ERR_TUNIO_INVALID_ARG (argument 'remote') for anything else, port 0 included.
   */
  get remote (): Endpoint | undefined { return this.metadata().remote as Endpoint | undefined }
  set remote (value: string | HostPort | undefined) {
    if (!this.held) throw leaseReleased()
    this.setMetadata('remote', value ?? null)
  }

  /**
   * UDP: the local address a received datagram was sent to and the interface it came in on
   * (IP_PKTINFO / IPV6_PKTINFO). udp.send() sends the lease from it (the same control message
   * on send), so a reply to a received lease leaves from the address the peer used, also on
   * a socket bound to the wildcard address with several addresses on the host (as wireguard-go's
   * sticky sockets do). Settable: an address of this host as a string or { address, ifindex? }
   * (ifindex 0 or absent: any interface); undefined clears it (the route picks the source).
   * A source of the other IP family than the destination is not used.
   */
  get local (): LocalAddress | undefined { return this.metadata().local as LocalAddress | undefined }
  set local (value: string | { address: string, ifindex?: number } | undefined) {
    if (!this.held) throw leaseReleased()
    this.setMetadata('local', value ?? null)
  }

  /**
   * UDP: the ECN bits of the outer IP header: received (IP_TOS / IPV6_TCLASS), and set on send
   * (the same control message). 0 not ECN-capable, 1 ECT(1), 2 ECT(0), 3 CE. Settable (0 to 3).
   * Datagrams with different ECN bits never share one UDP_SEGMENT send.
   */
  get ecn (): number { return this.metadata().ecn }
  set ecn (value: number) {
    if (!this.held) throw leaseReleased()
    this.setMetadata('ecn', value)
  }
  /** TUN with `split: false`: GSO metadata of a superpacket. */
  get gso (): GsoInfo | undefined { return this.metadata().gso }

  /** Shortens the packet to `length` bytes (e.g. after writing a shorter ciphertext). */
  abstract truncate (length: number): void

  /**
   * Copies the bytes of `source` (a Buffer, any typed array or a DataView, also over shared
   * or resizable memory) into the packet at `offset` (default 0). Where the lease has no
   * Buffer yet, the copy is made natively and no Buffer is created at all. Throws
   * ERR_TUNIO_INVALID_ARG when it does not fit or cannot be read (e.g. detached).
   */
  abstract set (source: ByteSource, offset?: number): void

  /** Returns the memory to the pool. Throws ERR_TUNIO_LEASE_RELEASED when called twice. */
  abstract release (): void

  [Symbol.dispose] (): void {
    if (this.held) this.release()
  }

  /** @internal Ownership moves to a device: views are detached, the lease reads as released. */
  abstract surrender (): NativeBatch

  /**
   * @internal Throws what surrender() would throw, without moving anything: send()/write()
   * check every item before the first one moves. `name` names the argument.
   */
  checkSurrender (name: string): void {
    if (!this.held) throw tunioError('ERR_TUNIO_LEASE_RELEASED', `${name} is a lease that was already released or sent`, { argument: name })
  }

  /** @internal The batch this lease is a packet of, if any. */
  ownerBatch (): PacketBatch | undefined { return undefined }

  /**
   * @internal aead.seal()/open() of an array of leases, after checkSurrender(): views are
   * settled (a copy written back, the Buffer detached) and the packet is described for the
   * addon as [target, index, start, length] (src-native/addon/aead_leases.cc).
   */
  abstract transformTarget (): [NativeBatch | LeaseHandle, number, number, number]

  /** @internal After that transform: the packet's new start and length; length -1: it was dropped. */
  abstract transformed (start: number, length: number): void

  /**
   * @internal The ArrayBuffer under this lease's Buffer, if one was made: surrender() detaches
   * it, so a byte source over it in the same send()/write() would be gone by the time it is read.
   */
  viewMemory (): ArrayBufferLike | undefined { return undefined }

  /** @internal */
  protected abstract metadata (): NativeMeta

  /**
   * @internal One field of the send metadata as its setter got it (null: clear). The addon
   * checks it with the core's parsers (src-native/addon/endpoint_js.h SendMetaFieldFromJs, the
   * one check of a lease's remote, local and ecn) and throws ERR_TUNIO_INVALID_ARG naming the
   * field, changing nothing.
   */
  protected abstract setMetadata (field: SendMetaField, value: unknown): void
}

/** @internal */
export type SendMetaField = 'remote' | 'local' | 'ecn'

/** Checks set()'s arguments against a lease of `length` bytes. */
export function checkSetArgs (source: unknown, offset: unknown, length: number): void {
  const n = byteSourceLength(source, 'source')
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) {
    throw invalidArg('offset', `must be a non-negative integer, got ${typeof offset === 'number' ? offset : typeof offset}`)
  }
  if (offset + n > length) throw invalidArg('source', `${n} bytes do not fit a lease of ${length} bytes at offset ${offset}`)
}

/** Checks truncate()'s argument against a lease of `length` bytes. */
export function checkTruncate (n: unknown, length: number): void {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > length) {
    throw invalidArg('length', `must be an integer between 0 and the lease's length (${length})`)
  }
}

/** A lease of one packet of a PacketBatch (a read, or pool.leaseBatch()). */
class BatchLease extends Lease {
  readonly #batch: PacketBatch
  readonly #index: number
  #buffer: Buffer | undefined
  #meta: NativeMeta | undefined
  #held = true

  constructor (batch: PacketBatch, index: number, held: boolean) {
    super()
    this.#batch = batch
    this.#index = index
    this.#held = held
  }

  override ownerBatch (): PacketBatch { return this.#batch }

  override checkSurrender (name: string): void {
    super.checkSurrender(name)
    this.#batch.syncBytes(name) // an open bytes() view is applied (or refused) before anything moves
  }

  override viewMemory (): ArrayBufferLike | undefined { return this.#buffer?.buffer }

  get held (): boolean {
    // An in-place transform (aead.open) may have dropped the packet natively.
    if (this.#held && this.#batch.native.lengthOf(this.#index) < 0) this.#held = false
    return this.#held
  }

  get buffer (): Buffer {
    if (!this.#held) throw leaseReleased()
    if (this.#buffer === undefined) this.#buffer = this.#batch.native.buffer(this.#index)
    return this.#buffer
  }

  get length (): number {
    return this.#held ? this.#batch.native.lengthOf(this.#index) : 0
  }

  protected metadata (): NativeMeta {
    if (this.#meta === undefined) {
      if (!this.#held) throw leaseReleased()
      this.#meta = this.#batch.native.meta(this.#index)
    }
    return this.#meta
  }

  protected setMetadata (field: SendMetaField, value: unknown): void {
    this.#batch.native.setMeta(this.#index, field === 'remote' ? value : undefined, field === 'local' ? value : undefined,
      field === 'ecn' ? value : undefined)
    this.#meta = undefined
  }

  truncate (length: number): void {
    if (!this.held) throw leaseReleased()
    checkTruncate(length, this.length)
    this.#batch.native.truncate(this.#index, length)
    if (this.#buffer !== undefined && this.#buffer.length !== length) {
      // A view of the new length; the old one stays valid until release (same memory).
      this.#buffer = this.#buffer.subarray(0, length)
    }
  }

  set (source: ByteSource, offset = 0): void {
    if (!this.#held) throw leaseReleased()
    checkSetArgs(source, offset, this.length)
    this.buffer.set(asUint8Array(source), offset)
  }

  release (): void {
    if (!this.#held) throw leaseReleased()
    this.#held = false
    this.#batch.native.release(this.#index, this.#buffer)
    this.#buffer = undefined
  }

  /**
   * @internal Ownership moves to a device: copies are written back, views detached, and the
   * lease reads as released. The packet itself stays in the native batch for the device to take.
   */
  surrenderView (): void {
    if (!this.#held) throw leaseReleased()
    this.#held = false
    const buf = this.#buffer
    if (buf !== undefined) {
      this.#batch.native.writeBack(this.#index, buf)
      this.#batch.native.detach(buf)
      this.#buffer = undefined
    }
  }

  /**
   * @internal An in-place transform (aead.seal/open) is about to move the packet within its
   * slot: a copy's changes are written back and the view detached; the lease stays held and
   * its next `buffer` shows the new extent.
   */
  settleView (): void {
    const buf = this.#buffer
    if (buf === undefined) return
    this.#batch.native.writeBack(this.#index, buf)
    this.#batch.native.detach(buf)
    this.#buffer = undefined
    this.#meta = undefined
  }

  transformTarget (): [NativeBatch, number, number, number] {
    this.settleView()
    return [this.#batch.native, this.#index, 0, 0]
  }

  transformed (_start: number, length: number): void {
    if (length < 0) this.#held = false // dropped in its batch by the addon
  }

  /** @internal Moves this one packet out into a native batch of its own, for a device. */
  surrender (): NativeBatch {
    this.surrenderView()
    return this.#batch.native.extract(this.#index)
  }
}

/**
 * The packets of one read (tun.read(), udp.read(), iteration) or of pool.leaseBatch(): one
 * native object holding the packets in pool memory, with a Lease made only for the packets
 * JavaScript touches (at(i), iteration). send()/write() of the batch moves every packet still
 * held to the device in one call; release() (or `using`) returns what is left. `length` counts
 * every packet, `live` those still held.
 */
export class PacketBatch implements Iterable<Lease>, Disposable {
  /** @internal */
  readonly native: NativeBatch
  readonly #leases: Array<BatchLease | undefined>
  #consumed = false
  #bytes: BatchBytes | undefined

  /** @internal */
  constructor (native: NativeBatch) {
    this.native = native
    this.#leases = new Array(native.size())
    leakTracker.track(this, native)
  }

  /** Number of packets in the batch (released ones included). */
  get length (): number { return this.#leases.length }

  /** Number of packets still held (neither released nor handed to a device). */
  get live (): number { return this.native.live() }

  /** The lease of packet `i` (negative counts from the end, like Array.prototype.at). */
  at (i: number): Lease | undefined {
    if (typeof i !== 'number') return undefined // no coercion: an object's toString may throw
    const n = this.#leases.length
    const index = i < 0 ? n + i : i
    if (!Number.isInteger(index) || index < 0 || index >= n) return undefined
    let lease = this.#leases[index]
    if (lease === undefined) {
      // A packet released or moved as part of the whole batch (release(), send()) before
      // its Lease object was made reads as released too.
      lease = new BatchLease(this, index, this.native.lengthOf(index) >= 0)
      this.#leases[index] = lease
    }
    return lease
  }

  * [Symbol.iterator] (): Iterator<Lease> {
    for (let i = 0; i < this.#leases.length; i++) yield this.at(i) as Lease
  }

  /**
   * @internal The batch itself was released or handed to send()/write(): giving it to a device
   * again is a mistake (refused), unlike a batch whose packets went one by one (released,
   * moved, or dropped by aead.open()), which writes nothing.
   */
  get consumed (): boolean { return this.#consumed }

  /**
   * The bytes of every packet for a transform in JavaScript, without a Buffer per packet: one
   * Buffer per run of contiguous memory plus typed arrays of each packet's run, start and
   * length, which JavaScript may change within the packet's headroom and tailroom (see
   * {@link BatchBytes}). Returns the open view if there is one. Buffers of this batch's leases
   * made before are detached (as by aead.seal()). Throws ERR_TUNIO_LEASE_RELEASED for a batch
   * released or sent as a whole.
   */
  bytes (): BatchBytes {
    if (this.#consumed) throw tunioError('ERR_TUNIO_LEASE_RELEASED', 'the batch was released or sent')
    if (this.#bytes?.open === true) return this.#bytes
    this.settleViews()
    const table = BatchBytes.table(this.#leases.length)
    const buffers = this.native.bytes(table)
    this.#bytes = new BatchBytes(this, table, buffers, this.#leases.length)
    return this.#bytes
  }

  /**
   * @internal An open bytes() view is applied now; a packet outside its room throws
   * ERR_TUNIO_INVALID_ARG naming `name`, and nothing has moved.
   */
  syncBytes (name: string): void {
    if (this.#bytes?.open === true) this.native.syncBytes(name)
  }

  /** Releases every lease still held; returns how many were released. Never throws twice. */
  release (): number {
    this.#consumed = true
    let released = 0
    for (const lease of this.#leases) {
      if (lease !== undefined && lease.held) { lease.release(); released++ }
    }
    return released + this.native.releaseAll()
  }

  [Symbol.dispose] (): void { this.release() }

  /** @internal The ArrayBuffers under the Buffers of this batch's held leases (see Lease.viewMemory). */
  viewMemories (): ArrayBufferLike[] {
    const out: ArrayBufferLike[] = []
    for (const lease of this.#leases) {
      const memory = lease !== undefined && lease.held ? lease.viewMemory() : undefined
      if (memory !== undefined) out.push(memory)
    }
    return out
  }

  /** @internal Before an in-place transform: no Buffer may show a packet's old extent. */
  settleViews (): void {
    // Only leases that made a Buffer have anything to settle (no `held` check: that asks the
    // native side once per lease).
    for (const lease of this.#leases) lease?.settleView()
  }

  /**
   * Copies the first `bytesPerPacket` bytes (1 to 256) of every packet into one array, in one
   * native call and without an object per packet: packet `i`'s bytes start at
   * `out[i * bytesPerPacket]` (zero-filled past its end) and `lengths[i]` is its full length,
   * -1 once released or moved. For routing and classifying a batch by its headers (an IP
   * destination, a protocol's message type); pass the same arrays again to reuse them.
   * Reads the packets as the pool holds them: in the copy fallback (docs/ownership.md), a
   * change made through `lease.buffer` shows once the lease moves or is released.
   */
  headers (bytesPerPacket: number, out?: Uint8Array, lengths?: Int32Array): { bytes: Uint8Array, lengths: Int32Array } {
    const most = binding().limits.headerBytes
    if (typeof bytesPerPacket !== 'number' || !Number.isInteger(bytesPerPacket) || bytesPerPacket < 1 || bytesPerPacket > most) {
      throw invalidArg('bytesPerPacket', `must be an integer between 1 and ${most}`)
    }
    const n = this.#leases.length
    const bytes = out ?? new Uint8Array(n * bytesPerPacket)
    const lens = lengths ?? new Int32Array(n)
    // built-in lengths: an own `length` property cannot lie; detached or out-of-bounds refused
    if (!types.isUint8Array(bytes) || byteSourceLength(bytes, 'out') < n * bytesPerPacket) {
      throw invalidArg('out', `must be a Uint8Array of at least ${n * bytesPerPacket} bytes`)
    }
    if (!types.isInt32Array(lens) || byteSourceLength(lens, 'lengths') < 4 * n) throw invalidArg('lengths', `must be an Int32Array of at least ${n} entries`)
    this.native.headers(bytesPerPacket, bytes, lens)
    return { bytes, lengths: lens }
  }

  /**
   * Moves every held packet into one of `count` new batches (1 to 255): packet `i` goes to
   * batch `groups[i]`, keeping its order; group 255 releases it. The packets keep their
   * memory (no copy); this batch's leases read as moved afterwards. For sending the packets
   * of one read to different peers (each group its own transform and destination). Checks
   * `groups` first: a group that is neither below `count` nor 255 throws and moves nothing.
   */
  split (groups: Uint8Array, count: number): PacketBatch[] {
    if (!types.isUint8Array(groups) || byteSourceLength(groups, 'groups') < this.#leases.length) {
      throw invalidArg('groups', `must be a Uint8Array of at least ${this.#leases.length} entries`)
    }
    const release = binding().limits.releaseGroup // also the most groups
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > release) {
      throw invalidArg('count', `must be an integer between 1 and ${release}`)
    }
    this.syncBytes('batch')
    for (let i = 0; i < this.#leases.length; i++) {
      const g = groups[i]
      if (g >= count && g !== release && this.native.lengthOf(i) >= 0) {
        throw invalidArg(`groups[${i}]`, `is ${g}: neither below count (${count}) nor ${release} (release)`)
      }
    }
    for (const lease of this.#leases) {
      if (lease !== undefined && lease.held) lease.surrenderView()
    }
    return this.native.split(groups, count).map((native) => new PacketBatch(native))
  }

  /** @internal Ownership of every held packet moves to a device; returns the native batch. */
  surrender (): NativeBatch {
    this.#consumed = true
    for (const lease of this.#leases) {
      if (lease !== undefined && lease.held) lease.surrenderView()
    }
    return this.native
  }
}
