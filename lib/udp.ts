/** UDP sockets with recvmmsg + UDP_GRO on receive and sendmsg(UDP_SEGMENT)/sendmmsg on send. */
import { binding } from './binding'
import { closedError, invalidArg, invalidOption, type TunioError } from './errors'
import { TypedEmitter } from './events'
import type { Endpoint, PacketBatch } from './lease'
import type { NativeBatch } from './native'
import { boolOption, checkKnownKeys, checkOptionsObject, choiceOption, intOption, offloadOption, stringOption, type HostPort } from './options'
import { toNativeItems, type PacketInput } from './packets'
import { Pool, getDefaultPool, type PoolStats } from './pool'
import { endForwards, forwardEnds, forwardUdpToTun, registerForwardEnd, type Forward, type ForwardEndInfo, type UdpForwardOptions } from './forward'
import type { Tun } from './tun'
import { BatchReader, type NativeReadResult } from './reader'
import { injectFault, registerTestHooks } from './test-hooks'

/**
 * The defaults openUdp() applies to the options below that have one. The one place they are
 * defined: openUdp() reads them from here, and each option's doc comment states its value
 * (test/options.test.ts checks).
 */
export const UDP_DEFAULTS = Object.freeze({
  ipv6Only: false,
  reusePort: false,
  /** 4 MiB: about 30 ms at 1 Gbit/s, enough to ride out event-loop pauses. */
  recvBufferSize: 4 << 20,
  sendBufferSize: 4 << 20,
  gso: 'auto',
  gro: 'auto',
  batchSize: 64,
  sendQueueLength: 4096,
  pmtu: 'dont'
} as const)
import { disabledByEnv } from './offload-env'

export interface UdpOptions {
  /** "0.0.0.0:51820", "[::]:51820" (dual-stack unless ipv6Only), ":0" or { address, port }. */
  bind: string | HostPort
  /** IPV6_V6ONLY for an IPv6 bind address. Default false: dual-stack. */
  ipv6Only?: boolean
  /** Connect to one peer (then send() needs no destination). Default: unconnected. */
  connect?: string | HostPort
  /** SO_REUSEPORT: one socket per worker on the same port. Default false. */
  reusePort?: boolean
  /**
   * With reusePort: the number of sockets the group will have; each datagram goes to the
   * socket picked by the flow of the IP packet it carries (SO_ATTACH_REUSEPORT_CBPF), so one
   * inner flow stays on one worker. See docs/multiqueue.md. Default: none (the kernel's hash
   * of the outer addresses picks the socket).
   */
  innerFlowSteering?: number
  /**
   * SO_RCVBUF in bytes, 1024 to 1 GiB. Default 4 MiB. The kernel default (about 208 KiB) holds a few
   * milliseconds of traffic at gigabit rates, and a GRO socket loses a whole superpacket per
   * overflow, which TCP inside the tunnel sees as a burst of loss. Set with SO_RCVBUFFORCE
   * when the process has CAP_NET_ADMIN, else the kernel caps it at net.core.rmem_max;
   * `udp.socketBuffers.recv` shows what the kernel granted (it reports double the value).
   */
  recvBufferSize?: number
  /** SO_SNDBUF in bytes, same rules as recvBufferSize. Default 4 MiB. */
  sendBufferSize?: number
  /** UDP_SEGMENT on send: 'auto', true (fail if unsupported), false. Default 'auto'. */
  gso?: 'auto' | boolean
  /** UDP_GRO on receive: 'auto', true (fail if unsupported), false. Default 'auto'. */
  gro?: 'auto' | boolean
  /** Messages per recvmmsg, 1 to 128. Default 64. */
  batchSize?: number
  /**
   * Datagrams send() may hold while the socket is not writable (see 'congestion'); more are
   * dropped and counted ('drop'). Default 4096.
   */
  sendQueueLength?: number
  /**
   * SO_MARK: every datagram of this socket carries this firewall mark (0 to 2^32-1), so policy
   * routing can treat the tunnel's own traffic apart from what goes into the tunnel (wg-quick's
   * full tunnel: `ip rule add not fwmark M table T`). Needs CAP_NET_ADMIN: without it openUdp()
   * rejects with ERR_TUNIO_UDP_OPEN, errno EPERM, syscall setsockopt(SO_MARK). Default: none
   * (no mark set).
   */
  fwmark?: number
  /**
   * SO_BINDTODEVICE: send and receive only through this interface (its name in this network
   * namespace, e.g. 'eth1'); routes are looked up for that device only. A name the namespace
   * does not have rejects with ERR_TUNIO_UDP_OPEN, errno ENODEV. Default: none (any device).
   */
  bindDevice?: string
  /**
   * Path MTU discovery (IP_MTU_DISCOVER, and IPV6_MTU_DISCOVER too on IPv6 and dual-stack
   * sockets): 'dont' (DF clear, a path with a smaller MTU fragments the datagrams, as kernel
   * WireGuard does), 'want' (DF set while the known path MTU allows, fragmented above
   * it: the system default), 'do' (DF always set: a datagram larger than the known path MTU is
   * refused with EMSGSIZE, and ICMP "fragmentation needed" lowers the path MTU; see the
   * 'pathMtu' event), 'probe' (DF set, the learnt path MTU ignored: for callers that probe
   * themselves, as PLPMTUD does). Default 'dont'.
   */
  pmtu?: 'do' | 'probe' | 'dont' | 'want'
  /** Where received datagrams live and send() copies Buffers to. Default: getDefaultPool(). */
  pool?: Pool
}

