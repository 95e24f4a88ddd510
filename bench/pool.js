#!/usr/bin/env node
// npm run bench:pool: the cost of a lease (take, fill, release) against Buffer.allocUnsafe plus
// a copy of the same bytes, side by side in one process, for 64, 1400 and 9000 bytes; then
// RSS across 1,000,000 lease/release cycles.
//
// The pool makes lease Buffers one of three ways (docs/ownership.md, "lease modes"). This runs
// every mode the runtime can do, each in a child process: 'transfer' (built into Node >= 21;
// on Node 20 behind --harmony-rab-gsab-transfer), 'external' (Node 20's default) and 'copy'.
//
// Timing: CPU time (process.cpuUsage), not wall time. Each row alternates tunio and its
// baseline in short rounds and reports the median round of each, so a burst of load on the
// machine hits both sides alike.
// Note on the baseline: Buffer.allocUnsafe below 4 KiB is carved from Node's shared 8 KiB
// slab (no allocation of its own most of the time); 9000 bytes get an ArrayBuffer each.
'use strict'
const { execFileSync } = require('child_process')

const SIZES = [64, 1400, 9000]
const ROUNDS = 9

function child () {
  const { Pool } = require('../dist/index.js')
  const pool = new Pool({ capBytes: 16 << 20 })

  // CPU time of this process (all its threads, so GC helper threads count) rather than wall
  // time: on a shared machine, time spent waiting for a core is not the code's cost.
  function perOp (fn, n) {
    const t0 = process.cpuUsage()
    fn(n)
    const t = process.cpuUsage(t0)
    return (t.user + t.system) * 1000 / n
  }
  function median (xs) { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1] }
  // ns per operation of `a` and of `b`, measured in alternating rounds of `n` operations.
  function sideBySide (a, b, n, ops = 1) {
    a(Math.min(n, 5000)); b(Math.min(n, 5000)) // warm-up (JIT, pool growth)
    const ta = []
    const tb = []
    for (let r = 0; r < ROUNDS; r++) {
      ta.push(perOp(a, n) / ops)
      tb.push(perOp(b, n) / ops)
    }
    return [median(ta), median(tb)]
  }

  const rows = []
  let keep // the baseline's last Buffer stays reachable, so its allocation cannot be optimised away
  for (const size of SIZES) {
    const src = Buffer.alloc(size, 7)
    const alloc = (n) => { for (let i = 0; i < n; i++) { const b = Buffer.allocUnsafe(size); src.copy(b); keep = b } }
    const alloc64 = (n) => {
      for (let i = 0; i < n; i++) {
        const arr = new Array(64)
        for (let j = 0; j < 64; j++) { arr[j] = Buffer.allocUnsafe(size); src.copy(arr[j]) }
        keep = arr
      }
    }
    const leaseCopy = (n) => { for (let i = 0; i < n; i++) { const l = pool.lease(size); src.copy(l.buffer); l.release() } }
    const leaseFrom = (n) => { for (let i = 0; i < n; i++) pool.leaseFrom(src).release() }
    const leaseSet = (n) => { for (let i = 0; i < n; i++) { const l = pool.lease(size); l.set(src); l.release() } }
    const batchCopy = (n) => {
      for (let i = 0; i < n; i++) {
        const batch = pool.leaseBatch(64, size)
        for (const l of batch) src.copy(l.buffer)
        batch.release()
      }
    }
    const batchUntouched = (n) => { for (let i = 0; i < n; i++) pool.leaseBatch(64, size).release() }
    const single = 20000
    const batches = 300
    rows.push([size, 'pool.lease + copy into lease.buffer + release', ...sideBySide(leaseCopy, alloc, single), 'Buffer.allocUnsafe + copy'])
    rows.push([size, 'pool.leaseFrom(src) + release (copy made natively)', ...sideBySide(leaseFrom, alloc, single), 'Buffer.allocUnsafe + copy'])
    rows.push([size, 'pool.lease + lease.set(src) + release', ...sideBySide(leaseSet, alloc, single), 'Buffer.allocUnsafe + copy'])
    rows.push([size, 'batch of 64: leaseBatch + copy into each + release', ...sideBySide(batchCopy, alloc64, batches), '64 x (Buffer.allocUnsafe + copy)'])
    rows.push([size, 'batch of 64 passed on untouched (no JS view)', ...sideBySide(batchUntouched, alloc64, batches), '64 x (Buffer.allocUnsafe + copy)'])
  }
  void keep
  console.log(`lease mode '${pool.stats().leaseMode}', node ${process.version} ${process.execArgv.filter((a) => a.startsWith('--harmony')).join(' ')}`.trim())
  console.log('| bytes | tunio operation | tunio ns | baseline | baseline ns | tunio / baseline |')
  console.log('|---:|---|---:|---|---:|---:|')
  for (const [size, label, ns, baseNs, baseLabel] of rows) {
    console.log(`| ${size} | ${label} | ${ns.toFixed(0)} | ${baseLabel} | ${baseNs.toFixed(0)} | ${(ns / baseNs).toFixed(2)} |`)
  }

  // RSS across a million cycles after warm-up. The loop yields to the event loop every 1,000
  // cycles as any I/O-driven user does: Node runs external-buffer finalizers from the loop.
  const src = Buffer.alloc(1400, 7)
  const cycle = (n) => { for (let i = 0; i < n; i++) { const l = pool.lease(1400); src.copy(l.buffer); l.release() } }
  async function cycles (n) {
    for (let done = 0; done < n; done += 1000) {
      cycle(1000)
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
  ;(async () => {
    await cycles(200000)
    global.gc()
    const before = process.memoryUsage().rss
    await cycles(1000000)
    global.gc()
    await new Promise((resolve) => setImmediate(resolve))
    const after = process.memoryUsage().rss
    const s = pool.stats()
    console.log(`RSS growth over 1,000,000 lease + copy + release cycles (1400 bytes) after warm-up: ${((after - before) / 1048576).toFixed(2)} MB` +
      ` (pool reserved ${(s.reservedBytes / 1024).toFixed(0)} KiB, in use ${s.inUseBytes} bytes, leaked ${s.leaked})`)
  })()
}

function parent () {
  const transferBuiltIn = typeof ArrayBuffer.prototype.transfer === 'function'
  const modes = [
    { name: 'transfer', args: transferBuiltIn ? [] : ['--harmony-rab-gsab-transfer'], env: { TUNIO_NO_TRANSFER: '' } },
    { name: 'external', args: [], env: { TUNIO_NO_TRANSFER: '1' } },
    { name: 'copy', args: [], env: { TUNIO_NO_EXTERNAL_BUFFERS: '1' } }
  ]
  console.log(`npm run bench:pool: ns of CPU time per operation, median of ${ROUNDS} alternating rounds per row; the default mode of this runtime is '${transferBuiltIn ? 'transfer' : 'external'}'`)
  const only = process.argv.slice(2) // e.g. `node bench/pool.js transfer`: just that mode
  for (const mode of modes.filter((m) => only.length === 0 || only.includes(m.name))) {
    console.log('')
    try {
      const out = execFileSync(process.execPath, [...mode.args, '--expose-gc', __filename, '--child'], {
        env: { ...process.env, TUNIO_NO_EXTERNAL_BUFFERS: '', ...mode.env },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit']
      })
      process.stdout.write(out)
    } catch (err) {
      console.log(`mode '${mode.name}' not available here: ${err.message.split('\n')[0]}`)
    }
  }
}

if (process.argv.includes('--child')) child()
else parent()
