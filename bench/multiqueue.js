#!/usr/bin/env node
'use strict'
// npm run bench:mq: aggregate TCP throughput of iperf3 -P 8 through the echo tunnel (two
// namespaces joined by veth, an endpoint in each) with 1 worker vs 2 workers per endpoint
// (multi-queue TUN, one reuseport UDP socket per worker), without and with inner-flow
// steering, side by side in one run. Beside the throughput: CPU per worker thread
// (/proc/<pid>/task/<tid>/stat), the rest of the endpoint process, the whole machine's busy
// share, and the TCP retransmit / reordering counters of both namespaces (nstat's
// TcpRetransSegs, TcpExtTCPSACKReorder, TcpExtTCPTSReorder, ... read from /proc/net/*).
// Writes docs/bench/multiqueue.{md,json}. Needs root and iperf3.
const { execFileSync } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')
const netns = require('../scripts/netns')

const RUNS = Number(process.env.BENCH_RUNS || 3)
const SECS = Number(process.env.BENCH_SECONDS || 5)
const STREAMS = Number(process.env.BENCH_STREAMS || 8)
const OUT = path.join(netns.ROOT, 'docs', 'bench')
const CONFIGS = [
  { label: '1 worker', workers: 1, steer: 'none' },
  { label: '2 workers', workers: 2, steer: 'none' },
  { label: '2 workers, inner-flow steering', workers: 2, steer: 'inner-flow' }
]
const COUNTERS = ['Tcp.RetransSegs', 'Tcp.OutSegs', 'TcpExt.TCPSACKReorder', 'TcpExt.TCPTSReorder', 'TcpExt.TCPRenoReorder',
  'TcpExt.TCPOFOQueue', 'TcpExt.TCPDSACKRecv', 'TcpExt.TCPLostRetransmit', 'TcpExt.TCPFastRetrans',
  // Where segments are lost instead: the tunnel sockets' receive buffers, and (below) the TUN
  // link's tx_dropped (the kernel found the queue's ring full) and the endpoints' own drops.
  'Udp.RcvbufErrors']
const HZ = 100 // USER_HZ: /proc tick unit

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }

/** Tcp/TcpExt counters of a namespace, as "Tcp.RetransSegs" -> value (what nstat shows). */
function tcpCounters (wire, side) {
  const out = {}
  for (const file of ['/proc/net/snmp', '/proc/net/netstat']) {
    const lines = wire.exec(side, 'cat', [file]).trim().split('\n')
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const keys = lines[i].split(/\s+/); const vals = lines[i + 1].split(/\s+/)
      const group = keys[0].replace(':', '')
      for (let k = 1; k < keys.length; k++) out[`${group}.${keys[k]}`] = Number(vals[k])
    }
  }
  return out
}

/** tx_dropped of tun0 in a namespace: packets the kernel could not queue for the reader. */
function linkTxDropped (wire, side) {
  return JSON.parse(wire.exec(side, 'ip', ['-j', '-s', 'link', 'show', 'tun0']))[0].stats64.tx.dropped
}

