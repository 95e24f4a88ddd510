'use strict'
// TUN forwarding throughput: nsB --TCP--> tunB -> tunio forwarder -> tunA --> nsA, with
// iperf3 (one stream, 5 s), offload on and then off. Needs root, /dev/net/tun, iperf3.
// Prints a markdown table. Every namespace it creates is deleted, also on failure.
const { execFileSync, spawn } = require('child_process')
const path = require('path')

const SECONDS = Number(process.env.BENCH_SECONDS || 5)
const FORWARDER = path.join(__dirname, '..', 'test', 'fixtures', 'tun-forwarder.js')
const created = []
let counter = 0

const ip = (...args) => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
function netns (tag) {
  const name = `tunio-t${process.pid}-${counter++}${tag}`
  ip('netns', 'add', name)
  created.push(name)
  ip('-n', name, 'link', 'set', 'lo', 'up')
  return name
}
function cleanupAll () {
  while (created.length > 0) { try { ip('netns', 'del', created.pop()) } catch {} }
}
process.on('exit', cleanupAll)
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { cleanupAll(); process.exit(130) })

function jsonLine (child, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    let buf = ''
    const onData = (d) => {
      buf += d
      const i = buf.indexOf('\n')
      if (i < 0) return
      done(); resolve(JSON.parse(buf.slice(0, i)))
    }
    const onExit = (c) => { done(); reject(new Error(`forwarder exited (${c}): ${buf}`)) }
    const timer = setTimeout(() => { done(); reject(new Error('forwarder timeout')) }, timeoutMs)
    const done = () => { clearTimeout(timer); child.stdout.off('data', onData); child.off('exit', onExit) }
    child.stdout.on('data', onData); child.on('exit', onExit)
  })
}

async function runMode (offload) {
  const nsFw = netns('f'); const nsA = netns('a'); const nsB = netns('b')
  const fw = spawn('ip', ['netns', 'exec', nsFw, process.execPath, FORWARDER, 'tunA', 'tunB', String(offload)], { stdio: ['pipe', 'pipe', 'inherit'] })
  fw.stdout.setEncoding('utf8')
  try {
    const ready = await jsonLine(fw)
    if (!ready.ready) throw new Error(`forwarder: ${ready.error}`)
    for (const [ns, dev, addr, peer] of [[nsA, 'tunA', '10.77.1.1/24', '10.77.2.0/24'], [nsB, 'tunB', '10.77.2.1/24', '10.77.1.0/24']]) {
      ip('-n', nsFw, 'link', 'set', dev, 'netns', ns)
      ip('-n', ns, 'addr', 'add', addr, 'dev', dev)
      ip('-n', ns, 'link', 'set', dev, 'up')
      ip('-n', ns, 'route', 'add', peer, 'dev', dev)
    }
    const server = spawn('ip', ['netns', 'exec', nsA, 'iperf3', '-s', '-1', '-B', '10.77.1.1'], { stdio: 'ignore' })
    try {
      await new Promise((resolve) => setTimeout(resolve, 300))
      fw.stdin.write('stats\n'); const before = await jsonLine(fw)
      const out = execFileSync('ip', ['netns', 'exec', nsB, 'iperf3', '-c', '10.77.1.1', '-t', String(SECONDS), '-J'], { encoding: 'utf8', timeout: (SECONDS + 20) * 1000 })
      fw.stdin.write('stats\n'); const after = await jsonLine(fw)
      const j = JSON.parse(out)
      const txDropped = JSON.parse(ip('-n', nsB, '-s', '-j', 'link', 'show', 'tunB'))[0].stats64.tx.dropped
      const bytes = j.end.sum_received.bytes
      const gbits = j.end.sum_received.bits_per_second / 1e9
      const sys = (s) => s.a.syscalls.read + s.a.syscalls.writev + s.b.syscalls.read + s.b.syscalls.writev
      const syscalls = sys(after) - sys(before)
      const reads = after.a.syscalls.read + after.b.syscalls.read - before.a.syscalls.read - before.b.syscalls.read
      const writevs = syscalls - reads
      const cpuUs = (after.cpu.user + after.cpu.system) - (before.cpu.user + before.cpu.system)
      return {
        offload, gbits, bytes, syscalls, reads, writevs, cpuMs: cpuUs / 1000,
        cpuUserMs: (after.cpu.user - before.cpu.user) / 1000,
        cpuSysMs: (after.cpu.system - before.cpu.system) / 1000,
        retransmits: j.end.sum_sent.retransmits,
        superIn: after.b.superpacketsIn - before.b.superpacketsIn,
        superOut: after.a.superpacketsOut - before.a.superpacketsOut,
        errors: after.errors, txDropped,
        accepted: ready.a.offload
      }
    } finally {
      server.kill('SIGKILL')
    }
  } finally {
    const exited = new Promise((resolve) => { if (fw.exitCode !== null) resolve(); else fw.once('exit', resolve) })
    try { fw.stdin.write('exit\n') } catch {}
    const t = setTimeout(() => fw.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(t)
    for (const n of [nsB, nsA, nsFw]) { try { ip('netns', 'del', n) } catch {} created.splice(created.indexOf(n), 1) }
  }
}

async function main () {
  if (process.getuid() !== 0) { console.error('bench:tun needs root (network namespaces, /dev/net/tun)'); process.exit(1) }
  const on = await runMode('auto')
  const off = await runMode(false)
  const gb = (r) => r.bytes / 1e9
  const row = (name, r) => `| ${name} | ${r.gbits.toFixed(2)} | ${(r.syscalls / gb(r)).toFixed(0)} (${(r.reads / gb(r)).toFixed(0)} read + ${(r.writevs / gb(r)).toFixed(0)} writev) | ${r.cpuMs.toFixed(0)} (${r.cpuUserMs.toFixed(0)} user + ${r.cpuSysMs.toFixed(0)} sys) | ${(r.cpuMs / gb(r)).toFixed(0)} | ${r.superIn} / ${r.superOut} | ${r.retransmits} | ${r.txDropped} |`
  console.log(`TUN forwarder, iperf3 one TCP stream, ${SECONDS} s, nsB -> tunB -> tunio -> tunA -> nsA (node ${process.version}, kernel ${require('os').release()})`)
  console.log('')
  console.log('| offload | Gbit/s | syscalls per GB | forwarder CPU ms | CPU ms per GB | superpackets in / out | retransmits | tunB tx_dropped |')
  console.log('|---|---|---|---|---|---|---|---|')
  console.log(row(`auto (${Object.keys(on.accepted).filter((k) => on.accepted[k]).join(',')})`, on))
  console.log(row('off', off))
  console.log('')
  console.log(`ratio on/off: ${(on.gbits / off.gbits).toFixed(2)}x throughput, ${(off.syscalls / gb(off) / (on.syscalls / gb(on))).toFixed(1)}x fewer syscalls per GB, ${((off.cpuMs / gb(off)) / (on.cpuMs / gb(on))).toFixed(2)}x less CPU per GB`)
  for (const r of [on, off]) if (r.errors.length > 0) console.log(`forwarder errors (${r.offload}): ${r.errors.join('; ')}`)
}
main().catch((err) => { console.error(err); cleanupAll(); process.exit(1) })
