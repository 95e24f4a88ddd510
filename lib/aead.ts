/**
 * Batch AEAD: seal or open every packet of a PacketBatch in one native call, in place, with
 * OpenSSL's ChaCha20-Poly1305 or AES-256-GCM (the library Node itself ships). See
 * docs/crypto.md for the design and why OpenSSL.
 */
import { types } from 'util'
import { binding } from './binding'
import { asUint8Array, byteSourceLength } from './bytes'
import { invalidArg, invalidOption } from './errors'
import { registerForwardEnd } from './forward'
import { Lease, PacketBatch } from './lease'
import type { LeaseHandle, NativeAead, NativeAeadLimits, NativeBatch } from './native'
import { checkKnownKeys, checkOptionsObject, intOption, boolOption } from './options'

export type AeadAlgorithm = 'chacha20-poly1305' | 'aes-256-gcm'

/**
 * How each packet's 12-byte nonce is made from its 64-bit counter.
 * - `'counter-le'`: 4 zero bytes, then the counter as u64 little-endian (WireGuard).
 * - `'iv-xor'`: the 12-byte `iv` XOR (4 zero bytes, then the counter as u64 big-endian):
 *   TLS 1.3 (RFC 8446 section 5.3) and QUIC (RFC 9001 section 5.3). A per-direction bit in `iv`
 *   keeps two senders sharing one key from ever using the same nonce.
 */
export type AeadNonceLayout = 'counter-le' | 'iv-xor'

/**
 * One key and one wire layout. A sealed packet is
 * `[ header (with the counter in it) ][ ciphertext ][ 16-byte tag ]`.
 *
 * WireGuard's data message, for example:
 * ```ts
 * const header = Buffer.alloc(16); header.writeUInt32LE(4, 0); header.writeUInt32LE(receiverIndex, 4)
 * new Aead({ algorithm: 'chacha20-poly1305', key, nonce: 'counter-le', header, counterOffset: 8,
 *            authenticate: 'none', padTo: 16, padLimit: mtu, counterLimit: 2n ** 64n - 2n ** 13n - 1n })
 * ```
 */
export interface AeadOptions {
  algorithm: AeadAlgorithm
  /** 32 bytes. Copied into OpenSSL's cipher contexts; the Aead keeps no other copy. */
  key: Uint8Array
  /** Default `'counter-le'`. */
  nonce?: AeadNonceLayout
  /** 12 bytes; required with `nonce: 'iv-xor'`, refused otherwise. */
  iv?: Uint8Array
  /**
   * Written in front of every ciphertext, with the packet's counter (8 bytes) written into it
   * at `counterOffset`. Default: 8 zero bytes (the header is just the counter). At most 64 bytes.
   */
  header?: Uint8Array
  /** Where the counter goes in `header` (default 0). */
  counterOffset?: number
  /** Byte order of the counter in the header: `'le'` (default, WireGuard) or `'be'`. */
  counterByteOrder?: 'le' | 'be'
  /**
   * What is authenticated besides the ciphertext: `'header'` (default: the whole header,
   * counter included, as associated data) or `'none'` (WireGuard: the counter is still bound
   * by the nonce).
   */
  authenticate?: 'header' | 'none'
  /**
   * open(): drop (and count as `headerMismatch`) packets whose header bytes outside the
   * counter differ from `header`, e.g. another message type or receiver index. Default false.
   */
  verifyHeader?: boolean
  /**
   * seal(): zero-pad the plaintext to a multiple of `padTo` (WireGuard: 16), but not past
   * `padLimit` bytes (e.g. the MTU) unless it is already longer. open(): with `padTo` the
   * plaintext is trimmed to its IP header's length (an empty one stays empty: a keepalive),
   * and a plaintext that is not an IP packet is dropped (`notIp`).
   */
  padTo?: number
  padLimit?: number
  /**
   * Counters at or above this are never used: seal() throws ERR_TUNIO_AEAD_COUNTER_LIMIT
   * instead of using one, open() drops them (`counterLimit`). Default 2^64 - 1.
   * WireGuard's REJECT_AFTER_MESSAGES is 2^64 - 2^13 - 1.
   */
  counterLimit?: bigint
  /** The counter of the first packet sealed (default 0). */
  firstCounter?: bigint
  /**
   * open(): drop packets whose counter was seen before or lies more than `replayWindow - 64`
   * behind the greatest seen (a sliding window, RFC 6479; WireGuard's is 8192), counted as
   * `replayed`. Counters are recorded only after their packet authenticated. Default: no
   * window, the caller checks the returned counters itself. 128 to 65536.
   */
  replayWindow?: number
}

