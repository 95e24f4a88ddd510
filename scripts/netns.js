'use strict'
// Shared by scripts/demo.js, bench/tunnel.js and test/echo-tunnel.test.ts: two network
// namespaces joined by a veth wire, tunnel endpoints inside them, and cleanup that always runs.
const { spawn, execFileSync } = require('child_process')
const path = require('path')

const ROOT = path.join(__dirname, '..')
const ECHO = path.join(ROOT, 'dist', 'examples', 'echo-tunnel.js')
const WIRE = { a: '172.31.255.1', b: '172.31.255.2' }
const TUNNEL = { a: '10.8.0.1', b: '10.8.0.2' }
// Deadlines are sized for an optimised build; scripts/sanitize-addon.sh sets TUNIO_SANITIZED=1
// (ASan + UBSan addon, several times slower), which stretches them. Volumes stay the same.
const TIME_SCALE = process.env.TUNIO_SANITIZED === '1' ? 4 : 1

function ip (...args) { return execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString() }
function has (cmd) { try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true } catch { return false } }

const live = new Set() // cleanups still to run
let hooked = false
function hookExit () {
  if (hooked) return
  hooked = true
  process.on('exit', cleanupAll)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      // Say what was removed: after Ctrl-C the user should not have to wonder what is left.
      const done = cleanupAll()
      if (done.length > 0) process.stderr.write(`\n${sig}: cleaned up: ${done.join('; ')}\n`)
      process.exit(128 + require('os').constants.signals[sig])
    })
  }
}
/** Runs every pending cleanup; returns what each removed (one phrase each). */
function cleanupAll () { return [...live].map((c) => c()).filter(Boolean) }

/**
 * Two namespaces tunio-<tag><pid>-a/-b with veth 172.31.255.1/30 <-> .2/30. ipv6: false turns
 * IPv6 off for the devices created in them (the TUN devices' link-local chatter, router
 * solicitations and MLD reports, is then not sent through the tunnel).
 */
