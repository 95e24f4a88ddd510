/**
 * WireGuard's Noise_IKpsk2 handshake (paper, section 5.4), the cookie mechanism (5.4.7) and
 * TAI64N timestamps: building and checking the three handshake messages byte for byte.
 *
 * Pure functions over byte arrays: no sockets, no clocks (the caller passes the time), no
 * peer tables (the caller passes a lookup). Ephemeral keys and timestamps can be injected, which
 * is how test/wireguard-handshake.test.ts replays a handshake recorded against wireguard-go.
 */
import { randomBytes } from 'crypto'
import {
  aeadOpen, aeadSeal, dh, equal, generateKeyPair, hash, kdf1, kdf2, kdf3, mac, publicKeyOf,
  xaeadOpen, xaeadSeal, type KeyPair, KEY_LEN, TAG_LEN
} from './crypto'

// ---- wire format ----------------------------------------------------------------------------
export const MSG_INITIATION = 1
export const MSG_RESPONSE = 2
export const MSG_COOKIE_REPLY = 3
export const MSG_DATA = 4

export const TIMESTAMP_LEN = 12
export const INITIATION_LEN = 148 // type+reserved 4, sender 4, ephemeral 32, static 48, timestamp 28, mac1 16, mac2 16
export const RESPONSE_LEN = 92 // type+reserved 4, sender 4, receiver 4, ephemeral 32, empty 16, mac1 16, mac2 16
export const COOKIE_REPLY_LEN = 64 // type+reserved 4, receiver 4, nonce 24, cookie 16 + tag 16
/** Data message header: type+reserved 4, receiver 4, counter 8. */
export const DATA_HEADER_LEN = 16
export const COOKIE_LEN = 16
const MAC_LEN = 16

// ---- protocol constants ---------------------------------------------------------------------
const CONSTRUCTION = Buffer.from('Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s')
const IDENTIFIER = Buffer.from('WireGuard v1 zx2c4 Jason@zx2c4.com')
const LABEL_MAC1 = Buffer.from('mac1----')
const LABEL_COOKIE = Buffer.from('cookie--')
const EMPTY = new Uint8Array(0)
/** Ci and Hi before any key is mixed in: the same for every handshake. */
const INITIAL_CHAIN = hash(CONSTRUCTION)
const INITIAL_HASH = hash(INITIAL_CHAIN, IDENTIFIER)

/** This side's long-term identity and the keys derived from it once. */
export interface LocalIdentity {
  privateKey: Uint8Array
  publicKey: Uint8Array
  /** HASH(LABEL_MAC1 || our public key): checks MAC1 of messages sent to us. */
  mac1Key: Uint8Array
  /** HASH(LABEL_COOKIE || our public key): encrypts the cookie replies we send. */
  cookieKey: Uint8Array
}

/** What we know about a peer for handshakes (the static-static DH is computed once). */
export interface PeerIdentity {
  publicKey: Uint8Array
  presharedKey: Uint8Array
  /** DH(our static private, their static public); undefined for a low-order key. */
  staticShared: Uint8Array | undefined
  /** HASH(LABEL_MAC1 || their public key): MAC1 of messages we send them. */
  mac1Key: Uint8Array
  /** HASH(LABEL_COOKIE || their public key): opens the cookie replies they send us. */
  cookieKey: Uint8Array
}

export function localIdentity (privateKey: Uint8Array): LocalIdentity {
  const publicKey = publicKeyOf(privateKey)
  return { privateKey, publicKey, mac1Key: hash(LABEL_MAC1, publicKey), cookieKey: hash(LABEL_COOKIE, publicKey) }
}

export function peerIdentity (local: LocalIdentity, publicKey: Uint8Array, presharedKey: Uint8Array = new Uint8Array(KEY_LEN)): PeerIdentity {
  return {
    publicKey,
    presharedKey,
    staticShared: dh(local.privateKey, publicKey),
    mac1Key: hash(LABEL_MAC1, publicKey),
    cookieKey: hash(LABEL_COOKIE, publicKey)
  }
}

/** The keys of a finished handshake: one per direction. */
export interface TransportKeys { send: Uint8Array, receive: Uint8Array }

