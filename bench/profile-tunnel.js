#!/usr/bin/env node
'use strict'
// Side-by-side profile of the echo tunnel (tunio) and the C reference (bench/tunnel_reference.c)
// per superpacket (issue 19): one TCP stream a -> b through each, the same topology as npm run
// bench. For each endpoint process, over the whole transfer:
//   perf stat: task-clock, context switches (each one a sleep and a wake-up), and system calls
//     by kind (syscall tracepoints; this machine has no hardware counters, so no instructions);
//   divided by the superpackets the endpoint handled: endpoint a's TUN superpackets read (the
//     sender's data), endpoint b's coalesced superpackets written.
// PROFILE_RECORD=1 adds a second transfer per tunnel under `perf record -e cpu-clock -g` on
// endpoint a and b and prints the top symbols. Needs root, iperf3 and perf.
//   node bench/profile-tunnel.js            (PROFILE_SECONDS=5, PROFILE_CONFIGS=tunio,C reference)
// Configs: 'tunio' (the echo tunnel, JavaScript forwarding each batch), 'tunio native'
// (--forward native), 'C reference', and 'tunio aead ALG' / 'tunio native aead ALG' (sealed).
// PROFILE_STREAMS=N runs N TCP streams (iperf3 -P; default 1). Each run also reports what the
// kernel lost in each namespace (UDP receive-buffer drops, TCP retransmissions, via nstat): at
// 32 streams the receiving endpoint's socket overflows while its thread waits for a CPU.
// On a loaded machine: PROFILE_BITRATE=3G rate-limits iperf3 (-b) so that neither forwarder
// saturates and the CPU each spends is for the same work; PROFILE_REPEAT=N runs the configs N
// times alternating (A B, B A, ...) and reports each cell's median. Per GB forwarded (iperf3's
// bytes) it adds task-clock ms; and for each endpoint the threads that ran during the transfer
// (their CPU and context switches from /proc/PID/task, e.g. V8's workers or libuv's pool).
const { spawn, execFileSync } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')
const netns = require('../scripts/netns')

const SECS = Number(process.env.PROFILE_SECONDS || 5)
const RECORD = process.env.PROFILE_RECORD === '1'
const CONFIGS = (process.env.PROFILE_CONFIGS || 'tunio,C reference').split(',').map((s) => s.trim())
const BITRATE = process.env.PROFILE_BITRATE
const REPEAT = Number(process.env.PROFILE_REPEAT || 1)
const STREAMS = Number(process.env.PROFILE_STREAMS || 1)
const SYSCALLS = ['read', 'readv', 'writev', 'write', 'recvmmsg', 'recvmsg', 'sendmmsg', 'sendmsg', 'epoll_wait', 'epoll_pwait',
  'epoll_pwait2', 'epoll_ctl', 'futex', 'getsockopt', 'ioctl', 'mprotect', 'madvise']
const EVENTS = ['task-clock', 'context-switches', 'cpu-migrations', 'raw_syscalls:sys_enter', ...SYSCALLS.map((s) => `syscalls:sys_enter_${s}`)]
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Runs perf on a pid until stop() (SIGINT); resolves with its output file. */
function perfOn (pid, args, out) {
  const p = spawn('perf', [...args, '-o', out, '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  p.stderr.on('data', (d) => { err += d })
  const exited = new Promise((resolve) => p.on('exit', resolve))
  return { async stop () { p.kill('SIGINT'); await exited; if (!fs.existsSync(out)) throw new Error(`perf ${args[0]}: ${err}`); return out } }
}

function parseStat (file) {
  const counts = {}
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const f = line.split(',') // -x, : value,unit,event,...
    if (f.length < 3 || f[0] === '' || f[0].startsWith('<')) continue
    counts[f[2].replace(/^syscalls:sys_enter_/, '').replace(/^raw_syscalls:sys_enter$/, 'all syscalls')] = Number(f[0])
  }
  return counts
}

/** Per thread of a process: name, CPU ticks (utime + stime) and context switches. */
function threads (pid) {
  const out = {}
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const status = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8')
      const n = (k) => Number((new RegExp(`${k}:\\s+(\\d+)`).exec(status) || [0, 0])[1])
      out[tid] = { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), ticks: Number(f[11]) + Number(f[12]), switches: n('voluntary_ctxt_switches') + n('nonvoluntary_ctxt_switches') }
    } catch {}
  }
  return out
}
/** The threads that ran between two snapshots: "name (tid) ticks/switches", the main one first. */
function threadsRan (pid, before, after) {
  return Object.entries(after).map(([tid, a]) => {
    const b = before[tid] || { ticks: 0, switches: 0 }
    return { tid, name: a.name, ticks: a.ticks - b.ticks, switches: a.switches - b.switches }
  }).filter((t) => t.ticks > 0 || t.switches > 0 || t.tid === String(pid))
}

