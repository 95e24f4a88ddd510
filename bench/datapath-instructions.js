#!/usr/bin/env node
'use strict'
// Instructions per packet inside the four native calls of the echo tunnel's data path, counted
// by valgrind's callgrind: TunWrap::ReadBatch (tun.read), UdpWrap::Send (udp.send),
// UdpWrap::ReadBatch (udp.read; RecvBatch in older trees) and TunWrap::Write (tun.write). A
// count does not move with the machine's load, unlike the Gbit/s of `npm run bench`, so two
// trees compare exactly on a busy machine. Counted: user space inside those calls (the core,
// the addon, libc's syscall stubs), not the kernel's side of the syscalls and not the
// JavaScript around the calls.
//
// The workload, the same for every tree, in a network namespace of its own: a TUN device
// (10.77.0.1/24, MTU 1420) and two tunio UDP sockets. Each round, a Node dgram socket sends 64
// datagrams of 1,372 bytes to 10.77.0.2 (all of them, before JS reads, so the reads are the
// same in every run; not a tunio socket, whose sends would be counted); the tunnel side reads them from the TUN as 1,400-byte IP packets (as echo-tunnel's
// a side does), sends them to a second socket on loopback, which reads them and writes them to
// the TUN (echo-tunnel's b side; the kernel drops them there: their source is local). Offloads
// default to off on both (the `npm run bench` cells "tunio all offloads off": no virtio
// header, no UDP_SEGMENT/UDP_GRO).
//
//   node bench/datapath-instructions.js [rounds]             this tree (dist/ and its addon)
//   BENCH_BASELINE=dir node bench/datapath-instructions.js   also the tree in dir (built with
//                                                            npm run build), side by side
//   TUNIO_TUN_OFFLOAD=auto TUNIO_UDP_OFFLOAD=auto ...        offloads as the kernel allows
//   CALLGRIND_KEEP=dir ...                                   keep the callgrind files (dir/this
//     tree.callgrind, dir/baseline.callgrind) to see where a difference is, e.g. with
//     callgrind_annotate --inclusive=yes --tree=calling (or callgrind_annotate --diff ... on two)
//
// DATAPATH_MODE=forward counts the receiving end of the native forward instead, the path the
// `npm run bench` row "tunio native forward" takes from UDP to TUN: `udp.forward(tun)` in the
// addon, i.e. ForwardWrap::OnReadable (recvmmsg with UDP_GRO, the split into datagrams, the
// hand-off, GroCoalescer::plan, the TUN writev, the forward's own bookkeeping), per packet
// forwarded. Each round a tunio socket sends 64 IPv4 TCP segments of one flow (1,400 bytes,
// ACK, timestamps, consecutive sequence numbers, as a TCP stream's sender puts them in the
// tunnel; UDP_SEGMENT when TUNIO_UDP_OFFLOAD=auto, so they arrive as one GRO read) to the
// forwarded socket; the TUN gets them coalesced (TUNIO_TUN_OFFLOAD=auto) and the kernel drops
// them (10.77.0.2 -> 10.77.0.3, not local, no forwarding). The bench row runs with both
// offloads auto:
//   DATAPATH_MODE=forward TUNIO_TUN_OFFLOAD=auto TUNIO_UDP_OFFLOAD=auto node bench/datapath-instructions.js
// DATAPATH_C_REFERENCE=1 (forward and forward-send modes) adds a column for the C reference.
// In forward mode, its receiving end
// (bench/tunnel_reference.c, `cc -O2 -g -fno-inline-functions-called-once` so that its
// udp_to_tun, plan and write_tun stay functions callgrind can name; the flag changes nothing
// else): the same segments, sent the same way, into its UDP socket; counted inside udp_to_tun
// (recvmmsg, the cut into datagrams, plan, write_tun with its writev), per datagram received.
// Its rows: udp_to_tun; udp_to_tun without plan and write_tun; plan + write_tun; plan.
//
// DATAPATH_MODE=forward-send counts the sending end of the native forward, the path the bench
// row takes from TUN to UDP: `tun.forward(udp)`, i.e. ForwardWrap::OnReadable from the TUN's
// poll (the TUN readv, the USO/TSO split into the pool, the hand-off into the socket's send
// queue, the send planner and the UDP_SEGMENT sendmmsg), per packet forwarded. Each round a
// tunio socket bound in the TUN's subnet sends 64 UDP datagrams of 1,372 bytes to 10.77.0.2
// (UDP_SEGMENT messages when TUNIO_UDP_OFFLOAD=auto; with TUNIO_TUN_OFFLOAD=auto the TUN gets
// some of them as USO superpackets, split as a TCP one is, the rest as single datagrams: the
// printed superpacketsIn and tunReads say how many), which the forward sends on to a socket on
// loopback that nobody reads (the kernel drops what overflows it):
//   DATAPATH_MODE=forward-send TUNIO_TUN_OFFLOAD=auto TUNIO_UDP_OFFLOAD=auto node bench/datapath-instructions.js
// With DATAPATH_C_REFERENCE=1 the C reference's sending end (bench/tunnel_reference.c, built as
// in forward mode, with USO and TSO on its TUN as tunio's auto gets them) is counted on the same
// workload: the same generator's datagrams into its TUN, which it sends to a loopback socket
// (read by the sender process, to know when a round is through); counted inside tun_to_udp (the
// TUN reads, the checksum completion or split into its arena, send_all's planning and
// sendmmsg), per packet forwarded. Its rows: tun_to_udp; tun_to_udp without send_all; split;
// send_all; send_all without sendmmsg.
//
// Needs root (network namespace, TUN) and valgrind (Debian package valgrind; a bench tool, not
// a test dependency). About a minute per tree on an idle machine. Results: docs/bench/.
const { execFileSync, spawn, spawnSync } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')