// ---- TAI64N ---------------------------------------------------------------------------------
const TAI64_EPOCH = 0x400000000000000an
/**
 * The low 24 bits of the nanoseconds are cleared (as wireguard-go does) so the timestamp does
 * not give away a precise clock; the responder only needs it to increase between initiations,
 * which are at least 20 ms apart.
 */
const NANO_WHITENER = 0xffffff

/** TAI64N of a wall-clock time in milliseconds since 1970 (leap seconds not counted, as in wireguard-go). */
export function tai64n (unixMs: number): Uint8Array {
  const out = Buffer.alloc(TIMESTAMP_LEN)
  const secs = Math.floor(unixMs / 1000)
  const nanos = Math.floor((unixMs - secs * 1000) * 1e6)
  out.writeBigUInt64BE(TAI64_EPOCH + BigInt(secs), 0)
  out.writeUInt32BE((nanos & ~NANO_WHITENER) >>> 0, 8)
  return new Uint8Array(out)
}

/** a > b for two TAI64N timestamps (big-endian: byte order is time order). */
export function timestampAfter (a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) > 0
}

// ---- MAC1 / MAC2 / cookies ------------------------------------------------------------------
/** Writes MAC1 (and MAC2 when we hold a cookie, else zeros) into the last 32 bytes; returns MAC1. */
export function writeMacs (msg: Uint8Array, peerMac1Key: Uint8Array, cookie: Uint8Array | undefined): Uint8Array {
  const m1 = msg.length - 2 * MAC_LEN
  const mac1 = mac(peerMac1Key, msg.subarray(0, m1))
  msg.set(mac1, m1)
  msg.fill(0, m1 + MAC_LEN)
  if (cookie !== undefined) msg.set(mac(cookie, msg.subarray(0, m1 + MAC_LEN)), m1 + MAC_LEN)
  return mac1
}

/** MAC1 of an initiation or response sent to us is right. */
export function checkMac1 (msg: Uint8Array, ownMac1Key: Uint8Array): boolean {
  const m1 = msg.length - 2 * MAC_LEN
  return equal(mac(ownMac1Key, msg.subarray(0, m1)), msg.subarray(m1, m1 + MAC_LEN))
}

/** MAC2 of a message sent to us matches the cookie we would give its source. */
export function checkMac2 (msg: Uint8Array, cookie: Uint8Array): boolean {
  const m2 = msg.length - MAC_LEN
  return equal(mac(cookie, msg.subarray(0, m2)), msg.subarray(m2))
}

/** The responder's side of cookies: a secret that changes every 2 minutes, and replies. */
export class CookieGenerator {
  #secret: Uint8Array = randomBytes(KEY_LEN)
  #secretAt = -Infinity
  constructor (private readonly local: LocalIdentity) {}

