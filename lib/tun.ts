/** TUN devices with virtio-net offloads: batched reads (GSO split) and coalesced writes. */
import { binding } from './binding'
import { EventEmitter } from 'events'
import { closedError, invalidArg, invalidOption } from './errors'
import { TypedEmitter } from './events'
import type { PacketBatch } from './lease'
import type { NativeBatch } from './native'
import { boolOption, checkKnownKeys, checkOptionsObject, describe, intOption, offloadOption, stringOption } from './options'
import { toNativeItems, type PacketInput } from './packets'
import { Pool, getDefaultPool, type PoolStats } from './pool'
import { BatchReader, type NativeReadResult } from './reader'
import { injectFault, registerTestHooks } from './test-hooks'
import { endForwards, forwardEnds, forwardTunToUdp, registerForwardEnd, type Forward, type ForwardEndInfo, type TunForwardOptions } from './forward'
import type { Udp } from './udp'
import { alreadyGone, publicRoute, routeChange, routeSpec, ruleChange, ruleSpec, sameEntry, type Route, type RouteOptions, type Rule, type RuleOptions } from './routes'

/**
 * The defaults openTun() applies to the options below that have one of tunio's own (the
 * others are the kernel's or none). The one place they are defined: openTun() reads them
 * from here, and each option's doc comment states its value (test/options.test.ts checks).
 */
export const TUN_DEFAULTS = Object.freeze({
  mode: 'tun',
  offload: 'auto',
  queues: 1,
  multiQueue: false,
  attach: false,
  persist: false,
  up: true,
  split: true,
  coalesceTcp: true,
  coalesceUdp: true,
  batchSize: 64,
  headroom: 0,
  tailroom: 0,
  writeQueueLength: 4096
} as const)
import { disabledByEnv } from './offload-env'

