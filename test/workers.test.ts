// The addon is context-aware: several worker_threads load it at once, each with its own pool.
import t from 'tap'
import * as path from 'path'
import { Worker } from 'worker_threads'
import { Pool } from '../lib/index'

const dist = path.join(__dirname, '..', 'dist', 'index.js')

function runWorker (code: string, env?: NodeJS.ProcessEnv): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { dist }, env: env ?? process.env })
    let result: unknown
    w.on('message', (m) => { result = m })
    w.on('error', reject)
    w.on('exit', (code) => (code === 0 ? resolve(result) : reject(new Error(`worker exited with ${code}`))))
  })
}

const leaseInWorker = `
const { parentPort, workerData } = require('worker_threads')
const { Pool, getDefaultPool } = require(workerData.dist)
const pool = new Pool({ capBytes: 1 << 20 })
let sum = 0
for (let i = 0; i < 20000; i++) {
  const l = pool.lease(1400)
  l.buffer[0] = i & 0xff
  sum += l.buffer[0]
  l.release()
}
const held = pool.lease(100)
parentPort.postMessage({ sum, stats: pool.stats(), defaultCap: getDefaultPool().stats().capBytes })
// held is never released: the worker's environment teardown must clean it up without crashing
void held
`

t.test('four workers load the addon at once and each has its own pool', async (t) => {
  const results = await Promise.all([1, 2, 3, 4].map(() => runWorker(leaseInWorker))) as Array<{ sum: number, stats: { inUseBytes: number, acquired: number } }>
  let expected = 0
  for (let i = 0; i < 20000; i++) expected += i & 0xff
  for (const r of results) {
    t.equal(r.sum, expected)
    t.equal(r.stats.acquired, 20001, 'each worker counted only its own leases')
    t.equal(r.stats.inUseBytes, 2048, 'the one held lease')
  }
  // The main thread's pool is untouched by the workers.
  const pool = new Pool({ capBytes: 1 << 20 })
  t.equal(pool.stats().acquired, 0)
})

t.test('a worker can be terminated while it holds leases', async (t) => {
  const w = new Worker(`
    const { parentPort, workerData } = require('worker_threads')
    const { Pool } = require(workerData.dist)
    const pool = new Pool({ capBytes: 1 << 20 })
    const held = []
    for (let i = 0; i < 100; i++) held.push(pool.lease(1000).buffer)
    parentPort.postMessage('ready')
    setInterval(() => {}, 1000)
  `, { eval: true, workerData: { dist } })
  await new Promise((resolve) => w.once('message', resolve))
  const code = await w.terminate()
  t.equal(code, 1, 'terminated')
})

t.test('runtimes without external buffers get copies with the same lease rules', async (t) => {
  const r = await runWorker(`
    const { parentPort, workerData } = require('worker_threads')
    const { Pool } = require(workerData.dist)
    const pool = new Pool({ capBytes: 1 << 20 })
    const lease = pool.lease(64)
    const view = lease.buffer
    view.fill(7)
    const again = lease.buffer // the same view object, not a second copy
    const stats = pool.stats()
    lease.release()
    let doubleRelease = null
    try { lease.release() } catch (e) { doubleRelease = e.code }
    parentPort.postMessage({ external: stats.externalBuffers, same: again === view, afterRelease: view.length, doubleRelease, inUse: pool.stats().inUseBytes })
  `, { ...process.env, TUNIO_NO_EXTERNAL_BUFFERS: '1' })
  t.same(r, { external: false, same: true, afterRelease: 0, doubleRelease: 'ERR_TUNIO_LEASE_RELEASED', inUse: 0 })
})