function createWire (tag = 'w', { ipv6 = true } = {}) {
  hookExit()
  const base = `tunio-${tag}${process.pid}`
  const ns = { a: `${base}-a`, b: `${base}-b` }
  const procs = new Set()
  const cleanup = () => {
    live.delete(cleanup)
    let killed = 0
    for (const p of procs) { try { process.kill(p.pid, 'SIGKILL'); killed++ } catch {} }
    for (const n of [ns.a, ns.b]) { try { ip('netns', 'del', n) } catch {} }
    return `${killed} process(es) stopped, namespaces ${ns.a} and ${ns.b} deleted (with their veth and TUN devices)`
  }
  live.add(cleanup)
  try {
    ip('netns', 'add', ns.a)
    ip('netns', 'add', ns.b)
    ip('-n', ns.a, 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth0', 'netns', ns.b)
    for (const [side, n] of [['a', ns.a], ['b', ns.b]]) {
      if (!ipv6) execIn(n, 'sh', ['-c', 'f=/proc/sys/net/ipv6/conf/default/disable_ipv6; [ ! -e $f ] || echo 1 > $f'])
      ip('-n', n, 'link', 'set', 'lo', 'up')
      ip('-n', n, 'addr', 'add', `${WIRE[side]}/30`, 'dev', 'veth0')
      ip('-n', n, 'link', 'set', 'veth0', 'up')
    }
  } catch (err) { cleanup(); throw err }
  return { ns, procs, cleanup, exec: (side, cmd, args, opts) => execIn(ns[side], cmd, args, opts), spawn: (side, cmd, args, opts) => spawnIn(procs, ns[side], cmd, args, opts) }
}

function execIn (netns, cmd, args, opts = {}) {
  return execFileSync('ip', ['netns', 'exec', netns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts }).toString()
}

/** Spawns in a namespace (`ip netns exec` execs, so child.pid is the command's own pid). */
function spawnIn (procs, netns, cmd, args, opts = {}) {
  const child = spawn('ip', ['netns', 'exec', netns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts })
  procs.add(child)
  child.on('exit', () => procs.delete(child))
  child.output = ''
  child.stdout?.on('data', (d) => { child.output += d })
  child.stderr?.on('data', (d) => { child.output += d })
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  return child
}

/**
 * Starts examples/echo-tunnel in one side. Resolves once the TUN device is up.
 * stop() sends SIGTERM and resolves with the endpoint's final JSON stats.
 * aead: { algorithm, keyFile } seals the tunnel (side a is direction 0, side b direction 1).
 * forward: 'js' (the default: the two JavaScript loops) or 'native' (tun.forward/udp.forward).
 * script: another tree's dist/examples/echo-tunnel.js (bench/tunnel.js's BENCH_BASELINE), which
 * loads that tree's lib and addon.
 */
async function startEcho (wire, side, { offload = 'auto', udpOffload = 'auto', mtu = 1420, stats = '0', statsFormat = 'text', onLine, workers = 0, steer = 'none', nodeArgs = [], aead, forward, script = ECHO } = {}) {
  const other = side === 'a' ? 'b' : 'a'
  const aeadArgs = aead ? ['--aead', aead.algorithm, '--key-file', aead.keyFile, '--direction', side === 'a' ? '0' : '1'] : []
  const child = wire.spawn(side, process.execPath, [...nodeArgs, script, '--tun', 'tun0', '--address', `${TUNNEL[side]}/24`,
    '--listen', '0.0.0.0:5555', '--peer', `${WIRE[other]}:5555`, '--mtu', String(mtu), '--offload', offload, '--udp-offload', udpOffload, '--stats', stats,
    '--stats-format', statsFormat, ...(forward ? ['--forward', forward] : []), ...(workers > 0 ? ['--workers', String(workers), '--steer', steer] : []), ...aeadArgs])
  let buf = ''
  child.stdout.on('data', (d) => {
    buf += d
    let i
    while ((i = buf.indexOf('\n')) >= 0) { const line = buf.slice(0, i); buf = buf.slice(i + 1); if (onLine) onLine(line) }
  })
  // Start-up is node + the addon + a TUN and a socket (plus workers): well under a second on an
  // idle machine, but CI saw more than 5 s with the machine's two cores fully loaded.
  await waitFor(() => child.output.includes('echo-tunnel: tun0') || child.exitCode !== null, 20000 * TIME_SCALE)
  if (child.exitCode !== null) throw new Error(`echo-tunnel in ${side} exited: ${child.output}`)
  return endpoint(child, 'tunio')
}

/** The socat equivalent of the echo tunnel (same wire format). */
async function startSocat (wire, side, { mtu = 1420 } = {}) {
  const other = side === 'a' ? 'b' : 'a'
  const child = wire.spawn(side, 'socat', [`UDP-DATAGRAM:${WIRE[other]}:5555,bind=:5555`,
    `TUN:${TUNNEL[side]}/24,tun-type=tun,iff-no-pi,iff-up,tun-name=tun0`])
  await waitFor(() => { try { return wire.exec(side, 'ip', ['-o', 'link', 'show', 'tun0']).includes('UP') } catch { return child.exitCode !== null } }, 20000 * TIME_SCALE)
  if (child.exitCode !== null) throw new Error(`socat in ${side} exited: ${child.output}`)
  wire.exec(side, 'ip', ['link', 'set', 'tun0', 'mtu', String(mtu)])
  return endpoint(child, 'socat')
}

/**
 * bench/tunnel_reference.c compiled once per process (cc -O2, as bench/udp.js builds its C
 * reference) into a temporary file removed on exit. Returns its path.
 */
let cReferenceBinary
function cReference () {
  if (cReferenceBinary) return cReferenceBinary
  const os = require('os')
  const fs = require('fs')
  const bin = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tunio-cref-')), 'tunnel_reference')
  const dir = path.dirname(bin)
  hookExit()
  const cleanup = () => { live.delete(cleanup); fs.rmSync(dir, { recursive: true, force: true }); return `${dir} removed` }
  live.add(cleanup)
  execFileSync('cc', ['-O2', '-Wall', '-o', bin, path.join(ROOT, 'bench', 'tunnel_reference.c')], { stdio: ['ignore', 'inherit', 'inherit'] })
  cReferenceBinary = bin
  return bin
}

/**
 * Starts the C reference forwarder (bench/tunnel_reference.c) in one side, with the echo
 * tunnel's wire format, addresses and link settings: MTU, and the gso_max_size tunio's openTun
 * sets by default (the largest superpacket whose segments fit one UDP_SEGMENT send).
 * stop() resolves with its final JSON counters (the echo tunnel's shape for syscalls).
 */
async function startCReference (wire, side, { mtu = 1420 } = {}) {
  const other = side === 'a' ? 'b' : 'a'
  const child = wire.spawn(side, cReference(), ['tun0', '5555', WIRE[other], '5555'])
  await waitFor(() => child.output.includes('tunnel_reference: tun0 ready') || child.exitCode !== null, 20000 * TIME_SCALE)
  if (child.exitCode !== null) throw new Error(`tunnel_reference in ${side} exited: ${child.output}`)
  const gsoMaxSize = Math.floor(65507 / mtu) * (mtu - 80) + 80 // DefaultGsoMaxSize in src-native/addon/tun_wrap.cc
  wire.exec(side, 'ip', ['addr', 'add', `${TUNNEL[side]}/24`, 'dev', 'tun0'])
  wire.exec(side, 'ip', ['link', 'set', 'dev', 'tun0', 'mtu', String(mtu), 'gso_max_size', String(gsoMaxSize), 'up'])
  return endpoint(child, 'cref')
}

function endpoint (child, kind) {
  return {
    kind,
    child,
    pid: child.pid,
    async stop () {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const t = setTimeout(() => child.kill('SIGKILL'), 3000 * TIME_SCALE)
      await child.exited
      clearTimeout(t)
      if (kind !== 'tunio' && kind !== 'cref') return null
      const last = child.output.trim().split('\n').reverse().find((l) => l.startsWith('{'))
      return last ? JSON.parse(last) : null
    }
  }
}

async function waitFor (cond, ms, step = 20) {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, step))
  }
}

