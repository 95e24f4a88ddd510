/** TUN devices with virtio-net offloads: batched reads (GSO split) and coalesced writes. */
import { binding } from './binding'
import { closedError, invalidOption } from './errors'
import { TypedEmitter } from './events'
import type { PacketBatch } from './lease'
import type { NativeBatch } from './native'
import { boolOption, checkKnownKeys, checkOptionsObject, cidrOption, intOption, offloadOption } from './options'
import { toNativeItems, type PacketInput } from './packets'
import { Pool, getDefaultPool, type PoolStats } from './pool'
import { BatchReader, type NativeReadResult } from './reader'

export interface TunOptions {
  /** Interface name (max 15 bytes); omitted: the kernel picks tun%d. */
  name?: string
  /** 'tun' (IP packets, default) or 'tap' (Ethernet frames). */
  mode?: 'tun' | 'tap'
  /** 'auto' (default): the best the kernel accepts; true: fail if TSO is refused; false: none. */
  offload?: 'auto' | boolean
  /** Queues (IFF_MULTI_QUEUE when > 1), one fd each. */
  queues?: number
  /**
   * IFF_MULTI_QUEUE even with one queue (implied by queues > 1): a device whose other queues
   * worker threads or other processes attach (see docs/multiqueue.md).
   */
  multiQueue?: boolean
  /**
   * Open queues on an existing device instead of creating one; the link is left as it is:
   * `mtu`, `addresses`, `up`, `txqueuelen` and `gsoMaxSize` are refused with
   * ERR_TUNIO_INVALID_OPTION alongside it. Without it, an existing name fails with
   * ERR_TUNIO_TUN_EXISTS.
   */
  attach?: boolean
  persist?: boolean
  owner?: number
  group?: number
  mtu?: number
  /** Addresses to add, e.g. ['10.8.0.1/24', 'fd08::1/64']. */
  addresses?: string[]
  /** Bring the link up (default true). */
  up?: boolean
  txqueuelen?: number
  /** Largest superpacket the kernel may hand us; default fits one UDP_SEGMENT send after splitting. */
  gsoMaxSize?: number
  /** false: deliver superpackets whole with `lease.gso` instead of one lease per IP packet. */
  split?: boolean
  coalesceTcp?: boolean
  coalesceUdp?: boolean
  /** Kernel reads per read() batch (default 64). */
  batchSize?: number
  /**
   * Bytes reserved in front of every packet read, for a header added in place (e.g.
   * `aead.seal()`: use `aead.headroom`). Default 0, at most 512.
   */
  headroom?: number
  /**
   * Bytes reserved behind every packet read, for a tag (and padding) added in place
   * (`aead.tailroom`). With exactly what sealing adds, the sealed segments of one superpacket
   * stay back to back: one contiguous UDP_SEGMENT send. Default 0, at most 512.
   */
  tailroom?: number
  /** Packets write() may hold while the device is not writable (default 4096); more are dropped and counted. */
  writeQueueLength?: number
  pool?: Pool
}

export interface TunOffload { vnetHdr: boolean, csum: boolean, tso4: boolean, tso6: boolean, uso: boolean }

/**
 * Why a packet written to the TUN was kept out of a coalesced superpacket: the first rule it
 * failed (the rules follow the kernel's own GRO; see src-native/core/gro_coalesce.h).
 * Kept out of every superpacket: `noPorts` (not TCP/UDP, a fragment, IPv6 extension headers,
 * malformed), `lengthMismatch` (IP length is not the bytes written), `noPayload` (pure ACK),
 * `ipOptions`, `tooLong`, `segmentLimit`, `offloadOff` (TSO/USO not accepted or
 * `coalesceTcp`/`coalesceUdp` false), `tcpFlags` (SYN, FIN, RST, URG, CWR, ECE),
 * `tcpReservedBits`, `udpLengthMismatch`, `pshOnHead` (PSH ends a burst).
 * Kept out of its flow's open group (it starts a new one): `groupFull`, `groupTooLong`,
 * `largerThanSegment`, `headerLengthDiffers` (e.g. TCP options), `ipFieldsDiffer` (TOS/ECN,
 * TTL, DF; IPv6 traffic class, flow label, hop limit), `seqNotAdjacent` (loss or reordering
 * upstream), `tcpFieldsDiffer` (ACK number, window, options).
 */