let keyFile
async function startTunnel (wire, config, side) {
  if (config === 'C reference') return await netns.startCReference(wire, side)
  const m = /^tunio( native)?(?: aead (\S+))?$/.exec(config)
  if (m === null) throw new Error(`PROFILE_CONFIGS: unknown config "${config}"`)
  if (m[2] !== undefined && keyFile === undefined) {
    keyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tunio-profile-key-')), 'key')
    fs.writeFileSync(keyFile, require('crypto').randomBytes(32))
  }
  return await netns.startEcho(wire, side, { forward: m[1] ? 'native' : 'js', aead: m[2] ? { algorithm: m[2], keyFile } : undefined })
}

async function transfer (config, tmp, mode) {
  const wireTag = `p${CONFIGS.indexOf(config)}`
  const w = netns.createWire(wireTag)
  try {
    const eps = [await startTunnel(w, config, 'a'), await startTunnel(w, config, 'b')]
    const server = w.spawn('b', 'iperf3', ['-s', '-1', '-B', netns.TUNNEL.b])
    await sleep(300)
    const perfs = eps.map((e, i) => {
      const out = path.join(tmp, `${wireTag}-${mode}-${i}`)
      return mode === 'stat'
        ? perfOn(e.pid, ['stat', '-x,', '-e', EVENTS.join(',')], out)
        : perfOn(e.pid, ['record', '-e', 'cpu-clock', '-F', '1999', '-g', '-q'], out)
    })
    await sleep(300)
    const before = eps.map((e) => threads(e.pid))
    const j = JSON.parse(w.exec('a', 'iperf3', ['-c', netns.TUNNEL.b, '-t', String(SECS), '-P', String(STREAMS), '-J', ...(BITRATE ? ['-b', BITRATE] : [])], { timeout: (SECS + 20) * 1000 }))
    const ran = eps.map((e, i) => threadsRan(e.pid, before[i], threads(e.pid)))
    // What the kernel lost on the way, per namespace (each is new for this transfer): datagrams
    // its UDP sockets dropped for a full receive buffer, and its TCP retransmissions.
    const lost = ['a', 'b'].map((ns) => kernelCounters(w, ns))
    const files = []
    for (const p of perfs) files.push(await p.stop())
    server.kill('SIGKILL')
    const finals = []
    for (const e of eps) finals.push(await e.stop())
    return { gbps: j.end.sum_received.bits_per_second / 1e9, bytes: j.end.sum_received.bytes, files, finals, ran, lost }
  } finally { w.cleanup() }
}

/** The namespace's UdpRcvbufErrors and TcpRetransSegs (nstat's absolute counts). */
function kernelCounters (w, ns) {
  const out = w.exec(ns, 'nstat', ['-az', 'UdpRcvbufErrors', 'TcpRetransSegs']).toString()
  const count = (name) => Number((out.match(new RegExp(`^${name}\\s+(\\d+)`, 'm')) ?? [])[1] ?? 0)
  return { 'udp rcvbuf drops (run)': count('UdpRcvbufErrors'), 'tcp retransmits (run)': count('TcpRetransSegs') }
}

function topSymbols (file, n = 14) {
  const out = execFileSync('perf', ['report', '-i', file, '--stdio', '--no-children', '--sort', 'dso,sym', '-g', 'none', '--percent-limit', '0.8'],
    { maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] }).toString()
  return out.split('\n').filter((l) => /^\s+\d+\.\d+%/.test(l)).slice(0, n).map((l) => l.trim().replace(/\s+/g, ' '))
}

