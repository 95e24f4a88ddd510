// What the example programs share around their packet loops: a status line at an interval and
// a clean shutdown on Ctrl-C, SIGTERM or an I/O error.

/** Calls `report` every `ms` milliseconds (never when `ms` is 0); returns the function that stops it. */
export function everyMs (ms: number, report: () => void): () => void {
  if (ms <= 0) return () => {}
  const timer = setInterval(report, ms)
  return () => clearInterval(timer)
}

/**
 * Makes `stop` run once: on the first SIGINT or SIGTERM, or when the returned function is
 * called (with 'eof' once the loops ended). Then the process exits with its exit code.
 */
export function stopOnce (stop: (signal: string) => Promise<void>): (signal: string) => Promise<void> {
  let stopping = false
  const once = async (signal: string): Promise<void> => {
    if (stopping) return
    stopping = true
    await stop(signal)
    process.exit(process.exitCode ?? 0)
  }
  process.on('SIGINT', () => { void once('SIGINT') })
  process.on('SIGTERM', () => { void once('SIGTERM') })
  return once
}

/** Waits for the first of `loops` to end. A loop ends on its own only on an I/O error: printed, exit code 1. */
export async function firstLoopEnd (program: string, loops: Array<Promise<unknown>>): Promise<void> {
  await Promise.race(loops).catch((err: Error) => {
    console.error(`${program}: ${err.message}`)
    process.exitCode = 1
  })
}