export interface UdpFeatures { gso: boolean, gro: boolean, maxGsoSegments: number }

export interface PeerErrorCounts { connRefused: number, hostUnreachable: number, netUnreachable: number, messageSize: number, other: number }

/**
 * A 'congestion' event: the send queue started waiting because the kernel refused more for
 * now: EAGAIN (socket send buffer full: tunio waits for POLLOUT) or ENOBUFS (a qdisc or device
 * queue dropped the datagram: tunio retries it after 1 ms). Nothing is lost yet; `queued`
 * datagrams wait, up to `sendQueueLength`. A 'drain' event follows when the queue is empty.
 */
export interface UdpCongestion { reason: 'EAGAIN' | 'ENOBUFS', queued: number }

/**
 * A 'drop' event: datagrams given to send() that will never go out. `queueFull`: the send
 * queue already held `sendQueueLength`; `poolExhausted`: a Buffer could not be copied into the
 * pool; `sendFailed`: the kernel refused them with `errno` (a socket-level error).
 */
export interface UdpDrop { reason: 'queueFull' | 'poolExhausted' | 'sendFailed', count: number, errno?: string }

/**
 * An 'offload' event: the kernel refused a UDP_SEGMENT (GSO) send to `remote` (`enabled:
 * false`), or GSO to it came back after a probe went out (`enabled: true`). The refused
 * datagrams were re-sent without GSO; nothing was lost. `cause`: 'pathMtu' (EMSGSIZE, or
 * EINVAL: a segment larger than the path MTU, e.g. a lower link MTU or an ICMP "fragmentation
 * needed"), 'noOffload' (EIO: the route's device cannot segment or checksum, or the route is
 * IPsec). GSO stays on for every other destination; this one is probed again after `retryMs`
 * (path MTU: 100 ms doubling up to 1 s; noOffload: 1 s doubling up to 30 s), so a transient
 * fault never turns GSO off for good. See docs/offloads.md.
 */
export interface UdpOffloadEvent {
  offload: 'gso'
  enabled: boolean
  /** The errno that suspended GSO to this destination (on both events). */
  errno: string
  cause: 'pathMtu' | 'noOffload'
  /** The destination's address (GSO is suspended per address, every port). */
  remote: { address: string, family: 'IPv4' | 'IPv6' }
  /** enabled: false: milliseconds until the next probe. */
  retryMs?: number
}