export interface TunOptions {
  /**
   * A queue fd of a device someone else opened and configured (a privileged helper, received
   * with `receiveFd()`), so this process needs no CAP_NET_ADMIN. tunio takes the fd over (closes
   * it on close(); on a failed open it stays yours). Offloads need the fd opened with
   * IFF_VNET_HDR (tunio's openTun does that when the kernel has offloads); TUNSETOFFLOAD is
   * probed as for any device. The device and link options (`name`, `mode`, `queues`,
   * `multiQueue`, `attach`, `persist`, `owner`, `group`, `mtu`, `addresses`, `up`,
   * `txqueuelen`, `gsoMaxSize`) are refused alongside it: the helper sets them.
   * Default: none (tunio opens /dev/net/tun itself).
   */
  fd?: number
  /** Interface name (max 15 bytes). Default: the kernel picks the next free tun%d. */
  name?: string
  /** 'tun' (IP packets) or 'tap' (Ethernet frames). Default 'tun'. */
  mode?: 'tun' | 'tap'
  /** 'auto': the best the kernel accepts; true: fail if TSO is refused; false: none. Default 'auto'. */
  offload?: 'auto' | boolean
  /** Queues (IFF_MULTI_QUEUE when > 1), one fd each, 1 to 256. Default 1. */
  queues?: number
  /**
   * IFF_MULTI_QUEUE even with one queue (implied by queues > 1): a device whose other queues
   * worker threads or other processes attach (see docs/multiqueue.md). Default false.
   */
  multiQueue?: boolean
  /**
   * Open queues on an existing device instead of creating one; the link is left as it is:
   * `mtu`, `addresses`, `up`, `txqueuelen` and `gsoMaxSize` are refused with
   * ERR_TUNIO_INVALID_OPTION alongside it. Without it, an existing name fails with
   * ERR_TUNIO_TUN_EXISTS. Default false.
   */
  attach?: boolean
  /**
   * TUNSETPERSIST: the device stays after its last fd is closed. Default false: it disappears
   * with close(). A persistent device is removed with `ip link del NAME`.
   */
  persist?: boolean
  /**
   * TUNSETOWNER: this uid may open the device (attach to it) without CAP_NET_ADMIN. Default:
   * none set (only CAP_NET_ADMIN may open it).
   */
  owner?: number
  /**
   * TUNSETGROUP: members of this gid may open the device without CAP_NET_ADMIN. Default: none
   * set.
   */
  group?: number
  /** Link MTU in bytes, 68 to 65535. Default: the kernel's, 1500 for a new TUN device. */
  mtu?: number
  /** Addresses to add, e.g. ['10.8.0.1/24', 'fd08::1/64']. Default: none. */
  addresses?: string[]
  /** Bring the link up. Default true. */
  up?: boolean
  /** The link's transmit queue length in packets. Default: the kernel's, 500 for a new TUN device. */
  txqueuelen?: number
  /**
   * Largest superpacket the kernel may hand us (gso_max_size, 1280 to 65536). Default: the
   * largest whose segments, each at most the MTU, fit one UDP_SEGMENT send after splitting
   * (about 62,000 bytes at MTU 1420); `tun.gsoMaxSize` shows what was set.
   */
  gsoMaxSize?: number
  /** false: deliver superpackets whole with `lease.gso` instead of one lease per IP packet. Default true. */
  split?: boolean
  /**
   * Coalesce the TCP segments of one flow in a write() into TSO superpackets (used only when
   * the kernel accepted TSO: `tun.offload.tso4/tso6`). Default true.
   */
  coalesceTcp?: boolean
  /**
   * Coalesce the UDP datagrams of one flow in a write() into USO superpackets (used only when
   * the kernel accepted USO: `tun.offload.uso`). Default true.
   */
  coalesceUdp?: boolean
  /** Kernel reads per read() batch, 1 to 1024. Default 64. */
  batchSize?: number
  /**
   * Bytes reserved in front of every packet read, for a header added in place (e.g.
   * `aead.seal()`: use `aead.headroom`), at most 512. Default 0.
   */
  headroom?: number
  /**
   * Bytes reserved behind every packet read, for a tag (and padding) added in place
   * (`aead.tailroom`), at most 512. With exactly what sealing adds, the sealed segments of one
   * superpacket stay back to back: one contiguous UDP_SEGMENT send. Default 0.
   */
  tailroom?: number
  /**
   * Packets write() may hold per queue while the device is not writable (see 'congestion');
   * more are dropped and counted ('drop', `stats().drops.queueFull`). Default 4096.
   */
  writeQueueLength?: number
  /** Where read packets live and write() copies Buffers to. Default: getDefaultPool(). */
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
  /** Times coalescing went from on to off after a refused coalesced write ('offload' event, `enabled: false`). */
  coalesceSuspensions: number
  /** Probes the kernel refused again: coalescing stayed off and the back-off doubled (no event). */
  coalesceProbeFailures: number
  /** Times a probe's coalesced write went out and coalescing stayed on ('offload' event, `enabled: true`). */
  coalesceRestores: number
  /**
   * The kernel hands over TSO/USO superpackets on read now: the offloads negotiated at open, unless
   * switched off (`setOffload('tso', false)`, TUNIO_DISABLE_TUN_TSO).
   */
  readOffload: boolean
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
  takeEvents (): NativeTunEvent[] | undefined
  setOffload (offload: 'tso' | 'coalescing', on: boolean): boolean
  watchLink (cb: ((event: TunLinkEvent | Error) => void) | null): void
  queueFd (q: number): number
  close (): void
}

const KNOWN = ['fd', 'name', 'mode', 'offload', 'queues', 'multiQueue', 'attach', 'persist', 'owner', 'group', 'mtu', 'addresses', 'up',
  'txqueuelen', 'gsoMaxSize', 'split', 'coalesceTcp', 'coalesceUdp', 'batchSize', 'headroom', 'tailroom', 'writeQueueLength', 'pool'] as const

