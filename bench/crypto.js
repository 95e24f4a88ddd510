#!/usr/bin/env node
'use strict'
// npm run bench:crypto: sealing a batch of 64 packets of 1,400 bytes, cost per packet:
//   - tunio: aead.seal(batch), one native call per batch, in place, inline on the JS thread;
//   - tunio on the libuv threadpool: the same seal as async work (a measurement hook), awaited;
//   - a plain C loop over the same OpenSSL calls (bench/crypto_reference.c, the system
//     libcrypto: the same OpenSSL 3.0 as Node 20's), and the same loop reading each tag with
//     EVP_CIPHER_CTX_ctrl as tunio did before (what that per-packet call costs);
//   - node:crypto: createCipheriv + setAAD + update + final + getAuthTag per packet.
// The variants alternate (one timing of each per turn, 9 turns, medians) so machine load hits
// them alike. CPU time (user + system of the whole process: the threadpool variant's work on
// its worker thread included) is what is compared; the threadpool row also shows wall time
// per batch, which is what a data plane waits. BENCH_PACKETS / BENCH_BYTES / BENCH_ROUNDS
// change the shape (defaults 64 / 1400 / 100 batches per timing).
const { execFileSync } = require('child_process')
const crypto = require('crypto')
const fs = require('fs')
const os = require('os')
const path = require('path')
const { Aead, Pool } = require('../dist/index.js')

const PACKETS = Number(process.env.BENCH_PACKETS || 64)
const BYTES = Number(process.env.BENCH_BYTES || 1400)
const ROUNDS = Number(process.env.BENCH_ROUNDS || 100)
const TIMINGS = 9
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const cpuNs = () => { const u = process.cpuUsage(); return (u.user + u.system) * 1000 }
const key = crypto.randomBytes(32)

/** A sealer and an opener of one key, and a filled batch of PACKETS leases of BYTES with their room. */
function sealAndOpen (algorithm, pool) {
  const opts = { algorithm, key, nonce: 'iv-xor', iv: Buffer.alloc(12) }
  const sealer = new Aead(opts)
  const batch = pool.leaseBatch(PACKETS, BYTES, { headroom: sealer.headroom, tailroom: sealer.tailroom })
  for (const lease of batch) lease.buffer.fill(0x61)
  return { sealer, opener: new Aead(opts), batch, counters: new BigUint64Array(PACKETS) }
}

/** One timing of aead.seal(batch) (the batch is opened again, untimed, after each seal). */
function makeInline (algorithm, pool) {
  const { sealer, opener, batch, counters } = sealAndOpen(algorithm, pool)
  return () => {
    let cpu = 0
    for (let r = 0; r < ROUNDS; r++) {
      const c0 = cpuNs()
      sealer.seal(batch)
      cpu += cpuNs() - c0
      opener.open(batch, counters)
    }
    if (batch.live !== PACKETS) throw new Error('packets were lost')
    return { cpu: cpu / (ROUNDS * PACKETS) }
  }
}

/** One timing of the same seal on the libuv threadpool, awaited batch by batch. */
function makeThreadpool (algorithm, pool) {
  const setup = sealAndOpen(algorithm, pool)
  const { sealer, opener, counters } = setup
  let batch = setup.batch
  return async () => {
    let cpu = 0
    let wall = 0n
    for (let r = 0; r < ROUNDS; r++) {
      const c0 = cpuNs()
      const t0 = process.hrtime.bigint()
      batch = await sealer.sealOnThreadpool(batch)
      wall += process.hrtime.bigint() - t0
      cpu += cpuNs() - c0
      opener.open(batch, counters)
    }
    if (batch.live !== PACKETS) throw new Error('packets were lost')
    return { cpu: cpu / (ROUNDS * PACKETS), wallPerBatch: Number(wall) / ROUNDS }
  }
}

