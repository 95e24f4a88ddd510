/**
 * Opt-in record of where unreleased leases were taken (TUNIO_DEBUG_LEASES=1 or
 * setLeaseDebug(true)). Off by default: capturing a stack per batch costs microseconds.
 *
 * The pool counts every packet that reached GC unreleased (`stats().leaked`) in any mode; this
 * adds *where* the batch holding it was created.
 */
import type { NativeBatch } from './native'

export interface LeakReport {
  /** Packets still held when the batch was garbage-collected. */
  packets: number
  /** Stack trace of the read()/lease() call that produced the batch. */
  stack: string
}

interface Held { native: Pick<NativeBatch, 'live'>, stack: string }

/** A single lease is untracked when released, so one still tracked at GC holds its packet. */
const ONE_HELD = { live: () => 1 }

function takenAt (): string {
  return (new Error('lease taken here').stack ?? '').split('\n').slice(3).join('\n')
}

class LeakTracker {
  enabled = process.env.TUNIO_DEBUG_LEASES === '1'
  readonly reports: LeakReport[] = []
  readonly #registry = new FinalizationRegistry<Held>((held) => {
    const packets = held.native.live()
    if (packets > 0) {
      this.reports.push({ packets, stack: held.stack })
      if (this.reports.length > 1000) this.reports.shift()
      process.emitWarning(`tunio: ${packets} lease(s) were garbage-collected without release(); taken at:\n${held.stack}`,
        { code: 'TUNIO_LEASE_LEAKED' })
    }
    // Dropping `held` lets the native batch go; its destructor returns the memory and counts
    // the packets in the pool's `leaked` statistic.
  })

  track (owner: object, native: NativeBatch): void {
    if (!this.enabled) return
    this.#registry.register(owner, { native, stack: takenAt() })
  }

  /** A single lease (pool.lease()): reported if collected before untrackLease(). */
  trackLease (owner: object): void {
    this.#registry.register(owner, { native: ONE_HELD, stack: takenAt() }, owner)
  }

  untrackLease (owner: object): void {
    this.#registry.unregister(owner)
  }
}

export const leakTracker = new LeakTracker()

/** Turns the record of where leaked leases were taken on or off (for this thread). */
export function setLeaseDebug (enabled: boolean): void {
  leakTracker.enabled = enabled
}

/** Leaks recorded since debug mode was turned on (most recent last, at most 1,000). */
export function leakReports (): LeakReport[] {
  return leakTracker.reports.slice()
}