const FORWARD = process.env.DATAPATH_MODE === 'forward'
const FORWARD_SEND = process.env.DATAPATH_MODE === 'forward-send'
// [row, function, whether collection is toggled on at its entry]: the rows that are not
// toggles are parts of a toggled function, read from the same run's inclusive counts.
const FUNCTIONS = FORWARD
  ? [
      ['forward UDP -> TUN', 'tunio::ForwardWrap::OnReadable', true],
      // UdpSocket::recv_views since the forward hands views (view_batch.h); recv_batch before.
      ['  recv_batch (recvmmsg, split)', ['tunio::UdpSocket::recv_views', 'tunio::UdpSocket::recv_batch'], false],
      // TunWrap::EnqueueViews since then; EnqueueSend since IoWrap implements ForwardEnd;
      // ForwardWrite in older trees.
      ['  TUN write (plan, writev)', ['tunio::TunWrap::EnqueueViews', 'tunio::TunWrap::EnqueueSend', 'tunio::TunWrap::ForwardWrite'], false],
      ['    plan()', 'tunio::GroCoalescer::plan', false]
    ]
  : FORWARD_SEND
  ? [
      ['forward TUN -> UDP', 'tunio::ForwardWrap::OnReadable', true],
      ['  TUN read (readv, split)', 'tunio::TunQueueIo::read_batch', false],
      ['    gso_split', 'tunio::gso_split', false],
      // UdpWrap::EnqueueSend since IoWrap implements ForwardEnd; ForwardWrite in older trees.
      ['  UDP send (queue, plan, sendmmsg)', ['tunio::UdpWrap::EnqueueSend', 'tunio::UdpWrap::ForwardWrite'], false],
      ['    plan_udp_sends', 'tunio::plan_udp_sends', false]
    ]
  : [
      ['tun.read', 'tunio::TunWrap::ReadBatch', true],
      ['udp.send', 'tunio::UdpWrap::Send', true],
      ['udp.read', ['tunio::UdpWrap::ReadBatch', 'tunio::UdpWrap::RecvBatch'], true],
      ['tun.write', 'tunio::TunWrap::Write', true]
    ]
const PER_ROUND = 64