export type CoalesceRefusal = 'noPorts' | 'lengthMismatch' | 'noPayload' | 'ipOptions' | 'tooLong' |
  'segmentLimit' | 'offloadOff' | 'tcpFlags' | 'tcpReservedBits' | 'udpLengthMismatch' | 'pshOnHead' |
  'groupFull' | 'groupTooLong' | 'largerThanSegment' | 'headerLengthDiffers' | 'ipFieldsDiffer' |
  'seqNotAdjacent' | 'tcpFieldsDiffer'

export interface TunQueueStats {
  packetsIn: number, bytesIn: number, superpacketsIn: number, segmentsIn: number
  packetsOut: number, bytesOut: number, superpacketsOut: number, segmentsOut: number
  checksumsCompleted: number
  syscalls: { read: number, writev: number }
  drops: { malformed: number, poolExhausted: number, writeRejected: number, queueFull: number, oversize: number }
  readErrors: number
  /**
   * Coalesced writes the kernel refused (EINVAL): re-sent one by one, and coalescing turned
   * off for the device until a probe after a back-off (1 s, doubling up to 60 s while probes
   * are refused; see `coalesceRetries`). Never off for good.
   */
  coalesceFallbacks: number
  /**
   * Packets written that coalescing kept out of superpackets, by reason (counted while
   * coalescing is on). Many `seqNotAdjacent` point at loss or reordering before the TUN;
   * `offloadOff` at a kernel without TSO/USO on the device.
   */
  coalesceRefusals: Record<CoalesceRefusal, number>
  poolWaits: number
  writeQueued: number
}

export interface TunStats extends TunQueueStats {
  /** Per queue, with `attached` (TUNSETQUEUE state). */
  queues: Array<TunQueueStats & { attached: boolean }>
  coalescingTcp: boolean
  coalescingUdp: boolean
  /** Times coalescing was switched on again after a refusal (each a probe of the kernel). */
  coalesceRetries: number
  pool: PoolStats
}

export interface LinkStats {
  mtu: number, txqueuelen: number, gsoMaxSize: number, up: boolean
  rxPackets: number, txPackets: number, rxBytes: number, txBytes: number
  rxErrors: number, txErrors: number, rxDropped: number, txDropped: number
}

interface NativeTun {
  readBatch (q: number): NativeReadResult
  write (q: number, items: Array<NativeBatch | ArrayBufferView>): number
  watchReadable (q: number, on: boolean): void
  stats (): TunStats
  info (): { name: string, ifindex: number, queues: number, multiQueue: boolean, offload: TunOffload, gsoMaxSize?: number, gsoMaxSizeError?: string }
  linkStats (): LinkStats
  setQueueAttached (q: number, on: boolean): void
  forceCoalesceEinvalOnce (q: number): void
  close (): void
}

const KNOWN = ['name', 'mode', 'offload', 'queues', 'multiQueue', 'attach', 'persist', 'owner', 'group', 'mtu', 'addresses', 'up',
  'txqueuelen', 'gsoMaxSize', 'split', 'coalesceTcp', 'coalesceUdp', 'batchSize', 'headroom', 'tailroom', 'writeQueueLength', 'pool'] as const

/** Options that configure the link, which attach leaves as it is. */
const LINK_OPTIONS = ['mtu', 'addresses', 'up', 'txqueuelen', 'gsoMaxSize'] as const

