/**
 * A peer's timers, as the WireGuard paper (section 6) and the reference implementations define
 * them: handshake retransmission with jitter, passive keepalives, a new handshake when sent
 * data gets no answer, persistent keepalives, and zeroing of key material after a long silence.
 * Together with keyAge checks in the data path (rekey after REKEY_AFTER_TIME or
 * REKEY_AFTER_MESSAGES, refuse after REJECT_AFTER_TIME) they keep sessions fresh.
 *
 * No setTimeout per event: each timer is a deadline (milliseconds on the caller's clock, or
 * Infinity when not armed), and tick(now) fires the ones that are due. The device calls tick()
 * from one interval for all peers; tests call it with a fake clock.
 */

export const REKEY_AFTER_MESSAGES = 2 ** 60
/** 2^64 - 2^13 - 1, as a bigint (counters are 64-bit on the wire). */
export const REJECT_AFTER_MESSAGES = 2n ** 64n - 2n ** 13n - 1n
export const REKEY_AFTER_TIME_MS = 120_000
export const REJECT_AFTER_TIME_MS = 180_000
export const REKEY_ATTEMPT_TIME_MS = 90_000
export const REKEY_TIMEOUT_MS = 5_000
export const KEEPALIVE_TIMEOUT_MS = 10_000
/** Handshake initiations are retried this many times (90 s / 5 s) before giving up. */
export const MAX_HANDSHAKE_ATTEMPTS = REKEY_ATTEMPT_TIME_MS / REKEY_TIMEOUT_MS
/** Up to this much random delay is added to each retransmission, so peers do not synchronise. */
export const REKEY_TIMEOUT_JITTER_MAX_MS = 334
/** A responder accepts at most one initiation per peer in this interval (flood protection). */
export const HANDSHAKE_INITIATION_RATE_MS = 20

/** What the timers make the peer do. */
export interface TimerActions {
  /** Send a handshake initiation; `retry` is true for retransmissions. */
  sendInitiation: (retry: boolean) => void
  sendKeepalive: () => void
  /** No handshake after MAX_HANDSHAKE_ATTEMPTS: drop the packets waiting for one. */
  giveUp: () => void
  /** Long silence: forget every session and handshake key. */
  zeroKeyMaterial: () => void
}

export class PeerTimers {
  retransmitHandshake = Infinity
  sendKeepalive = Infinity
  newHandshake = Infinity
  zeroKeyMaterial = Infinity
  persistentKeepalive = Infinity
  handshakeAttempts = 0
  #needAnotherKeepalive = false

  constructor (
    private readonly actions: TimerActions,
    /** Seconds between persistent keepalives, 0 = off. */
    public persistentKeepaliveSeconds = 0,
    private readonly random: () => number = Math.random
  ) {}

  /** The earliest armed deadline (Infinity when none): when tick() next has work. */
  get next (): number {
    return Math.min(this.retransmitHandshake, this.sendKeepalive, this.newHandshake, this.zeroKeyMaterial, this.persistentKeepalive)
  }

  // ---- events -------------------------------------------------------------------------------
  /** An initiation went out. */
  handshakeInitiated (now: number): void {
    this.retransmitHandshake = now + REKEY_TIMEOUT_MS + Math.floor(this.random() * REKEY_TIMEOUT_JITTER_MAX_MS)
  }

  /** A handshake completed (we consumed a response, or a confirmed our response by data). */
  handshakeComplete (): void {
    this.retransmitHandshake = Infinity
    this.handshakeAttempts = 0
  }

  /** New session keys exist: forget them after three reject times without another. */
  sessionDerived (now: number): void {
    this.zeroKeyMaterial = now + REJECT_AFTER_TIME_MS * 3
  }

  /** We sent data (not a keepalive): expect an answer within keepalive + rekey timeout. */
  dataSent (now: number): void {
    if (this.newHandshake === Infinity) this.newHandshake = now + KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS
  }

  /** We received data: answer with a keepalive if we have nothing to send for a while. */
  dataReceived (now: number): void {
    if (this.sendKeepalive === Infinity) this.sendKeepalive = now + KEEPALIVE_TIMEOUT_MS
    else this.#needAnotherKeepalive = true
  }

  /** Any authenticated packet (data, keepalive, handshake) went out. */
  anyAuthenticatedPacketSent (): void {
    this.sendKeepalive = Infinity
  }

  /** Any authenticated packet came in. */
  anyAuthenticatedPacketReceived (): void {
    this.newHandshake = Infinity
  }

  /** Any authenticated packet went out or came in: the persistent keepalive starts over. */
  anyAuthenticatedPacketTraversal (now: number): void {
    if (this.persistentKeepaliveSeconds > 0) this.persistentKeepalive = now + this.persistentKeepaliveSeconds * 1000
  }

  /** Everything off (the peer is removed or the device stops). */
  stop (): void {
    this.retransmitHandshake = this.sendKeepalive = this.newHandshake = this.zeroKeyMaterial = this.persistentKeepalive = Infinity
  }

  // ---- expiry -------------------------------------------------------------------------------
  /** Fires every timer due at `now`. */
  tick (now: number): void {
    if (now >= this.retransmitHandshake) {
      this.retransmitHandshake = Infinity
      if (this.handshakeAttempts >= MAX_HANDSHAKE_ATTEMPTS) {
        this.newHandshake = Infinity
        this.actions.giveUp()
        if (this.zeroKeyMaterial === Infinity) this.zeroKeyMaterial = now + REJECT_AFTER_TIME_MS * 3
      } else {
        this.handshakeAttempts++
        this.actions.sendInitiation(true)
      }
    }
    if (now >= this.sendKeepalive) {
      this.sendKeepalive = Infinity
      this.actions.sendKeepalive()
      if (this.#needAnotherKeepalive) {
        this.#needAnotherKeepalive = false
        this.sendKeepalive = now + KEEPALIVE_TIMEOUT_MS
      }
    }
    if (now >= this.newHandshake) {
      this.newHandshake = Infinity
      this.actions.sendInitiation(false)
    }
    if (now >= this.zeroKeyMaterial) {
      this.zeroKeyMaterial = Infinity
      this.actions.zeroKeyMaterial()
    }
    if (now >= this.persistentKeepalive) {
      this.persistentKeepalive = Infinity
      if (this.persistentKeepaliveSeconds > 0) this.actions.sendKeepalive()
    }
  }
}

/** The sender should start a new handshake for this session (paper 6.2). */
export function needsRekeyOnSend (isInitiator: boolean, created: number, sendCounter: number, now: number): boolean {
  return sendCounter >= REKEY_AFTER_MESSAGES || (isInitiator && now - created >= REKEY_AFTER_TIME_MS)
}

/**
 * The receiver (initiator side) should start a new handshake before the session expires, so
 * that a peer that only receives never runs into REJECT_AFTER_TIME.
 */
export function needsRekeyOnReceive (isInitiator: boolean, created: number, now: number): boolean {
  return isInitiator && now - created >= REJECT_AFTER_TIME_MS - KEEPALIVE_TIMEOUT_MS - REKEY_TIMEOUT_MS
}

/** A session is dead for both directions after REJECT_AFTER_TIME. */
export function expired (created: number, now: number): boolean {
  return now - created >= REJECT_AFTER_TIME_MS
}