  /** The cookie for a source address (its IP bytes followed by the port, big-endian). */
  cookieFor (source: Uint8Array, nowMs: number): Uint8Array {
    if (nowMs - this.#secretAt >= COOKIE_SECRET_MAX_AGE_MS) {
      this.#secret = randomBytes(KEY_LEN)
      this.#secretAt = nowMs
    }
    return mac(this.#secret, source)
  }

  /** A cookie reply to a message (its MAC1 is the reply's associated data). */
  reply (msg: Uint8Array, source: Uint8Array, nowMs: number, nonce24: Uint8Array = randomBytes(24)): Uint8Array {
    const out = new Uint8Array(COOKIE_REPLY_LEN)
    const m1 = msg.length - 2 * MAC_LEN
    out[0] = MSG_COOKIE_REPLY
    out.set(msg.subarray(4, 8), 4) // the receiver is the message's sender index
    out.set(nonce24, 8)
    out.set(xaeadSeal(this.local.cookieKey, nonce24, this.cookieFor(source, nowMs), msg.subarray(m1, m1 + MAC_LEN)), 32)
    return out
  }
}

/** Cookies are kept by the responder for 2 minutes; the initiator uses one for as long. */
export const COOKIE_SECRET_MAX_AGE_MS = 120_000

/** The initiator's side: the cookie inside a reply, given the MAC1 we last sent that peer. */
export function openCookieReply (reply: Uint8Array, peer: PeerIdentity, lastMac1: Uint8Array): Uint8Array | undefined {
  if (reply.length !== COOKIE_REPLY_LEN || reply[0] !== MSG_COOKIE_REPLY) return undefined
  return xaeadOpen(peer.cookieKey, reply.subarray(8, 32), reply.subarray(32), lastMac1)
}

/** The receiver index of a response, cookie reply or data message (little-endian). */
export function receiverIndex (msg: Uint8Array): number {
  const at = msg[0] === MSG_RESPONSE ? 8 : 4
  return (msg[at] | (msg[at + 1] << 8) | (msg[at + 2] << 16) | (msg[at + 3] << 24)) >>> 0
}

function writeU32LE (buf: Uint8Array, at: number, v: number): void {
  buf[at] = v & 0xff; buf[at + 1] = (v >>> 8) & 0xff; buf[at + 2] = (v >>> 16) & 0xff; buf[at + 3] = (v >>> 24) & 0xff
}

function readU32LE (buf: Uint8Array, at: number): number {
  return (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> 0
}

// ---- initiation -----------------------------------------------------------------------------
/** What the initiator keeps between sending the initiation and receiving the response. */
export interface InitiatorState {
  senderIndex: number
  ephemeral: KeyPair
  hash: Uint8Array
  chainingKey: Uint8Array
}

export interface CreateInitiationOptions {
  /** Injected for known-answer tests; fresh otherwise. */
  ephemeral?: KeyPair
  timestamp?: Uint8Array
}

/**
 * Msg 1. Returns undefined when the peer's static key is low-order (no handshake possible).
 * MAC1/MAC2 are left zero: writeMacs() adds them (with the cookie the caller may hold).
 */
export function createInitiation (local: LocalIdentity, peer: PeerIdentity, senderIndex: number, nowMs: number, opts: CreateInitiationOptions = {}): { message: Uint8Array, state: InitiatorState } | undefined {
  if (peer.staticShared === undefined) return undefined
  const e = opts.ephemeral ?? generateKeyPair()
  const msg = new Uint8Array(INITIATION_LEN)
  msg[0] = MSG_INITIATION
  writeU32LE(msg, 4, senderIndex)
  let h = hash(INITIAL_HASH, peer.publicKey)
  let ck = kdf1(INITIAL_CHAIN, e.publicKey)
  msg.set(e.publicKey, 8)
  h = hash(h, e.publicKey)
  const es = dh(e.privateKey, peer.publicKey)
  if (es === undefined) return undefined
  let k: Uint8Array
  ;[ck, k] = kdf2(ck, es)
  const encStatic = aeadSeal(k, 0n, local.publicKey, h)
  msg.set(encStatic, 40)
  h = hash(h, encStatic)
  ;[ck, k] = kdf2(ck, peer.staticShared)
  const encTime = aeadSeal(k, 0n, opts.timestamp ?? tai64n(nowMs), h)
  msg.set(encTime, 88)
  h = hash(h, encTime)
  return { message: msg, state: { senderIndex, ephemeral: e, hash: h, chainingKey: ck } }
}

/** What the responder learned from a valid initiation. */
export interface ConsumedInitiation {
  peerPublicKey: Uint8Array
  timestamp: Uint8Array
  senderIndex: number
  remoteEphemeral: Uint8Array
  hash: Uint8Array
  chainingKey: Uint8Array
}

/**
 * Checks and decrypts msg 1 (MAC1 already checked by the caller). `lookup` maps the decrypted
 * static key to a configured peer. undefined: not a valid initiation from a known peer.
 */
export function consumeInitiation (local: LocalIdentity, msg: Uint8Array, lookup: (publicKey: Uint8Array) => PeerIdentity | undefined): { init: ConsumedInitiation, peer: PeerIdentity } | undefined {
  if (msg.length !== INITIATION_LEN || msg[0] !== MSG_INITIATION || msg[1] !== 0 || msg[2] !== 0 || msg[3] !== 0) return undefined
  const ephemeral = msg.slice(8, 40)
  let h = hash(INITIAL_HASH, local.publicKey)
  let ck = kdf1(INITIAL_CHAIN, ephemeral)
  h = hash(h, ephemeral)
  const es = dh(local.privateKey, ephemeral)
  if (es === undefined) return undefined
  let k: Uint8Array
  ;[ck, k] = kdf2(ck, es)
  const encStatic = msg.subarray(40, 88)
  const peerPublicKey = aeadOpen(k, 0n, encStatic, h)
  if (peerPublicKey === undefined) return undefined
  h = hash(h, encStatic)
  const peer = lookup(peerPublicKey)
  if (peer === undefined || peer.staticShared === undefined) return undefined
  ;[ck, k] = kdf2(ck, peer.staticShared)
  const encTime = msg.subarray(88, 116)
  const timestamp = aeadOpen(k, 0n, encTime, h)
  if (timestamp === undefined) return undefined
  h = hash(h, encTime)
  return { init: { peerPublicKey, timestamp, senderIndex: readU32LE(msg, 4), remoteEphemeral: ephemeral, hash: h, chainingKey: ck }, peer }
}

// ---- response -------------------------------------------------------------------------------
/**
 * Msg 2 answering a consumed initiation, and the responder's transport keys. MACs are left for
 * writeMacs(). undefined when a DH result is degenerate.
 */
export function createResponse (peer: PeerIdentity, init: ConsumedInitiation, senderIndex: number, opts: { ephemeral?: KeyPair } = {}): { message: Uint8Array, keys: TransportKeys } | undefined {
  const e = opts.ephemeral ?? generateKeyPair()
  const msg = new Uint8Array(RESPONSE_LEN)
  msg[0] = MSG_RESPONSE
  writeU32LE(msg, 4, senderIndex)
  writeU32LE(msg, 8, init.senderIndex)
  msg.set(e.publicKey, 12)
  let ck = kdf1(init.chainingKey, e.publicKey)
  let h = hash(init.hash, e.publicKey)
  const ee = dh(e.privateKey, init.remoteEphemeral)
  const se = dh(e.privateKey, peer.publicKey)
  if (ee === undefined || se === undefined) return undefined
  ck = kdf1(ck, ee)
  ck = kdf1(ck, se)
  const [ck2, tau, k] = kdf3(ck, peer.presharedKey)
  h = hash(h, tau)
  const empty = aeadSeal(k, 0n, EMPTY, h)
  msg.set(empty, 44)
  const [receive, send] = kdf2(ck2, EMPTY) // the initiator sends with the first key
  return { message: msg, keys: { send, receive } }
}

/** Checks msg 2 (MAC1 already checked) against our pending initiation; the initiator's keys. */
export function consumeResponse (local: LocalIdentity, peer: PeerIdentity, state: InitiatorState, msg: Uint8Array): TransportKeys | undefined {
  if (msg.length !== RESPONSE_LEN || msg[0] !== MSG_RESPONSE || msg[1] !== 0 || msg[2] !== 0 || msg[3] !== 0) return undefined
  if (readU32LE(msg, 8) !== state.senderIndex) return undefined
  const ephemeral = msg.subarray(12, 44)
  let ck = kdf1(state.chainingKey, ephemeral)
  let h = hash(state.hash, ephemeral)
  const ee = dh(state.ephemeral.privateKey, ephemeral)
  const se = dh(local.privateKey, ephemeral)
  if (ee === undefined || se === undefined) return undefined
  ck = kdf1(ck, ee)
  ck = kdf1(ck, se)
  const [ck2, tau, k] = kdf3(ck, peer.presharedKey)
  h = hash(h, tau)
  if (aeadOpen(k, 0n, msg.subarray(44, 44 + TAG_LEN), h) === undefined) return undefined
  const [send, receive] = kdf2(ck2, EMPTY)
  return { send, receive }
}

/** The sender index of a response (the responder's index for our data messages). */
export function responseSenderIndex (msg: Uint8Array): number {
  return readU32LE(msg, 4)
}

export { KEY_LEN, TAG_LEN }
