/**
 * Single leases from `pool.lease()` and `pool.leaseFrom()`: a lease is the number of its slot
 * in the pool's native lease table (src-native/addon/lease_table.h), not a native object.
 *
 * How the Buffer over the slot is made, and how a lease that is garbage-collected unreleased
 * is noticed, depends on the runtime (the pool picks one `LeaseMode`, see docs/ownership.md):
 *
 * - 'transfer' (ArrayBuffer.prototype.transfer exists: Node >= 21): the memory of each slot
 *   is wrapped once in an external ArrayBuffer. A lease takes that ArrayBuffer; release()
 *   moves the memory to a fresh one with transfer(), which detaches the lease's ArrayBuffer
 *   and every view of it, and keeps the fresh one (unseen by anyone) as the slot's "home" for
 *   the next lease. Creating an external ArrayBuffer costs about a microsecond in Node; a
 *   transfer a fraction of that. The wrapper's finalizer runs only once no ArrayBuffer holds
 *   the memory: if that happens while the lease is out, the lease leaked.
 * - 'external' (Node 20): one external Buffer per lease, whose finalizer notices the leak.
 *   Leases from leaseFrom() make their Buffer only if `buffer` is read; until then the Lease
 *   object itself is watched with a FinalizationRegistry.
 * - 'copy' (external buffers refused, as in Electron): `buffer` is a copy, written back
 *   before ownership moves to a device; the Lease object is watched with the registry.
 */
import { leaseReleased, tunioError } from './errors'
import { asUint8Array, isDetached, type ByteSource } from './bytes'
import { Lease, checkSetArgs, checkTruncate, type SendMetaField } from './lease'
import { leakTracker } from './leak-debug'
import type { LeaseHandle, NativeBatch, NativeEndpoint, NativeLeaseFunctions, NativeLeaseScratchLayout, NativeMeta } from './native'

export type LeaseMode = 'transfer' | 'external' | 'copy'

/** The pool state single leases share (one per Pool). */
export interface LeaseHost {
  /** The addon's lease functions and this pool's table (see src-native/addon/lease_js.h). */
  readonly fns: NativeLeaseFunctions
  readonly handle: LeaseHandle
  mode: LeaseMode
  /** transfer mode: each slot's home ArrayBuffer while the slot is not leased, by slot number. */
  readonly homes: Array<ArrayBuffer | undefined>
  /** Leases without an ArrayBuffer of their own; held value: generation * 2^32 + slot number. */
  readonly registry: FinalizationRegistry<number>
  /**
   * Words shared with the native table: the last acquire's [slot number, generation], then
   * the count and numbers of queued releases, where `layout` (the addon's) says.
   */
  readonly scratch: Uint32Array
  readonly layout: NativeLeaseScratchLayout
}

// ES2024 members, typed here because the compile target is ES2022 (Node 20 has neither).
interface TransferableArrayBuffer extends ArrayBuffer {
  transfer (): ArrayBuffer
  readonly detached: boolean
}

export const transferAvailable = typeof (ArrayBuffer.prototype as Partial<TransferableArrayBuffer>).transfer === 'function'

const NO_META: NativeMeta = Object.freeze({ ecn: 0 })

// A Buffer over part of an ArrayBuffer, made the way Node makes its own (its internal
// FastBuffer): a Uint8Array subclass with Buffer.prototype in its prototype chain and Buffer
// as its constructor, so Buffer.isBuffer(), instanceof, every Buffer method and subarray()
// behave as for any Buffer. Buffer.from(arrayBuffer, offset, length) ends the same way after
// argument checks that cost as much again as the construction (about 70 vs 35 ns, Node 20).
class LeaseView extends Uint8Array {}
Object.setPrototypeOf(LeaseView.prototype, Buffer.prototype)
Object.defineProperty(LeaseView.prototype, 'constructor', { value: Buffer, writable: true, configurable: true })