/**
 * A 'pathMtu' event: the path MTU the kernel reports towards `remote` changed (or was reported
 * for the first time). `source`: 'icmp' / 'icmp6' (a router answered a datagram sent with DF
 * with "fragmentation needed" / "packet too big": the next hop's MTU), 'local' (this host
 * refused a datagram larger than the MTU it knows: pmtu 'do' or 'probe'), 'route' (read with
 * getsockopt(IP_MTU / IPV6_MTU) after the kernel refused a UDP_SEGMENT send as too large).
 * One event per change and peer address, not per refused datagram. The refused datagrams
 * themselves are 'peerError' events (EMSGSIZE, with `mtu`) and `stats().drops.peer.messageSize`.
 */
export interface UdpPathMtu {
  remote: { address: string, family: 'IPv4' | 'IPv6' }
  /** The path MTU in bytes (IP header included): datagrams up to mtu - 28 (IPv4) or mtu - 48 (IPv6) bytes fit. */
  mtu: number
  source: 'icmp' | 'icmp6' | 'local' | 'route'
}

interface NativeSendEvent { type: 'congestion' | 'drain' | 'drop' | 'offload' | 'pathMtu', reason?: string, count: number, errno?: string }

/** A 'peerError' event: the kernel reported that a datagram to `remote` failed. Never fatal. */
export interface UdpPeerError extends TunioError {
  code: 'ERR_TUNIO_UDP_PEER'
  /** Where the failed datagram was going (the destination we sent to), when known. */
  remote?: Endpoint
  /**
   * 'icmp' / 'icmp6': an ICMP error from the path or the peer host (error queue, IP_RECVERR);
   * 'local': this host refused the send (no route, prohibit route, EMSGSIZE);
   * 'socket': a pending error whose details were lost (only errno is known).
   */
  origin: 'icmp' | 'icmp6' | 'local' | 'socket'
  /** ICMP type/code as received (origin icmp/icmp6). */
  icmpType?: number
  icmpCode?: number
  /** Who sent the ICMP: a router on the path, or the peer host itself. */
  offender?: { address: string, family: 'IPv4' | 'IPv6' }
  /** Path MTU reported with EMSGSIZE. */
  mtu?: number
  /**
   * How many errors this event stands for. The first error of a kind (same errno, origin and
   * `remote` address and port) is reported at once with count 1; repeats within the next
   * second are merged into one event at the end of that second, with their number, and so on
   * while they go on (a blackhole route refuses every send: a few events a second, not one per
   * datagram).
   */
  count: number
}

/**
 * What `udp.stats()` returns. Every key is there for the socket's whole life: after `close()`,
 * the counts as of close (and no path suspended).
 */
export interface UdpStats {
  datagramsIn: number, bytesIn: number, groReads: number, messagesIn: number
  datagramsOut: number, bytesOut: number, gsoSends: number, gsoSegments: number
  /**
   * GSO sends the kernel refused (EMSGSIZE/EINVAL/EIO): the datagrams re-sent without GSO, and
   * GSO suspended for that destination until a probe (see `gsoPaths` and the 'offload' event).
   */
  gsoFallbacks: number
  /**
   * Runs of more than 64 segments refused with EINVAL where runs of 64 then went out (a kernel
   * before 6.9): `features.maxGsoSegments` is lowered to 64. Not for good: the full limit is
   * probed again after 1 s (`gsoSegmentLimitProbes`), doubling up to 60 s while probes are
   * refused (`gsoSegmentLimitProbeFailures`); a long run that goes out restores it
   * (`gsoSegmentLimitRestores`).
   */
  gsoSegmentLimitLowered: number
  gsoSegmentLimitProbes: number
  gsoSegmentLimitProbeFailures: number
  gsoSegmentLimitRestores: number
  /**
   * Destinations whose GSO is suspended after a refusal: `suspended` now, `suspensions`
   * (on -> off), `probeFailures` (a probe refused again: back-off doubled), `restores` (off -> on).
   */
  gsoPaths: { suspended: number, suspensions: number, probeFailures: number, restores: number }
  syscalls: { recvmmsg: number, sendmsg: number, sendmmsg: number, recvmsgErrqueue: number }
  drops: { truncated: number, queueFull: number, poolExhausted: number, invalid: number, sendFailed: number, peer: PeerErrorCounts }
  waits: { sendWouldBlock: number, sendNoBuffers: number, recvPoolExhausted: number }
  /** Pending socket errors recvmmsg returned instead of data (details came from the error queue). */
  recvErrors: PeerErrorCounts
  /** Sends refused with an earlier datagram's pending ICMP error; the same datagrams were re-sent. */
  sendPendingErrors: number
  /**
   * Datagrams whose source address (`lease.local`: a received lease's destination, or one set)
   * the kernel refused (EINVAL/EADDRNOTAVAIL: not an address of this host, e.g. removed since
   * the datagram came in): re-sent from the source the route picks.
   */
  sourceFallbacks: number
  /** Every peer error, by kind (each counted, also those merged into one event). */
  peerErrors: PeerErrorCounts
  /** Peer errors merged into a later 'peerError' event (its `count`) instead of an event each. */
  peerErrorsMerged: number
  /**
   * SO_RXQ_OVFL: datagrams the kernel dropped for this socket because its receive buffer was
   * full (the socket's own counter, as of the last datagram read). Growing: the reader falls
   * behind; a larger `recvBufferSize` or reading more often helps.
   */
  receiveQueueDrops: number
  /** Path MTU reports from the kernel (every one, repeats included) and 'pathMtu' events lost because none were taken. */
  pathMtu: { reports: number, eventsDropped: number }
  /** Error-queue entries by origin; events lost because nobody took them; POLLERR wake-ups. */
  errorQueue: { icmp: number, icmp6: number, local: number, readFailures: number, eventsOverwritten: number, pollErrors: number }
  sendQueued: number
  pool: PoolStats
}

