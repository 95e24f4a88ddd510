#!/usr/bin/env node
'use strict'
// npm run bench: TCP over a veth wire between two namespaces: direct (ceiling), tunio echo
// tunnel with offloads on / TUN offloads off / every offload off (TUN and UDP), the echo tunnel
// sealed with each AEAD (--aead, offloads on), the C reference (bench/tunnel_reference.c: the
// same data path in plain C, compiled here with cc) and a socat tunnel. 1, 8 and 32 streams,
// both directions. The 'tunio native forward' rows are the echo tunnel with --forward native
// (tun.forward/udp.forward: no JavaScript turn per batch), plain and sealed (1 stream each way).
// Also the WireGuard rows: examples/wireguard against itself and against Debian's wireguard-go, and
// wireguard-go against itself (needs wireguard-go and wg).
// Writes docs/bench/tunnel.{md,json,svg} (BENCH_OUT=name: docs/bench/name.*, e.g. for a subset
// chosen with BENCH_CONFIGS). Needs root and iperf3; builds the examples first.
// Rows whose ratio is a target are measured as interleaved groups (measureGroup: all up at
// once, runs alternating): 'tunio native forward' with 'C reference' (issue 19), and the sealed
// echo tunnels with the plain one (issue 13), so that a ratio does not depend on the load
// drifting between rows measured minutes apart (BENCH_INTERLEAVE).
const { execFileSync } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')
const netns = require('../scripts/netns')
const wg = require('../scripts/wireguard-netns')

const RUNS = Number(process.env.BENCH_RUNS || 3)
const SECS = Number(process.env.BENCH_SECONDS || 3)
// Interleaved groups (BENCH_INTERLEAVE, below): more and shorter runs, about the same time per
// cell (5 x 2 s against 3 x 3 s), so the median ratio is of 5 pairs of runs instead of 3.
const PAIR_RUNS = Number(process.env.BENCH_PAIR_RUNS || 5)
const PAIR_SECS = Number(process.env.BENCH_PAIR_SECONDS || 2)
const OUT = path.join(netns.ROOT, 'docs', 'bench')
const OUT_NAME = process.env.BENCH_OUT || 'tunnel'
// 'tunio offload off' turns off the TUN's offloads only (no superpackets in or out; the UDP side
// still batches with UDP_SEGMENT / UDP_GRO); 'tunio all offloads off' also turns off the UDP ones.
// The WireGuard rows: examples/wireguard on both ends, the example against Debian's
// wireguard-go (example in a), and wireguard-go on both ends.
const WG_CONFIGS = { 'wireguard example <-> wireguard example': ['example', 'example'], 'wireguard example <-> wireguard-go': ['example', 'wireguard-go'], 'wireguard-go <-> wireguard-go': ['wireguard-go', 'wireguard-go'] }
const ALL_CONFIGS = ['direct', 'tunio offload on', 'tunio native forward', 'C reference', 'tunio offload off', 'tunio all offloads off',
  'tunio aead chacha20-poly1305', 'tunio aead aes-256-gcm', 'tunio native aead chacha20-poly1305', 'tunio native aead aes-256-gcm',
  'socat', ...Object.keys(WG_CONFIGS)]
const NATIVE_AEAD = 'tunio native aead '
// The pre-shared key of the 'tunio aead' rows (written to a temporary file in main()).
let keyFile
// BENCH_BASELINE=dir: another checkout of tunio, built (`npm run build`), e.g. a worktree of the
// commit before a refactor. Each tunio row then gets a twin "<row> (baseline)" run from that
// tree's echo tunnel and addon, cell by cell right after the row itself (so drift in the
// machine's load hits both alike), and the report compares the two.
const BASELINE = process.env.BENCH_BASELINE ? path.resolve(process.env.BENCH_BASELINE) : null
const BASELINE_SUFFIX = ' (baseline)'
// BENCH_CONFIGS=name,name (exact names) runs a subset, e.g. the echo tunnel beside the WireGuard rows.
const CONFIGS = process.env.BENCH_CONFIGS ? process.env.BENCH_CONFIGS.split(',').map((s) => s.trim()) : ALL_CONFIGS
for (const c of CONFIGS) if (!ALL_CONFIGS.includes(c)) throw new Error(`BENCH_CONFIGS: unknown config "${c}" (known: ${ALL_CONFIGS.join(', ')})`)
// The 32-stream cell is there for memory: peak RSS must not grow with the number of streams.
// BENCH_STREAMS=1 (or 1,8): only the cells with these stream counts, e.g. the 1-stream ratio
// targets of a subset under another Node binary, in a third of the time.
const STREAMS = process.env.BENCH_STREAMS ? process.env.BENCH_STREAMS.split(',').map(Number) : null
const onlyStreams = (cells) => STREAMS ? cells.filter((c) => STREAMS.includes(c.streams)) : cells
const CELLS = onlyStreams([{ streams: 1, reverse: false }, { streams: 1, reverse: true }, { streams: 8, reverse: false }, { streams: 8, reverse: true },
  { streams: 32, reverse: false }, { streams: 32, reverse: true }])