function validate (options: TunOptions): Record<string, unknown> {
  checkOptionsObject(options)
  checkKnownKeys(options, KNOWN, 'openTun()')
  if (options.attach === true) {
    for (const key of LINK_OPTIONS) {
      if (options[key] !== undefined) {
        throw invalidOption(key, 'is not applied with attach: true (attaching opens queues and leaves the link as it is)')
      }
    }
  }
  const o: Record<string, unknown> = {}
  if (options.name !== undefined) {
    if (typeof options.name !== 'string' || options.name.length === 0) throw invalidOption('name', 'must be a non-empty string')
    if (Buffer.byteLength(options.name) > 15) throw invalidOption('name', `"${options.name}" is longer than 15 bytes (IFNAMSIZ)`)
    if (/[\s/:]/.test(options.name) || options.name === '.' || options.name === '..') throw invalidOption('name', `"${options.name}" is not a valid interface name`)
    o.name = options.name
  }
  if (options.mode !== undefined && options.mode !== 'tun' && options.mode !== 'tap') throw invalidOption('mode', "must be 'tun' or 'tap'")
  o.mode = options.mode ?? 'tun'
  o.offload = offloadOption('offload', options.offload)
  o.queues = intOption('queues', options.queues, 1, 256) ?? 1
  o.multiQueue = boolOption('multiQueue', options.multiQueue) ?? false
  o.attach = boolOption('attach', options.attach) ?? false
  o.persist = boolOption('persist', options.persist) ?? false
  o.owner = intOption('owner', options.owner, 0, 2 ** 32 - 2)
  o.group = intOption('group', options.group, 0, 2 ** 32 - 2)
  o.mtu = intOption('mtu', options.mtu, 68, 65535)
  if (options.addresses !== undefined) {
    if (!Array.isArray(options.addresses)) throw invalidOption('addresses', 'must be an array of CIDR strings')
    o.addresses = options.addresses.map((a) => cidrOption('addresses', a))
  }
  o.up = boolOption('up', options.up) ?? true
  o.txqueuelen = intOption('txqueuelen', options.txqueuelen, 1, 2 ** 31 - 1)
  o.gsoMaxSize = intOption('gsoMaxSize', options.gsoMaxSize, 1280, 65536)
  o.split = boolOption('split', options.split) ?? true
  o.coalesceTcp = boolOption('coalesceTcp', options.coalesceTcp) ?? true
  o.coalesceUdp = boolOption('coalesceUdp', options.coalesceUdp) ?? true
  o.batchSize = intOption('batchSize', options.batchSize, 1, 1024) ?? 64
  o.headroom = intOption('headroom', options.headroom, 0, binding().aeadLimits.maxPacketRoom) ?? 0
  o.tailroom = intOption('tailroom', options.tailroom, 0, binding().aeadLimits.maxPacketRoom) ?? 0
  o.writeQueueLength = intOption('writeQueueLength', options.writeQueueLength, 1, 1 << 20) ?? 4096
  if (options.pool !== undefined && !(options.pool instanceof Pool)) throw invalidOption('pool', 'must be a tunio Pool')
  return o
}

/** One queue of a device: each can be read and written on its own (one per worker/thread). */
export class TunQueue implements AsyncIterable<PacketBatch> {
  readonly index: number
  readonly #tun: Tun
  readonly #native: NativeTun
  #attached = true
  /** @internal */
  readonly reader: BatchReader

  /** @internal */
  constructor (tun: Tun, native: NativeTun, index: number) {
    this.#tun = tun
    this.#native = native
    this.index = index
    this.reader = new BatchReader(() => native.readBatch(index), (on) => native.watchReadable(index, on))
  }