/** utime+stime in seconds and VmHWM in KiB of a process. */
function procUsage (pid) {
  try {
    const stat = require('fs').readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(f[11]) + Number(f[12]) // fields 14, 15
    const status = require('fs').readFileSync(`/proc/${pid}/status`, 'utf8')
    const hwm = Number((/VmHWM:\s+(\d+)/.exec(status) || [0, 0])[1])
    return { cpu: ticks / 100, hwmKiB: hwm }
  } catch { return null }
}

/** /proc/net/snmp text -> { Ip: {...}, Tcp: {...}, Udp: {...}, ... } (numbers). */
function parseSnmp (text) {
  const out = {}
  const lines = text.split('\n')
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const keys = lines[i].split(/\s+/)
    const vals = lines[i + 1].split(/\s+/)
    const group = keys[0].replace(/:$/, '')
    out[group] = {}
    for (let k = 1; k < keys.length; k++) out[group][keys[k]] = Number(vals[k])
  }
  return out
}

/** The SNMP counters of a namespace (kernel drops by reason: InCsumErrors, RcvbufErrors, ...). */
function snmp (netns) { return parseSnmp(execIn(netns, 'cat', ['/proc/net/snmp'])) }

/** tun read+writev + udp recvmmsg+sendmsg+sendmmsg from an endpoint's final JSON. */
function syscalls (final) {
  if (!final) return 0
  const t = final.tun.syscalls; const u = final.udp.syscalls
  return t.read + t.writev + u.recvmmsg + u.sendmsg + u.sendmmsg
}