// The WireGuard rows: one stream each way, and 32 streams for peak RSS.
const WG_CELLS = onlyStreams([{ streams: 1, reverse: false }, { streams: 1, reverse: true }, { streams: 32, reverse: false }])
// The sealed native-forward rows: one stream each way (the issue 13 ratio), to keep the run short.
const ONE_STREAM_CELLS = onlyStreams([{ streams: 1, reverse: false }, { streams: 1, reverse: true }])

// Rows measured as interleaved groups (measureGroup) in the cells they share, when all of a
// group are in the run: 'A|B|...|REF' each, the last row the one the others are divided by,
// groups separated by ';' in BENCH_INTERLEAVE (which replaces the default; '' for none; a row in
// one group only). By default the native forward with the C reference, whose ratio is issue
// 19's target and whose 1-stream cells swing by up to 2x between runs of the same build, with
// the direct veth (issue 19's "% of direct veth"), and the two sealed echo tunnels and the
// WireGuard example pair with the plain echo tunnel (issues 13 and 14). A group's cells are
// those all its rows have (the WireGuard rows have no 8-stream cells: there the others run alone).
const INTERLEAVE = (process.env.BENCH_INTERLEAVE ??
  'tunio native forward|direct|C reference;tunio aead chacha20-poly1305|tunio aead aes-256-gcm|wireguard example <-> wireguard example|tunio offload on')
  .split(';').map((s) => s.trim()).filter(Boolean).map((g) => g.split('|').map((s) => s.trim()))