export interface AeadStats {
  sealed: number
  opened: number
  /** Plaintext bytes sealed / delivered by open (padding not counted on open). */
  bytesSealed: number
  bytesOpened: number
  /** Packets dropped (released from their batch), by reason. */
  drops: {
    /** seal(): the packet's slot had less headroom than the header or less tailroom than tag + padding. */
    noRoom: number
    /** open(): shorter than header + tag. */
    tooShort: number
    /** open() with verifyHeader: a header byte outside the counter differed. */
    headerMismatch: number
    /** open(): a counter at or above counterLimit. */
    counterLimit: number
    /** open(): the tag did not verify (forged, corrupted, truncated, or another key). */
    authFailed: number
    /** open() with replayWindow: authentic, but a counter seen before or behind the window. */
    replayed: number
    /** open() with padTo: the plaintext was not an IP packet. */
    notIp: number
    /** An OpenSSL call failed for another reason (never seen in tests). */
    cryptoError: number
  }
}

const NO_COUNTER = 2n ** 64n - 1n
const ALGORITHMS: Record<AeadAlgorithm, number> = { 'chacha20-poly1305': 0, 'aes-256-gcm': 1 }
const KNOWN = ['algorithm', 'key', 'nonce', 'iv', 'header', 'counterOffset', 'counterByteOrder', 'authenticate',
  'verifyHeader', 'padTo', 'padLimit', 'counterLimit', 'firstCounter', 'replayWindow'] as const

/** A byte source (lib/bytes.ts: a Buffer, any typed array, a DataView) of min..max bytes, copied. */
function bytesOption (name: string, value: unknown, min: number, max: number): Uint8Array {
  let length: number
  try { length = byteSourceLength(value, name) } catch (err) {
    throw invalidOption(name, `must be a Buffer, a typed array or a DataView (${(err as Error).message})`)
  }
  if (length < min || length > max) {
    throw invalidOption(name, min === max ? `must be ${min} bytes, got ${length}` : `must be ${min} to ${max} bytes, got ${length}`)
  }
  // a copy: changing the caller's bytes later changes nothing here
  return asUint8Array(value as ArrayBufferView).slice()
}

function counterOption (name: string, value: unknown, fallback: bigint): bigint {
  if (value === undefined) return fallback
  if (typeof value !== 'bigint' || value < 0n || value > NO_COUNTER) throw invalidOption(name, 'must be a bigint between 0 and 2^64 - 1')
  return value
}

