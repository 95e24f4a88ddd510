// Every entry point that takes bytes (pool.leaseFrom, lease.set on single and batch leases,
// udp.send, tun.write; one packet and arrays) with every kind of byte source: Buffers, typed
// arrays of each element type, DataViews, views over SharedArrayBuffers, resizable and
// growable buffers, detached buffers, zero length, offsets into larger buffers. Each either
// works (the bytes arrive intact) or throws ERR_TUNIO_INVALID_ARG naming the argument; the
// process never crashes. test/fixtures/byte-inputs.js runs the cases in a child process per
// lease mode, inside a throwaway namespace (it opens a TUN), so a crash fails the case it
// happened in instead of killing the tap run.
import t from 'tap'
import * as path from 'path'
import { spawn } from 'child_process'
import { createNetns, deleteNetns, netnsSkipReason } from './helpers/netns'
import { DIST, LEASE_MODES, TRANSFER_FLAGS } from './helpers/lease-modes'

const fixture = path.join(__dirname, 'fixtures', 'byte-inputs.js')
interface Line { start?: string, case?: string, ok?: boolean, got?: unknown, done?: number, expected?: number, inUseBytes?: number, leaked?: number }

function runIn (ns: string, env: NodeJS.ProcessEnv): Promise<{ lines: Line[], code: number | null, signal: string | null, stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...TRANSFER_FLAGS, fixture, DIST], { env: { ...process.env, ...env } })
    let out = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const lines = out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Line)
      resolve({ lines, code, signal, stderr })
    })
  })
}

const skip = netnsSkipReason()
for (const { mode, env } of LEASE_MODES) {
  t.test(`byte sources at every entry point, ${mode} mode`, { skip }, async (t) => {
    const ns = await createNetns('b')
    t.teardown(() => deleteNetns(ns))
    const r = await runIn(ns, env)
    const cases = r.lines.filter((l) => l.case !== undefined)
    const done = r.lines.find((l) => l.done !== undefined)
    if (done === undefined) {
      const started = r.lines.filter((l) => l.start !== undefined).pop()
      t.fail(`child died (exit ${String(r.code)}, signal ${String(r.signal)}) in ${started?.start ?? 'set-up'}`, { stderr: r.stderr.slice(-3000) })
    }
    const failed = cases.filter((l) => l.ok !== true)
    t.same(failed, [], `every case works or is refused with ERR_TUNIO_INVALID_ARG naming the argument (${cases.length} ran)`)
    if (done !== undefined) {
      t.equal(done.done, cases.length)
      t.equal(cases.length, done.expected, `every entry point with every kind of source (${cases.length} cases)`)
      t.equal(done.inUseBytes, 0, 'every slot is back in the pool')
      t.equal(done.leaked, 0, 'nothing leaked')
    }
  })
}
