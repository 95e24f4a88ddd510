#!/usr/bin/env node
'use strict'
// npm run demo: two network namespaces joined by a veth wire, examples/echo-tunnel in each,
// a round trip through the tunnel, then a few seconds of TCP with a live Gbit/s line.
// Needs root. Builds first (TypeScript: lib/ and examples/), showing that it does. Removes
// everything it made, also on Ctrl-C / SIGTERM, and says what it removed.
//   DEMO_SECONDS: seconds of TCP (default 5); DEMO_BUILD=0: skip the build (dist/ is current).
const { spawn } = require('child_process')
const path = require('path')
const netns = require('./netns')

const SECONDS = Number(process.env.DEMO_SECONDS || 5)
const ROOT = path.join(__dirname, '..')

/** Runs `npm run --silent <script>`, with a line saying what runs and, on a terminal, a seconds counter. */
function buildStep (script, what) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now()
    const tty = process.stdout.isTTY
    process.stdout.write(`demo: building ${what}${tty ? '' : ' ...\n'}`)
    const timer = tty ? setInterval(() => process.stdout.write(`\rdemo: building ${what} ... ${Math.round((Date.now() - t0) / 1000)} s`), 1000) : undefined
    const child = spawn('npm', ['run', '--silent', script], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] })
    child.on('error', reject)
    child.on('exit', (code) => {
      if (timer) clearInterval(timer)
      const s = ((Date.now() - t0) / 1000).toFixed(1)
      if (code !== 0) { reject(new Error(`npm run ${script} exited ${code}`)); return }
      process.stdout.write(`${tty ? `\rdemo: building ${what}` : 'demo:'} done in ${s} s\n`)
      resolve()
    })
  })
}

async function main () {
  if (process.getuid() !== 0) {
    console.error('demo: needs root (it creates network namespaces and TUN devices). Try: sudo npm run demo')
    process.exit(1)
  }
  if (process.env.DEMO_BUILD !== '0') {
    await buildStep('build:ts', 'the library (tsc: lib/ -> dist/)')
    await buildStep('build:examples', 'the example tunnel (tsc: examples/ -> dist/examples/)')
  }
  // IPv6 off in both namespaces: a TUN device's link-local chatter (router solicitations, MLD
  // reports) went through the tunnel as soon as endpoint a was up, before b listened, and b's
  // kernel answered ICMP port unreachable: a 'peer errors {"ECONNREFUSED":1}' on every run. The
  // demo tunnel carries IPv4 only, so nothing crosses it before the first ping.
  const wire = netns.createWire('demo', { ipv6: false })
  console.log(`namespaces ${wire.ns.a} (${netns.WIRE.a}) <-veth-> ${wire.ns.b} (${netns.WIRE.b})`)
  try {
    const a = await netns.startEcho(wire, 'a')
    const b = await netns.startEcho(wire, 'b')
    console.log(`tunnel ${netns.TUNNEL.a}/24 (tun0 in a) <-> ${netns.TUNNEL.b}/24 (tun0 in b), offload auto`)

    // 1. A round trip through the tunnel.
    if (netns.has('ping')) {
      process.stdout.write(wire.exec('a', 'ping', ['-c', '3', '-W', '2', netns.TUNNEL.b]))
    } else {
      const ms = await netns.tcpRoundTrip(wire)
      console.log(`ping not installed: TCP connect + echo round trip a -> b through the tunnel: ${ms.toFixed(2)} ms`)
    }

    // 2. TCP through the tunnel with a live progress line.
    let gbps
    if (netns.has('iperf3')) {
      const server = wire.spawn('b', 'iperf3', ['-s', '-1', '-B', netns.TUNNEL.b])
      await new Promise((resolve) => setTimeout(resolve, 300))
      const client = wire.spawn('a', 'iperf3', ['-c', netns.TUNNEL.b, '-t', String(SECONDS), '-i', '1', '-f', 'g', '--forceflush'])
      let buf = ''
      client.stdout.on('data', (d) => {
        buf += d
        let i
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i); buf = buf.slice(i + 1)
          const m = /\s([\d.]+)-\s*([\d.]+)\s+sec\s+\S+\s+\S+\s+([\d.]+) Gbits\/sec/.exec(line)
          if (m === null) continue
          if (/sender|receiver/.test(line)) { if (/receiver/.test(line)) gbps = Number(m[3]); continue }
          process.stdout.write(`\rTCP a -> b through the tunnel: ${m[3]} Gbit/s  (${m[2]}s / ${SECONDS}s)   `)
        }
      })
      const { code } = await client.exited
      process.stdout.write('\n')
      server.kill('SIGKILL')
      if (code !== 0) throw new Error(`iperf3 failed: ${client.output}`)
    } else {
      const t0 = Date.now()
      const bytes = 256 * 1024 * 1024
      const r = await netns.tcpTransfer(wire, 'a', 'b', bytes)
      gbps = bytes * 8 / ((Date.now() - t0) / 1000) / 1e9
      console.log(`iperf3 not installed: node TCP transfer of 256 MB, ${r.ok ? 'intact' : 'CORRUPTED'}, ${gbps.toFixed(2)} Gbit/s`)
    }

    // 3. Summary from the endpoints' final JSON.
    const fa = await a.stop()
    const fb = await b.stop()
    const line = (name, f) => `  ${name}: TUN read ${f.tun.packetsIn} pkts in ${f.tun.superpacketsIn} superpackets, ` +
      `wrote ${f.tun.packetsOut} pkts (${f.tun.superpacketsOut} coalesced superpackets); UDP ${f.udp.datagramsOut} out ` +
      `(${f.udp.gsoSends} GSO sends), ${f.udp.datagramsIn} in (${f.udp.groReads} GRO reads); ` +
      `syscalls ${netns.syscalls(f)}; drops ${JSON.stringify(f.tun.drops)} ${JSON.stringify({ ...f.udp.drops, peer: undefined })}; ` +
      `peer errors ${JSON.stringify(f.peerErrors)}`
    console.log(`summary: ${gbps === undefined ? '?' : gbps.toFixed(2)} Gbit/s TCP through the tunnel`)
    console.log(line('endpoint a', fa))
    console.log(line('endpoint b', fb))
  } finally {
    console.log(`cleaned up: ${wire.cleanup()}`)
  }
}

main().catch((err) => { console.error(`demo failed: ${err.message}`); process.exitCode = 1 })
