/**
 * Native forwarding: `tun.forward(udp, ...)` and `udp.forward(tun, ...)` hand every batch read
 * from one end to the other inside the native poll callback, with no JavaScript turn per batch.
 * For a data plane whose JavaScript only forwards (and seals or opens): the same read path, send
 * queue, GSO/GRO planning and AEAD batch calls as `for await (const b of tun) udp.send(b, to)`,
 * minus the promise, the batch object and the N-API calls of each batch (docs/performance.md).
 */
import { binding } from './binding'
import { invalidArg, invalidOption, type TunioError } from './errors'
import { checkKnownKeys, checkOptionsObject, intOption, type HostPort } from './options'
import type { Aead } from './aead'

/** Options of `tun.forward(udp, options)`: TUN packets out through the UDP socket. */
export interface TunForwardOptions {
  /**
   * Where every datagram goes. Required unless the socket was opened with `connect` (then its
   * peer is the default).
   */
  to?: string | HostPort
  /**
   * Seal every packet with this Aead before it is sent (the device needs `headroom` and
   * `tailroom` of at least the Aead's). The forward owns the Aead until it stops: its seal()
   * and open() throw ERR_TUNIO_FORWARDING meanwhile. When its counters run out the forward
   * stops with ERR_TUNIO_AEAD_COUNTER_LIMIT (`done`).
   */
  seal?: Aead
  /** The queue of a multi-queue device to read. Default 0. */
  queue?: number
  /**
   * Kernel reads (superpackets) per round: each round is read, split, sealed and sent before
   * the next is read; rounds repeat until the queue is empty. 1 to 1024. Default 64, or 8 with
   * `seal` (a sealed round of about 0.5 MB is sealed and sent while it is still in the CPU
   * cache; an unsealed one has no pass between the split and the send, and fewer, larger sends
   * wake the peer less often).
   */
  batchSize?: number
}

/** Options of `udp.forward(tun, options)`: datagrams out through the TUN device. */
export interface UdpForwardOptions {
  /**
   * Open every datagram with this Aead before it is written; those that fail (forged,
   * corrupted, replayed with a replay window) are dropped and counted in its stats and in
   * `stats().transformDrops`. The forward owns the Aead until it stops.
   */
  open?: Aead
  /** The queue of a multi-queue device to write. Default 0. */
  queue?: number
  /** Messages per recvmmsg in a round (each up to 64 KiB with UDP_GRO), 1 to the socket's batchSize. Default 16. */
  batchSize?: number
}

/** What a forward did (its ends count the packets in their own stats as well). */
export interface ForwardStats {
  /** Reads from the source handed on. */
  rounds: number
  /** Packets (datagrams) handed to the destination. */
  packets: number
  /** Their bytes, as handed on (sealed or opened). */
  bytes: number
  /** Packets the seal or open dropped (see the Aead's stats for why). */
  transformDrops: number
  /** Times reading paused because the destination waited for the kernel (EAGAIN/ENOBUFS), until its 'drain'. */
  sinkWaits: number
  /** Times reading paused because the pool was full (retried after 1 ms). */
  poolWaits: number
}

interface NativeForward {
  stop (): void
  stats (): ForwardStats
}

/** @internal What forward() needs of a Tun, Udp or Aead: its native object (registered by its constructor). */
export interface ForwardEndInfo {
  kind: 'tun' | 'udp' | 'aead'
  native: object
  /** Udp: connected sockets need no `to`. */
  connected?: boolean
  /** The forwards this end takes part in, ended when it closes. */
  forwards: Set<Forward>
}
/** @internal */
export const forwardEnds = new WeakMap<object, ForwardEndInfo>()

/** @internal Registers a Tun or Udp (or an Aead, whose `forwards` stays empty). */
export function registerForwardEnd (end: object, kind: ForwardEndInfo['kind'], native: object, connected?: boolean): void {
  forwardEnds.set(end, { kind, native, connected, forwards: new Set() })
}

/** @internal From Tun/Udp close(): their forwards end (done resolves null). */
export function endForwards (end: object): void {
  const info = forwardEnds.get(end)
  if (info === undefined) return
  for (const f of [...info.forwards]) f.stop()
}

/**
 * A running native forward (from `tun.forward()` or `udp.forward()`). It runs until stop(),
 * until either end is closed, or until it fails (a read error of the source:
 * ERR_TUNIO_FORWARD_READ with errno; the sealing Aead's counters ran out:
 * ERR_TUNIO_AEAD_COUNTER_LIMIT). Meanwhile the source cannot be read from JavaScript
 * (read() throws ERR_TUNIO_FORWARDING), while the destination still takes write()/send() from
 * JavaScript too. Events of both ends ('peerError', 'congestion', 'drain', 'drop', 'offload',
 * 'pathMtu') are emitted as for JavaScript forwarding, and their stats() count the packets.
 * A forward ends by itself when the worker it runs in ends.
 */
export class Forward {
  /** Resolves when the forward stops: null after stop() or a close(), the error when it failed. */
  readonly done: Promise<TunioError | null>
  readonly #native: NativeForward
  readonly #ends: ForwardEndInfo[]
  #resolve!: (err: TunioError | null) => void
  #active = true
  #finalStats: ForwardStats | undefined