interface NativeUdp {
  readBatch (): NativeReadResult
  /** Parses send()'s `to` (the core's parser; ERR_TUNIO_INVALID_OPTION 'to') and keeps it for the next send(items, true). */
  parseTo (to: string | HostPort): void
  /** With `withTo`, every datagram goes to the endpoint parseTo() kept. */
  send (items: Array<NativeBatch | ArrayBufferView>, withTo: boolean): number
  watchReadable (on: boolean): void
  takeErrors (): UdpPeerError[]
  takeEvents (): NativeSendEvent[] | undefined
  stats (): UdpStats
  info (): { local: HostPort & { family: string }, peer?: HostPort, features: UdpFeatures, recvBufferSize: number, sendBufferSize: number, fwmark: number, bindDevice: string }
  setOffload (offload: 'gso' | 'gro', on: boolean): boolean
  close (): void
}

const KNOWN = ['bind', 'ipv6Only', 'connect', 'reusePort', 'innerFlowSteering', 'recvBufferSize', 'sendBufferSize', 'gso', 'gro',
  'batchSize', 'sendQueueLength', 'fwmark', 'bindDevice', 'pmtu', 'pool'] as const

const PMTU_MODES = ['do', 'probe', 'dont', 'want'] as const

function validate (options: UdpOptions): Record<string, unknown> {
  checkOptionsObject(options)
  checkKnownKeys(options, KNOWN, 'openUdp()')
  if (options.bind === undefined) throw invalidOption('bind', 'is required, e.g. "0.0.0.0:51820"')
  // bind and connect go to the addon as given: the core's endpoint parser checks them there
  // (src-native/core/endpoint_text.h), before the socket is opened.
  const o: Record<string, unknown> = { bind: options.bind }
  if (options.connect !== undefined) o.connect = options.connect
  o.ipv6Only = boolOption('ipv6Only', options.ipv6Only) ?? UDP_DEFAULTS.ipv6Only
  o.reusePort = boolOption('reusePort', options.reusePort) ?? UDP_DEFAULTS.reusePort
  o.innerFlowSteering = intOption('innerFlowSteering', options.innerFlowSteering, 1, 65535)
  if (o.innerFlowSteering !== undefined && o.reusePort !== true) throw invalidOption('innerFlowSteering', 'needs reusePort: true')
  o.recvBufferSize = intOption('recvBufferSize', options.recvBufferSize, 1024, 1 << 30) ?? UDP_DEFAULTS.recvBufferSize
  o.sendBufferSize = intOption('sendBufferSize', options.sendBufferSize, 1024, 1 << 30) ?? UDP_DEFAULTS.sendBufferSize
  o.gso = offloadOption('gso', options.gso ?? UDP_DEFAULTS.gso)
  o.gro = offloadOption('gro', options.gro ?? UDP_DEFAULTS.gro)
  // The operator's switches (TUNIO_DISABLE_UDP_GSO / _GRO, lib/offload-env.ts) win over the option.
  if (disabledByEnv('udpGso')) o.gso = 'off'
  if (disabledByEnv('udpGro')) o.gro = 'off'
  o.batchSize = intOption('batchSize', options.batchSize, 1, binding().limits.udpBatchSize) ?? UDP_DEFAULTS.batchSize
  o.sendQueueLength = intOption('sendQueueLength', options.sendQueueLength, 1, 1 << 20) ?? UDP_DEFAULTS.sendQueueLength
  o.fwmark = intOption('fwmark', options.fwmark, 0, 0xffffffff)
  o.bindDevice = stringOption('bindDevice', options.bindDevice) // its rules: the core's valid_ifname, in the addon
  o.pmtu = choiceOption('pmtu', options.pmtu, PMTU_MODES) ?? UDP_DEFAULTS.pmtu
  if (options.pool !== undefined && !(options.pool instanceof Pool)) throw invalidOption('pool', 'must be a tunio Pool')
  return o
}

