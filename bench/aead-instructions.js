#!/usr/bin/env node
'use strict'
// Instructions per packet inside the native seal() and open() calls (Aead on a batch of 64
// packets of 1,400 bytes), counted by valgrind's callgrind: a count does not change with the
// machine's load, unlike the CPU times of bench/crypto.js, so two builds compare exactly on a
// busy machine. Counts only what runs inside AeadWrap::Seal / AeadWrap::Open (OpenSSL
// included), not the JavaScript around them.
//   node bench/aead-instructions.js [batches]          this build (or TUNIO_ADDON_PATH)
// Needs valgrind (Debian package valgrind); takes about a minute.
const { execFileSync, spawnSync } = require('child_process')

if (process.argv[2] === '--child') {
  const { aeadFixture } = require('./aead-fixture.js')
  const [algorithm, batches] = [process.argv[3], Number(process.argv[4])]
  const { sealer, opener, batch, counters } = aeadFixture(algorithm)
  for (let i = 0; i < batches; i++) { sealer.seal(batch); opener.open(batch, counters) }
  if (batch.live !== 64) throw new Error('packets were lost')
  process.exit(0)
}

const batches = Number(process.argv[2] || 50)
try { execFileSync('valgrind', ['--version'], { stdio: 'ignore' }) } catch {
  console.error('valgrind not found (Debian package valgrind)')
  process.exit(1)
}
console.log(`Instructions per packet inside the native call, ${batches} batches of 64 x 1400 B; addon ${process.env.TUNIO_ADDON_PATH || 'build/Release'}`)
for (const algorithm of ['chacha20-poly1305', 'aes-256-gcm']) {
  const row = []
  for (const fn of ['Seal', 'Open']) {
    const r = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', '--collect-atstart=no',
      `--toggle-collect=tunio::AeadWrap::${fn}(*`, process.execPath, __filename, '--child', algorithm, String(batches)], { encoding: 'utf8' })
    const m = /Collected : (\d+)/.exec(r.stderr)
    if (r.status !== 0 || !m) throw new Error(`valgrind failed: ${r.stderr.slice(-500)}`)
    row.push(`${fn.toLowerCase()} ${Math.round(Number(m[1]) / (batches * 64))}`)
  }
  console.log(`${algorithm}: ${row.join(', ')}`)
}