function buildSpec (options: AeadOptions, limits: NativeAeadLimits): Record<string, unknown> {
  checkOptionsObject(options)
  checkKnownKeys(options, KNOWN, 'new Aead()')
  // own string keys only: a non-string (e.g. an object without toString) or 'toString' is no algorithm
  const name: unknown = options.algorithm
  const algorithm = typeof name === 'string' && Object.prototype.hasOwnProperty.call(ALGORITHMS, name) ? ALGORITHMS[name as AeadAlgorithm] : undefined
  if (algorithm === undefined) throw invalidOption('algorithm', `must be one of ${Object.keys(ALGORITHMS).join(', ')}`)
  const key = bytesOption('key', options.key, limits.keyLength, limits.keyLength)
  const nonce = options.nonce ?? 'counter-le'
  if (nonce !== 'counter-le' && nonce !== 'iv-xor') throw invalidOption('nonce', "must be 'counter-le' or 'iv-xor'")
  let iv: Uint8Array | undefined
  if (nonce === 'iv-xor') iv = bytesOption('iv', options.iv, limits.nonceLength, limits.nonceLength)
  else if (options.iv !== undefined) throw invalidOption('iv', "is used only with nonce: 'iv-xor'")
  const header = options.header === undefined
    ? new Uint8Array(limits.counterLength)
    : bytesOption('header', options.header, limits.counterLength, limits.maxHeaderLength)
  const counterOffset = intOption('counterOffset', options.counterOffset, 0, header.length - limits.counterLength) ?? 0
  const order = options.counterByteOrder ?? 'le'
  if (order !== 'le' && order !== 'be') throw invalidOption('counterByteOrder', "must be 'le' or 'be'")
  const authenticate = options.authenticate ?? 'header'
  if (authenticate !== 'header' && authenticate !== 'none') throw invalidOption('authenticate', "must be 'header' or 'none'")
  const padTo = intOption('padTo', options.padTo, 1, limits.maxPadTo) ?? 0
  const padLimit = intOption('padLimit', options.padLimit, 1, 65535) ?? 0
  if (padLimit !== 0 && padTo === 0) throw invalidOption('padLimit', 'is used only with padTo')
  return {
    algorithm,
    key,
    nonce: nonce === 'iv-xor' ? 1 : 0,
    iv,
    header,
    counterOffset,
    counterBigEndian: order === 'be',
    aad: authenticate === 'header' ? 1 : 0,
    verifyHeader: boolOption('verifyHeader', options.verifyHeader) ?? false,
    padTo,
    padLimit,
    counterLimit: counterOption('counterLimit', options.counterLimit, NO_COUNTER),
    firstCounter: counterOption('firstCounter', options.firstCounter, 0n),
    replayWindow: intOption('replayWindow', options.replayWindow, limits.minReplayWindow, limits.maxReplayWindow) ?? 0
  }
}

/** The argument of seal()/open() when it is not a batch: an array of held leases, none twice. */
function leaseArray (value: unknown, method: string): Lease[] {
  if (!Array.isArray(value)) throw invalidArg('batch', `${method}() takes a PacketBatch or an array of leases`)
  const leases = Array.from(value as unknown[]) // one read of each element
  const seen = new Set<Lease>()
  for (let i = 0; i < leases.length; i++) {
    const lease = leases[i]
    const name = `leases[${i}]`
    if (!(lease instanceof Lease)) throw invalidArg(name, `is not a Lease: ${method}() takes a PacketBatch or an array of leases`)
    lease.checkSurrender(name) // held, memory not moved away, its batch's bytes() view valid
    if (seen.has(lease)) throw invalidArg(name, 'is given twice: each packet is transformed once')
    seen.add(lease)
  }
  return leases as Lease[]
}

function countersArray (counters: BigUint64Array | undefined, n: number): BigUint64Array {
  const out = counters ?? new BigUint64Array(n)
  // the built-in length (an own `length` property cannot lie), detached or outside its buffer refused
  if (!types.isBigUint64Array(out) || byteSourceLength(out, 'counters') < 8 * n) {
    throw invalidArg('counters', `must be a BigUint64Array at least ${n} long`)
  }
  return out
}

function transformTargets (leases: Lease[]): [Array<NativeBatch | LeaseHandle>, Int32Array] {
  const targets: Array<NativeBatch | LeaseHandle> = []
  const extents = new Int32Array(3 * leases.length)
  for (let i = 0; i < leases.length; i++) {
    const [target, index, start, length] = leases[i].transformTarget()
    targets.push(target)
    extents[3 * i] = index
    extents[3 * i + 1] = start
    extents[3 * i + 2] = length
  }
  return [targets, extents]
}

function transformed (leases: Lease[], extents: Int32Array): void {
  for (let i = 0; i < leases.length; i++) leases[i].transformed(extents[3 * i + 1], extents[3 * i + 2])
}

/**
 * Seals and opens whole batches natively. One instance is one key in one direction of use
 * (its counter belongs to it); it is not shared between threads.
 *
 * Throws ERR_TUNIO_AEAD_UNAVAILABLE where the runtime has no OpenSSL for addons (Electron's
 * BoringSSL): `node:crypto` per packet is the fallback there.
 */
export class Aead {
  /** The counter open() reports for a packet it dropped (2^64 - 1, never a valid counter). */
  static readonly NO_COUNTER: bigint = NO_COUNTER

