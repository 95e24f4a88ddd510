/**
 * A configured peer: its identity, where it is (endpoint, updated by roaming), its sessions
 * (previous / current / next keypair, as in the paper section 5.4.6 and wireguard-go), the
 * handshake in flight, its cookie, its timers and counters.
 */
import type { PeerConfig } from './config'
import type { InitiatorState, PeerIdentity, TransportKeys } from './handshake'
import type { Aead } from '../../lib/index'
import { PeerTimers, type TimerActions } from './timers'

export interface PeerEndpoint { address: string, port: number }

/** One session: a key per direction and the indices each side uses to find it. */
export class Keypair {
  /** The session's ciphers (tunio's native batch AEAD), one per direction; gone once retired. */
  sealer: Aead | undefined
  opener: Aead | undefined
  /** The counter of the next packet we seal (mirrors the sealer's own counter). */
  sendCounter = 0
  /** Set once the receive side checked needsRekeyOnReceive for this session. */
  rekeyRequestedOnReceive = false
  /** Scratch of the data plane while it sorts one batch (which batch, which group). */
  mark = 0
  group = 0

  constructor (
    readonly keys: TransportKeys,
    /** Our index: the peer puts it in the packets it sends us. */
    readonly localIndex: number,
    /** The peer's index: we put it in the packets we send. */
    readonly remoteIndex: number,
    readonly isInitiator: boolean,
    readonly created: number
  ) {}
}

export interface PeerCounters {
  txBytes: number
  rxBytes: number
  txPackets: number
  rxPackets: number
  keepalivesSent: number
  keepalivesReceived: number
  handshakesCompleted: number
  initiationsSent: number
  /** Inbound packets whose inner source is outside this peer's AllowedIPs. */
  sourceNotAllowed: number
  /** Endpoint changes learned from authenticated packets. */
  roamed: number
}

export class Peer {
  endpoint: PeerEndpoint | undefined
  previous: Keypair | undefined
  current: Keypair | undefined
  /** A session we answered as responder, used for sending only once the initiator confirmed it. */
  next: Keypair | undefined
  /** The initiation we sent and wait a response for. */
  pending: { state: InitiatorState } | undefined
  lastInitiationSentAt = -Infinity
  /** MAC1 of the last handshake message we sent: the associated data of a cookie reply. */
  lastMac1: Uint8Array | undefined
  cookie: { value: Uint8Array, receivedAt: number } | undefined
  /** TAI64N of the newest initiation accepted from this peer (older ones are replays). */
  lastTimestamp: Uint8Array = new Uint8Array(12)
  lastInitiationConsumedAt = -Infinity
  lastHandshakeAt: number | undefined
  /** Scratch of the data plane while it routes one batch (which batch, which group, bytes). */
  mark = 0
  group = 0
  batchBytes = 0
  readonly timers: PeerTimers
  readonly counters: PeerCounters = {
    txBytes: 0, rxBytes: 0, txPackets: 0, rxPackets: 0, keepalivesSent: 0, keepalivesReceived: 0,
    handshakesCompleted: 0, initiationsSent: 0, sourceNotAllowed: 0, roamed: 0
  }

  constructor (readonly config: PeerConfig, readonly identity: PeerIdentity, actions: TimerActions) {
    this.endpoint = config.endpoint !== undefined ? { address: config.endpoint.address, port: config.endpoint.port } : undefined
    this.timers = new PeerTimers(actions, config.persistentKeepalive)
  }

  get name (): string { return Buffer.from(this.config.publicKey).toString('base64') }

  /** Every session this peer holds (for index cleanup). */
  keypairs (): Keypair[] {
    return [this.previous, this.current, this.next].filter((k): k is Keypair => k !== undefined)
  }
}