/** Options that configure the link, which attach leaves as it is. */
const LINK_OPTIONS = ['mtu', 'addresses', 'up', 'txqueuelen', 'gsoMaxSize'] as const
/** Options a device opened from an fd takes from whoever opened it. */
const NOT_WITH_FD = ['name', 'mode', 'queues', 'multiQueue', 'attach', 'persist', 'owner', 'group', ...LINK_OPTIONS] as const

function validate (options: TunOptions): Record<string, unknown> {
  checkOptionsObject(options)
  checkKnownKeys(options, KNOWN, 'openTun()')
  if (options.fd !== undefined) {
    for (const key of NOT_WITH_FD) {
      if (options[key] !== undefined) {
        throw invalidOption(key, 'is not applied with fd (the process that opened the device sets up the device and its link)')
      }
    }
  }
  if (options.attach === true) {
    for (const key of LINK_OPTIONS) {
      if (options[key] !== undefined) {
        throw invalidOption(key, 'is not applied with attach: true (attaching opens queues and leaves the link as it is)')
      }
    }
  }
  const o: Record<string, unknown> = {}
  const fd = intOption('fd', options.fd, 0, 2 ** 31 - 1)
  if (fd !== undefined) o.fd = fd
  // The kernel's rules for the name (length, characters, one %d template) are checked by the
  // core's valid_ifname, before the device is opened.
  const name = stringOption('name', options.name)
  if (name !== undefined) o.name = name
  if (options.mode !== undefined && options.mode !== 'tun' && options.mode !== 'tap') throw invalidOption('mode', "must be 'tun' or 'tap'")
  o.mode = options.mode ?? TUN_DEFAULTS.mode
  o.offload = offloadOption('offload', options.offload ?? TUN_DEFAULTS.offload)
  const limits = binding().limits
  o.queues = intOption('queues', options.queues, 1, limits.tunQueues) ?? TUN_DEFAULTS.queues
  o.multiQueue = boolOption('multiQueue', options.multiQueue) ?? TUN_DEFAULTS.multiQueue
  o.attach = boolOption('attach', options.attach) ?? TUN_DEFAULTS.attach
  o.persist = boolOption('persist', options.persist) ?? TUN_DEFAULTS.persist
  o.owner = intOption('owner', options.owner, 0, 2 ** 32 - 2)
  o.group = intOption('group', options.group, 0, 2 ** 32 - 2)
  o.mtu = intOption('mtu', options.mtu, 68, 65535)
  if (options.addresses !== undefined) {
    if (!Array.isArray(options.addresses)) throw invalidOption('addresses', 'must be an array of CIDR strings')
    // Each address's text is checked where it is parsed, by the core's parse_cidr (the
    // addon refuses it before opening anything, with the reason a route's `to` gets too).
    o.addresses = options.addresses.map((a: unknown) => {
      if (typeof a !== 'string') throw invalidOption('addresses', `must be a CIDR string like "10.8.0.1/24", got ${describe(a)}`)
      return a
    })
  }
  o.up = boolOption('up', options.up) ?? TUN_DEFAULTS.up
  o.txqueuelen = intOption('txqueuelen', options.txqueuelen, 1, 2 ** 31 - 1)
  o.gsoMaxSize = intOption('gsoMaxSize', options.gsoMaxSize, 1280, 65536)
  o.split = boolOption('split', options.split) ?? TUN_DEFAULTS.split
  o.coalesceTcp = boolOption('coalesceTcp', options.coalesceTcp) ?? TUN_DEFAULTS.coalesceTcp
  o.coalesceUdp = boolOption('coalesceUdp', options.coalesceUdp) ?? TUN_DEFAULTS.coalesceUdp
  // The operator's switches (lib/offload-env.ts): read superpackets / coalesced writes off.
  o.disableReadOffload = disabledByEnv('tunTso')
  o.disableCoalescing = disabledByEnv('tunGro')
  o.batchSize = intOption('batchSize', options.batchSize, 1, 1024) ?? TUN_DEFAULTS.batchSize
  o.headroom = intOption('headroom', options.headroom, 0, limits.packetRoom) ?? TUN_DEFAULTS.headroom
  o.tailroom = intOption('tailroom', options.tailroom, 0, limits.packetRoom) ?? TUN_DEFAULTS.tailroom
  o.writeQueueLength = intOption('writeQueueLength', options.writeQueueLength, 1, 1 << 20) ?? TUN_DEFAULTS.writeQueueLength
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

/**
 * An 'offload' event: the kernel refused a coalesced write (a TSO/USO superpacket built from
 * the packets of one write()) with `errno` (EINVAL, as some 2024 stable kernels do), so
 * coalescing is suspended for the whole device (`enabled: false`); or a probe's coalesced write
 * went out and coalescing is back (`enabled: true`). The refused packets were written one by
 * one: nothing was lost. The first probe goes `retryMs` after the suspension (1 s, doubling up
 * to 60 s while probes are refused), so coalescing is never off for good. Counted in
 * `stats().coalesceSuspensions` / `coalesceRestores`. See docs/offloads.md.
 */
export interface TunOffloadEvent {
  offload: 'coalescing'
  enabled: boolean
  /** The errno of the refused write that suspended coalescing (on both events). */
  errno: string
  cause: 'writeRefused'
  /** The queue whose write was refused, or whose probe went out. */
  queue: number
  /** enabled: false: milliseconds until the next probe. */
  retryMs?: number
}

/**
 * A 'congestion' event: a queue's writes started waiting because the kernel refused more for
 * now (EAGAIN: the device's socket buffer is full; ENOBUFS). Nothing is lost yet: `queued`
 * packets wait for the fd to be writable, later write()s queue behind them, up to
 * `writeQueueLength` per queue. A 'drain' event with the queue's index follows when it is empty.
 */
export interface TunCongestion { queue: number, reason: 'EAGAIN' | 'ENOBUFS', queued: number }

/**
 * A 'drop' event: packets given to write() on `queue` that will never be written.
 * `queueFull`: the queue already held `writeQueueLength`; `poolExhausted`: a Buffer could not be
 * copied into the pool; `writeFailed`: the fd failed (`errno`, e.g. the device was deleted)
 * and what waited was discarded. Counted in `stats().drops`.
 */
export interface TunDrop { queue: number, reason: 'queueFull' | 'poolExhausted' | 'writeFailed', count: number, errno?: string }

interface NativeTunEvent { type: 'offload' | 'congestion' | 'drain' | 'drop', queue: number, reason?: string, count?: number, errno?: string, enabled?: boolean, retryMs?: number }

/**
 * A change of the device's link, from rtnetlink notifications (as wireguard-go's Events()):
 * `'up'` / `'down'` when it starts or stops being usable (administratively up with carrier:
 * IFF_UP and IFF_RUNNING), `'mtu'` when its MTU changes, `'removed'` when it is deleted or
 * moved to another network namespace (no event follows). The fields are the state after it.
 */
export interface TunLinkEvent {
  type: 'up' | 'down' | 'mtu' | 'removed'
  /** IFF_UP: administratively up. */
  up: boolean
  /** IFF_RUNNING: up with carrier (a TUN has carrier while a queue is attached). */
  running: boolean
  /** RFC 2863 operational state as `ip link` prints it: `'UP'`, `'DOWN'`, `'UNKNOWN'` (a TUN's usual), ... */
  operstate: string
  mtu: number
  /** For `'mtu'`: the MTU before. */
  previousMtu?: number
}

/** Route options for `tun.addRoute()`: a route through this device unless `dev` says otherwise. */
export interface TunRouteOptions extends RouteOptions {
  /**
   * Delete the route again in close() (default true). Only a route this Tun added is deleted,
   * matched by every field the kernel stored, so an equal route someone else added stays.
   */
  removeOnClose?: boolean
}

/** Rule options for `tun.addRule()`. */
export interface TunRuleOptions extends RuleOptions {
  /** Delete the rule again in close() (default true); only the rule this Tun added, by its priority and every selector. */
  removeOnClose?: boolean
}

/** The events of a Tun device and their listener arguments (`tun.on(name, listener)`). */
export interface TunEvents {
  /** Coalescing of written packets suspended after the kernel refused a coalesced write, or back after a probe. */
  offload: [event: TunOffloadEvent]
  /** A queue's writes started waiting for the kernel (EAGAIN/ENOBUFS): write() now queues. */
  congestion: [congestion: TunCongestion]
  /** That queue's wait is over: everything it held was written. */
  drain: [queue: number]
  /** Packets given to write() that will never be written (queue full, pool exhausted, fd failed), counted. */
  drop: [drop: TunDrop]
  /** Emitted once, from the first close(), when every queue is closed (`closed` is true). */
  close: []
  /**
   * Link changes (see TunLinkEvent). Watching starts with the first listener and stops with
   * the last; it never keeps the process alive by itself (like an unref'd timer).
   */
  link: [event: TunLinkEvent]
}

/**
 * A TUN (or TAP) device: `openTun()` creates or attaches it. Reads come as batches (`read()`,
 * `for await`), writes take leases, batches and byte sources (`write()`); `queues` for a
 * multi-queue device.
 *
 * Events (TunEvents): 'offload' (TunOffloadEvent): coalescing of written packets suspended after
 * the kernel refused a coalesced write, or back after a probe; never off for good.
 * 'congestion' (TunCongestion) and 'drain' (the queue index): a queue's writes started and
 * stopped waiting for the kernel. 'drop' (TunDrop): packets that will never be written. 'close'.
 * Each is also counted in stats().
 */
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
  #watchingLink = false
  /** Routes and rules to delete in close(), in the order they were added. */
  readonly #installed: Array<{ kind: 'route' | 'rule', stored: Record<string, unknown> }> = []

  /** @internal use openTun() */
  constructor (options: TunOptions) {
    super()
    const o = validate(options)
    this.pool = options.pool ?? getDefaultPool()
    const { NativeTun: Ctor } = binding() as unknown as { NativeTun: new (o: object, p: unknown, cb: (q: number, readable: boolean, events: boolean) => void) => NativeTun }
    const queues: TunQueue[] = []
    this.#native = new Ctor(o, this.pool.native, (q: number, readable: boolean, events: boolean) => {
      if (events) this.#emitEvents()
      if (readable) queues[q]?.reader.onReadable()
    })
    const info = this.#native.info()
    this.name = info.name
    this.ifindex = info.ifindex
    this.offload = info.offload
    this.gsoMaxSize = info.gsoMaxSize
    this.multiQueue = info.multiQueue
    for (let q = 0; q < info.queues; q++) queues.push(new TunQueue(this, this.#native, q))
    this.queues = queues
    registerForwardEnd(this, 'tun', this.#native)
    registerTestHooks(this, {
      forceCoalesceEinvalOnce: (queue) => {
        if (this.#closed) throw closedError(`TUN device ${this.name}`)
        injectFault(this.#native, 'coalesceEinval', queue)
      },
      forceTunWriteErrorOnce: (queue, errno, skip) => {
        if (this.#closed) throw closedError(`TUN device ${this.name}`)
        injectFault(this.#native, 'writeError', queue, errno, skip)
      }
    })
    // 'link' events cost a netlink socket: open it only while someone listens.
    const emitter = this as unknown as EventEmitter
    emitter.on('newListener', (event: string | symbol) => {
      if (event !== 'link' || this.#watchingLink || this.#closed) return
      this.#native.watchLink((e) => {
        if (e instanceof Error) process.emitWarning(e)
        else this.emit('link', e)
      })
      this.#watchingLink = true
    })
    emitter.on('removeListener', (event: string | symbol) => {
      if (event !== 'link' || !this.#watchingLink || emitter.listenerCount('link') > 0) return
      this.#watchingLink = false
      if (!this.#closed) this.#native.watchLink(null)
    })
  }

  /**
   * Adds a route (see RouteOptions), through this device unless `dev` names another (a
   * unicast route; `via` alone is a gateway on this device). Needs CAP_NET_ADMIN. With
   * `removeOnClose` (default) close() deletes it again. Returns it as the kernel stored it.
   * Errors: ERR_TUNIO_INVALID_OPTION naming the option; ERR_TUNIO_ROUTE with `errno` (`EEXIST`
   * when the same route exists, `ENETUNREACH` for an unreachable gateway, `EPERM` ...).
   */
  addRoute (options: TunRouteOptions): Route {
    if (this.#closed) throw closedError(`TUN device ${this.name}`)
    const removeOnClose = boolOption('removeOnClose', options?.removeOnClose) ?? true
    const stored = routeChange(true, routeSpec(options, ['removeOnClose'], this.ifindex))
    if (removeOnClose) this.#installed.push({ kind: 'route', stored })
    return publicRoute(stored)
  }

  /** Deletes a route (the same defaults as addRoute); close() will not try again. */
  deleteRoute (options: TunRouteOptions | Route): void {
    if (this.#closed) throw closedError(`TUN device ${this.name}`)
    const deleted = routeChange(false, { ...routeSpec(options as TunRouteOptions, ['removeOnClose'], this.ifindex), protocol: 0 })
    this.#forget('route', deleted)
  }

  /**
   * Adds a policy rule (see RuleOptions). Needs CAP_NET_ADMIN. With `removeOnClose` (default)
   * close() deletes it again. Returns it as the kernel stored it, with its priority. Errors:
   * ERR_TUNIO_INVALID_OPTION; ERR_TUNIO_RULE with `errno` (`EEXIST`, `EPERM` ...).
   */
  addRule (options: TunRuleOptions): Rule {
    if (this.#closed) throw closedError(`TUN device ${this.name}`)
    const removeOnClose = boolOption('removeOnClose', options?.removeOnClose) ?? true
    const stored = ruleChange(true, ruleSpec(options, ['removeOnClose']))
    if (removeOnClose) this.#installed.push({ kind: 'rule', stored })
    return stored as unknown as Rule
  }

  /** Deletes a rule; close() will not try again. */
  deleteRule (options: TunRuleOptions | Rule): void {
    if (this.#closed) throw closedError(`TUN device ${this.name}`)
    this.#forget('rule', ruleChange(false, ruleSpec(options as TunRuleOptions, ['removeOnClose'])))
  }

  #forget (kind: 'route' | 'rule', deleted: Record<string, unknown>): void {
    const i = this.#installed.findIndex((e) => e.kind === kind && sameEntry(e.stored, deleted))
    if (i >= 0) this.#installed.splice(i, 1)
  }

  /** @internal The fd of a queue, for sendFd(). */
  queueFd (queue = 0): number {
    if (this.#closed) throw closedError(`TUN device ${this.name}`)
    return this.#native.queueFd(queue)
  }

  get closed (): boolean { return this.#closed }

  /** Reads the next batch from queue 0 (see queues[i] for the others). */
  read (): Promise<PacketBatch | null> { return this.queues[0].read() }

  /** Writes packets on queue 0. Leases and batches move to the device (ownership). */
  write (packets: PacketInput): number { return this.writeQueue(0, packets) }

  /**
   * Turns an offload of the device on or off while it runs (an operator's switch; the same as
   * the TUNIO_DISABLE_TUN_TSO / TUNIO_DISABLE_TUN_GRO environment variables at open). 'tso':
   * superpackets on read (TUNSETOFFLOAD 0, or back to what open() negotiated; what the kernel
   * queued before still arrives as superpackets and is split as always). 'coalescing': coalesced
   * writes (GRO on write) for every queue; while off, no back-off probe turns them on again.
   * Returns whether the offload is on now (false where open() negotiated none).
   * `stats().readOffload`, `coalescingTcp`/`coalescingUdp`, `superpacketsIn`/`Out` show it.
   */
  setOffload (offload: 'tso' | 'coalescing', enabled: boolean): boolean {
    if (this.#closed) throw closedError(`TUN device ${this.name}`)
    if (offload !== 'tso' && offload !== 'coalescing') throw invalidArg('offload', `must be 'tso' or 'coalescing', got ${String(offload)}`)
    if (typeof enabled !== 'boolean') throw invalidArg('enabled', 'must be a boolean')
    return this.#native.setOffload(offload, enabled)
  }

  /** @internal */
  writeQueue (q: number, packets: PacketInput): number {
    if (this.#closed) throw closedError(`TUN device ${this.name}`)
    const n = this.#native.write(q, toNativeItems(packets, { argument: 'packets' }))
    this.#emitEvents()
    return n
  }

  #emitEvents (): void {
    const events = this.#native.takeEvents()
    if (events === undefined) return
    for (const e of events) {
      if (e.type === 'drain') this.emit('drain', e.queue)
      else if (e.type === 'congestion') this.emit('congestion', { queue: e.queue, reason: e.reason, queued: e.count } as TunCongestion)
      else if (e.type === 'offload') {
        const out: TunOffloadEvent = { offload: 'coalescing', enabled: e.enabled === true, errno: e.errno as string, cause: 'writeRefused', queue: e.queue }
        if (e.retryMs !== undefined) out.retryMs = e.retryMs
        this.emit('offload', out)
      } else {
        this.emit('drop', { queue: e.queue, reason: e.reason, count: e.count, ...(e.errno !== undefined ? { errno: e.errno } : {}) } as TunDrop)
      }
    }
  }

  [Symbol.asyncIterator] (): AsyncIterator<PacketBatch> { return this.queues[0][Symbol.asyncIterator]() }

  stats (): TunStats { return this.#native.stats() }

  /**
   * Forwards every packet read from the device (queue `options.queue`, default 0) to `udp`
   * natively (see Forward): each round of reads goes from the read and split to the socket's
   * send (UDP_SEGMENT runs included), sealed first with `options.seal`, without a JavaScript
   * turn per batch. Meanwhile that queue's read() and iterator throw ERR_TUNIO_FORWARDING.
   * Throws ERR_TUNIO_FORWARDING when the queue is already forwarded or the socket already
   * receives a forward, ERR_TUNIO_CLOSED when either is closed, ERR_TUNIO_INVALID_OPTION for
   * a bad option (`to` is required unless the socket is connected).
   */
  forward (udp: Udp, options: TunForwardOptions = {}): Forward {
    if (this.#closed) throw closedError(`TUN device ${this.name}`)
    return forwardTunToUdp(forwardEnds.get(this) as ForwardEndInfo, udp, options)
  }

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
   * disappears with its last fd (also another process's or thread's). Routes and rules added
   * with `removeOnClose` are deleted first, and link watching stops. Then 'close' is emitted
   * (no 'drain' or 'drop' for the discarded writes). Later write() and linkStats() throw
   * ERR_TUNIO_CLOSED; stats() still answers.
   */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    // Newest first, as a stack: a rule may point at a table whose routes were added before it.
    // Entries already gone (deleted by someone else, or with the device) are fine; anything
    // else becomes a process warning, since close() does not throw.
    for (const { kind, stored } of this.#installed.splice(0).reverse()) {
      try {
        if (kind === 'route') routeChange(false, stored)
        else ruleChange(false, stored)
      } catch (err) {
        if (!alreadyGone(err)) process.emitWarning(err as Error)
      }
    }
    endForwards(this)
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