module.exports = { ROOT, ECHO, WIRE, TUNNEL, TIME_SCALE, has, createWire, startEcho, startSocat, startCReference, cReference, waitFor, procUsage, syscalls, cleanupAll, parseSnmp, snmp }

/** Without ping: a TCP connect + echo round trip through the tunnel, from a to b. Returns ms. */
async function tcpRoundTrip (wire, port = 7007) {
  const server = wire.spawn('b', process.execPath, ['-e', `require('net').createServer((s) => s.pipe(s)).listen(${port}, '${TUNNEL.b}', () => console.log('listening'))`])
  try {
    // A child Node's start-up, not the tunnel: helpers saw it take over 5 s at load 10-13.
    await waitFor(() => server.output.includes('listening'), 15000 * TIME_SCALE)
    const out = wire.exec('a', process.execPath, ['-e', `
      const t0 = process.hrtime.bigint()
      const s = require('net').connect(${port}, '${TUNNEL.b}', () => s.write('ping'))
      s.setTimeout(4000, () => { console.error('timeout'); process.exit(1) })
      s.on('data', () => { console.log(Number(process.hrtime.bigint() - t0) / 1e6); s.destroy() })`], { timeout: 6000 })
    return Number(out.trim())
  } finally { server.kill('SIGKILL') }
}
module.exports.tcpRoundTrip = tcpRoundTrip

/**
 * Sends `bytes` of random data over TCP from side `from` to the tunnel address of `to`;
 * resolves with both sides' sha256 and the byte count the receiver saw. listenAny: the receiver
 * listens on 0.0.0.0 (so it can start before the tunnel address exists). dst: connect to this
 * address of side `to` instead of its tunnel address.
 */
async function tcpTransfer (wire, from, to, bytes, { port = 7100, timeoutMs = 30000, listenAny = false, dst = TUNNEL[to] } = {}) {
  timeoutMs *= TIME_SCALE
  const rx = wire.spawn(to, process.execPath, ['-e', `
    const h = require('crypto').createHash('sha256'); let n = 0
    const srv = require('net').createServer((s) => {
      s.on('data', (d) => { h.update(d); n += d.length })
      s.on('end', () => { console.log(JSON.stringify({ n, hash: h.digest('hex') })); s.end(); srv.close() })
    }).listen(${port}, '${listenAny ? '0.0.0.0' : dst}', () => console.log('listening'))`])
  try {
    await waitFor(() => rx.output.includes('listening') || rx.exitCode !== null, 15000 * TIME_SCALE)
    const tx = wire.spawn(from, process.execPath, ['-e', `
      const crypto = require('crypto'); const h = crypto.createHash('sha256'); let left = ${bytes}
      const s = require('net').connect(${port}, '${dst}')
      function pump () {
        while (left > 0) {
          const c = crypto.randomBytes(Math.min(left, 1 << 16)); left -= c.length; h.update(c)
          if (!s.write(c)) return s.once('drain', pump)
        }
        s.end(); console.log(JSON.stringify({ hash: h.digest('hex') }))
      }
      s.on('connect', pump); s.on('error', (e) => { console.error(e.message); process.exit(1) })`])
    const timer = setTimeout(() => { tx.kill('SIGKILL'); rx.kill('SIGKILL') }, timeoutMs)
    const [txr] = await Promise.all([tx.exited, rx.exited])
    clearTimeout(timer)
    const parse = (c) => { const l = c.output.trim().split('\n').reverse().find((x) => x.startsWith('{')); return l ? JSON.parse(l) : {} }
    const r = parse(rx); const s = parse(tx)
    return { ok: txr.code === 0 && r.n === bytes && r.hash === s.hash, sent: s.hash, received: r.hash, bytes: r.n, output: tx.output + rx.output }
  } finally { if (rx.exitCode === null) rx.kill('SIGKILL') }
}
module.exports.tcpTransfer = tcpTransfer