for (const g of INTERLEAVE) {
  if (g.length < 2 || g.some((c) => !ALL_CONFIGS.includes(c)) || new Set(g).size !== g.length) throw new Error(`BENCH_INTERLEAVE: "${g.join('|')}" is not two or more known configs`)
  if (g.some((c) => INTERLEAVE.some((o) => o !== g && o.includes(c)))) throw new Error(`BENCH_INTERLEAVE: a config is in two groups ("${g.join('|')}")`)
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function iperf (wire, target, { streams, reverse }, secs = SECS) {
  const server = wire.spawn('b', 'iperf3', ['-s', '-1', '-B', target])
  await sleep(200)
  try {
    const args = ['-c', target, '-t', String(secs), '-P', String(streams), '-J', ...(reverse ? ['-R'] : [])]
    let out
    try { out = wire.exec('a', 'iperf3', args, { timeout: (secs + 15) * 1000 }) } catch (err) { out = String(err.stdout ?? '') }
    const j = JSON.parse(out || '{}')
    if (!j.end?.sum_received) throw new Error(`iperf3 failed: ${j.error ?? 'no result'}`)
    return { gbps: j.end.sum_received.bits_per_second / 1e9, bytes: j.end.sum_received.bytes }
  } finally { server.kill('SIGKILL'); await server.exited }
}

/** The echo tunnel script of BENCH_BASELINE's tree for a "(baseline)" row, else this tree's. */
function echoScriptOf (label) {
  return label.endsWith(BASELINE_SUFFIX) ? path.join(BASELINE, 'dist', 'examples', 'echo-tunnel.js') : netns.ECHO
}

/** Starts both endpoints of a row's tunnel in `wire`: { config, target, eps }. */
async function startRow (wire, label) {
  // A "(baseline)" row runs the same configuration from the other tree.
  const config = label.endsWith(BASELINE_SUFFIX) ? label.slice(0, -BASELINE_SUFFIX.length) : label
  let eps = []
  const started = (e) => { eps.push(e); return e }
  try {
    if (config === 'tunio native forward' || config.startsWith(NATIVE_AEAD)) {
      const aead = config.startsWith(NATIVE_AEAD) ? { algorithm: config.slice(NATIVE_AEAD.length), keyFile } : undefined
      const opts = { offload: 'on', forward: 'native', aead, script: echoScriptOf(label) }
      started(await netns.startEcho(wire, 'a', opts)); started(await netns.startEcho(wire, 'b', opts))
    } else if (config.startsWith('tunio aead ')) {
      const opts = { offload: 'on', aead: { algorithm: config.slice('tunio aead '.length), keyFile }, script: echoScriptOf(label) }
      started(await netns.startEcho(wire, 'a', opts)); started(await netns.startEcho(wire, 'b', opts))
    } else if (config.startsWith('tunio')) {
      const offload = config.endsWith('on') ? 'on' : 'off'
      const udpOffload = config === 'tunio all offloads off' ? 'off' : 'auto'
      const opts = { offload, udpOffload, script: echoScriptOf(label) }
      started(await netns.startEcho(wire, 'a', opts)); started(await netns.startEcho(wire, 'b', opts))
    } else if (config === 'C reference') {
      started(await netns.startCReference(wire, 'a')); started(await netns.startCReference(wire, 'b'))
    } else if (config === 'socat') {
      started(await netns.startSocat(wire, 'a')); started(await netns.startSocat(wire, 'b'))
    } else if (WG_CONFIGS[config]) {
      const k = wg.keys()
      started(await wg.start(wire, 'a', WG_CONFIGS[config][0], k)); started(await wg.start(wire, 'b', WG_CONFIGS[config][1], k))
      // The first packet waits for the handshake: make it before iperf3 measures.
      // On a loaded machine a handshake message can be late: both implementations retry after 5 s.
      let ok = false
      for (let i = 0; i < 3 && !ok; i++) ok = wg.ping(wire, 'a', 'b', { count: 1, timeoutSec: 10 }) === 0
      if (!ok) throw new Error(`${config}: no ping through the tunnel: ${eps.map((e) => e.child.output).join('\n')}`)
    }
  } catch (err) {
    for (const e of eps) await e.stop()
    throw err
  }
  const target = config === 'direct' ? netns.WIRE.b : netns.TUNNEL.b
  return { label, config, wire, target, eps, before: eps.map((e) => netns.procUsage(e.pid)), runs: [], bytes: 0 }
}

/** Stops a row's endpoints; the cell's result from the runs made (row.runs, row.bytes). */
async function stopRow (row, cell) {
  const { config, eps } = row
  const after = eps.map((e) => netns.procUsage(e.pid))
  const finals = []
  for (const e of eps) finals.push(await e.stop())
  if (row.runs.length === 0) return null
  const gb = row.bytes / 1e9
  const sys = finals.reduce((s, f) => s + netns.syscalls(f), 0)
  // The data's sender is endpoint a (b with -R): its UDP_SEGMENT sends per TUN superpacket it
  // read. The other endpoint's sends are the TCP ACKs, read from its TUN one by one and sent in
  // runs: counting them too (as before 2026-12-02) added 0.05-0.09 that is not a split send.
  const sender = finals[cell.reverse ? 1 : 0]
  return {
    config: row.label, streams: cell.streams, direction: cell.reverse ? 'b->a (-R)' : 'a->b',
    gbps: median(row.runs), min: Math.min(...row.runs), max: Math.max(...row.runs), runs: row.runs,
    cpuSeconds: eps.map((e, i) => row.before[i] && after[i] ? +(after[i].cpu - row.before[i].cpu).toFixed(2) : null),
    syscallsPerGB: config.startsWith('tunio') || config === 'C reference' || config === 'wireguard example <-> wireguard example' ? Math.round(sys / gb) : null,
    peakRssMiB: eps.map((e, i) => after[i] ? +(after[i].hwmKiB / 1024).toFixed(1) : null),
    drops: finals.map((f) => f ? { tun: f.tun.drops, udp: { ...f.udp.drops }, ...(f.device ? { wireguard: f.device.dataplane } : {}), ...(f.aead ? { aead: { seal: f.aead.seal.drops, open: f.aead.open.drops } } : {}) } : null),
    gsoSendsPerSuperpacket: config.startsWith('tunio') && sender
      ? +(sender.udp.gsoSends / Math.max(1, sender.tun.superpacketsIn)).toFixed(3)
      : null
  }
}

async function runOnce (row, cell, secs = SECS) {
  const r = await iperf(row.wire, row.target, cell, secs)
  row.runs.push(r.gbps)
  row.bytes += r.bytes
}

async function measure (wire, label, cell) {
  const row = await startRow(wire, label)
  try {
    for (let i = 0; i < RUNS; i++) await runOnce(row, cell)
  } finally { var result = await stopRow(row, cell) } // eslint-disable-line no-var
  return result
}

/**
 * Rows measured together, cell by cell: all tunnels up at once (each in its own wire, the idle
 * ones cost nothing), their iperf3 runs alternating (A B C, C B A, A B C, ...) so that a change
 * in the machine's load during the cell hits all alike. Each row but the last (the reference)
 * gets pairRatios: its run i divided by the reference's run i, with their median and range.
 */
async function measureGroup (wires, labels, cell) {
  const rows = []
  try {
    for (let i = 0; i < labels.length; i++) rows.push(await startRow(wires[i], labels[i]))
    for (let i = 0; i < PAIR_RUNS; i++) {
      for (const row of i % 2 === 0 ? rows : [...rows].reverse()) await runOnce(row, cell, PAIR_SECS)
    }
  } finally {
    var results = [] // eslint-disable-line no-var
    for (const row of rows) results.push(await stopRow(row, cell))
  }
  for (const r of results) if (r) r.group = labels.join(' | ')
  const ref = results[results.length - 1]
  for (const r of results.slice(0, -1)) {
    const ratios = r.runs.map((g, i) => +(g / ref.runs[i]).toFixed(3))
    r.pairRatios = { of: `${r.config} / ${ref.config}`, ratios, median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) }
  }
  return results
}

