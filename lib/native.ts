/** Shapes of the native addon's exports (internal; the public API is in index.ts). */
import type { AeadStats } from './aead'
import type { GsoInfo } from './lease'

export interface NativeEndpoint { address: string, family: 'IPv4' | 'IPv6', port?: number, ifindex?: number }

export type NativeGsoMeta = GsoInfo

export interface NativeMeta { remote?: NativeEndpoint, local?: NativeEndpoint, ecn: number, gso?: NativeGsoMeta }

export interface NativeBatch {
  size (): number
  live (): number
  lengthOf (i: number): number
  buffer (i: number): Buffer
  release (i: number, view?: Buffer): boolean
  releaseAll (): number
  detach (view: ArrayBufferView | ArrayBuffer): boolean
  writeBack (i: number, view: Buffer): boolean
  truncate (i: number, length: number): number
  meta (i: number): NativeMeta
  /**
   * Send metadata of packet i: undefined leaves a field, null clears it; anything else is
   * checked by the addon (ERR_TUNIO_INVALID_ARG naming the field, nothing changed).
   */
  setMeta (i: number, remote: unknown, local: unknown, ecn: unknown): void
  extract (i: number): NativeBatch
  headers (bytesPerPacket: number, out: Uint8Array, lengths: Int32Array): number
  split (groups: Uint8Array, count: number): NativeBatch[]
  /** Held packets without a remote endpoint (a UDP send needs `to` for them). */
  withoutRemote (): number
  /** Opens a bytes() view: fills `table`, returns one Buffer per run (src-native/addon/batch_bytes.cc). */
  bytes (table: Int32Array): Buffer[]
  /** Applies an open bytes() view now; throws ERR_TUNIO_INVALID_ARG naming `argument` if a packet lies outside its room. */
  syncBytes (argument: string): void
}

/** The field numbers of the bytes() table (src-native/core/batch_layout.h). */
export interface NativeBatchLayout { fields: number, run: number, start: number, length: number, minStart: number, maxEnd: number }

export interface NativePoolStats {
  capBytes: number, reservedBytes: number, inUseBytes: number, highWaterBytes: number, slotsInUse: number,
  leaseFailures: number, leaked: number, acquired: number, externalBuffers: boolean
}

/** Opaque handle of a pool's native lease table (src-native/addon/lease_js.h). */
export interface LeaseHandle { readonly __leaseHandle: never }

/** Single-lease functions; each takes the pool's LeaseHandle first. */
/** Where the lease table's scratch words live (LeaseTable::kScratch* in lease_table.h). */
export interface NativeLeaseScratchLayout {
  /** The last acquire's slot number and generation. */
  index: number, generation: number
  /** How many releases are queued, where the queue starts, how many it holds. */
  pending: number, queue: number, queueLength: number
  /** Length of the Uint32Array a NativePool needs. */
  words: number
}

export interface NativeLeaseFunctions {
  leaseScratch: NativeLeaseScratchLayout
  /**
   * One field of a lease's send metadata checked (ERR_TUNIO_INVALID_ARG naming it) and as it
   * reads back: an endpoint, null (cleared) or the ECN number (src-native/addon/endpoint_js.h).
   */
  sendMeta (field: 'remote' | 'local' | 'ecn', value: unknown): NativeEndpoint | null | number
  leaseAcquire (h: LeaseHandle, size: number, viaHome: boolean): number
  leaseAcquireView (h: LeaseHandle, size: number, headroom?: number, tailroom?: number): Buffer | null
  leaseFrom (h: LeaseHandle, source: ArrayBufferView, viaHome: boolean, headroom?: number, tailroom?: number): number
  leaseHome (h: LeaseHandle, index: number): ArrayBuffer | null
  leaseView (h: LeaseHandle, index: number, length: number, start?: number): Buffer | null
  leaseCopyOut (h: LeaseHandle, index: number, length: number, start?: number): Buffer
  leaseSet (h: LeaseHandle, index: number, offset: number, source: ArrayBufferView, leaseLength: number, start?: number): void
  leaseRelease (h: LeaseHandle, index: number, view?: Buffer): boolean
  leaseAbandon (h: LeaseHandle, index: number): void
  /** The lease's view is detached and no longer tracks it (the lease stays held). */
  leaseDropView (h: LeaseHandle, index: number, view: Buffer): void
  leaseReleaseLeaked (h: LeaseHandle, index: number, generation: number): boolean
  leaseSurrender (h: LeaseHandle, index: number, length: number, view: Buffer | undefined, isCopy: boolean, start?: number): NativeBatch
}