export function createLeaseHost (fns: NativeLeaseFunctions, handle: LeaseHandle, scratch: Uint32Array, externalBuffers: boolean): LeaseHost {
  // Test hook: TUNIO_NO_TRANSFER=1 takes the Node 20 path on runtimes that have transfer().
  const transfer = transferAvailable && process.env.TUNIO_NO_TRANSFER !== '1'
  return {
    fns,
    handle,
    mode: !externalBuffers ? 'copy' : transfer ? 'transfer' : 'external',
    homes: [],
    registry: new FinalizationRegistry<number>((held) => {
      fns.leaseReleaseLeaked(handle, held % 0x100000000, Math.floor(held / 0x100000000))
    }),
    scratch,
    layout: fns.leaseScratch
  }
}

/**
 * pool.lease(size, { headroom, tailroom }): a fresh lease for the caller to fill. Its slot
 * holds headroom + size + tailroom bytes (or more: the whole slot is the lease's), and the
 * lease starts `headroom` bytes into it.
 */
export function leaseFresh (host: LeaseHost, size: number, headroom = 0, tailroom = 0): PoolLease {
  const footprint = headroom + size + tailroom
  if (host.mode === 'transfer') {
    const index = host.fns.leaseAcquire(host.handle, footprint, true)
    const memory = moveOutOfHome(host, index)
    if (memory !== undefined) return new PoolLease(host, index, size, 'transfer', memory, undefined, headroom)
    host.mode = 'copy' // the runtime refused the external ArrayBuffer
    return watched(new PoolLease(host, index, size, 'copy', undefined, undefined, headroom))
  }
  if (host.mode === 'external') {
    const view = host.fns.leaseAcquireView(host.handle, size, headroom, tailroom)
    const index = host.scratch[host.layout.index]
    if (view !== null) return new PoolLease(host, index, size, 'external', undefined, view, headroom)
    host.mode = 'copy'
    return watched(new PoolLease(host, index, size, 'copy', undefined, undefined, headroom))
  }
  return watched(new PoolLease(host, host.fns.leaseAcquire(host.handle, footprint, false), size, 'copy', undefined, undefined, headroom))
}

/**
 * pool.leaseFrom(source, { headroom, tailroom }): a lease holding a copy of `source` (`length`
 * bytes, checked by the caller with byteSourceLength()), copied natively `headroom` bytes
 * into its slot.
 */
export function leaseCopyOf (host: LeaseHost, source: ByteSource, length: number, headroom = 0, tailroom = 0): PoolLease {
  if (host.mode === 'transfer') {
    const index = host.fns.leaseFrom(host.handle, source, true, headroom, tailroom)
    const memory = moveOutOfHome(host, index)
    if (memory !== undefined) return new PoolLease(host, index, length, 'transfer', memory, undefined, headroom)
    host.mode = 'copy'
    return watched(new PoolLease(host, index, length, 'copy', undefined, undefined, headroom))
  }
  // external mode makes the Buffer only if asked for (PoolLease.buffer); until then, and in
  // copy mode, the Lease object is what the registry watches.
  return watched(new PoolLease(host, host.fns.leaseFrom(host.handle, source, false, headroom, tailroom), length, host.mode, undefined, undefined, headroom))
}

// The lease takes the home ArrayBuffer itself: it was made by the previous release()'s
// transfer() (or just now) and nobody else has ever seen it, so one transfer per lease,
// at release, is enough.
function moveOutOfHome (host: LeaseHost, index: number): ArrayBuffer | undefined {
  const home = host.homes[index]
  if (home === undefined) return host.fns.leaseHome(host.handle, index) ?? undefined
  host.homes[index] = undefined
  return home
}

function watched (lease: PoolLease): PoolLease {
  lease.watch()
  return lease
}

export class PoolLease extends Lease {
  readonly #host: LeaseHost
  readonly #index: number
  #length: number
  /** Where the lease begins in its slot (its headroom). */
  #start: number
  #mode: LeaseMode
  #memory: ArrayBuffer | undefined // transfer mode: the slot's memory, moved out of its home
  #buffer: Buffer | undefined
  #held = true
  #watched = false
  #debug = false
  /** The slot's lease generation when this lease was taken (for the registry). */
  readonly #generation: number
  // Send metadata set from JavaScript (remote/local/ecn setters): kept here until surrender()
  // hands it to the native packet, so a lease nobody sets anything on costs nothing more.
  #remote: NativeEndpoint | undefined
  #local: NativeEndpoint | undefined
  #ecn = 0
  #meta: NativeMeta | undefined

