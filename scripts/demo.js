#!/usr/bin/env node
'use strict'
// npm run demo: two network namespaces joined by a veth wire, examples/echo-tunnel in each,
// a round trip through the tunnel, then a few seconds of TCP with a live Gbit/s line.
// Needs root. Removes everything it made, also on Ctrl-C.
const netns = require('./netns')

const SECONDS = Number(process.env.DEMO_SECONDS || 5)

async function main () {
  if (process.getuid() !== 0) {
    console.error('demo: needs root (it creates network namespaces and TUN devices). Try: sudo npm run demo')
    process.exit(1)
  }
  const wire = netns.createWire('demo')
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
    wire.cleanup()
    console.log('cleaned up: namespaces, veth and TUN devices removed')
  }
}

main().catch((err) => { console.error(`demo failed: ${err.message}`); process.exitCode = 1 })