  /** Bytes a packet needs in front to be sealed in place: the header's length. Use as `headroom`. */
  readonly headroom: number
  /**
   * Bytes a packet needs behind to be sealed in place: the tag plus the most padding can add.
   * Use as `tailroom`; with exactly this much (and no padding) sealed packets stay back to back.
   */
  readonly tailroom: number
  /** The tag's length (16). */
  readonly tagLength: number
  readonly #native: NativeAead

  constructor (options: AeadOptions) {
    const addon = binding()
    const spec = buildSpec(options, addon.aeadLimits)
    this.#native = new addon.NativeAead(spec)
    registerForwardEnd(this, 'aead', this.#native)
    this.tagLength = addon.aeadLimits.tagLength
    this.headroom = (spec.header as Uint8Array).length
    this.tailroom = this.tagLength + Math.max(0, (spec.padTo as number) - 1)
  }

  /** The counter the next sealed packet gets. */
  get nextCounter (): bigint { return this.#native.nextCounter() }

  /**
   * Seals every held packet of `batch` in place, in order, with the next counters: the header
   * goes into the packet's headroom, padding and tag into its tailroom (see `headroom` on
   * openTun(), pool.leaseBatch() and pool.lease()). Returns how many were sealed. A packet
   * without enough room is dropped (released) and counted in `stats().drops.noRoom`. Throws
   * ERR_TUNIO_AEAD_COUNTER_LIMIT, touching nothing, when the batch would reach `counterLimit`.
   *
   * `batch` may also be an array of leases (packets of any batches and single leases from
   * pool.lease()/leaseFrom(), mixed), sealed in array order, with the same rules. The whole
   * array is checked first: anything that is not a Lease, a lease given twice
   * (ERR_TUNIO_INVALID_ARG) or one already released or sent (ERR_TUNIO_LEASE_RELEASED) throws
   * with `err.argument` naming it, and nothing is touched.
   *
   * Buffers of the leases made before the call are detached (the packets move within their
   * slots); `lease.buffer` afterwards shows the sealed bytes.
   */
  seal (batch: PacketBatch | readonly Lease[]): number {
    if (batch instanceof PacketBatch) {
      batch.settleViews()
      return this.#native.seal(batch.native)
    }
    const leases = leaseArray(batch, 'seal')
    const [targets, extents] = transformTargets(leases)
    const done = this.#native.sealLeases(targets, extents)
    transformed(leases, extents)
    return done
  }

  /**
   * Verifies, decrypts and strips every held packet of `batch` in place. Returns each packet's
   * counter by index (for a replay check); a packet that fails (too short, foreign header,
   * counter past the limit, bad tag, replayed, not IP with padding) is dropped (released), counted in
   * `stats().drops`, and its counter reads `Aead.NO_COUNTER`. The rest of the batch is
   * delivered. `counters` (at least `batch.length` long) is filled and returned when given.
   */
  open (batch: PacketBatch | readonly Lease[], counters?: BigUint64Array): BigUint64Array {
    if (!(batch instanceof PacketBatch)) {
      // An array of leases (see seal()): counters[i] is the counter of leases[i].
      const leases = leaseArray(batch, 'open')
      const out = countersArray(counters, leases.length)
      const [targets, extents] = transformTargets(leases)
      this.#native.openLeases(targets, extents, out)
      transformed(leases, extents)
      return out
    }
    const out = counters ?? new BigUint64Array(batch.length)
    // the built-in length (an own `length` property cannot lie), detached or outside its buffer refused
    if (!types.isBigUint64Array(out) || byteSourceLength(out, 'counters') < 8 * batch.length) {
      throw invalidArg('counters', 'must be a BigUint64Array at least batch.length long')
    }
    batch.settleViews()
    this.#native.open(batch.native, out)
    return out
  }

  stats (): AeadStats { return this.#native.stats() }

  /**
   * @internal Measurement hook for bench/crypto.js: seal() on a libuv threadpool thread. The
   * packets move into the work and come back as a new batch; `batch` reads as consumed.
   */
  async sealOnThreadpool (batch: PacketBatch): Promise<PacketBatch> {
    return new PacketBatch(await this.#native.sealOnThreadpool(batch.surrender()))
  }
}
