#!/usr/bin/env node
// npm run bench:pool: the cost of a lease (take, touch, release) against Buffer.allocUnsafe plus
// a copy of the same bytes, side by side in one run; then RSS across 1,000,000 cycles.
'use strict'
const { Pool } = require('../dist/index.js')

const SIZE = 1400
const src = Buffer.alloc(SIZE, 7)
const pool = new Pool({ capBytes: 16 << 20 })

function time (label, iterations, fn) {
  fn(Math.min(iterations, 20000)) // warm-up
  const t0 = process.hrtime.bigint()
  fn(iterations)
  const ns = Number(process.hrtime.bigint() - t0) / iterations
  return { label, ns }
}

function leaseOne (n) {
  for (let i = 0; i < n; i++) {
    const l = pool.lease(SIZE)
    src.copy(l.buffer)
    l.release()
  }
}
function allocOne (n) {
  let keep
  for (let i = 0; i < n; i++) {
    const b = Buffer.allocUnsafe(SIZE)
    src.copy(b)
    keep = b
  }
  return keep
}
function leaseBatch (n) {
  for (let i = 0; i < n; i++) {
    const batch = pool.leaseBatch(64, SIZE)
    for (const l of batch) src.copy(l.buffer)
    batch.release()
  }
}
function allocBatch (n) {
  let keep
  for (let i = 0; i < n; i++) {
    const arr = new Array(64)
    for (let j = 0; j < 64; j++) { arr[j] = Buffer.allocUnsafe(SIZE); src.copy(arr[j]) }
    keep = arr
  }
  return keep
}
function leaseBatchUntouched (n) {
  for (let i = 0; i < n; i++) pool.leaseBatch(64, SIZE).release()
}

const N = 300000
const rows = [
  [time('lease + copy + release', N, leaseOne), time('Buffer.allocUnsafe + copy', N, allocOne)],
  [time('batch of 64: lease + copy each + release', N / 64, leaseBatch), time('64 x (Buffer.allocUnsafe + copy)', N / 64, allocBatch)],
  [time('batch of 64 passed on untouched (no JS view)', N / 64, leaseBatchUntouched), time('64 x (Buffer.allocUnsafe + copy)', N / 64, allocBatch)]
]
console.log(`packet size ${SIZE} bytes, node ${process.version}`)
console.log('| operation | tunio ns | baseline | baseline ns | tunio / baseline |')
console.log('|---|---:|---|---:|---:|')
for (const [a, b] of rows) {
  console.log(`| ${a.label} | ${a.ns.toFixed(0)} | ${b.label} | ${b.ns.toFixed(0)} | ${(a.ns / b.ns).toFixed(2)} |`)
}

// RSS across a million cycles after warm-up. The loop yields to the event loop every 1,000
// cycles as any I/O-driven user does: Node runs external-buffer finalizers from the loop, so
// a loop that never yields keeps their bookkeeping (not the pool memory) until it does.
async function cycles (n) {
  for (let done = 0; done < n; done += 1000) {
    leaseOne(1000)
    await new Promise((resolve) => setImmediate(resolve))
  }
}
async function rss () {
  await cycles(200000)
  if (global.gc) global.gc()
  const before = process.memoryUsage().rss
  await cycles(1000000)
  if (global.gc) global.gc()
  await new Promise((resolve) => setImmediate(resolve))
  const after = process.memoryUsage().rss
  console.log(`RSS growth over 1,000,000 lease/release cycles after warm-up: ${((after - before) / 1048576).toFixed(2)} MB` +
    ` (pool reserved ${(pool.stats().reservedBytes / 1024).toFixed(0)} KiB, in use ${pool.stats().inUseBytes} bytes, leaked ${pool.stats().leaked})`)
}
rss()
