/** Buffer pools: bounded memory that every packet of a device lives in. */
import { binding } from './binding'
import { byteSourceLength, type ByteSource } from './bytes'
import { invalidArg, invalidOption } from './errors'
import { checkOptionsObject } from './options'
import { PacketBatch } from './lease'
import type { Lease } from './lease'
import type { NativePool } from './native'
import { createLeaseHost, leaseCopyOf, leaseFresh } from './pool-lease'
import type { LeaseHost, LeaseMode } from './pool-lease'

export interface PoolOptions {
  /** Upper bound of memory the pool reserves, in bytes (default 64 MiB, minimum 256 KiB). */
  capBytes?: number
}

export interface PoolStats {
  capBytes: number
  /** Memory taken from the system so far (grows in 256 KiB chunks up to capBytes). */
  reservedBytes: number
  /** Memory held by leases, batches and in-flight packets. */
  inUseBytes: number
  highWaterBytes: number
  slotsInUse: number
  /** Leases refused because the cap was reached. */
  leaseFailures: number
  /** Packets that were garbage-collected without release(). */
  leaked: number
  acquired: number
  /** False when the runtime forbids external buffers and lease buffers are copies. */
  externalBuffers: boolean
  /**
   * How `pool.lease()` makes its Buffer: 'transfer' (each slot's memory wrapped once in an
   * ArrayBuffer; release() moves it to a fresh one with ArrayBuffer.prototype.transfer,
   * Node >= 21), 'external' (an external Buffer per lease, Node 20) or 'copy' (no external
   * buffers). See docs/ownership.md.
   */
  leaseMode: LeaseMode
}

/**
 * Room of a lease (pool.lease(), pool.leaseFrom(), and each lease of pool.leaseBatch()): bytes
 * before and after it that belong to it alone, so a header and a tag can be added in place
 * (see openTun()'s options of the same names).
 */
export interface LeaseBatchOptions {
  /**
   * Bytes reserved in front of each lease for a header added in place, e.g. by
   * `aead.seal()` (use `aead.headroom`). Default 0, at most 512.
   */
  headroom?: number
  /** Bytes reserved behind each lease for a tag (and padding) added in place (`aead.tailroom`). Default 0, at most 512. */
  tailroom?: number
}

/** The options of pool.lease() and pool.leaseFrom() (the same as each lease of leaseBatch() takes). */
export type LeaseOptions = LeaseBatchOptions

/**
 * The largest lease in bytes, room included (a 64 KiB slot). A constant users can read without
 * loading the addon; tunio's own checks use the addon's `limits.leaseSize`, and
 * test/shared-facts.test.ts holds this to it.
 */
export const MAX_LEASE_SIZE = 65536
const MAX_CAP = 2 ** 40

export class Pool {
  /** @internal */
  readonly native: NativePool
  readonly #host: LeaseHost

  constructor (options: PoolOptions = {}) {
    checkOptionsObject(options, 'pool')
    for (const key of Object.keys(options)) {
      if (key !== 'capBytes') throw invalidOption(key, 'unknown option for a pool')
    }
    const addon = binding()
    const cap = options.capBytes ?? addon.nativeDefaults.pool.capBytes
    const minCap = addon.limits.poolMinCapBytes
    if (typeof cap !== 'number' || !Number.isInteger(cap) || cap < minCap || cap > MAX_CAP) {
      throw invalidOption('capBytes', `must be an integer between ${minCap} and ${MAX_CAP}`)
    }
    const scratch = new Uint32Array(new ArrayBuffer(4 * addon.leaseScratch.words))
    this.native = new addon.NativePool(cap, scratch)
    this.#host = createLeaseHost(addon, this.native.leaseHandle(), scratch, this.native.stats().externalBuffers)
  }

  /**
   * A fresh lease of `size` bytes for the caller to fill (e.g. ciphertext), then hand to
   * send()/write() or release(). The bytes are not zeroed. With `headroom`/`tailroom` its slot
   * has at least that much room before and after it (its `buffer` shows only the `size`
   * bytes), for a header and a tag added in place (`aead.seal([lease])`). Throws
   * ERR_TUNIO_POOL_EXHAUSTED when the cap is reached.
   */
  lease (size: number, options?: LeaseOptions): Lease {
    checkSize(size)
    if (options === undefined) return leaseFresh(this.#host, size)
    const [headroom, tailroom] = roomOptions(options, size)
    return leaseFresh(this.#host, size, headroom, tailroom)
  }

  /**
   * A lease holding a copy of the bytes of `source` (e.g. a ciphertext a crypto library
   * produced), copied natively in the same call: no Buffer over the lease is made unless
   * `buffer` is read. `source` is a Buffer, any typed array or a DataView (also over shared,
   * resizable or growable memory); anything else, a detached view, or more than 65,536 bytes
   * throws ERR_TUNIO_INVALID_ARG. Throws ERR_TUNIO_POOL_EXHAUSTED when the cap is reached.
   */
  leaseFrom (source: ByteSource, options?: LeaseOptions): Lease {
    const length = byteSourceLength(source, 'source')
    const max = binding().limits.leaseSize
    if (length > max) throw invalidArg('source', `must be at most ${max} bytes, got ${length}`)
    if (options === undefined) return leaseCopyOf(this.#host, source, length)
    const [headroom, tailroom] = roomOptions(options, length)
    return leaseCopyOf(this.#host, source, length, headroom, tailroom)
  }

  /**
   * `count` fresh leases of `size` bytes in one batch (all or nothing), e.g. for a batch of
   * packets to fill and seal. Leases are packed back to back into 64 KiB slots, each with its
   * own `headroom` and `tailroom` (so sealed equal-size packets stay one contiguous run).
   */
  leaseBatch (count: number, size: number, options: LeaseBatchOptions = {}): PacketBatch {
    const most = binding().limits.leaseBatchCount
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > most) {
      throw invalidArg('count', `must be an integer between 0 and ${most}`)
    }
    checkSize(size)
    const [headroom, tailroom] = roomOptions(options, size)
    return new PacketBatch(this.native.leaseBatch(count, size, headroom, tailroom))
  }

  stats (): PoolStats {
    return { ...this.native.stats(), leaseMode: this.#host.mode }
  }
}

/** The options of lease(), leaseFrom() and leaseBatch(): [headroom, tailroom], checked against `size`. */
function roomOptions (options: LeaseOptions, size: number): [number, number] {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw invalidArg('options', 'must be an object')
  const headroom = roomOption('headroom', options.headroom)
  const tailroom = roomOption('tailroom', options.tailroom)
  const max = binding().limits.leaseSize
  if (size + headroom + tailroom > max) {
    throw invalidArg('size', `size + headroom + tailroom must be at most ${max}`)
  }
  return [headroom, tailroom]
}

/** A lease's size: 0 to the addon's limits.leaseSize. */
function checkSize (size: unknown): void {
  const max = binding().limits.leaseSize
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 0 || size > max) {
    throw invalidArg('size', `must be an integer between 0 and ${max}`)
  }
}

/** headroom/tailroom of leases: 0 to the addon's limits.packetRoom (512). */
export function roomOption (name: string, value: unknown): number {
  const max = binding().limits.packetRoom
  if (value === undefined) return 0
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw invalidArg(name, `must be an integer between 0 and ${max}`)
  }
  return value
}

let defaultPool: Pool | undefined

/** The pool devices use when none is given: one per thread (worker_threads each get theirs). */
export function getDefaultPool (): Pool {
  if (defaultPool === undefined) defaultPool = new Pool()
  return defaultPool
}