function table (results) {
  const rows = ['| tunnel | streams | direction | Gbit/s (median) | min–max | CPU s (a / b) | syscalls/GB | peak RSS MiB (a / b) |',
    '|---|---|---|---|---|---|---|---|']
  for (const r of results) {
    rows.push(`| ${r.config} | ${r.streams} | ${r.direction} | ${r.gbps.toFixed(2)} | ${r.min.toFixed(2)}–${r.max.toFixed(2)} | ` +
      `${r.cpuSeconds.length ? r.cpuSeconds.join(' / ') : '–'} | ${r.syscallsPerGB ?? '–'} | ${r.peakRssMiB.length ? r.peakRssMiB.join(' / ') : '–'} |`)
  }
  return rows.join('\n')
}

/** The issue's targets, computed from this run's own cells (ratios within one run). */
function targets (results) {
  const cell = (config, streams, direction) => results.find((r) => r.config === config && r.streams === streams && r.direction === direction)
  const lines = []
  const ratio = (a, b) => (a && b && b.gbps > 0 ? a.gbps / b.gbps : null)
  // Two rows of one interleaved group: the median of their runs' ratios (run i beside run i),
  // which the load's drift between rows does not move; otherwise the ratio of the medians.
  const pairedRatio = (a, b) => a?.group && a.group === b?.group && a.runs.length === b.runs.length
    ? median(a.runs.map((g, i) => g / b.runs[i]))
    : ratio(a, b)
  for (const direction of ['a->b', 'b->a (-R)']) {
    const on = cell('tunio offload on', 1, direction)
    const vsSocat = ratio(on, cell('socat', 1, direction))
    const vsDirect = ratio(on, cell('direct', 1, direction))
    const vsOff = ratio(on, cell('tunio offload off', 1, direction))
    const vsAllOff = ratio(on, cell('tunio all offloads off', 1, direction))
    const fmt = (x, unit, what, goal) => x === null ? `${what}: not measured` : `${x.toFixed(unit === '%' ? 0 : 1)}${unit} ${what} (target ≥ ${goal}${unit}: ${x >= goal ? 'met' : 'MISSED'})`
    lines.push(`- 1 stream ${direction}, tunio offload on: ${fmt(vsSocat, '×', 'socat', 15)}; ${fmt(vsDirect === null ? null : vsDirect * 100, '%', 'of direct veth', 40)}; ${fmt(vsOff, '×', 'TUN offloads off', 5)}; ${vsAllOff === null ? 'all offloads off: not measured' : `${vsAllOff.toFixed(1)}× all offloads off (TUN and UDP)`}`)
  }
  for (const algorithm of ['chacha20-poly1305', 'aes-256-gcm']) {
    for (const direction of ['a->b', 'b->a (-R)']) {
      const sealed = cell(`tunio aead ${algorithm}`, 1, direction)
      // Interleaved (measureGroup): the median of the runs' ratios to the plain tunnel's, and their range.
      const p = sealed?.pairRatios?.of === `tunio aead ${algorithm} / tunio offload on` ? sealed.pairRatios : null
      const r = p ? p.median : ratio(sealed, cell('tunio offload on', 1, direction))
      lines.push(`- 1 stream ${direction}, tunio aead ${algorithm}: ${r === null ? 'not measured' : `${(r * 100).toFixed(0)}%${p ? ` (interleaved, median of ${p.ratios.length} pairs of runs, ${(p.min * 100).toFixed(0)}–${(p.max * 100).toFixed(0)}%)` : ''} of the plain echo tunnel (target ≥ 60%: ${r >= 0.6 ? 'met' : 'MISSED'})`}` +
        (sealed ? `, ${sealed.gsoSendsPerSuperpacket} UDP_SEGMENT sends per TUN superpacket (target ≤ 1.1: ${sealed.gsoSendsPerSuperpacket <= 1.1 ? 'met' : 'MISSED'})` : ''))
    }
  }
  // Issue 19: tunio at or above the same data path written in C, in every cell of this run;
  // with JavaScript forwarding each batch and with the native forward.
  for (const config of ['tunio offload on', 'tunio native forward']) {
    for (const direction of ['a->b', 'b->a (-R)']) {
      const parts = []
      for (const streams of [1, 8, 32]) {
        const c = cell(config, streams, direction)
        const p = c?.pairRatios?.of === `${config} / C reference` ? c.pairRatios : null
        // Interleaved (measureGroup): the median of the runs' pairwise ratios, and their range.
        const r = p ? p.median : ratio(c, cell('C reference', streams, direction))
        if (r !== null) parts.push(`${streams} stream${streams > 1 ? 's' : ''} ${r.toFixed(2)}×${p ? ` (pairs ${p.min.toFixed(2)}–${p.max.toFixed(2)})` : ''} (${r >= 1 ? 'met' : 'MISSED'})`)
      }
      const cRef = cell('C reference', 1, direction); const direct = cell('direct', 1, direction)
      if (parts.length) {
        const paired = [1, 8, 32].some((n) => cell(config, n, direction)?.pairRatios)
        lines.push(`- ${direction}, ${config} / C reference (target ≥ 1.0×${paired ? '; runs interleaved with the C reference, median of the pairs\' ratios' : ''}): ${parts.join(', ')}` +
          (cRef && direct ? `; C reference 1 stream ${(pairedRatio(cRef, direct) * 100).toFixed(0)}% of direct veth` : ''))
      }
      const on = cell(config, 1, direction)
      const vsDirect = pairedRatio(on, direct)
      if (on && direct) lines.push(`- ${direction}, ${config} 1 stream: ${(vsDirect * 100).toFixed(0)}% of direct veth${on.group === direct.group ? ' (interleaved, median of the runs\' ratios)' : ''} (issue 19 target ≥ 50%: ${vsDirect >= 0.5 ? 'met' : 'MISSED'})`)
    }
  }
  // Issue 13 with the native forward: sealed against the plain native forward (and the plain JS one).
  for (const algorithm of ['chacha20-poly1305', 'aes-256-gcm']) {
    for (const direction of ['a->b', 'b->a (-R)']) {
      const sealed = cell(`${NATIVE_AEAD}${algorithm}`, 1, direction)
      if (!sealed) continue
      const vsNative = ratio(sealed, cell('tunio native forward', 1, direction))
      const vsJs = ratio(sealed, cell('tunio offload on', 1, direction))
      const pct = (x) => x === null ? 'not measured' : `${(x * 100).toFixed(0)}%`
      lines.push(`- 1 stream ${direction}, ${NATIVE_AEAD}${algorithm}: ${pct(vsNative)} of the plain native forward (target ≥ 60%: ${vsNative !== null && vsNative >= 0.6 ? 'met' : 'MISSED'}), ` +
        `${pct(vsJs)} of the plain echo tunnel with JS forwarding, ${sealed.gsoSendsPerSuperpacket} UDP_SEGMENT sends per TUN superpacket`)
    }
  }
  for (const r of results) {
    const p = r.pairRatios
    if (!p || p.of === 'tunio native forward / C reference' || p.of.startsWith('tunio aead ') || !p.of.startsWith(`${r.config} /`)) continue
    lines.push(`- ${r.streams} stream${r.streams > 1 ? 's' : ''} ${r.direction}, ${p.of} (interleaved runs): median ${p.median.toFixed(2)}× (pairs ${p.min.toFixed(2)}–${p.max.toFixed(2)})`)
  }
  // Only cells that counted system calls: none at all (the config left out of BENCH_CONFIGS)
  // is 'not measured', not a maximum of nothing (-Infinity) that would read as met.
  const sysCounts = results.filter((r) => r.config === 'tunio offload on' && Number.isFinite(r.syscallsPerGB)).map((r) => r.syscallsPerGB)
  if (sysCounts.length === 0) {
    lines.push('- syscalls per GB, offload on, both endpoints: not measured in this run (\'tunio offload on\' not in BENCH_CONFIGS)')
  } else {
    const worstSys = Math.max(...sysCounts)
    lines.push(`- syscalls per GB, offload on, both endpoints: at most ${worstSys} over all cells (target ≤ 150000: ${worstSys <= 150000 ? 'met' : 'MISSED'})`)
  }
  const rss = (r) => Math.max(...r.peakRssMiB.filter((x) => x !== null))
  for (const config of ['tunio offload on', 'tunio offload off', 'tunio all offloads off']) {
    if (!results.some((r) => r.config === config)) continue
    const byStreams = [1, 8, 32].map((n) => results.filter((r) => r.config === config && r.streams === n)).filter((rs) => rs.length)
      .map((rs) => ({ streams: rs[0].streams, rss: Math.max(...rs.map(rss)) }))
    const peak32 = byStreams.find((x) => x.streams === 32)
    lines.push(`- peak RSS per tunnel process, ${config}: ${byStreams.map((x) => `${x.streams} stream${x.streams > 1 ? 's' : ''} ${x.rss} MiB`).join(', ')}` +
      (peak32 ? ` (target at 32 streams < 96 MB = 91.6 MiB: ${peak32.rss < 91.55 ? 'met' : 'MISSED'})` : ''))
  }
  const wgPair = (direction) => cell('wireguard example <-> wireguard example', 1, direction)
  for (const direction of ['a->b', 'b->a (-R)']) {
    const ex = wgPair(direction)
    const vsGo = ratio(ex, cell('wireguard-go <-> wireguard-go', 1, direction))
    const vsEcho = pairedRatio(ex, cell('tunio offload on', 1, direction))
    const mixed = cell('wireguard example <-> wireguard-go', 1, direction)
    if (!ex) continue
    lines.push(`- 1 stream ${direction}, wireguard example pair ${ex.gbps.toFixed(2)} Gbit/s: ` +
      (vsGo === null ? 'wireguard-go pair not measured' : `${vsGo.toFixed(1)}× the wireguard-go pair (target ≥ 5×: ${vsGo >= 5 ? 'met' : 'MISSED'})`) + '; ' +
      (vsEcho === null ? 'echo tunnel not measured' : `${(vsEcho * 100).toFixed(0)}% of the plain echo tunnel${ex.group && ex.group === cell('tunio offload on', 1, direction)?.group ? ' (interleaved, median of the runs\' ratios)' : ''} (target ≥ 50%: ${vsEcho >= 0.5 ? 'met' : 'MISSED'})`) +
      (mixed ? `; example <-> wireguard-go ${mixed.gbps.toFixed(2)} Gbit/s` : ''))
  }
  const wg32 = cell('wireguard example <-> wireguard example', 32, 'a->b')
  if (wg32) {
    const peak = Math.max(...wg32.peakRssMiB.filter((x) => x !== null))
    lines.push(`- peak RSS per wireguard example endpoint at 32 streams: ${wg32.peakRssMiB.join(' / ')} MiB (target < 96 MB = 91.6 MiB: ${peak < 91.55 ? 'met' : 'MISSED'})`)
  }
  return lines.join('\n')
}

