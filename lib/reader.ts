/**
 * Pull-based reading shared by TUN queues and UDP sockets: read() tries the fd at once, and
 * only when it is empty asks the native side for one readable callback. No read happens while
 * nobody asks, so a slow consumer slows the kernel queue, not the heap.
 */
import { PacketBatch } from './lease'
import type { NativeBatch } from './native'

/** What a native read returns: a batch, 0 (nothing now) or 1 (pool full: backpressure). */
export type NativeReadResult = NativeBatch | 0 | 1

const POOL_RETRY_MS = 1

export class BatchReader {
  readonly #readOnce: () => NativeReadResult
  readonly #watch: (on: boolean) => void
  #waiters: Array<() => void> = []
  #closed = false
  #timer: NodeJS.Timeout | undefined

  constructor (readOnce: () => NativeReadResult, watch: (on: boolean) => void) {
    this.#readOnce = readOnce
    this.#watch = watch
  }

  /** The next batch, or null once closed. Leases already handed out stay valid after close. */
  async read (): Promise<PacketBatch | null> {
    for (;;) {
      if (this.#closed) return null
      const r = this.#readOnce()
      if (typeof r === 'object') return new PacketBatch(r)
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve)
        if (r === 1) {
          // The consumer holds the pool: retry shortly instead of reading into nowhere.
          if (this.#timer === undefined) {
            this.#timer = setTimeout(() => { this.#timer = undefined; this.#wake() }, POOL_RETRY_MS)
          }
        } else {
          this.#watch(true)
        }
      })
    }
  }

  /** Called by the native side when the fd became readable. */
  onReadable (): void { this.#wake() }

  #wake (): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w()
  }

  close (): void {
    this.#closed = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#wake()
  }

  async * iterate (): AsyncGenerator<PacketBatch, void, undefined> {
    for (;;) {
      const batch = await this.read()
      if (batch === null) return
      yield batch
    }
  }
}
