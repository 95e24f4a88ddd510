#!/usr/bin/env node
'use strict'
// CPU ns per packet of aead.seal(batch) and aead.open(batch) (64 x 1,400 bytes, inline) under
// several Node binaries, run alternately (A B C, A B C, ...) so the machine's load hits all
// alike. The addon reaches the OpenSSL of the Node that loads it (src-native/core/evp_api.*):
// Node 20 ships OpenSSL 3.0, Node 22-26 OpenSSL 3.5, whose AES-256-GCM uses VAES/AVX-512 where
// the CPU has it. Medians of 15 timings of 200 batches per process; the range over the rounds.
//   node bench/aead-nodes.js [/path/to/node ...]     (default: this node only; BENCH_ROUNDS=3)
const { execFileSync } = require('child_process')

if (process.argv[2] === '--child') {
  const { aeadFixture } = require('./aead-fixture.js')
  const cpuNs = () => { const u = process.cpuUsage(); return (u.user + u.system) * 1000 }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
  const out = { node: process.version, openssl: process.versions.openssl }
  for (const algorithm of ['chacha20-poly1305', 'aes-256-gcm']) {
    const { sealer, opener, batch, counters } = aeadFixture(algorithm)
    const seal = []
    const open = []
    for (let k = 0; k < 15; k++) {
      let s = 0
      let o = 0
      for (let r = 0; r < 200; r++) {
        let c = cpuNs(); sealer.seal(batch); s += cpuNs() - c
        c = cpuNs(); opener.open(batch, counters); o += cpuNs() - c
      }
      seal.push(s / (200 * 64))
      open.push(o / (200 * 64))
    }
    if (batch.live !== 64) throw new Error('packets were lost')
    out[algorithm] = { seal: median(seal), open: median(open) }
  }
  console.log(JSON.stringify(out))
  process.exit(0)
}

const nodes = process.argv.length > 2 ? process.argv.slice(2) : [process.execPath]
const rounds = Number(process.env.BENCH_ROUNDS || 3)
const runs = nodes.map(() => [])
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < nodes.length; i++) runs[i].push(JSON.parse(execFileSync(nodes[i], [__filename, '--child'], { encoding: 'utf8' })))
}
const range = (xs) => { const s = xs.map(Math.round).sort((a, b) => a - b); return s[0] === s[s.length - 1] ? `${s[0]}` : `${s[0]}-${s[s.length - 1]}` }
console.log(`CPU ns per packet, 64 x 1,400 B per batch, ${rounds} alternating rounds (range of the rounds' medians), load ${require('os').loadavg()[0].toFixed(1)}`)
console.log('| Node (OpenSSL) | chacha20-poly1305 seal | open | aes-256-gcm seal | open |')
console.log('|---|---:|---:|---:|---:|')
for (const rs of runs) {
  const col = (alg, op) => range(rs.map((x) => x[alg][op]))
  console.log(`| ${rs[0].node} (${rs[0].openssl}) | ${col('chacha20-poly1305', 'seal')} | ${col('chacha20-poly1305', 'open')} | ${col('aes-256-gcm', 'seal')} | ${col('aes-256-gcm', 'open')} |`)
}