/**
 * BENCH_BASELINE: each tunio cell against its baseline twin. Noise is judged from the cells'
 * own spread: a cell is "slower beyond noise" only when its best run is below the baseline's
 * worst (the min–max ranges of the runs do not overlap), likewise "faster"; otherwise the
 * difference is within what repeated runs of one build already show.
 */
function baselineComparison (results) {
  const lines = ['| tunnel | streams | direction | this tree Gbit/s | baseline Gbit/s | ratio | verdict |', '|---|---|---|---|---|---|---|']
  let slower = 0
  for (const r of results) {
    if (r.config.endsWith(BASELINE_SUFFIX)) continue
    const b = results.find((x) => x.config === r.config + BASELINE_SUFFIX && x.streams === r.streams && x.direction === r.direction)
    if (!b) continue
    const verdict = RUNS < 2 ? 'no spread to judge (one run per cell)' : r.max < b.min ? 'slower beyond noise' : r.min > b.max ? 'faster beyond noise' : 'within noise'
    if (verdict === 'slower beyond noise') slower++
    lines.push(`| ${r.config} | ${r.streams} | ${r.direction} | ${r.gbps.toFixed(2)} (${r.min.toFixed(2)}–${r.max.toFixed(2)}) | ` +
      `${b.gbps.toFixed(2)} (${b.min.toFixed(2)}–${b.max.toFixed(2)}) | ${(r.gbps / b.gbps).toFixed(2)} | ${verdict} |`)
  }
  return `${lines.join('\n')}\n\nCells slower beyond noise: ${slower} (a cell counts only when its best run is below the baseline's worst).`
}

