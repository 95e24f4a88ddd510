// Types of packets.js (plain JavaScript so that the node fixtures and fuzz/make-seeds.js can
// require it too).

/** Named fields of packet(); each optional, defaulting as described there. */
export interface PacketFields {
  version?: 4 | 6
  /** 6 TCP or 17 UDP. */
  proto?: 6 | 17
  /** IPv4 TOS / IPv6 traffic class. */
  tos?: number
  /** IPv4 TTL / IPv6 hop limit. */
  ttl?: number
  id?: number
  df?: boolean
  flowLabel?: number
  src?: ArrayLike<number>
  dst?: ArrayLike<number>
  ipOptions?: ArrayLike<number>
  sport?: number
  dport?: number
  seq?: number
  ack?: number
  flags?: number
  window?: number
  tcpOptions?: ArrayLike<number>
  payload?: Buffer
  checksum?: 'full' | 'partial' | 'zero'
  ipChecksum?: boolean
}

export function packet (fields?: PacketFields): Buffer
export function pattern (n: number, seed: number): Buffer
export function internetChecksum (bytes: Uint8Array): number
export function onesSum (bytes: Uint8Array, sum?: number): number
export function fold (sum: number): number