/** One timing of node:crypto, one cipher object per packet (same AAD and sizes). */
function makeNodeCrypto (algorithm) {
  const plain = Buffer.alloc(BYTES, 0x61)
  const header = Buffer.alloc(8)
  const nonce = Buffer.alloc(12)
  const rounds = Math.max(1, Math.floor(ROUNDS / 10))
  let counter = 0n
  return () => {
    const c0 = cpuNs()
    for (let r = 0; r < rounds; r++) {
      for (let p = 0; p < PACKETS; p++) {
        header.writeBigUInt64LE(counter, 0)
        nonce.writeBigUInt64BE(counter++, 4)
        const c = crypto.createCipheriv(algorithm, key, nonce, { authTagLength: 16 })
        c.setAAD(header, { plaintextLength: BYTES })
        c.update(plain)
        c.final()
        c.getAuthTag()
      }
    }
    return { cpu: (cpuNs() - c0) / (rounds * PACKETS) }
  }
}

async function main () {
  const bin = path.join(os.tmpdir(), `tunio-crypto-reference-${process.pid}`)
  execFileSync('cc', ['-O2', '-o', bin, path.join(__dirname, 'crypto_reference.c'), '-lcrypto'], { stdio: 'inherit' })
  const pool = new Pool({ capBytes: 16 << 20 })
  const rows = []
  let cVersion = ''
  try {
    for (const algorithm of ['chacha20-poly1305', 'aes-256-gcm']) {
      const inline = makeInline(algorithm, pool)
      const threadpool = makeThreadpool(algorithm, pool)
      const node = makeNodeCrypto(algorithm)
      const t = { c: [], cCtrl: [], inline: [], pooled: [], pooledWall: [], node: [] }
      for (let k = 0; k < TIMINGS; k++) {
        const c = JSON.parse(execFileSync(bin, [algorithm, String(PACKETS), String(BYTES), String(ROUNDS), '1', 'params'], { encoding: 'utf8' }))
        cVersion = c.openssl
        t.c.push(c.nsPerPacket)
        t.cCtrl.push(JSON.parse(execFileSync(bin, [algorithm, String(PACKETS), String(BYTES), String(ROUNDS), '1', 'ctrl'], { encoding: 'utf8' })).nsPerPacket)
        t.inline.push(inline().cpu)
        const p = await threadpool()
        t.pooled.push(p.cpu)
        t.pooledWall.push(p.wallPerBatch)
        t.node.push(node().cpu)
      }
      const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)]))
      rows.push({ algorithm, ...m })
    }
  } finally { fs.rmSync(bin, { force: true }) }
  const f = (x) => x.toFixed(0)
  const lines = [
    `Sealing ${PACKETS} packets of ${BYTES} bytes per batch: CPU ns per packet, median of ${TIMINGS} alternating timings of ${ROUNDS} batches ` +
    `(node:crypto ${Math.max(1, Math.floor(ROUNDS / 10))}).`,
    `Node ${process.version} (OpenSSL ${process.versions.openssl}); the C loop links ${cVersion}; ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), load ${os.loadavg()[0].toFixed(1)}.`,
    '',
    '| algorithm | tunio seal, inline | C loop, same OpenSSL calls | tunio / C | C loop, tag by ctrl (before) | tunio on the threadpool (CPU; wall µs per batch) | threadpool / inline (CPU) | node:crypto per packet | node:crypto / tunio |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|'
  ]
  for (const r of rows) {
    lines.push(`| ${r.algorithm} | ${f(r.inline)} | ${f(r.c)} | **${(r.inline / r.c).toFixed(2)}** | ${f(r.cCtrl)} | ${f(r.pooled)}; ${(r.pooledWall / 1000).toFixed(1)} µs ` +
      `(inline: ${(r.inline * PACKETS / 1000).toFixed(1)} µs) | ${(r.pooled / r.inline).toFixed(2)} | ${f(r.node)} | **${(r.node / r.inline).toFixed(1)}** |`)
  }
  lines.push('', 'Targets: tunio / C <= 1.3, node:crypto / tunio >= 10.')
  for (const r of rows) {
    lines.push(`- ${r.algorithm}: binding overhead ${(r.inline / r.c).toFixed(2)}x (${r.inline / r.c <= 1.3 ? 'met' : 'MISSED'}), ` +
      `${(r.node / r.inline).toFixed(1)}x less CPU than node:crypto per packet (${r.node / r.inline >= 10 ? 'met' : 'MISSED'})`)
  }
  console.log(lines.join('\n'))
}

main().catch((err) => { console.error(err); process.exitCode = 1 })