  /** @internal use tun.forward() or udp.forward() */
  constructor (source: ForwardEndInfo, sink: ForwardEndInfo, options: Record<string, unknown>) {
    this.done = new Promise((resolve) => { this.#resolve = resolve })
    const { NativeForward: Ctor } = binding() as unknown as {
      NativeForward: new (source: object, sink: object, options: object, onEnd: (err: TunioError | null) => void) => NativeForward
    }
    this.#native = new Ctor(source.native, sink.native, options, (err) => this.#finish(err))
    this.#ends = [source, sink]
    for (const end of this.#ends) end.forwards.add(this)
  }

  /** false once stopped (by stop(), a close() of either end, or an error). */
  get active (): boolean { return this.#active }

  stats (): ForwardStats { return this.#finalStats ?? this.#native.stats() }

  /**
   * Stops forwarding (idempotent): nothing more is read from the source; what was handed to the
   * destination is still written or sent. The source can be read from JavaScript again, and
   * `done` resolves null.
   */
  stop (): void {
    if (!this.#active) return
    this.#native.stop()
    this.#finish(null)
  }

  #finish (err: TunioError | null): void {
    if (!this.#active) return
    this.#active = false
    this.#finalStats = this.#native.stats()
    for (const end of this.#ends) end.forwards.delete(this)
    this.#resolve(err)
  }
}

/**
 * The rounds the forwards take when `batchSize` is not given (the one place they are written;
 * test/option-docs.test.ts holds the doc comments to them). A sealed TUN round is 8
 * superpackets, about 0.5 MB after the split: read, split, sealed and sent while it is in the
 * CPU cache (sealing 64 costs more per byte: docs/performance.md). An unsealed round has no pass
 * over the packets between the split and the send, so it takes up to a TUN read batch (64): at
 * 32 TCP streams the receiving endpoint then gets one sendmmsg per wake-up of up to 64
 * superpackets instead of 8, wakes up and answers with ACK sends less often, and its UDP socket
 * overflows less (docs/performance.md, "Issue 19: the unsealed round, session 22").
 */
export const FORWARD_DEFAULTS = Object.freeze({
  tunBatchSize: 64,
  tunSealedBatchSize: 8,
  udpBatchSize: 16
} as const)

const TUN_KEYS = ['to', 'seal', 'queue', 'batchSize'] as const
const UDP_KEYS = ['open', 'queue', 'batchSize'] as const

/** The Aead's native object, or an invalid-option error. */
function aeadNative (name: string, value: unknown): object {
  const info = value !== null && typeof value === 'object' ? forwardEnds.get(value) : undefined
  if (info === undefined || info.kind !== 'aead') throw invalidOption(name, 'must be an Aead')
  return info.native
}

function endOf (value: unknown, what: 'Udp' | 'Tun', argument: string): ForwardEndInfo {
  const info = value !== null && typeof value === 'object' ? forwardEnds.get(value) : undefined
  if (info === undefined || info.kind !== what.toLowerCase()) throw invalidArg(argument, `must be a ${what} (from open${what}())`)
  return info
}

/** The options both directions share, checked: the object, its keys, `queue` and `batchSize`. */
function commonOptions (options: TunForwardOptions | UdpForwardOptions, keys: readonly string[], where: string, maxBatch: number, defaultBatch: number): Record<string, unknown> {
  checkOptionsObject(options)
  checkKnownKeys(options, keys, where)
  return {
    queue: intOption('queue', options.queue, 0, binding().limits.tunQueues - 1) ?? 0,
    batchSize: intOption('batchSize', options.batchSize, 1, maxBatch) ?? defaultBatch
  }
}

/** @internal tun.forward(udp, options) */
export function forwardTunToUdp (tun: ForwardEndInfo, udp: unknown, options: TunForwardOptions): Forward {
  const sink = endOf(udp, 'Udp', 'udp')
  const defaultBatch = options?.seal !== undefined ? FORWARD_DEFAULTS.tunSealedBatchSize : FORWARD_DEFAULTS.tunBatchSize
  const o = commonOptions(options, TUN_KEYS, 'tun.forward()', 1024, defaultBatch)
  if (options.to !== undefined) o.to = options.to // checked by the addon (the core's endpoint parser)
  else if (sink.connected !== true) throw invalidOption('to', 'is required: the socket is not connected')
  if (options.seal !== undefined) o.seal = aeadNative('seal', options.seal)
  return new Forward(tun, sink, o)
}

/** @internal udp.forward(tun, options) */
export function forwardUdpToTun (udp: ForwardEndInfo, tun: unknown, options: UdpForwardOptions): Forward {
  const sink = endOf(tun, 'Tun', 'tun')
  const o = commonOptions(options, UDP_KEYS, 'udp.forward()', binding().limits.udpBatchSize, FORWARD_DEFAULTS.udpBatchSize)
  if (options.open !== undefined) o.open = aeadNative('open', options.open)
  return new Forward(udp, sink, o)
}
