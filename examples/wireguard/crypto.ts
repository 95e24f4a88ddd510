/**
 * The handshake's primitives, named as in the WireGuard paper (section 5.4), each a thin call
 * into a maintained implementation: node:crypto (OpenSSL) for X25519, ChaCha20-Poly1305,
 * BLAKE2s-256 and HMAC-BLAKE2s; @noble/hashes for keyed BLAKE2s with a 16-byte output (MAC),
 * which OpenSSL does not expose; @noble/ciphers for XChaCha20-Poly1305 (cookie replies), which
 * node:crypto does not have. Nothing here implements a primitive.
 *
 * These run once per handshake, not per packet: the data plane seals and opens in batches
 * natively (see device.ts).
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, timingSafeEqual, type KeyObject } from 'crypto'
import { blake2s } from '@noble/hashes/blake2s'
import { xchacha20poly1305 } from '@noble/ciphers/chacha'

export const KEY_LEN = 32
export const TAG_LEN = 16

// RFC 8410 wrappings of a raw X25519 key, so OpenSSL can take it as a KeyObject.
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex')
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex')

export interface KeyPair { privateKey: Uint8Array, publicKey: Uint8Array }

export function privateKeyObject (raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_X25519, raw]), format: 'der', type: 'pkcs8' })
}

export function publicKeyObject (raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_X25519, raw]), format: 'der', type: 'spki' })
}

/** The public key of a raw private key (clamping is X25519's, done by OpenSSL). */
export function publicKeyOf (privateKey: Uint8Array): Uint8Array {
  const der = createPublicKey(privateKeyObject(privateKey)).export({ format: 'der', type: 'spki' })
  return new Uint8Array(der.subarray(der.length - KEY_LEN))
}

/** DH-Generate: a fresh key pair. */
export function generateKeyPair (): KeyPair {
  const { privateKey } = generateKeyPairSync('x25519')
  const der = privateKey.export({ format: 'der', type: 'pkcs8' })
  const raw = new Uint8Array(der.subarray(der.length - KEY_LEN))
  return { privateKey: raw, publicKey: publicKeyOf(raw) }
}

/**
 * DH(private, public). Returns undefined for a low-order public key (the shared secret would be
 * all zeros: OpenSSL refuses it, and the protocol must treat it as a failed handshake).
 */
export function dh (privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | undefined {
  try {
    return new Uint8Array(diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: publicKeyObject(publicKey) }))
  } catch {
    return undefined
  }
}

/** HASH(input...): BLAKE2s-256 of the concatenation. */
export function hash (...parts: Uint8Array[]): Uint8Array {
  const h = createHash('blake2s256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

/** HMAC(key, input...) over BLAKE2s-256. */
export function hmac (key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac('blake2s256', key)
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

/** MAC(key, input): keyed BLAKE2s with a 16-byte output (MAC1, MAC2, cookies). */
export function mac (key: Uint8Array, input: Uint8Array): Uint8Array {
  return blake2s(input, { key, dkLen: 16 })
}

const ONE = Uint8Array.of(1)
const TWO = Uint8Array.of(2)
const THREE = Uint8Array.of(3)

/** KDF_n(key, input): HKDF over HMAC-BLAKE2s, the first n 32-byte outputs. */
export function kdf1 (key: Uint8Array, input: Uint8Array): Uint8Array {
  return hmac(hmac(key, input), ONE)
}

export function kdf2 (key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array] {
  const prk = hmac(key, input)
  const t1 = hmac(prk, ONE)
  return [t1, hmac(prk, t1, TWO)]
}

export function kdf3 (key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  const prk = hmac(key, input)
  const t1 = hmac(prk, ONE)
  const t2 = hmac(prk, t1, TWO)
  return [t1, t2, hmac(prk, t2, THREE)]
}

/** The protocol's 96-bit nonce: 32 zero bits, then the 64-bit counter little-endian. */
export function nonce (counter: bigint): Buffer {
  const n = Buffer.alloc(12)
  n.writeBigUInt64LE(counter, 4)
  return n
}

/** AEAD(key, counter, plaintext, ad): ChaCha20-Poly1305 (RFC 8439), ciphertext || tag. */
export function aeadSeal (key: Uint8Array, counter: bigint, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', key, nonce(counter), { authTagLength: TAG_LEN })
  c.setAAD(ad, { plaintextLength: plaintext.length })
  const body = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()])
  return new Uint8Array(body)
}

/** The inverse of aeadSeal; undefined when the tag does not verify. */
export function aeadOpen (key: Uint8Array, counter: bigint, sealed: Uint8Array, ad: Uint8Array): Uint8Array | undefined {
  if (sealed.length < TAG_LEN) return undefined
  const d = createDecipheriv('chacha20-poly1305', key, nonce(counter), { authTagLength: TAG_LEN })
  d.setAAD(ad, { plaintextLength: sealed.length - TAG_LEN })
  d.setAuthTag(sealed.subarray(sealed.length - TAG_LEN))
  const out = d.update(sealed.subarray(0, sealed.length - TAG_LEN))
  try {
    d.final()
  } catch {
    return undefined
  }
  return new Uint8Array(out)
}

/** XAEAD(key, 24-byte nonce, plaintext, ad): XChaCha20-Poly1305, for cookie replies. */
export function xaeadSeal (key: Uint8Array, nonce24: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  return xchacha20poly1305(key, nonce24, ad).encrypt(plaintext)
}

export function xaeadOpen (key: Uint8Array, nonce24: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Uint8Array | undefined {
  try {
    return xchacha20poly1305(key, nonce24, ad).decrypt(sealed)
  } catch {
    return undefined
  }
}

/** Constant-time comparison of two equal-length byte strings. */
export function equal (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}
