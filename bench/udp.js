#!/usr/bin/env node
// bench:udp: 1,400-byte datagrams between two processes across a veth pair in two throwaway
// namespaces, three ways side by side: tunio (send of pool.leaseBatch / read loop), Node dgram
// written carefully, and a C reference (sendmsg UDP_SEGMENT / recvmmsg UDP_GRO).
// Needs root. Usage: npm run bench:udp [-- --seconds 4 --size 1400]
'use strict'
const { execFileSync, spawn } = require('child_process')
const path = require('path')
const fs = require('fs')
const os = require('os')

const args = process.argv.slice(2)
const opt = (name, def) => { const i = args.indexOf('--' + name); return i >= 0 ? args[i + 1] : def }
const SECONDS = Number(opt('seconds', '4'))
const SIZE = Number(opt('size', '1400'))
const PORT = 5601
const RX_IP = '10.93.0.2'
const TX_IP = '10.93.0.1'

// ---------------------------------------------------------------- child roles (inside a netns)
async function child (role, impl) {
  const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')
  if (impl === 'tunio') {
    const { openUdp } = require(path.join(__dirname, '..', 'dist', 'index.js'))
    if (role === 'recv') {
      const rx = await openUdp({ bind: `${RX_IP}:${PORT}`, recvBufferSize: 4 << 20 })
      let first = 0; let last = 0; let n = 0
      console.log('READY')
      const idle = setInterval(() => { if (n > 0 && Date.now() - last > 500) rx.close() }, 100)
      for (;;) {
        const b = await rx.read()
        if (b === null) break
        const t = Date.now()
        if (first === 0) first = t
        last = t
        n += b.length
        b.release()
      }
      clearInterval(idle)
      const s = rx.stats()
      out({ datagrams: s.datagramsIn, bytes: s.bytesIn, seconds: (last - first) / 1000, syscalls: s.syscalls.recvmmsg, groReads: s.groReads })
    } else {
      const tx = await openUdp({ bind: `${TX_IP}:0`, sendBufferSize: 4 << 20 })
      const useBuffers = process.env.BENCH_UDP_BUFFERS === '1'
      // One batch of 256 leases per turn of the event loop, the size of what a tunnel has after
      // one TUN read (a few superpackets' segments) to encrypt and send in one call. Batches of
      // 64, four per turn, take four send() calls and four sendmmsg for the same datagrams and
      // measured ~30% less throughput here; the env variables let anyone compare.
      const BATCH = Number(process.env.BENCH_UDP_BATCH || 256)
      const PER_TURN = Number(process.env.BENCH_UDP_PER_TURN || 1)
      const bufs = Array.from({ length: BATCH }, () => Buffer.alloc(SIZE, 0xab))
      const to = { address: RX_IP, port: PORT }
      const start = Date.now(); const end = start + SECONDS * 1000
      let offered = 0
      await new Promise((resolve) => {
        const burst = () => {
          if (Date.now() >= end) return resolve()
          // PER_TURN batches per turn of the event loop; the socket queues what would block.
          for (let k = 0; k < PER_TURN; k++) {
            if (tx.stats === undefined) break
            offered += tx.send(useBuffers ? bufs : tx.pool.leaseBatch(BATCH, SIZE), to)
          }
          setImmediate(burst)
        }
        burst()
      })
      const s = tx.stats()
      out({ sent: s.datagramsOut, offered, seconds: (Date.now() - start) / 1000, syscalls: s.syscalls.sendmsg + s.syscalls.sendmmsg, gsoSends: s.gsoSends, drops: s.drops.queueFull })
      tx.close()
    }
  } else if (impl === 'dgram') {
    const dgram = require('dgram')
    if (role === 'recv') {
      const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 })
      let first = 0; let last = 0; let n = 0; let bytes = 0
      s.on('message', (msg) => {
        const t = Date.now()
        if (first === 0) first = t
        last = t
        n++; bytes += msg.length
      })
      await new Promise((resolve) => s.bind(PORT, RX_IP, resolve))
      console.log('READY')
      await new Promise((resolve) => {
        const idle = setInterval(() => { if (n > 0 && Date.now() - last > 500) { clearInterval(idle); resolve() } }, 100)
      })
      s.close()
      out({ datagrams: n, bytes, seconds: (last - first) / 1000 })
    } else {
      const s = dgram.createSocket({ type: 'udp4', sendBufferSize: 4 << 20 })
      await new Promise((resolve) => s.bind(0, TX_IP, resolve))
      s.connect(PORT, RX_IP)
      await new Promise((resolve) => s.once('connect', resolve))
      const buf = Buffer.alloc(SIZE, 0xab)
      let sent = 0; let errors = 0; let inflight = 0
      const done = (err) => { inflight--; if (err) errors++; else sent++ }
      const start = Date.now(); const end = start + SECONDS * 1000
      await new Promise((resolve) => {
        const burst = () => {
          if (Date.now() >= end) return resolve()
          // Bursts of 64, and no more than 1024 sends waiting on callbacks (bounded memory).
          if (inflight < 1024) for (let k = 0; k < 64; k++) { inflight++; s.send(buf, done) }
          setImmediate(burst)
        }
        burst()
      })
      const seconds = (Date.now() - start) / 1000
      while (inflight > 0) await new Promise((resolve) => setImmediate(resolve))
      s.close()
      out({ sent, errors, seconds })
    }
  }
}