export interface NativeAeadLimits {
  keyLength: number, nonceLength: number, tagLength: number, counterLength: number,
  maxHeaderLength: number, maxPadTo: number, minReplayWindow: number, maxReplayWindow: number
}

/**
 * The numeric limits whose one definition is a constant of the core (or of the addon):
 * src-native/addon/addon.cc LimitsToJs names each. lib/ checks options and arguments with them.
 */
export interface NativeLimits {
  /** Queues of one TUN device (the kernel's MAX_TAP_QUEUES). */
  tunQueues: number
  /** Messages per recvmmsg of a UDP socket (its batchSize). */
  udpBatchSize: number
  /** Bytes of one lease, room included (MAX_LEASE_SIZE). */
  leaseSize: number
  /** Leases of one pool.leaseBatch(). */
  leaseBatchCount: number
  /** headroom and tailroom of a lease or a TUN device's packets, each. */
  packetRoom: number
  /** The smallest capBytes of a pool. */
  poolMinCapBytes: number
  /** batch.headers(): bytes per packet at the most. */
  headerBytes: number
  /** batch.split(): the group that releases a packet (and the most groups). */
  releaseGroup: number
}

export interface NativeAead {
  seal (batch: NativeBatch): number
  open (batch: NativeBatch, counters: BigUint64Array): number
  sealLeases (targets: Array<NativeBatch | LeaseHandle>, extents: Int32Array): number
  openLeases (targets: Array<NativeBatch | LeaseHandle>, extents: Int32Array, counters: BigUint64Array): number
  nextCounter (): bigint
  stats (): AeadStats
  sealOnThreadpool (batch: NativeBatch): Promise<NativeBatch>
}

export interface NativePool {
  leaseHandle (): LeaseHandle
  leaseBatch (count: number, size: number, headroom: number, tailroom: number): NativeBatch
  stats (): NativePoolStats
}

export interface NativeBinding extends NativeLeaseFunctions {
  NativePool: new (capBytes: number, scratch: Uint32Array) => NativePool
  NativeBatch: new () => NativeBatch
  NativeAead: new (spec: Record<string, unknown>) => NativeAead
  aeadLimits: NativeAeadLimits
  limits: NativeLimits
  /** The keys of TunStats.coalesceRefusals, in the addon's order (GroRefusal). */
  coalesceRefusals: readonly string[]
  /**
   * Each stats shape with every count 0, built by the same code as the stats() methods (from
   * the field lists in src-native/core): test/shared-facts.test.ts holds the TS interfaces to them.
   */
  statsShapes: { tunQueue: object, tun: object, peerErrors: object, udp: object, aead: object, pool: object }
  /**
   * The core's defaults for the options that have one (TunOptions, TunIoOptions, UdpOptions,
   * SendQueue, BufferPool): what the addon applies to an option it is not given. TUN_DEFAULTS and
   * UDP_DEFAULTS are held to them by test/shared-facts.test.ts.
   */
  nativeDefaults: { tun: Record<string, number | boolean>, udp: Record<string, number | boolean>, pool: { capBytes: number } }
  batchLayout: NativeBatchLayout
  setExternalBuffers (allowed: boolean): void
  setOpenSslAllowed (allowed: boolean): void
  [name: string]: unknown
}
