/**
 * batch.bytes(): read and write the bytes of a whole batch from JavaScript without a Buffer per
 * packet. See src-native/core/batch_layout.h for the layout and docs/ownership.md for the rules.
 */
import { binding } from './binding'
import { tunioError } from './errors'
import type { NativeBatchLayout } from './native'

function viewClosed (): Error {
  return tunioError('ERR_TUNIO_VIEW_CLOSED',
    'this batch.bytes() view is closed: its batch was released, sent, split, sealed or opened, or one of its leases was ' +
    'released, sent or made a Buffer; call batch.bytes() again for a view of what the batch still holds')
}

/**
 * The bytes of a batch's packets: `buffers` holds one Buffer per run of contiguous memory (a
 * whole TUN read or UDP GRO read is typically one or two; a datagram received without GRO is
 * one of its own), and per packet `i` five numbers in typed arrays read in place:
 *
 * ```ts
 * const v = batch.bytes()
 * const { buffers, run, start, length, minStart } = v
 * for (let i = 0; i < run.length; i++) {
 *   if (length[i] < 0) continue                        // released or dropped
 *   const buf = buffers[run[i]]
 *   start[i] -= 4; length[i] += 4                      // a 4-byte header in front, in place
 *   buf.writeUInt32BE(MAGIC, start[i])
 * }
 * udp.send(batch, peer)                                // sends the packets as they are now
 * ```
 *
 * Packet `i` is `buffers[run[i]]` from `start[i]` for `length[i]` bytes. Its room (the bytes
 * it may grow into: its headroom and tailroom, see `headroom` on openTun() and
 * pool.leaseBatch()) is `minStart[i]` to `maxEnd[i]`. Writing `start[i]` and `length[i]`
 * moves the packet within its room: the next call that uses the batch (send(), write(),
 * aead.seal()/open(), headers(), a lease's `length`) applies it, and one outside the room is
 * refused there with ERR_TUNIO_INVALID_ARG, before anything moves.
 *
 * The view closes when the batch is released, sent, split, sealed or opened, when one of its
 * leases is released, sent or makes its `buffer`, and when bytes() is called again after one
 * of those. A closed view's Buffers and arrays are detached (they read as empty and can never
 * show another packet's bytes), and its getters throw ERR_TUNIO_VIEW_CLOSED. Where the runtime
 * forbids external buffers the Buffers are copies, written back whenever the layout is applied.
 */
export class BatchBytes {
  readonly #table: Int32Array
  readonly #buffers: readonly Buffer[]
  readonly #fields: Int32Array[]
  readonly #layout: NativeBatchLayout
  /** Keeps the batch (and so this view's native side) alive as long as the view is. */
  readonly #owner: object

  /** @internal */
  constructor (owner: object, table: Int32Array, buffers: Buffer[], count: number) {
    const layout = binding().batchLayout
    this.#owner = owner
    this.#table = table
    this.#buffers = Object.freeze(buffers)
    this.#layout = layout
    this.#fields = []
    for (let f = 0; f < layout.fields; f++) this.#fields.push(table.subarray(f * count, (f + 1) * count))
  }

  /** @internal A table for `count` packets (one word more, so that even an empty view shows when it is detached). */
  static table (count: number): Int32Array {
    return new Int32Array(new ArrayBuffer(4 * (binding().batchLayout.fields * count + 1)))
  }

  /** False once the view closed (see the class description). */
  get open (): boolean { return this.#table.length !== 0 }

  #field (f: number): Int32Array {
    if (this.#table.length === 0) throw viewClosed()
    return this.#fields[f]
  }

  /** One Buffer per run of contiguous memory of the batch. */
  get buffers (): readonly Buffer[] {
    if (this.#table.length === 0) throw viewClosed()
    return this.#buffers
  }

  /** Per packet: the index into `buffers` of the run holding it; -1 once released or dropped. */
  get run (): Int32Array { return this.#field(this.#layout.run) }
  /** Per packet: where it starts in its run's Buffer. Writable, within `minStart`..`maxEnd - length`. */
  get start (): Int32Array { return this.#field(this.#layout.start) }
  /** Per packet: its length in bytes; -1 once released or dropped. Writable, up to `maxEnd - start`. */
  get length (): Int32Array { return this.#field(this.#layout.length) }
  /** Per packet: the lowest `start` (where its headroom begins). Read only: writing it changes nothing. */
  get minStart (): Int32Array { return this.#field(this.#layout.minStart) }
  /** Per packet: where its tailroom ends (`start + length` may not pass it). Read only. */
  get maxEnd (): Int32Array { return this.#field(this.#layout.maxEnd) }

  /**
   * A Buffer over packet `i` as laid out now (a convenience that makes one object: for a few
   * packets, not for the loop over all of them). Throws ERR_TUNIO_LEASE_RELEASED for a packet
   * released or dropped, ERR_TUNIO_VIEW_CLOSED once the view closed.
   */
  packet (i: number): Buffer {
    const run = this.run[i]
    if (run === undefined || run < 0) throw tunioError('ERR_TUNIO_LEASE_RELEASED', `packet ${i} is not held by the batch`)
    const start = this.start[i]
    return this.#buffers[run].subarray(start, start + this.length[i])
  }

  /** @internal */
  get owner (): object { return this.#owner }
}