// ---------------------------------------------------------------- orchestration (root netns)
const created = []
function ip (...a) { execFileSync('ip', a, { stdio: ['ignore', 'ignore', 'pipe'] }) }
function cleanup () {
  while (created.length) { const ns = created.pop(); try { ip('netns', 'del', ns) } catch {} }
}

function runIn (ns, argv, onReady) {
  return new Promise((resolve, reject) => {
    const c = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''; let err = ''
    c.stdout.on('data', (d) => {
      out += d
      if (onReady && out.includes('READY\n')) { const f = onReady; onReady = null; f() }
    })
    c.stderr.on('data', (d) => { err += d })
    const timer = setTimeout(() => { c.kill('SIGKILL') }, (SECONDS + 20) * 1000)
    c.on('exit', (code) => {
      clearTimeout(timer)
      const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop()
      if (code !== 0 || !line) return reject(new Error(`${argv.join(' ')} exited ${code}: ${err}`))
      resolve(JSON.parse(line))
    })
  })
}

async function pair (nsTx, nsRx, rxArgv, txArgv) {
  let ready
  const readyP = new Promise((resolve) => { ready = resolve })
  const rxP = runIn(nsRx, rxArgv, () => ready())
  await Promise.race([readyP, rxP])
  const tx = await runIn(nsTx, txArgv)
  const rx = await rxP
  return { tx, rx }
}

async function main () {
  if (process.getuid && process.getuid() !== 0) { console.error('bench:udp needs root (network namespaces)'); process.exit(1) }
  if (!fs.existsSync(path.join(__dirname, '..', 'dist', 'index.js'))) { console.error('run npm run build:ts first'); process.exit(1) }
  const ref = path.join(os.tmpdir(), `tunio-udp-reference-${process.pid}`)
  execFileSync('cc', ['-O2', '-o', ref, path.join(__dirname, 'udp_reference.c')], { stdio: 'inherit' })
  const a = `tunio-u${process.pid}-0`; const b = `tunio-u${process.pid}-1`
  const onSignal = () => { cleanup(); process.exit(130) }
  process.on('SIGINT', onSignal); process.on('SIGTERM', onSignal); process.on('exit', cleanup)
  try {
    for (const ns of [a, b]) { ip('netns', 'add', ns); created.push(ns); ip('-n', ns, 'link', 'set', 'lo', 'up') }
    ip('link', 'add', 'bva', 'netns', a, 'type', 'veth', 'peer', 'name', 'bvb', 'netns', b)
    ip('-n', a, 'addr', 'add', `${TX_IP}/24`, 'dev', 'bva'); ip('-n', b, 'addr', 'add', `${RX_IP}/24`, 'dev', 'bvb')
    ip('-n', a, 'link', 'set', 'bva', 'up'); ip('-n', b, 'link', 'set', 'bvb', 'up')

    const self = [process.execPath, __filename, '--seconds', String(SECONDS), '--size', String(SIZE), '--child']
    const results = {}
    results.tunio = await pair(a, b, [...self, 'recv', 'tunio'], [...self, 'send', 'tunio'])
    results.dgram = await pair(a, b, [...self, 'recv', 'dgram'], [...self, 'send', 'dgram'])
    results.c = await pair(a, b, [ref, 'recv', RX_IP, String(PORT), String(SECONDS)], [ref, 'send', RX_IP, String(PORT), String(SIZE), String(SECONDS)])

    const row = (name, r) => {
      const sendPps = r.tx.sent / r.tx.seconds
      const recvPps = r.rx.datagrams / r.rx.seconds
      return { name, sendPps, recvPps, gbps: r.rx.bytes * 8 / r.rx.seconds / 1e9, received: r.rx.datagrams, sent: r.tx.sent }
    }
    const rows = [row('tunio', results.tunio), row('Node dgram', results.dgram), row('C reference', results.c)]
    const fmt = (n) => Math.round(n).toLocaleString('en-US')
    const tunio = rows[0].recvPps
    console.log(`\n${SIZE}-byte UDP datagrams across veth (two namespaces), ~${SECONDS} s each, kernel ${os.release()}\n`)
    console.log('| sender -> receiver | send pps | receive pps | receive Gbit/s | received / sent | tunio / this (receive) |')
    console.log('|---|---:|---:|---:|---:|---:|')
    for (const r of rows) {
      console.log(`| ${r.name} | ${fmt(r.sendPps)} | ${fmt(r.recvPps)} | ${r.gbps.toFixed(2)} | ${(r.received / Math.max(1, r.sent) * 100).toFixed(1)} % | ${(tunio / r.recvPps).toFixed(2)} |`)
    }
    console.log(`\ntunio/dgram (receive): ${(tunio / rows[1].recvPps).toFixed(2)}x, tunio/C (receive): ${(tunio / rows[2].recvPps).toFixed(2)}x`)
    if (args.includes('--json')) console.log(JSON.stringify(results))
  } finally {
    cleanup()
    try { fs.unlinkSync(ref) } catch {}
  }
}

const ci = args.indexOf('--child')
if (ci >= 0) child(args[ci + 1], args[ci + 2]).catch((e) => { console.error(e); process.exit(1) })
else main().catch((e) => { console.error(e); cleanup(); process.exit(1) })