  /** false after detach(): the kernel steers no packet to this queue. */
  get attached (): boolean { return this.#attached }

  /**
   * TUNSETQUEUE IFF_DETACH_QUEUE (multi-queue devices only): the kernel stops steering packets
   * here (and drops what was waiting to be read); the fd keeps the device alive and can still
   * write. Used by a thread that holds a device whose queues other threads attach.
   */
  detach (): void { this.#setAttached(false) }

  /** TUNSETQUEUE IFF_ATTACH_QUEUE: undoes detach(). */
  attach (): void { this.#setAttached(true) }

  #setAttached (on: boolean): void {
    if (this.#tun.closed) throw closedError(`TUN device ${this.#tun.name}`)
    this.#native.setQueueAttached(this.index, on)
    this.#attached = on
  }

  /** The next batch of packets (one lease per IP packet), or null once the device is closed. */
  read (): Promise<PacketBatch | null> { return this.reader.read() }

  /** Writes packets; leases and batches move to the device. Returns how many were accepted. */
  write (packets: PacketInput): number { return this.#tun.writeQueue(this.index, packets) }

  [Symbol.asyncIterator] (): AsyncIterator<PacketBatch> { return this.reader.iterate() }
}

/** The events of a Tun device and their listener arguments (`tun.on(name, listener)`). */
export interface TunEvents {
  /** Emitted once, from the first close(), when every queue is closed (`closed` is true). */
  close: []
}

export class Tun extends TypedEmitter<TunEvents> implements AsyncIterable<PacketBatch> {
  /** The device's real name (the kernel's choice when none was given). */
  readonly name: string
  readonly ifindex: number
  /** What the kernel accepted. */
  readonly offload: TunOffload
  /** gso_max_size set on the link, when the kernel took it. */
  readonly gsoMaxSize: number | undefined
  /** IFF_MULTI_QUEUE: other queues may be attached by name (also by other threads/processes). */
  readonly multiQueue: boolean
  readonly pool: Pool
  readonly queues: readonly TunQueue[]
  readonly #native: NativeTun
  #closed = false

  /** @internal use openTun() */
  constructor (options: TunOptions) {
    super()
    const o = validate(options)
    this.pool = options.pool ?? getDefaultPool()
    const { NativeTun: Ctor } = binding() as unknown as { NativeTun: new (o: object, p: unknown, cb: (q: number) => void) => NativeTun }
    const queues: TunQueue[] = []
    this.#native = new Ctor(o, this.pool.native, (q: number) => queues[q]?.reader.onReadable())
    const info = this.#native.info()
    this.name = info.name
    this.ifindex = info.ifindex
    this.offload = info.offload
    this.gsoMaxSize = info.gsoMaxSize
    this.multiQueue = info.multiQueue
    for (let q = 0; q < info.queues; q++) queues.push(new TunQueue(this, this.#native, q))
    this.queues = queues
  }

  get closed (): boolean { return this.#closed }

  /** Reads the next batch from queue 0 (see queues[i] for the others). */
  read (): Promise<PacketBatch | null> { return this.queues[0].read() }

  /** Writes packets on queue 0. Leases and batches move to the device (ownership). */
  write (packets: PacketInput): number { return this.writeQueue(0, packets) }

  /**
   * Test hook: the next coalesced write on `queue` (default 0) behaves as if the kernel had
   * refused it with EINVAL, as some 2024 stable kernels do. The segments are then written one
   * by one, coalescing turns off for the device until a probe after a back-off, and
   * stats().coalesceFallbacks counts it.
   */
  forceCoalesceEinvalOnce (queue = 0): void {
    if (this.#closed) throw closedError(`TUN device ${this.name}`)
    this.#native.forceCoalesceEinvalOnce(queue)
  }

  /** @internal */
  writeQueue (q: number, packets: PacketInput): number {
    if (this.#closed) throw closedError(`TUN device ${this.name}`)
    return this.#native.write(q, toNativeItems(packets, { argument: 'packets' }))
  }

  [Symbol.asyncIterator] (): AsyncIterator<PacketBatch> { return this.queues[0][Symbol.asyncIterator]() }

  stats (): TunStats { return this.#native.stats() }

  /** The kernel's counters for the link (rtnetlink IFLA_STATS64), as `ip -s link` shows them. */
  linkStats (): LinkStats {
    if (this.#closed) throw closedError(`TUN device ${this.name}`)
    return this.#native.linkStats()
  }

  /**
   * Closes every queue (idempotent; also `[Symbol.dispose]`). Pending reads resolve null and the
   * iterators end. Packets write() still holds because the device was not writable
   * (`stats().writeQueued`) are discarded, their pool memory returned, not counted as drops;
   * leases and batches already read stay valid until released. A non-persistent device
   * disappears with its last fd (also another process's or thread's). Then 'close' is emitted.
   * Later write() and linkStats() throw ERR_TUNIO_CLOSED.
   */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    for (const q of this.queues) q.reader.close()
    this.#native.close()
    this.emit('close')
  }

  [Symbol.dispose] (): void { this.close() }
}

/** Opens (or attaches to) a TUN device and configures its link. Needs CAP_NET_ADMIN. */
export async function openTun (options: TunOptions = {}): Promise<Tun> {
  return new Tun(options)
}