async function main () {
  if (process.getuid() !== 0) { console.error('profile: needs root'); process.exit(1) }
  execFileSync(process.execPath, [path.join(netns.ROOT, 'scripts', 'build-examples.js')], { stdio: 'inherit' })
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tunio-profile-'))
  try {
    const runs = Object.fromEntries(CONFIGS.map((c) => [c, []]))
    for (let rep = 0; rep < REPEAT; rep++) {
      for (const config of rep % 2 === 0 ? CONFIGS : [...CONFIGS].reverse()) {
      const r = await transfer(config, tmp, 'stat')
      const per = r.finals.map((f, i) => {
        const c = parseStat(r.files[i])
        const sp = i === 0 ? f.tun.superpacketsIn : f.tun.superpacketsOut
        // UDP_SEGMENT sends per superpacket, per endpoint: on a the sender's data (about 1 when
        // each superpacket's segments go out as one message), on b the TCP ACKs it reads from its
        // TUN one by one and sends back in runs (no superpackets there: runs of equal-size ACKs).
        const o = { superpackets: sp, 'gso sends': +(f.udp.gsoSends / sp).toFixed(3) }
        // --forward native: the forward's rounds (source reads handed on, up to batchSize kernel
        // reads each) from the TUN (a) and from the UDP socket (b), per superpacket.
        if (f.forward) o['forward rounds'] = +((i === 0 ? f.forward.out.rounds : f.forward.back.rounds) / sp).toFixed(3)
        for (const [k, v] of Object.entries(c)) o[k] = k === 'task-clock' ? +(v * 1e3 / sp).toFixed(2) : +(v / sp).toFixed(3) // task-clock: ms -> µs
        if (c['task-clock'] !== undefined) o['task-clock ms per GB'] = +(c['task-clock'] / (r.bytes / 1e9)).toFixed(1)
        Object.assign(o, r.lost[i])
        return o
      })
      runs[config].push({ gbps: r.gbps, a: per[0], b: per[1] })
      console.error(`${config}: ${r.gbps.toFixed(2)} Gbit/s; threads that ran (ticks of 10 ms / context switches): ` +
        r.ran.map((t, i) => `${'ab'[i]}: ${t.map((x) => `${x.name}(${x.tid}) ${x.ticks}/${x.switches}`).join(', ')}`).join('; '))
      }
    }
    const median = (xs) => { const v = xs.filter((x) => x !== undefined).sort((p, q) => p - q); return v.length ? v[(v.length - 1) >> 1] : undefined }
    const rows = {}
    for (const c of CONFIGS) {
      const cell = (side, k) => median(runs[c].map((x) => x[side][k]))
      const keysOf = new Set(runs[c].flatMap((x) => [...Object.keys(x.a), ...Object.keys(x.b)]))
      rows[c] = { gbps: +median(runs[c].map((x) => x.gbps)).toFixed(2), a: {}, b: {} }
      for (const k of keysOf) { rows[c].a[k] = cell('a', k); rows[c].b[k] = cell('b', k) }
    }
    const keys = ['superpackets', 'task-clock ms per GB', 'udp rcvbuf drops (run)', 'tcp retransmits (run)', 'gso sends', 'forward rounds', 'task-clock', 'context-switches', 'all syscalls', ...SYSCALLS, 'cpu-migrations']
    const lines = [`${STREAMS === 1 ? 'One TCP stream' : `${STREAMS} TCP streams`} a -> b, ${SECS} s${BITRATE ? `, iperf3 -b ${BITRATE}` : ''}${REPEAT > 1 ? `, median of ${REPEAT} runs per config (alternating)` : ''}, ${new Date().toISOString()}, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}.`,
      `Gbit/s: ${CONFIGS.map((c) => `${c} ${rows[c].gbps}`).join(', ')}. Per superpacket (task-clock in µs of CPU):`, '',
      `| per superpacket | ${CONFIGS.map((c) => `${c} a (TUN read, UDP send) | ${c} b (UDP recv, TUN write)`).join(' | ')} |`,
      `|---|${CONFIGS.map(() => '---:|---:').join('|')}|`]
    for (const k of keys) {
      const vals = CONFIGS.flatMap((c) => [rows[c].a[k], rows[c].b[k]])
      if (vals.every((v) => !v)) continue
      lines.push(`| ${k} | ${vals.map((v) => v ?? 0).join(' | ')} |`)
    }
    console.log(lines.join('\n'))
    if (RECORD) {
      for (const config of CONFIGS) {
        const r = await transfer(config, tmp, 'record')
        for (const [i, side] of [[0, 'a'], [1, 'b']]) {
          console.log(`\n${config} endpoint ${side} (${r.gbps.toFixed(2)} Gbit/s), perf record -e cpu-clock -g, top entries (dso, symbol):`)
          for (const l of topSymbols(r.files[i])) console.log(`    ${l}`)
        }
      }
    }
  } finally { fs.rmSync(tmp, { recursive: true, force: true }) }
}

main().catch((err) => { console.error(`profile failed: ${err.stack}`); process.exitCode = 1 })