/** The events of a Udp socket and their listener arguments (`udp.on(name, listener)`). */
export interface UdpEvents {
  /** An ICMP error or a local refusal for one peer (see the class comment); never fatal. */
  peerError: [err: UdpPeerError]
  /** The send queue started waiting for the kernel (EAGAIN/ENOBUFS): send() now queues. */
  congestion: [congestion: UdpCongestion]
  /** The send queue is empty again. */
  drain: []
  /** Datagrams that will never be sent (queue full, pool exhausted, send failed), counted. */
  drop: [drop: UdpDrop]
  /** GSO to a destination suspended after the kernel refused a UDP_SEGMENT send, or back after a probe. */
  offload: [event: UdpOffloadEvent]
  /** The path MTU the kernel reports towards a peer changed. */
  pathMtu: [event: UdpPathMtu]
  /** Emitted once, from the first close(), when the socket is closed (`closed` is true). */
  close: []
}

/**
 * Events: 'peerError' (UdpPeerError: code ERR_TUNIO_UDP_PEER, errno such as ECONNREFUSED,
 * EHOSTUNREACH, ENETUNREACH, EACCES, EMSGSIZE; `remote` = the destination the failed datagram
 * was sent to, `origin`, ICMP type/code and offender). Connected and unconnected sockets alike:
 * tunio enables IP_RECVERR/IPV6_RECVERR and reads the kernel's error queue whenever the socket
 * is read, sent on or polls POLLERR. They never close the socket and no other datagram is lost
 * because of them (a send the kernel refused with an earlier datagram's pending error is sent
 * again); stats count them too. ICMP is unauthenticated: treat these as hints, not verdicts.
 *
 * 'offload' (UdpOffloadEvent): GSO to a destination suspended after the kernel refused a
 * UDP_SEGMENT send, or back after a probe; never off for good.
 *
 * 'pathMtu' (UdpPathMtu): the path MTU the kernel reports towards a peer changed (ICMP
 * fragmentation needed / packet too big, a local EMSGSIZE, or the route's MTU after a refused
 * GSO send); once per change and peer address.
 *
 * 'congestion' (UdpCongestion) and 'drain' (no argument): the send queue started and stopped
 * waiting for the kernel (EAGAIN/ENOBUFS). 'drop' (UdpDrop): datagrams that will never be sent
 * (queue full, pool exhausted, send failed). Each is also counted in stats (waits, drops).
 */