  /** @internal */
  constructor (host: LeaseHost, index: number, length: number, mode: LeaseMode, memory: ArrayBuffer | undefined, buffer: Buffer | undefined, start = 0) {
    super()
    this.#host = host
    this.#index = index
    this.#length = length
    this.#start = start
    this.#mode = mode
    this.#memory = memory
    this.#buffer = buffer
    this.#generation = host.scratch[host.layout.generation] // the acquire that made this lease was the last one
    if (leakTracker.enabled) {
      leakTracker.trackLease(this)
      this.#debug = true
    }
  }

  /** @internal Registers this Lease object for GC notice (no ArrayBuffer stands for it). */
  watch (): void {
    this.#host.registry.register(this, this.#generation * 0x100000000 + this.#index, this)
    this.#watched = true
  }

  #unwatch (): void {
    if (this.#watched) {
      this.#host.registry.unregister(this)
      this.#watched = false
    }
  }

  get held (): boolean { return this.#held }

  get length (): number { return this.#held ? this.#length : 0 }

  get buffer (): Buffer {
    if (!this.#held) throw leaseReleased()
    let buffer = this.#buffer
    if (buffer === undefined) {
      if (this.#mode === 'transfer') {
        buffer = new LeaseView(this.#memory as ArrayBuffer, this.#start, this.#length) as unknown as Buffer
      } else if (this.#mode === 'external') {
        const view = this.#host.fns.leaseView(this.#host.handle, this.#index, this.#length, this.#start)
        if (view !== null) {
          this.#unwatch() // from now on the view's finalizer notices a leak (the view may outlive us)
          buffer = view
        } else {
          this.#host.mode = 'copy'
          this.#mode = 'copy'
          buffer = this.#host.fns.leaseCopyOut(this.#host.handle, this.#index, this.#length, this.#start)
        }
      } else {
        buffer = this.#host.fns.leaseCopyOut(this.#host.handle, this.#index, this.#length, this.#start)
      }
      this.#buffer = buffer
    }
    return buffer
  }

  protected metadata (): NativeMeta {
    if (!this.#held) throw leaseReleased()
    if (this.#remote === undefined && this.#local === undefined && this.#ecn === 0) return NO_META
    if (this.#meta === undefined) {
      const meta: NativeMeta = { ecn: this.#ecn }
      if (this.#remote !== undefined) meta.remote = this.#remote
      if (this.#local !== undefined) meta.local = this.#local
      this.#meta = meta
    }
    return this.#meta
  }

  protected setMetadata (field: SendMetaField, value: unknown): void {
    // Checked now by the addon (the same check a batch's lease gets), kept as it reads back.
    const checked = this.#host.fns.sendMeta(field, value)
    if (field === 'remote') this.#remote = (checked as NativeEndpoint | null) ?? undefined
    else if (field === 'local') this.#local = (checked as NativeEndpoint | null) ?? undefined
    else this.#ecn = checked as number
    this.#meta = undefined
  }

  truncate (length: number): void {
    if (!this.#held) throw leaseReleased()
    checkTruncate(length, this.#length)
    this.#length = length
    if (this.#buffer !== undefined && this.#buffer.length !== length) this.#buffer = this.#buffer.subarray(0, length)
  }

  set (source: ByteSource, offset = 0): void {
    if (!this.#held) throw leaseReleased()
    checkSetArgs(source, offset, this.#length)
    // A copy-mode Buffer is what gets written back, so it must see the bytes too.
    if (this.#mode === 'copy' && this.#buffer !== undefined) this.#buffer.set(asUint8Array(source), offset)
    else this.#host.fns.leaseSet(this.#host.handle, this.#index, offset, source, this.#length, this.#start)
  }

  release (): void {
    if (!this.#held) throw leaseReleased()
    this.#held = false
    if (this.#debug) leakTracker.untrackLease(this)
    const host = this.#host
    if (this.#mode === 'transfer') {
      const memory = this.#memory as TransferableArrayBuffer
      this.#memory = undefined
      if (memory.detached) {
        // Someone moved the memory to an ArrayBuffer of their own: it stays out of the pool
        // until that one is collected.
        host.fns.leaseAbandon(host.handle, this.#index)
      } else {
        host.homes[this.#index] = memory.transfer() // detaches every view of the lease
        // Nothing native is left to do but hand the slot back: queue it for the table's next
        // call (or the pool's next need) instead of calling in now; a full queue calls in.
        const { scratch, layout } = host
        const pending = scratch[layout.pending]
        if (pending < layout.queueLength) {
          scratch[layout.queue + pending] = this.#index
          scratch[layout.pending] = pending + 1
        } else {
          host.fns.leaseRelease(host.handle, this.#index)
        }
      }
    } else {
      this.#unwatch()
      host.fns.leaseRelease(host.handle, this.#index, this.#buffer)
    }
    this.#buffer = undefined
  }

  transformTarget (): [LeaseHandle, number, number, number] {
    const buffer = this.#buffer
    if (buffer !== undefined) {
      this.#buffer = undefined
      const host = this.#host
      if (this.#mode === 'transfer') {
        // A new ArrayBuffer over the same memory: every view of the old one is detached.
        this.#memory = (this.#memory as TransferableArrayBuffer).transfer()
      } else {
        // A copy's changes go into the slot first; then the Buffer is detached, and since no
        // Buffer stands for the lease any more, the registry watches it.
        if (this.#mode === 'copy') host.fns.leaseSet(host.handle, this.#index, 0, buffer, this.#length, this.#start)
        host.fns.leaseDropView(host.handle, this.#index, buffer)
        if (!this.#watched) this.watch()
      }
    }
    return [this.#host.handle, this.#index, this.#start, this.#length]
  }

  transformed (start: number, length: number): void {
    if (length < 0) {
      this.release() // dropped by the transform: back to the pool like any release
      return
    }
    this.#start = start
    this.#length = length
  }

  override viewMemory (): ArrayBufferLike | undefined {
    return this.#mode === 'transfer' ? this.#memory : this.#buffer?.buffer
  }

  override checkSurrender (name: string): void {
    super.checkSurrender(name)
    // surrender() throws for a zero-copy view whose memory the user moved away
    const memory = this.#mode === 'transfer' ? this.#memory : this.#mode === 'external' ? this.#buffer?.buffer : undefined
    if (memory !== undefined && isDetached(memory)) {
      throw tunioError('ERR_TUNIO_LEASE_RELEASED', `${name}: the lease's ArrayBuffer was detached (transferred away) by someone else`, { argument: name })
    }
  }

  surrender (): NativeBatch {
    if (!this.#held) throw leaseReleased()
    const host = this.#host
    if (this.#mode === 'transfer') {
      const memory = this.#memory as TransferableArrayBuffer
      if (memory.detached) {
        throw tunioError('ERR_TUNIO_LEASE_RELEASED', 'the lease\'s ArrayBuffer was detached (transferred away) by someone else')
      }
      this.#held = false
      host.homes[this.#index] = memory.transfer()
      this.#memory = undefined
    } else {
      this.#held = false
      this.#unwatch()
    }
    if (this.#debug) leakTracker.untrackLease(this)
    // transfer mode detached the view already (moved home); the others detach it natively
    const buffer = this.#mode === 'transfer' ? undefined : this.#buffer
    this.#buffer = undefined
    const batch = host.fns.leaseSurrender(host.handle, this.#index, this.#length, buffer, this.#mode === 'copy', this.#start)
    if (this.#remote !== undefined || this.#local !== undefined || this.#ecn !== 0) batch.setMeta(0, this.#remote, this.#local, this.#ecn)
    return batch
  }
}