const C_REFERENCE = (FORWARD || FORWARD_SEND) && process.env.DATAPATH_C_REFERENCE === '1'

if (process.argv[2] === '--c-sender') {
  (FORWARD_SEND ? cSendSender : cSender)(process.argv[3], Number(process.argv[4]), Number(process.argv[5])).then(() => process.exit(0), (err) => {
    console.error(err)
    process.exit(1)
  })
} else if (process.argv[2] === '--child') {
  (FORWARD ? forwardChild : FORWARD_SEND ? forwardSendChild : child)(process.argv[3], Number(process.argv[4])).then(() => process.exit(0), (err) => {
    console.error(err)
    process.exit(1)
  })
} else {
  main().catch((err) => {
    console.error(err)
    process.exit(1)
  })
}

// The offloads the workload opens its TUN and sockets with: TUNIO_TUN_OFFLOAD /
// TUNIO_UDP_OFFLOAD 'auto', otherwise off.
function offloads () {
  const mode = (v) => (v === 'auto' ? 'auto' : false)
  return { tunOffload: mode(process.env.TUNIO_TUN_OFFLOAD), udpOffload: mode(process.env.TUNIO_UDP_OFFLOAD) }
}

// Until `forward` has handed `count` packets to its sink (20 s at most).
async function forwarded (forward, count) {
  const deadline = Date.now() + 20000
  while (forward.stats().packets < count) {
    if (Date.now() > deadline) throw new Error(`datapath-instructions: ${forward.stats().packets} of ${count} packets forwarded`)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

async function child (root, rounds) {
  const { openTun, openUdp } = require(path.join(root, 'dist', 'index.js'))
  const { tunOffload, udpOffload } = offloads()
  const tun = await openTun({ name: 'tiocg0', addresses: ['10.77.0.1/24'], mtu: 1420, offload: tunOffload })
  const generator = require('dgram').createSocket('udp4')
  await new Promise((resolve) => generator.bind(0, '10.77.0.1', resolve))
  const payload = Buffer.alloc(1372, 0x61)
  const tx = await openUdp({ bind: '127.0.0.1:0', gso: udpOffload, gro: udpOffload })
  const rx = await openUdp({ bind: '127.0.0.1:0', gso: udpOffload, gro: udpOffload })
  const rxAddress = `127.0.0.1:${rx.local.port}`
  const fromTun = tun[Symbol.asyncIterator]()
  const fromRx = rx[Symbol.asyncIterator]()
  // Reads batches until `count` packets came (the kernel may hand them over in several reads).
  async function take (it, count, on) {
    let got = 0
    const deadline = setTimeout(() => { throw new Error(`datapath-instructions: ${got} of ${count} packets arrived`) }, 20000)
    while (got < count) {
      const { value: batch, done } = await it.next()
      if (done) throw new Error('datapath-instructions: reader ended')
      got += batch.length
      on(batch)
    }
    clearTimeout(deadline)
    return got
  }
  const packets = { read: 0, sent: 0, received: 0, written: 0 }
  for (let round = 0; round < rounds; round++) {
    await Promise.all(Array.from({ length: PER_ROUND }, () => new Promise((resolve, reject) =>
      generator.send(payload, 9, '10.77.0.2', (err) => (err ? reject(err) : resolve())))))
    packets.read += await take(fromTun, PER_ROUND, (b) => { packets.sent += tx.send(b, rxAddress) })
    packets.received += await take(fromRx, PER_ROUND, (b) => { packets.written += b.length; tun.write(b) })
  }
  process.stdout.write(JSON.stringify(packets) + '\n')
  generator.close()
  tx.close()
  rx.close()
  tun.close()
}

// DATAPATH_MODE=forward: a native forward from `rx` to the TUN, fed TCP segments by `tx`.
async function forwardChild (root, rounds) {
  const { openTun, openUdp } = require(path.join(root, 'dist', 'index.js'))
  const { packet } = require('../test/helpers/packets.js')
  const { tunOffload, udpOffload } = offloads()
  const tun = await openTun({ name: 'tiocg0', addresses: ['10.77.0.1/24'], mtu: 1420, offload: tunOffload })
  const tx = await openUdp({ bind: '127.0.0.1:0', gso: udpOffload, gro: udpOffload })
  const rx = await openUdp({ bind: '127.0.0.1:0', gso: udpOffload, gro: udpOffload })
  const rxAddress = `127.0.0.1:${rx.local.port}`
  const forward = rx.forward(tun)
  const nextRound = roundOfSegments()
  for (let round = 0; round < rounds; round++) {
    tx.send(nextRound(), rxAddress)
    await forwarded(forward, (round + 1) * PER_ROUND)
  }
  const s = forward.stats()
  const packets = { forwarded: s.packets, rounds: s.rounds, tunWrites: tun.stats().syscalls.writev }
  forward.stop()
  process.stdout.write(JSON.stringify(packets) + '\n')
  tx.close()
  rx.close()
  tun.close()
}

// The forward's workload: PER_ROUND IPv4 TCP segments of one flow per call, sequence numbers
// running on from call to call.
function roundOfSegments () {
  const { packet } = require('../test/helpers/packets.js')
  // NOP, NOP, timestamps: the options of a Linux TCP stream's segments.
  const tcpOptions = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]
  const payload = Buffer.alloc(1400 - 20 - 20 - tcpOptions.length, 0x61)
  let seq = 1000
  return () => {
    const segments = []
    for (let i = 0; i < PER_ROUND; i++) {
      segments.push(packet({ src: [10, 77, 0, 2], dst: [10, 77, 0, 3], sport: 40000, dport: 5201, seq, tcpOptions, payload }))
      seq += payload.length
    }
    return segments
  }
}

// DATAPATH_C_REFERENCE: the forward's segments sent to the C reference on 127.0.0.1:port, each
// round after the last one reached its TUN: the device's rx_bytes count what the C reference
// wrote, coalesced (each write one 52-byte IP + TCP header and its segments' 1,348-byte
// payloads), at least PER_ROUND payloads and one header per round. measureC checks the count.
async function cSender (root, port, rounds) {
  const { openUdp } = require(path.join(root, 'dist', 'index.js'))
  const udpOffload = process.env.TUNIO_UDP_OFFLOAD === 'auto' ? 'auto' : false
  const tx = await openUdp({ bind: '127.0.0.1:0', gso: udpOffload, gro: udpOffload })
  const nextRound = roundOfSegments()
  const rxBytes = () => Number(fs.readFileSync('/sys/class/net/tiocg0/statistics/rx_bytes', 'utf8'))
  const start = rxBytes()
  for (let round = 0; round < rounds; round++) {
    tx.send(nextRound(), `127.0.0.1:${port}`)
    const want = start + (round + 1) * (PER_ROUND * 1348 + 52)
    const deadline = Date.now() + 20000
    while (rxBytes() < want) {
      if (Date.now() > deadline) throw new Error(`datapath-instructions: the C reference's TUN got ${rxBytes() - start} of ${want - start} bytes`)
      await new Promise((resolve) => setTimeout(resolve, 1))
    }
  }
  tx.close()
}

// DATAPATH_C_REFERENCE in forward-send mode: the generator's datagrams into the C reference's
// TUN, as forwardSendChild sends them, each round after the last one came out of the C
// reference at 127.0.0.1:port (read here, so that nothing is dropped: measureC checks the
// counts).
async function cSendSender (root, port, rounds) {
  const { openUdp } = require(path.join(root, 'dist', 'index.js'))
  const { udpOffload } = offloads()
  const rx = await openUdp({ bind: `127.0.0.1:${port}`, gso: false, gro: false })
  const generator = await openUdp({ bind: '10.77.0.1:0', gso: udpOffload, gro: false })
  const fromRx = rx[Symbol.asyncIterator]()
  const payload = Buffer.alloc(1372, 0x61)
  let got = 0
  for (let round = 0; round < rounds; round++) {
    generator.send(Array.from({ length: PER_ROUND }, () => payload), '10.77.0.2:9')
    const deadline = setTimeout(() => { throw new Error(`datapath-instructions: ${got} of ${(round + 1) * PER_ROUND} packets came out of the C reference`) }, 20000)
    while (got < (round + 1) * PER_ROUND) {
      const { value: batch, done } = await fromRx.next()
      if (done) throw new Error('datapath-instructions: reader ended')
      got += batch.length
      batch.release()
    }
    clearTimeout(deadline)
  }
  generator.close()
  rx.close()
}

// The C reference's receiving end (forward-send: its sending end), counted like measure()
// counts the forward's.
async function measureC (rounds) {
  const ns = `tunio-cgc-${process.pid}`
  const keep = process.env.CALLGRIND_KEEP
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunio-cref-cg-'))
  const bin = path.join(dir, 'tunnel_reference')
  const out = keep ? path.join(path.resolve(keep), 'C reference.callgrind') : path.join(dir, 'callgrind.out')
  execFileSync('cc', ['-O2', '-g', '-fno-inline-functions-called-once', '-Wall', '-o', bin, path.join(__dirname, 'tunnel_reference.c')])
  const port = 5555
  const peerPort = 5556
  execFileSync('ip', ['netns', 'add', ns])
  let child
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
    // forward-send: it sends what its TUN reads to 127.0.0.1:peerPort, where cSendSender reads.
    child = spawn('ip', ['netns', 'exec', ns, 'valgrind', '--tool=callgrind', `--callgrind-out-file=${out}`,
      '--collect-atstart=no', `--toggle-collect=${FORWARD_SEND ? 'tun_to_udp' : 'udp_to_tun'}`, bin, 'tiocg0', String(port), '127.0.0.1',
      String(FORWARD_SEND ? peerPort : 9)],
    { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    const exited = new Promise((resolve) => child.on('exit', resolve))
    const deadline = Date.now() + 60000
    while (!stdout.includes('tunnel_reference: tiocg0 ready')) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`tunnel_reference did not start: ${stdout} ${stderr.slice(-1500)}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    // As scripts/netns.js startCReference sets the link up.
    const gsoMaxSize = Math.floor(65507 / 1420) * (1420 - 80) + 80
    execFileSync('ip', ['-n', ns, 'addr', 'add', '10.77.0.1/24', 'dev', 'tiocg0'])
    execFileSync('ip', ['-n', ns, 'link', 'set', 'dev', 'tiocg0', 'mtu', '1420', 'gso_max_size', String(gsoMaxSize), 'up'])
    const s = spawnSync('ip', ['netns', 'exec', ns, process.execPath, __filename, '--c-sender', path.join(__dirname, '..'),
      String(FORWARD_SEND ? peerPort : port), String(rounds)],
      { encoding: 'utf8' })
    if (s.status !== 0) throw new Error(`C reference sender failed (${s.status}): ${s.stderr.slice(-1500)}`)
    child.kill('SIGTERM')
    await exited
    const line = stdout.trim().split('\n').pop()
    const stats = JSON.parse(line)
    if (FORWARD_SEND) {
      // At least the generator's (the kernel may put one of its own in the TUN, e.g. an IPv6
      // router solicitation, as the forward's count shows too), all of them sent.
      if (stats.tun.packetsIn < rounds * PER_ROUND || stats.udp.datagramsOut !== stats.tun.packetsIn) {
        throw new Error(`the C reference read ${stats.tun.packetsIn} and sent ${stats.udp.datagramsOut} of ${rounds * PER_ROUND} packets`)
      }
    } else if (stats.udp.datagramsIn !== rounds * PER_ROUND) {
      throw new Error(`the C reference received ${stats.udp.datagramsIn} of ${rounds * PER_ROUND} datagrams`)
    }
    const annotate = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', '--auto=no', out], { encoding: 'utf8', maxBuffer: 64 << 20 })
    const inclusive = (fn) => {
      // gcc may name a specialised copy (split.constprop.0).
      const l = annotate.split('\n').find((x) => new RegExp(`:${fn}(\\.(constprop|isra|part)\\.\\d+)* \\[`).test(x))
      const m = l && /^\s*([\d,]+)/.exec(l)
      if (!m) throw new Error(`callgrind_annotate: no line for ${fn} in the C reference`)
      return Number(m[1].replace(/,/g, ''))
    }
    const [r0, r1, r2, r3, r4] = FUNCTIONS.map(([name]) => name)
    if (FORWARD_SEND) {
      const total = inclusive('tun_to_udp')
      const send = inclusive('send_all')
      return {
        packets: {
          forwarded: stats.tun.packetsIn,
          superpacketsIn: stats.tun.superpacketsIn,
          tunReads: stats.tun.syscalls.read,
          gsoSends: stats.udp.gsoSends,
          sendmmsg: stats.udp.syscalls.sendmmsg
        },
        counts: { [r0]: total, [r1]: total - send, [r2]: stats.tun.superpacketsIn ? inclusive('split') : 0, [r3]: send, [r4]: send - inclusive('sendmmsg') }
      }
    }
    const total = inclusive('udp_to_tun')
    const plan = inclusive('plan')
    const write = inclusive('write_tun')
    return {
      packets: { forwarded: stats.udp.datagramsIn, recvmmsg: stats.udp.syscalls.recvmmsg, tunWrites: stats.tun.syscalls.writev },
      counts: { [r0]: total, [r1]: total - plan - write, [r2]: plan + write, [r3]: plan }
    }
  } finally {
    if (child && child.exitCode === null) child.kill('SIGKILL')
    spawnSync('ip', ['netns', 'del', ns])
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

// DATAPATH_MODE=forward-send: a native forward from the TUN to `tx`, fed UDP datagrams through
// the TUN by a tunio socket in its subnet.
async function forwardSendChild (root, rounds) {
  const { openTun, openUdp } = require(path.join(root, 'dist', 'index.js'))
  const { tunOffload, udpOffload } = offloads()
  const tun = await openTun({ name: 'tiocg0', addresses: ['10.77.0.1/24'], mtu: 1420, offload: tunOffload })
  const generator = await openUdp({ bind: '10.77.0.1:0', gso: udpOffload, gro: false })
  const tx = await openUdp({ bind: '127.0.0.1:0', gso: udpOffload, gro: false })
  const rx = await openUdp({ bind: '127.0.0.1:0', gso: false, gro: false })
  const forward = tun.forward(tx, { to: `127.0.0.1:${rx.local.port}` })
  const payload = Buffer.alloc(1372, 0x61)
  for (let round = 0; round < rounds; round++) {
    generator.send(Array.from({ length: PER_ROUND }, () => payload), '10.77.0.2:9')
    await forwarded(forward, (round + 1) * PER_ROUND)
  }
  const s = forward.stats()
  const t = tun.stats()
  const packets = { forwarded: s.packets, rounds: s.rounds, superpacketsIn: t.superpacketsIn, tunReads: t.syscalls.read, gsoSends: tx.stats().gsoSends }
  forward.stop()
  process.stdout.write(JSON.stringify(packets) + '\n')
  generator.close()
  tx.close()
  rx.close()
  tun.close()
}

// Inclusive instructions of each function in one callgrind run of the workload on tree `root`.
function measure (label, root, rounds) {
  const ns = `tunio-cg-${process.pid}`
  const keep = process.env.CALLGRIND_KEEP
  const out = keep ? path.join(path.resolve(keep), `${label}.callgrind`) : path.join(os.tmpdir(), `tunio-callgrind-${process.pid}.out`)
  execFileSync('ip', ['netns', 'add', ns])
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
    const r = spawnSync('ip', ['netns', 'exec', ns, 'valgrind', '--tool=callgrind', `--callgrind-out-file=${out}`,
      '--collect-atstart=no', ...FUNCTIONS.filter(([, , toggle]) => toggle).flatMap(([, fn]) => [fn].flat().map((f) => `--toggle-collect=${f}(*`)),
      process.execPath, __filename, '--child', root, String(rounds)], { encoding: 'utf8', maxBuffer: 64 << 20 })
    if (r.status !== 0) throw new Error(`valgrind failed (${r.status}): ${r.stderr.slice(-1500)}`)
    const packets = JSON.parse(r.stdout.trim().split('\n').pop())
    const annotate = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', out], { encoding: 'utf8', maxBuffer: 64 << 20 })
    const counts = {}
    for (const [name, fn] of FUNCTIONS) {
      const line = annotate.split('\n').find((l) => [fn].flat().some((f) => l.includes(`${f}(`)))
      const m = line && /^\s*([\d,]+)/.exec(line)
      if (!m) throw new Error(`callgrind_annotate: no line for ${fn}`)
      counts[name] = Number(m[1].replace(/,/g, ''))
    }
    return { packets, counts }
  } finally {
    if (!keep) fs.rmSync(out, { force: true })
    spawnSync('ip', ['netns', 'del', ns])
  }
}

function revision (root) {
  try { return execFileSync('git', ['-C', root, 'log', '-1', '--format=%h %cs'], { encoding: 'utf8' }).trim() } catch { return 'not a git checkout' }
}

async function main () {
  const rounds = Number(process.argv[2] || 100)
  try { execFileSync('valgrind', ['--version'], { stdio: 'ignore' }) } catch {
    console.error('datapath-instructions: valgrind not found (Debian package valgrind)')
    process.exit(1)
  }
  if (process.getuid() !== 0) {
    console.error('datapath-instructions: needs root (a network namespace and a TUN device)')
    process.exit(1)
  }
  const trees = [['this tree', path.join(__dirname, '..')]]
  if (process.env.BENCH_BASELINE) trees.push(['baseline', path.resolve(process.env.BENCH_BASELINE)])
  console.log(`Instructions per packet inside the native calls (callgrind, inclusive), ${rounds} rounds of ${PER_ROUND} ` +
    `${FORWARD ? 'TCP segments of 1400 B through udp.forward(tun)' : FORWARD_SEND ? 'UDP datagrams of 1400 B through tun.forward(udp)' : 'packets of 1400 B'}; ` +
    `TUN offload ${process.env.TUNIO_TUN_OFFLOAD === 'auto' ? 'auto' : 'off'}, ` +
    `UDP offload ${process.env.TUNIO_UDP_OFFLOAD === 'auto' ? 'auto' : 'off'}\n`)
  const results = trees.map(([label, root]) => ({ label, root, ...measure(label, root, rounds) }))
  if (C_REFERENCE) results.push({ label: 'C reference', root: path.join(__dirname, '..'), ...(await measureC(rounds)) })
  // What each row is divided by: the packets that went through that call.
  const packetsOf = FORWARD || FORWARD_SEND
    ? () => 'forwarded'
    : (name) => ({ 'tun.read': 'read', 'udp.send': 'sent', 'udp.read': 'received', 'tun.write': 'written' })[name]
  const per = (name, r) => r.counts[name] / r.packets[packetsOf(name)]
  const header = ['call', ...results.map((r) => r.label === 'C reference' ? 'C reference (bench/tunnel_reference.c)' : `${r.label} (${revision(r.root)})`)]
  if (results.length === 2) header.push('ratio')
  console.log(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`)
  for (const [name] of FUNCTIONS) {
    const cells = results.map((r) => per(name, r).toFixed(0))
    if (results.length === 2) cells.push((per(name, results[0]) / per(name, results[1])).toFixed(3))
    console.log(`| ${name} | ${cells.join(' | ')} |`)
  }
  if (!FORWARD && !FORWARD_SEND) {
    const sum = (r) => FUNCTIONS.reduce((s, [name]) => s + per(name, r), 0)
    const total = results.map((r) => sum(r).toFixed(0))
    if (results.length === 2) total.push((sum(results[0]) / sum(results[1])).toFixed(3))
    console.log(`| all four | ${total.join(' | ')} |`)
  }
  for (const r of results) console.log(`\n${r.label}: packets ${JSON.stringify(r.packets)}`)
}
