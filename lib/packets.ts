/** What write()/send() accept, and how ownership moves to the native side. */
import { tunioError } from './errors'
import { Lease, PacketBatch } from './lease'
import type { NativeBatch } from './native'

/** One packet or many: leases and batches move (zero copy); Buffers are copied. */
export type PacketInput = PacketBatch | Lease | Uint8Array | Iterable<PacketBatch | Lease | Uint8Array>

type Item = PacketBatch | Lease | Uint8Array

function isItem (v: unknown): v is Item {
  return v instanceof PacketBatch || v instanceof Lease || v instanceof Uint8Array
}

/**
 * Checks every item first (so a bad argument moves nothing), then surrenders leases and
 * batches: their views are detached and they read as released from here on.
 */
export function toNativeItems (input: PacketInput): Array<NativeBatch | Uint8Array> {
  const items: Item[] = isItem(input) ? [input] : checkIterable(input)
  for (const it of items) {
    if (it instanceof Lease && !it.held) {
      throw tunioError('ERR_TUNIO_LEASE_RELEASED', 'a lease passed to send()/write() was already released or sent')
    }
  }
  return items.map((it) => (it instanceof PacketBatch ? it.surrender() : it instanceof Lease ? it.surrender() : it))
}

function checkIterable (input: unknown): Item[] {
  if (input === null || typeof input !== 'object' || typeof (input as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw tunioError('ERR_TUNIO_INVALID_ARG', 'expected a PacketBatch, a Lease, a Buffer or an array of them')
  }
  const items = Array.from(input as Iterable<unknown>)
  for (const it of items) {
    if (!isItem(it)) throw tunioError('ERR_TUNIO_INVALID_ARG', 'expected a PacketBatch, a Lease, a Buffer or an array of them')
  }
  return items as Item[]
}
