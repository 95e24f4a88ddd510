// Property-based tests of the whole public API (fast-check): random sequences of calls with
// random arguments of every type, in each lease mode (test/fixtures/api-properties.js says what
// is generated and what must hold). Each mode runs in a child process inside a throwaway
// namespace (it opens a TUN), so a crash fails the test with the call it died in instead of
// killing the tap run. The seed is fixed by default (repeatable runs) and printed;
// TUNIO_PROPERTY_SEED=random explores new sequences, TUNIO_PROPERTY_SEED=N replays one,
// TUNIO_PROPERTY_RUNS sets the number of runs per mode (default 500).
import t from 'tap'
import * as path from 'path'
import { spawn } from 'child_process'
import { createNetns, deleteNetns, netnsSkipReason } from './helpers/netns'
import { DIST, LEASE_MODES, TRANSFER_FLAGS } from './helpers/lease-modes'

const fixture = path.join(__dirname, 'fixtures', 'api-properties.js')
interface Done { done: true, seed: number, failure: string | null, runs: number, calls: number, returned: number, byCode: Record<string, number> }

function runIn (ns: string, env: NodeJS.ProcessEnv): Promise<{ first?: { seed: number, mode: string }, last?: unknown, done?: Done, code: number | null, signal: string | null, stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...TRANSFER_FLAGS, fixture, DIST], { env: { ...process.env, ...env } })
    let pending = ''
    let first: { seed: number, mode: string } | undefined
    let last: unknown
    let done: Done | undefined
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      pending += d.toString()
      const lines = pending.split('\n')
      pending = lines.pop() as string
      for (const line of lines) {
        if (line.trim() === '') continue
        const o = JSON.parse(line)
        if (o.seed !== undefined && o.done === undefined) first = o
        else if (o.done === true) done = o
        else last = o.cmd
      }
    })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => child.kill('SIGKILL'), 900_000)
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ first, last, done, code, signal, stderr }) })
  })
}

const skip = netnsSkipReason()
for (const { mode, env } of LEASE_MODES) {
  t.test(`public API with random arguments, ${mode} mode`, { skip }, async (t) => {
    const ns = await createNetns('p')
    t.teardown(() => deleteNetns(ns))
    const r = await runIn(ns, env)
    t.equal(r.first?.mode, mode, 'the pool picked this mode')
    if (r.done === undefined) {
      t.fail(`child died (exit ${String(r.code)}, signal ${String(r.signal)}), seed ${String(r.first?.seed)}, in ${JSON.stringify(r.last)}`,
        { stderr: r.stderr.slice(-3000) })
      return
    }
    const d = r.done
    t.comment(`seed ${d.seed}: ${d.runs} runs, ${d.calls} calls (${d.returned} returned, thrown by code: ${JSON.stringify(d.byCode)})`)
    t.equal(d.failure, null, `every property held (seed ${d.seed}; TUNIO_PROPERTY_SEED=${d.seed} replays it)`)
    t.ok(d.runs >= 1 && d.calls >= d.runs, 'calls were made')
    t.ok(d.returned > 0 && (d.byCode.ERR_TUNIO_INVALID_ARG ?? 0) > 0, 'both accepted and refused calls were generated')
  })
}