function svg (results) {
  const W = 760; const barH = 14; const gap = 6; const left = 260; const maxG = Math.max(...results.map((r) => r.max), 1)
  const colors = { direct: '#888', 'tunio offload on': '#2a7', 'tunio offload off': '#27c', 'tunio all offloads off': '#73c', 'tunio aead chacha20-poly1305': '#a52', 'tunio aead aes-256-gcm': '#b84', 'tunio native forward': '#1a5', 'tunio native aead chacha20-poly1305': '#831', 'tunio native aead aes-256-gcm': '#963', 'C reference': '#a33', socat: '#c72', 'wireguard example <-> wireguard example': '#d4a', 'wireguard example <-> wireguard-go': '#a6d', 'wireguard-go <-> wireguard-go': '#666' }
  const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  let y = 30
  let body = `<text x="10" y="18" font-size="14" font-weight="bold">TCP over veth between namespaces, Gbit/s (median of the runs, whiskers min–max)</text>\n`
  for (const r of results) {
    const w = (v) => (v / maxG) * (W - left - 60)
    body += `<text x="${left - 6}" y="${y + 11}" font-size="11" text-anchor="end">${esc(`${r.config}, ${r.streams} stream${r.streams > 1 ? 's' : ''}, ${r.direction}`)}</text>\n` +
      `<rect x="${left}" y="${y}" width="${w(r.gbps).toFixed(1)}" height="${barH}" fill="${colors[r.config] ?? '#bbb'}"/>\n` +
      `<line x1="${left + w(r.min)}" x2="${left + w(r.max)}" y1="${y + barH / 2}" y2="${y + barH / 2}" stroke="#000"/>\n` +
      `<text x="${left + w(r.max) + 4}" y="${y + 11}" font-size="11">${r.gbps.toFixed(2)}</text>\n`
    y += barH + gap
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y + 10}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="#fff"/>\n${body}</svg>\n`
}

async function main () {
  if (process.getuid() !== 0) { console.error('bench: needs root (network namespaces, TUN devices)'); process.exit(1) }
  if (!netns.has('iperf3')) { console.error('bench: needs iperf3'); process.exit(1) }
  execFileSync(process.execPath, [path.join(netns.ROOT, 'scripts', 'build-examples.js')], { stdio: 'inherit' })
  if (BASELINE) {
    if (!fs.existsSync(path.join(BASELINE, 'scripts', 'build-examples.js'))) { console.error(`bench: BENCH_BASELINE=${BASELINE} is not a tunio checkout`); process.exit(1) }
    execFileSync(process.execPath, [path.join(BASELINE, 'scripts', 'build-examples.js')], { stdio: 'inherit', cwd: BASELINE })
  }
  // Every tunio endpoint runs under this process's Node (process.execPath), whose OpenSSL is
  // the one the AEAD rows use: Node 20 ships OpenSSL 3.0, Node 22-26 OpenSSL 3.5 (AES-256-GCM
  // with VAES there: about twice as fast per packet on this machine, docs/performance.md).
  const machine = { nproc: os.cpus().length, cpu: os.cpus()[0]?.model, kernel: os.release(), node: process.version, openssl: process.versions.openssl, execPath: process.execPath, date: new Date().toISOString(), loadStart: +os.loadavg()[0].toFixed(1) }
  console.error(`bench: endpoints run under Node ${machine.node} (OpenSSL ${machine.openssl}, ${machine.execPath}); load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`)
  const results = []
  const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunio-bench-'))
  keyFile = path.join(keyDir, 'key')
  fs.writeFileSync(keyFile, require('crypto').randomBytes(32))
  const failed = []
  const wire = netns.createWire('b')
  const groupWires = [] // the other tunnels of an interleaved group ('c', 'd', ...)
  const cellsOf = (config) => WG_CONFIGS[config] ? WG_CELLS : config.startsWith(NATIVE_AEAD) ? ONE_STREAM_CELLS : CELLS
  const cellName = (cell) => `${cell.streams} stream(s), ${cell.reverse ? 'b->a (-R)' : 'a->b'}`
  const done = new Set() // config|cell measured (or failed) already, as part of a group
  // socat, and the WireGuard rows (they ping through the tunnel before measuring: iputils-ping).
  const unavailable = (config) => (config === 'socat' && !netns.has('socat')) ||
    (WG_CONFIGS[config] !== undefined && (!wg.hasWireguardGo() || !netns.has('ping')))
  // A config's interleaved group: the rows of its BENCH_INTERLEAVE group that this run has
  // (e.g. 'tunio native forward,C reference' without 'direct'), if its reference is one of them.
  const groupOf = (config) => {
    const g = INTERLEAVE.find((x) => x.includes(config))
    const present = g?.filter((c) => CONFIGS.includes(c) && !unavailable(c))
    return present && present.length >= 2 && present.includes(config) && present.at(-1) === g.at(-1) ? present : undefined
  }
  const report = (r) => { results.push(r); console.error(`${r.config}, ${r.streams} stream(s), ${r.direction}: ${r.gbps.toFixed(2)} Gbit/s${r.pairRatios ? ` (${r.pairRatios.of} ${r.pairRatios.ratios.join(', ')})` : ''}`) }
  try {
    for (const config of CONFIGS) {
      if (unavailable(config)) { if (config !== 'socat') console.error(`${config}: skipped (needs wireguard-go, wg and ping)`); continue }
      // A group's shared cells are measured when the first of its rows comes up, in its order.
      const group = BASELINE ? undefined : groupOf(config)
      for (const cell of cellsOf(config)) {
        if (done.has(`${config}|${cellName(cell)}`)) continue
        const shared = group && group.every((c) => cellsOf(c).some((x) => x.streams === cell.streams && x.reverse === cell.reverse))
        // A cell that fails (iperf3 could not connect on a loaded machine, a tunnel that did
        // not come up) is reported and left out; the rest of the run still counts.
        try {
          if (shared) {
            for (const c of group) done.add(`${c}|${cellName(cell)}`)
            while (groupWires.length < group.length - 1) groupWires.push(netns.createWire(String.fromCharCode(99 + groupWires.length)))
            for (const r of await measureGroup([wire, ...groupWires], group, cell)) report(r)
          } else {
            report(await measure(wire, config, cell))
          }
        } catch (err) {
          const what = shared ? group.join(' and ') : config
          console.error(`${what}, ${cellName(cell)}: FAILED: ${err.message}`)
          failed.push(`${what}, ${cellName(cell)}: ${err.message}`)
          continue
        }
        if (BASELINE && config.startsWith('tunio')) {
          const label = config + BASELINE_SUFFIX
          try { report(await measure(wire, label, cell)) } catch (err) {
            console.error(`${label}, ${cell.streams} stream(s): FAILED: ${err.message}`)
            failed.push(`${label}, ${cellName(cell)}: ${err.message}`)
            continue
          }
        }
      }
    }
  } finally { wire.cleanup(); for (const w of groupWires) w.cleanup(); fs.rmSync(keyDir, { recursive: true, force: true }) }
  // In the order of CONFIGS (an interleaved group measured its rows cell by cell together).
  const rank = (r) => CONFIGS.indexOf(r.config.replace(BASELINE_SUFFIX, '')) + (r.config.endsWith(BASELINE_SUFFIX) ? 0.5 : 0)
  results.sort((x, y) => rank(x) - rank(y))
  const md = `# Tunnel benchmark\n\nMachine: ${machine.nproc} CPUs (${machine.cpu}), Linux ${machine.kernel}, Node ${machine.node} (OpenSSL ${machine.openssl}; every endpoint runs under it), ${machine.date}, load average ${machine.loadStart} at the start and ${os.loadavg()[0].toFixed(1)} at the end.\n` +
    `Two network namespaces joined by veth; iperf3 ${RUNS} runs × ${SECS} s per cell. CPU s: utime+stime of each ` +
    `tunnel process over the cell; syscalls/GB: tun read+writev + udp recvmmsg+sendmsg+sendmmsg of both endpoints per GB received; ` +
    `peak RSS: VmHWM. Generated by \`npm run bench\` (bench/tunnel.js).` +
    (results.some((r) => r.pairRatios) ? ` Interleaved groups (${[...new Set(results.filter((r) => r.pairRatios).map((r) => r.group))].join('; ')}): ` +
      `all tunnels of a group up at once, ${PAIR_RUNS} runs × ${PAIR_SECS} s each per cell, alternating A B, B A, A B, ...; the ratio targets use the median of the ratios of runs made side by side (each row to the group's last).` : '') +
    `\n\n${table(results)}\n\n` +
    (failed.length ? `Cells that failed and are left out:\n\n${failed.map((f) => `- ${f}`).join('\n')}\n\n` : '') +
    (BASELINE ? `## Against the baseline (BENCH_BASELINE=${BASELINE}, ${baselineRevision()})\n\n${baselineComparison(results)}\n\n` : '') +
    `## Targets (from the cells above)\n\n${targets(results)}\n\n![chart](${OUT_NAME}.svg)\n`
  fs.mkdirSync(OUT, { recursive: true })
  fs.writeFileSync(path.join(OUT, `${OUT_NAME}.md`), md)
  fs.writeFileSync(path.join(OUT, `${OUT_NAME}.json`), JSON.stringify({ machine, runs: RUNS, seconds: SECS, pairRuns: PAIR_RUNS, pairSeconds: PAIR_SECS, interleave: INTERLEAVE, results }, null, 2) + '\n')
  fs.writeFileSync(path.join(OUT, `${OUT_NAME}.svg`), svg(results))
  console.log(md)
}

/** The baseline tree's commit, for the report (or "not a git checkout"). */
function baselineRevision () {
  try { return 'commit ' + execFileSync('git', ['-C', BASELINE, 'rev-parse', '--short', 'HEAD']).toString().trim() } catch { return 'not a git checkout' }
}

if (require.main === module) main().catch((err) => { console.error(`bench failed: ${err.stack}`); process.exitCode = 1 })
module.exports = { targets, table, baselineComparison }
