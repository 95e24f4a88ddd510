/**
 * Sums stats snapshots taken in different threads (e.g. one `tun.stats()` per worker, passed
 * to the main thread with postMessage): numbers are added, booleans OR-ed, nested objects
 * summed key by key, and arrays (such as `queues`) concatenated, so the result of N workers
 * with one queue each lists N queues. Pool figures become the sum over the pools: for
 * `highWaterBytes` that is an upper bound of what was in use at any one time.
 */
export function sumStats<T extends object> (snapshots: readonly T[]): T {
  if (snapshots.length === 0) throw new RangeError('sumStats() needs at least one snapshot')
  return snapshots.slice(1).reduce((acc, s) => add(acc, s) as T, clone(snapshots[0]))
}

function clone<T> (v: T): T { return JSON.parse(JSON.stringify(v)) as T }

function add (a: unknown, b: unknown): unknown {
  if (typeof a === 'number' && typeof b === 'number') return a + b
  if (typeof a === 'boolean' && typeof b === 'boolean') return a || b
  if (Array.isArray(a) && Array.isArray(b)) return [...a, ...clone(b)]
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const out = a as Record<string, unknown>
    for (const [k, v] of Object.entries(b)) out[k] = k in out ? add(out[k], v) : clone(v)
    return out
  }
  return a
}