export class Udp extends TypedEmitter<UdpEvents> implements AsyncIterable<PacketBatch> {
  readonly local: HostPort
  /** SO_MARK as the kernel reports it after open (0: no mark). */
  readonly fwmark: number
  /** SO_BINDTODEVICE as the kernel reports it after open (undefined: not bound to a device). */
  readonly bindDevice: string | undefined
  /**
   * What the socket can use. `gso` stays true after the kernel refused a GSO send: GSO is then
   * suspended for that destination only, and probed again (the 'offload' event, `stats().gsoPaths`).
   */
  get features (): UdpFeatures {
    if (this.#closed) return { ...this.#features, gso: false, gro: false }
    this.#features = this.#native.info().features
    return this.#features
  }

  #features: UdpFeatures
  readonly pool: Pool
  readonly #native: NativeUdp
  readonly #reader: BatchReader
  #closed = false
  readonly #connected: boolean
  /**
   * Written by the addon at the end of every readBatch()/send() (and takeErrors()/
   * takeEvents()): [0] peer errors wait, [1] send events wait. Read instead of asking the
   * addon after every batch (two N-API calls, one allocating an empty array).
   */
  readonly #state = new Uint8Array(2)

  /** @internal use openUdp() */
  constructor (options: UdpOptions) {
    super()
    const o = validate(options)
    this.pool = options.pool ?? getDefaultPool()
    const { NativeUdp: Ctor } = binding() as unknown as { NativeUdp: new (o: object, p: unknown, cb: (errors: boolean, readable: boolean, sendEvents: boolean) => void, state: Uint8Array) => NativeUdp }
    let reader: BatchReader | undefined
    this.#native = new Ctor(o, this.pool.native, (errors: boolean, readable: boolean, sendEvents: boolean) => {
      if (errors) this.#drainErrors()
      if (sendEvents) this.#emitSendEvents()
      if (readable) reader?.onReadable()
    }, this.#state)
    reader = new BatchReader(() => this.#recv(), (on) => this.#native.watchReadable(on))
    this.#reader = reader
    const info = this.#native.info()
    this.local = { address: info.local.address, port: info.local.port }
    this.fwmark = info.fwmark
    this.bindDevice = info.bindDevice === '' ? undefined : info.bindDevice
    this.#connected = info.peer !== undefined
    registerForwardEnd(this, 'udp', this.#native, this.#connected)
    this.#features = info.features
    registerTestHooks(this, {
      forceGsoEioOnce: () => {
        if (this.#closed) throw closedError('UDP socket')
        injectFault(this.#native, 'gsoEio')
      },
      simulateGsoSegmentLimit: (segments) => {
        if (this.#closed) throw closedError('UDP socket')
        injectFault(this.#native, 'gsoSegmentLimit', segments)
      }
    })
  }

  get closed (): boolean { return this.#closed }

  /** Socket buffer sizes the kernel granted (SO_RCVBUF/SO_SNDBUF as read back: double what was set). */
  get socketBuffers (): { recv: number, send: number } {
    if (this.#closed) throw closedError('UDP socket')
    const info = this.#native.info()
    return { recv: info.recvBufferSize, send: info.sendBufferSize }
  }

  #recv (): NativeReadResult {
    const r = this.#native.readBatch()
    if (this.#state[0] !== 0) this.#drainErrors()
    return r
  }

  #emitSendEvents (): void {
    const events = this.#native.takeEvents()
    if (events === undefined) return
    for (const e of events) {
      if (e.type === 'drain') this.emit('drain')
      else if (e.type === 'congestion') this.emit('congestion', { reason: e.reason, queued: e.count } as UdpCongestion)
      else if (e.type === 'offload') this.emit('offload', offloadEvent(e as unknown as UdpOffloadEvent & { type: string }))
      else if (e.type === 'pathMtu') {
        const m = e as unknown as UdpPathMtu
        this.emit('pathMtu', { remote: m.remote, mtu: m.mtu, source: m.source })
      }
      else this.emit('drop', { reason: e.reason, count: e.count, ...(e.errno !== undefined ? { errno: e.errno } : {}) } as UdpDrop)
    }
  }

  #drainErrors (): void {
    const errors = this.#native.takeErrors()
    for (const err of errors) this.emit('peerError', err)
  }

  /** The next batch of datagrams (each lease has .remote, .local, .ecn), or null once closed. */
  read (): Promise<PacketBatch | null> { return this.#reader.read() }

  [Symbol.asyncIterator] (): AsyncIterator<PacketBatch> { return this.#reader.iterate() }

  /**
   * Sends datagrams (one packet each). Leases and batches move to the socket; equal-size runs
   * to one destination go out as one UDP_SEGMENT send. `to` overrides each packet's own
   * destination (a received lease keeps its sender as destination). Returns how many were
   * accepted (sent or queued while the socket is not writable).
   */
  send (datagrams: PacketInput, to?: string | HostPort): number {
    if (this.#closed) throw closedError('UDP socket')
    // `to` is parsed (once, by the core's endpoint parser) before any datagram moves:
    // toNativeItems surrenders the leases, and a `to` refused after that would lose them.
    const withTo = to != null
    if (withTo) this.#native.parseTo(to)
    const items = toNativeItems(datagrams, { argument: 'datagrams', needsOwnDestination: !withTo && !this.#connected })
    const n = this.#native.send(items, withTo)
    if (this.#state[0] !== 0) this.#drainErrors()
    if (this.#state[1] !== 0) this.#emitSendEvents()
    return n
  }

  stats (): UdpStats { return this.#native.stats() }

  /**
   * Forwards every datagram this socket receives to `tun` natively (see Forward): each batch
   * goes from the receive to the device's write (GRO coalescing included), opened first with
   * `options.open`, without a JavaScript turn per batch. Meanwhile read() and the iterator
   * throw ERR_TUNIO_FORWARDING. Throws ERR_TUNIO_FORWARDING when this socket is already
   * forwarded or the queue already receives a forward, ERR_TUNIO_CLOSED when either is closed.
   */
  forward (tun: Tun, options: UdpForwardOptions = {}): Forward {
    if (this.#closed) throw closedError('UDP socket')
    return forwardUdpToTun(forwardEnds.get(this) as ForwardEndInfo, tun, options)
  }

  /**
   * Turns an offload on or off while the socket runs (an operator's switch; the same as the
   * TUNIO_DISABLE_UDP_GSO / TUNIO_DISABLE_UDP_GRO environment variables at open). 'gso'
   * (UDP_SEGMENT on send): off at once, on from the next send if the kernel has it. 'gro'
   * (UDP_GRO on receive): on at once; off as soon as the socket's receive queue is empty (now,
   * or when a read next finds it so), because datagrams the kernel coalesced before the switch
   * could not be split once it is off. Returns whether the offload is on now (for 'gro' off:
   * true until the switch happened); `features` shows the same. stats().gsoSends and groReads
   * show the effect.
   */
  setOffload (offload: 'gso' | 'gro', enabled: boolean): boolean {
    if (this.#closed) throw closedError('UDP socket')
    if (offload !== 'gso' && offload !== 'gro') throw invalidArg('offload', `must be 'gso' or 'gro', got ${String(offload)}`)
    if (typeof enabled !== 'boolean') throw invalidArg('enabled', 'must be a boolean')
    return this.#native.setOffload(offload, enabled)
  }

  /**
   * Closes the socket (idempotent; also `[Symbol.dispose]`). Pending reads resolve null and the
   * iterator ends; datagrams still queued for the kernel (see 'congestion') are discarded, their
   * pool memory returned, not counted as drops; leases and batches already read stay valid until
   * released. Then 'close' is emitted. Later send() throws ERR_TUNIO_CLOSED.
   */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    endForwards(this)
    this.#reader.close()
    this.#native.close()
    this.emit('close')
  }

  [Symbol.dispose] (): void { this.close() }
}

function offloadEvent (e: UdpOffloadEvent): UdpOffloadEvent {
  const out: UdpOffloadEvent = { offload: e.offload, enabled: e.enabled, errno: e.errno, cause: e.cause, remote: e.remote }
  if (e.retryMs !== undefined) out.retryMs = e.retryMs
  return out
}

export async function openUdp (options: UdpOptions): Promise<Udp> {
  return new Udp(options)
}