/** utime+stime ticks of one thread (or of the whole process without tid). */
function ticks (pid, tid) {
  try {
    const stat = fs.readFileSync(tid ? `/proc/${pid}/task/${tid}/stat` : `/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(f[11]) + Number(f[12])
  } catch { return NaN }
}

/** Busy and total jiffies of the whole machine (/proc/stat "cpu" line). */
function machineTicks () {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  const idle = f[3] + f[4]
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0)
  return { busy: total - idle, total, softirq: f[6] }
}

function workerTids (endpoint) {
  return [...endpoint.child.output.matchAll(/worker (\d+) tid (\d+)/g)].map((m) => Number(m[2]))
}

async function iperf (wire) {
  const server = wire.spawn('b', 'iperf3', ['-s', '-1', '-B', netns.TUNNEL.b])
  await sleep(300)
  try {
    const args = ['-c', netns.TUNNEL.b, '-t', String(SECS), '-P', String(STREAMS), '-J']
    const j = JSON.parse(wire.exec('a', 'iperf3', args, { timeout: (SECS + 20) * 1000 }))
    return { gbps: j.end.sum_received.bits_per_second / 1e9, retransmits: j.end.sum_sent.retransmits, cpu: j.end.cpu_utilization_percent }
  } finally { server.kill('SIGKILL'); await server.exited }
}

async function measure (wire, config) {
  const eps = { a: await netns.startEcho(wire, 'a', config), b: await netns.startEcho(wire, 'b', config) }
  const tids = { a: workerTids(eps.a), b: workerTids(eps.b) }
  const runs = []
  const cpu = { a: tids.a.map(() => 0), b: tids.b.map(() => 0), aProcess: 0, bProcess: 0 }
  const counters = { a: {}, b: {} }
  let wall = 0; let machineBusy = 0; let machineTotal = 0; let softirq = 0
  const tunTxDropped = { a: 0, b: 0 }
  let finals
  try {
    for (let i = 0; i < RUNS; i++) {
      const c0 = { a: tcpCounters(wire, 'a'), b: tcpCounters(wire, 'b') }
      const t0 = { a: tids.a.map((t) => ticks(eps.a.pid, t)), b: tids.b.map((t) => ticks(eps.b.pid, t)), ap: ticks(eps.a.pid), bp: ticks(eps.b.pid), m: machineTicks(), w: Date.now() }
      const r = await iperf(wire)
      const t1 = { a: tids.a.map((t) => ticks(eps.a.pid, t)), b: tids.b.map((t) => ticks(eps.b.pid, t)), ap: ticks(eps.a.pid), bp: ticks(eps.b.pid), m: machineTicks(), w: Date.now() }
      const c1 = { a: tcpCounters(wire, 'a'), b: tcpCounters(wire, 'b') }
      for (const side of ['a', 'b']) tunTxDropped[side] = linkTxDropped(wire, side)
      runs.push(r)
      for (const side of ['a', 'b']) {
        t1[side].forEach((v, k) => { cpu[side][k] += v - t0[side][k] })
        for (const k of COUNTERS) counters[side][k] = (counters[side][k] ?? 0) + (c1[side][k] ?? 0) - (c0[side][k] ?? 0)
      }
      cpu.aProcess += t1.ap - t0.ap; cpu.bProcess += t1.bp - t0.bp
      wall += (t1.w - t0.w) / 1000
      machineBusy += t1.m.busy - t0.m.busy; machineTotal += t1.m.total - t0.m.total; softirq += t1.m.softirq - t0.m.softirq
    }
  } finally {
    finals = { a: await eps.a.stop(), b: await eps.b.stop() }
  }
  const pct = (t) => +(100 * t / HZ / wall).toFixed(1)
  const perWorker = (side) => (finals[side]?.workers ?? []).map((w, k) => ({
    cpuPct: pct(cpu[side][k]), tunInMB: +(w.tun.bytesIn / 1e6).toFixed(0), udpInMB: +(w.udp.bytesIn / 1e6).toFixed(0)
  }))
  return {
    config: config.label, workers: config.workers, steer: config.steer,
    gbps: median(runs.map((r) => r.gbps)), runs: runs.map((r) => +r.gbps.toFixed(2)),
    iperfRetransmits: runs.reduce((n, r) => n + r.retransmits, 0),
    workerCpu: { a: perWorker('a'), b: perWorker('b') },
    restOfProcessPct: { a: pct(cpu.aProcess - cpu.a.reduce((x, y) => x + y, 0)), b: pct(cpu.bProcess - cpu.b.reduce((x, y) => x + y, 0)) },
    machineBusyPct: +(100 * machineBusy / machineTotal).toFixed(1),
    softirqPct: +(100 * softirq / machineTotal).toFixed(1),
    iperfCpu: { client: +(runs.reduce((n, r) => n + r.cpu.host_total, 0) / runs.length).toFixed(1), server: +(runs.reduce((n, r) => n + r.cpu.remote_total, 0) / runs.length).toFixed(1) },
    counters,
    endpointDrops: { a: dropSum(finals.a), b: dropSum(finals.b) },
    tunTxDropped
  }
}

/** Every drop counter of an endpoint's final stats (TUN and UDP, summed over its workers). */
function dropSum (final) {
  if (!final) return null
  const sum = (o) => Object.values(o).reduce((n, v) => n + (typeof v === 'number' ? v : sum(v)), 0)
  return sum(final.tun.drops) + sum(final.udp.drops)
}

function report (results, machine) {
  const base = results[0].gbps
  const lines = []
  lines.push(`iperf3 -P ${STREAMS}, ${RUNS} x ${SECS} s per configuration, a -> b through two echo-tunnel endpoints (offload on)`)
  lines.push(`machine: ${machine.nproc} CPUs (${machine.cpu}), Linux ${machine.kernel}, Node ${machine.node}`)
  lines.push('')
  lines.push('| configuration | Gbit/s (median) | runs | vs 1 worker | worker CPU % a (sender side) | worker CPU % b (receiver side) | rest of process % a / b | iperf3 CPU % client / server | machine busy % (softirq) |')
  lines.push('|---|---:|---|---:|---|---|---|---|---|')
  for (const r of results) {
    const w = (side) => r.workerCpu[side].map((x, k) => `w${k} ${x.cpuPct} (tun ${x.tunInMB} MB, udp ${x.udpInMB} MB in)`).join('; ')
    lines.push(`| ${r.config} | ${r.gbps.toFixed(2)} | ${r.runs.join(', ')} | ${(r.gbps / base).toFixed(2)}x | ${w('a')} | ${w('b')} | ${r.restOfProcessPct.a} / ${r.restOfProcessPct.b} | ${r.iperfCpu.client} / ${r.iperfCpu.server} | ${r.machineBusyPct} (${r.softirqPct}) |`)
  }
  lines.push('')
  lines.push('TCP counters, summed over the runs (a = iperf3 client / data sender, b = receiver), and iperf3\'s own retransmit count:')
  lines.push('')
  lines.push(`| configuration | iperf3 retransmits | endpoint drops a / b | tun0 tx_dropped a / b | ${COUNTERS.map((k) => k.replace('TcpExt.', '').replace('Tcp.', 'Tcp').replace('Udp.', 'Udp')).join(' | ')} |`)
  lines.push(`|---|---:|---:|---:|${COUNTERS.map(() => '---:').join('|')}|`)
  for (const r of results) {
    lines.push(`| ${r.config} | ${r.iperfRetransmits} | ${r.endpointDrops.a} / ${r.endpointDrops.b} | ${r.tunTxDropped.a} / ${r.tunTxDropped.b} | ${COUNTERS.map((k) => `${r.counters.a[k]} / ${r.counters.b[k]}`).join(' | ')} |`)
  }
  lines.push('')
  lines.push('Counter cells: a / b. ' + `2 workers / 1 worker: ${(results[1].gbps / base).toFixed(2)}x; with inner-flow steering: ${(results[2].gbps / base).toFixed(2)}x.`)
  return lines.join('\n')
}

async function main () {
  if (process.getuid() !== 0) { console.error('bench:mq: needs root (network namespaces, TUN devices)'); process.exit(1) }
  if (!netns.has('iperf3')) { console.error('bench:mq: needs iperf3'); process.exit(1) }
  execFileSync(process.execPath, [path.join(netns.ROOT, 'scripts', 'build-examples.js')], { stdio: 'inherit' })
  const machine = { nproc: os.cpus().length, cpu: os.cpus()[0]?.model, kernel: os.release(), node: process.version, date: new Date().toISOString() }
  const results = []
  const wire = netns.createWire('q')
  try {
    for (const config of CONFIGS) {
      const r = await measure(wire, { ...config, offload: 'on' })
      results.push(r)
      console.error(`${config.label}: ${r.gbps.toFixed(2)} Gbit/s (${r.runs.join(', ')})`)
    }
  } finally { wire.cleanup() }
  const text = report(results, machine)
  fs.mkdirSync(OUT, { recursive: true })
  fs.writeFileSync(path.join(OUT, 'multiqueue.md'), `# Multi-queue benchmark\n\nGenerated by \`npm run bench:mq\` (bench/multiqueue.js), ${machine.date}.\n\n${text}\n`)
  fs.writeFileSync(path.join(OUT, 'multiqueue.json'), JSON.stringify({ machine, runs: RUNS, seconds: SECS, streams: STREAMS, results }, null, 2) + '\n')
  console.log(text)
}

main().catch((err) => { console.error(`bench:mq failed: ${err.stack}`); process.exitCode = 1 })
