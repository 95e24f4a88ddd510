/** What write()/send() accept, and how ownership moves to the native side. */
import { bufferOf, byteSourceLength, isByteSource, type ByteSource } from './bytes'
import { invalidArg, tunioError } from './errors'
import { Lease, PacketBatch } from './lease'
import { binding } from './binding'
import type { NativeBatch } from './native'

/**
 * One packet or many: leases and batches move (zero copy); byte sources (a Buffer, any typed
 * array, a DataView) are copied.
 */
export type PacketInput = PacketBatch | Lease | ByteSource | Iterable<PacketBatch | Lease | ByteSource>

type Item = PacketBatch | Lease | ByteSource

function isItem (v: unknown): v is Item {
  return v instanceof PacketBatch || v instanceof Lease || isByteSource(v)
}

/** How send()/write() name their argument in errors ('datagrams', 'packets'). */
export interface ItemCheck {
  argument: string
  /**
   * udp.send() without `to` on an unconnected socket: each packet needs a destination of its
   * own (a lease or batch received from a UDP socket has its sender); refuse the rest.
   */
  needsOwnDestination?: boolean
}

/**
 * Checks the whole argument first (so a bad one moves nothing), then surrenders leases and
 * batches: their views are detached and they read as released from here on.
 */
export function toNativeItems (input: PacketInput, check: ItemCheck): Array<NativeBatch | ByteSource> {
  const single = isItem(input)
  const items: Item[] = single ? [input] : checkIterable(input, check.argument)
  let moving: Set<Lease | PacketBatch> | undefined // what moves, to refuse an item given twice
  for (let i = 0; i < items.length; i++) {
    const it = items[i]
    const name = single ? check.argument : `${check.argument}[${i}]`
    if (it instanceof Lease || it instanceof PacketBatch) {
      if (it instanceof Lease) it.checkSurrender(name)
      else if (it.consumed) throw releasedItem(name, 'a batch that was released or sent already')
      else it.syncBytes(name) // an open bytes() view is applied, or refused before anything moves
      if (!single) {
        moving ??= new Set()
        if (moving.has(it)) throw invalidArg(name, 'is given twice: each packet moves to the device once')
        moving.add(it)
      }
      if (check.needsOwnDestination === true && !hasOwnDestinations(it)) throw noDestination(name)
    } else {
      const length = byteSourceLength(it, name)
      const max = binding().limits.leaseSize
      if (length > max) throw invalidArg(name, `a packet of ${length} bytes is larger than ${max}`)
      if (check.needsOwnDestination === true) throw noDestination(name)
    }
  }
  if (moving !== undefined) {
    // A byte source over the Buffer of a lease that moves in the same call would be detached
    // (by that lease's surrender) before the addon reads it.
    let detaching: Set<ArrayBufferLike> | undefined
    for (let i = 0; i < items.length; i++) {
      const it = items[i]
      if (it instanceof Lease || it instanceof PacketBatch) continue
      detaching ??= new Set(Array.from(moving).flatMap((m) => m instanceof Lease ? [m.viewMemory()].filter((x) => x !== undefined) : m.viewMemories()) as ArrayBufferLike[])
      if (detaching.has(bufferOf(it))) {
        throw invalidArg(`${check.argument}[${i}]`, 'is a view of a lease that moves in the same call (its Buffer is detached when it moves): copy it first')
      }
    }
    // A lease of a batch that is itself in the argument would move twice.
    for (let i = 0; i < items.length; i++) {
      const it = items[i]
      const batch = it instanceof Lease ? it.ownerBatch() : undefined
      if (batch !== undefined && moving.has(batch)) {
        throw invalidArg(`${check.argument}[${i}]`, `is a lease of the batch at ${check.argument}[${items.indexOf(batch)}], which moves whole: give one or the other`)
      }
    }
  }
  return items.map((it) => (it instanceof PacketBatch ? it.surrender() : it instanceof Lease ? it.surrender() : it))
}

function hasOwnDestinations (it: Lease | PacketBatch): boolean {
  if (it instanceof Lease) return it.remote !== undefined
  return it.native.withoutRemote() === 0
}

function releasedItem (name: string, what: string): Error {
  return tunioError('ERR_TUNIO_LEASE_RELEASED', `${name} is ${what}`, { argument: name })
}

function noDestination (name: string): Error {
  const err = invalidArg('to', `is required: the socket is not connected and ${name} has no destination of its own`)
  ;(err as { errno?: string }).errno = 'EDESTADDRREQ'
  return err
}

function checkIterable (input: unknown, argument: string): Item[] {
  if (input === null || typeof input !== 'object' || typeof (input as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw invalidArg(argument, 'expected a PacketBatch, a Lease, a Buffer, a typed array, a DataView or an iterable of them')
  }
  const items = Array.from(input as Iterable<unknown>)
  for (let i = 0; i < items.length; i++) {
    if (!isItem(items[i])) {
      throw invalidArg(`${argument}[${i}]`, 'expected a PacketBatch, a Lease, a Buffer, a typed array or a DataView')
    }
  }
  return items as Item[]
}
