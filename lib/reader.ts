/**
 * Pull-based reading shared by TUN queues and UDP sockets: read() tries the fd at once, and
 * only when it is empty asks the native side for readable callbacks. No read happens while
 * nobody asks, so a slow consumer slows the kernel queue, not the heap.
 *
 * The poll stays armed between batches (level-triggered: an fd read until EAGAIN does not fire
 * again): disarming it at every wake-up and re-arming it at the next EAGAIN cost two epoll_ctl
 * system calls per wake-up and fd (docs/performance.md). A wake-up that finds nobody waiting
 * disarms it, so a consumer that stops asking is not woken again.
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
      await this.#wait(r)
    }
  }

  /** Waits for the fd (r === 0) or for the pool to have room again (r === 1). */
  #wait (r: 0 | 1): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#waiters.push(resolve)
      if (r === 1) {
        // The consumer holds the pool: retry shortly instead of reading into nowhere. The poll
        // must not stay armed meanwhile (the fd stays readable: every loop turn would wake us).
        this.#watch(false)
        if (this.#timer === undefined) {
          this.#timer = setTimeout(() => { this.#timer = undefined; this.#wake() }, POOL_RETRY_MS)
        }
      } else {
        this.#watch(true)
      }
    })
  }

  /** Called by the native side when the fd became readable (the poll is still armed). */
  onReadable (): void {
    if (this.#waiters.length === 0) {
      this.#watch(false) // nobody asked: no more wake-ups until someone does
      return
    }
    this.#wake()
  }

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

  /**
   * The async iterator of a TUN queue or UDP socket. Written out rather than as an async
   * generator: a batch that is already there costs one resolved promise, not the generator's
   * request queue and the awaits of `yield` (per batch, on the data path).
   */
  iterate (): AsyncIterableIterator<PacketBatch> {
    let done = false
    const finished: IteratorReturnResult<undefined> = { value: undefined, done: true }
    const result = (batch: PacketBatch | null): IteratorResult<PacketBatch, undefined> => {
      if (batch === null) done = true
      return batch === null ? finished : { value: batch, done: false }
    }
    const iterator: AsyncIterableIterator<PacketBatch> = {
      next: (): Promise<IteratorResult<PacketBatch, undefined>> => {
        if (done || this.#closed) return Promise.resolve(result(null))
        let r: NativeReadResult
        try {
          r = this.#readOnce()
        } catch (err) {
          done = true
          return Promise.reject(err)
        }
        if (typeof r === 'object') return Promise.resolve({ value: new PacketBatch(r), done: false })
        return this.#wait(r).then(async () => await this.read()).then(result, (err) => { done = true; throw err })
      },
      return: (): Promise<IteratorResult<PacketBatch, undefined>> => {
        done = true
        return Promise.resolve(finished)
      },
      [Symbol.asyncIterator] () { return iterator }
    }
    return iterator
  }
}
