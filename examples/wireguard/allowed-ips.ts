/**
 * Cryptokey routing: which peer an inner IP address belongs to, by the longest prefix of the
 * peers' AllowedIPs (a binary trie per address family). Lookups read the address straight out
 * of a packet's bytes at an offset, so the data path makes no string or object per packet.
 *
 * As in wg(8), a prefix belongs to one peer at a time: adding it for another peer moves it.
 */
import type { Prefix } from './config'

interface Node<T> { zero?: Node<T>, one?: Node<T>, value?: T }

export class AllowedIPs<T> {
  #v4: Node<T> = {}
  #v6: Node<T> = {}
  // The last IPv4 source and destination looked up and their answers: the packets of one batch
  // mostly belong to a few flows, so most lookups repeat the one before (-1: nothing cached).
  #lastSrc = -1
  #lastSrcValue: T | undefined
  #lastDst = -1
  #lastDstValue: T | undefined

  insert (prefix: Prefix, value: T): void {
    this.#lastSrc = this.#lastDst = -1
    let node = prefix.family === 4 ? this.#v4 : this.#v6
    for (let i = 0; i < prefix.bits; i++) {
      const bit = (prefix.bytes[i >> 3] >> (7 - (i & 7))) & 1
      const next = bit === 0 ? node.zero : node.one
      if (next !== undefined) { node = next; continue }
      const created: Node<T> = {}
      if (bit === 0) node.zero = created
      else node.one = created
      node = created
    }
    node.value = value
  }

  /**
   * The value of the longest prefix holding the address of `family` (4: 4 bytes, 6: 16 bytes)
   * that starts at `bytes[offset]`; undefined when none does.
   */
  lookup (family: 4 | 6, bytes: Uint8Array, offset: number): T | undefined {
    let node: Node<T> | undefined = family === 4 ? this.#v4 : this.#v6
    let best = node.value
    const bits = family === 4 ? 32 : 128
    for (let i = 0; i < bits && node !== undefined; i++) {
      const bit = (bytes[offset + (i >> 3)] >> (7 - (i & 7))) & 1
      node = bit === 0 ? node.zero : node.one
      if (node?.value !== undefined) best = node.value
    }
    return best
  }

  /**
   * The peer owning a packet's destination (`which` 'dst', outbound routing) or source ('src',
   * the inbound check). undefined: not an IPv4/IPv6 packet long enough, or no peer owns it.
   */
  lookupPacket (packet: Uint8Array, offset: number, length: number, which: 'src' | 'dst'): T | undefined {
    if (length < 1) return undefined
    const version = packet[offset] >> 4
    if (version === 4 && length >= 20) {
      const at = offset + (which === 'src' ? 12 : 16)
      const key = ((packet[at] << 24) | (packet[at + 1] << 16) | (packet[at + 2] << 8) | packet[at + 3]) >>> 0
      if (which === 'src') {
        if (key !== this.#lastSrc) { this.#lastSrcValue = this.lookup(4, packet, at); this.#lastSrc = key }
        return this.#lastSrcValue
      }
      if (key !== this.#lastDst) { this.#lastDstValue = this.lookup(4, packet, at); this.#lastDst = key }
      return this.#lastDstValue
    }
    if (version === 6 && length >= 40) return this.lookup(6, packet, offset + (which === 'src' ? 8 : 24))
    return undefined
  }
}
