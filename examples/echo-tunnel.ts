/**
 * A point-to-point IP-over-UDP tunnel endpoint built on tunio.
 *
 *   node dist/examples/echo-tunnel.js --tun tun0 --address 10.8.0.1/24 \
 *     --listen 0.0.0.0:5555 --peer 192.0.2.2:5555 --mtu 1420 --offload auto --stats 1s
 *
 * --offload is the TUN's (TSO/USO superpackets in, coalesced superpackets out); --udp-offload
 * is the UDP socket's (UDP_SEGMENT sends, UDP_GRO receives). Both default to auto: whatever
 * the kernel accepts. Turning them off shows what each one is worth (npm run bench does).
 *
 * Wire format without --aead: one raw IP packet per UDP datagram, no header, no encryption, the
 * same as `socat UDP-DATAGRAM:<peer>:5555,bind=:5555 TUN:10.8.0.2/24,tun-type=tun,iff-no-pi`,
 * so either end can be socat. Then it is NOT a VPN: anyone who can reach the UDP port can
 * inject packets.
 *
 * --aead chacha20-poly1305|aes-256-gcm --key-file PATH: every datagram is sealed with the
 * pre-shared 32-byte key (the file holds 32 raw bytes, or 64 hex digits, or 44 base64
 * characters as `wg genkey` prints them). Wire format: an 8-byte counter (little-endian), the
 * ciphertext, a 16-byte tag; the counter is authenticated with the ciphertext. The nonce is
 * the counter XOR a per-direction IV whose first byte is the direction bit, so the two ends
 * never use one nonce under the shared key: --direction 0|1 (opposite on the two ends), or
 * auto, which compares --listen with --peer (a specific --listen address is then needed).
 * Forged, corrupted and replayed datagrams (a sliding window of 8,192 counters) are dropped
 * and counted. Not with --workers (each worker would need its own nonce space).
 *
 * Packets are never copied in JavaScript: a batch read from one side is handed to the other
 * (ownership moves; tunio releases the leases once the kernel has the bytes). With --aead the
 * batch is sealed or opened in place in one call first (TUN reads reserve room for the counter
 * and the tag), so the offloads survive: the sealed segments of one superpacket still leave as
 * one UDP_SEGMENT send, and opened datagrams are still coalesced on the TUN write.
 *
 * --forward native: the same data plane without a JavaScript turn per batch: tun.forward(udp)
 * and udp.forward(tun) hand each batch from one side to the other inside tunio's native poll
 * callback (sealing or opening it first with --aead). --forward js (the default) is the two
 * loops below. Same wire format, same offloads; `npm run bench` compares the two.
 *
 * Status: one line per interval on stdout (--stats-format json: the raw stats() instead, for
 * scripts such as scripts/soak.js); on SIGINT/SIGTERM a final line of JSON with stats.
 *
 * --workers N: the main thread creates a multi-queue device and only holds it; N worker threads
 * each attach one queue and open their own SO_REUSEPORT socket on --listen, so nothing on the
 * packet path is shared. --steer inner-flow makes the UDP side keep each inner flow on one
 * worker (see docs/multiqueue.md for why the tunnel needs it and what it measured).
 */
import { Worker, isMainThread, parentPort, workerData } from 'worker_threads'
import { readFileSync, readlinkSync } from 'fs'
import { isIPv4 } from 'net'
import { everyMs, firstLoopEnd, stopOnce } from './shared/lifecycle'
import { Aead, openTun, openUdp, sumStats, type AeadAlgorithm, type AeadStats, type Forward, type ForwardStats, type Tun, type TunStats, type Udp, type UdpPeerError, type UdpStats } from '../lib/index'

// ---- command line -----------------------------------------------------------------------
interface AeadArgs { algorithm: AeadAlgorithm, key: Buffer, direction: 0 | 1 }
interface Args { tun: string, address: string, listen: string, peer: string, mtu: number, offload: 'auto' | boolean, udpOffload: 'auto' | false, statsMs: number, statsJson: boolean, workers: number, steer: boolean, forward: 'js' | 'native', aead?: AeadArgs }

function parseArgs (argv: string[]): Args {
  const a: Record<string, string> = { tun: 'tun0', address: '10.8.0.1/24', listen: '0.0.0.0:5555', mtu: '1420', offload: 'auto', 'udp-offload': 'auto', stats: '1s', 'stats-format': 'text', workers: '0', steer: 'none', direction: 'auto', forward: 'js' }
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '')
    if (!(key in a) && key !== 'peer' && key !== 'aead' && key !== 'key-file') usage(`unknown option ${argv[i]}`)
    if (argv[i + 1] === undefined) usage(`${argv[i]} needs a value`)
    a[key] = argv[i + 1]
  }
  if (a.peer === undefined) usage('--peer is required')
  const offload = { auto: 'auto', on: true, off: false }[a.offload] as Args['offload'] | undefined
  if (offload === undefined) usage('--offload must be auto, on or off')
  const udpOffload = { auto: 'auto', off: false }[a['udp-offload']] as Args['udpOffload'] | undefined
  if (udpOffload === undefined) usage('--udp-offload must be auto or off')
  // "1s", "500ms", "2" (seconds) or "0" (no status lines)
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(a.stats)
  if (m === null) usage('--stats must look like 1s or 500ms')
  const statsMs = Number(m[1]) * (m[2] === 'ms' ? 1 : 1000)
  const workers = Number(a.workers)
  if (!Number.isInteger(workers) || workers < 0 || workers > 64) usage('--workers must be 0..64')
  if (a.steer !== 'none' && a.steer !== 'inner-flow') usage('--steer must be none or inner-flow')
  if (a['stats-format'] !== 'text' && a['stats-format'] !== 'json') usage('--stats-format must be text or json')
  if (a.forward !== 'js' && a.forward !== 'native') usage('--forward must be js or native')
  let aead: AeadArgs | undefined
  if (a.aead !== undefined || a['key-file'] !== undefined) {
    if (a.aead !== 'chacha20-poly1305' && a.aead !== 'aes-256-gcm') usage('--aead must be chacha20-poly1305 or aes-256-gcm')
    if (a['key-file'] === undefined) usage('--aead needs --key-file PATH (32 bytes)')
    if (workers > 0) usage('--aead does not work with --workers (each worker would need its own nonce space)')
    aead = { algorithm: a.aead, key: readKey(a['key-file']), direction: direction(a.direction, a.listen, a.peer) }
  }
  return { tun: a.tun, address: a.address, listen: a.listen, peer: a.peer, mtu: Number(a.mtu), offload, udpOffload, statsMs, statsJson: a['stats-format'] === 'json', workers, steer: a.steer === 'inner-flow', forward: a.forward, aead }
}

/** 32 raw bytes, or 64 hex digits, or 44 base64 characters (as `wg genkey` prints a key). */
function readKey (file: string): Buffer {
  let raw: Buffer
  try { raw = readFileSync(file) } catch (err) { usage(`cannot read --key-file: ${(err as Error).message}`) }
  if (raw.length === 32) return raw
  const text = raw.toString('latin1').trim()
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex')
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) return Buffer.from(text, 'base64')
  usage('--key-file must hold 32 bytes (raw, 64 hex digits or base64)')
}

/** --direction 0|1, or auto: 0 on the end whose --listen sorts before its --peer. */
function direction (value: string, listen: string, peer: string): 0 | 1 {
  if (value === '0' || value === '1') return Number(value) as 0 | 1
  if (value !== 'auto') usage('--direction must be auto, 0 or 1')
  const key = (endpoint: string): string => {
    const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(endpoint)
    if (m === null) usage(`cannot read the address of ${endpoint}`)
    const [address, port] = [m[1], Number(m[2])]
    if (address === '' || address === '0.0.0.0' || address === '::') usage('--direction auto needs a specific --listen address (or give --direction 0 on one end and 1 on the other)')
    const bytes = isIPv4(address) ? Buffer.from(address.split('.').map(Number)) : Buffer.from(address)
    return `${bytes.toString('hex').padStart(32, '0')}:${port.toString(16).padStart(4, '0')}`
  }
  const [mine, theirs] = [key(listen), key(peer)]
  if (mine === theirs) usage('--listen and --peer are the same endpoint')
  return mine < theirs ? 0 : 1
}

// ---- encryption ---------------------------------------------------------------------------
/** The IV of one direction: its first byte is the direction bit, the rest zero. */
function directionIv (direction: 0 | 1): Buffer {
  const iv = Buffer.alloc(12)
  iv[0] = direction
  return iv
}

/** The sealing and opening ciphers of one end: each direction its own nonce space. */
function makeCiphers (aead: AeadArgs): { seal: Aead, open: Aead } {
  const common = { algorithm: aead.algorithm, key: aead.key, nonce: 'iv-xor' as const, header: Buffer.alloc(8), counterOffset: 0, authenticate: 'header' as const }
  return {
    seal: new Aead({ ...common, iv: directionIv(aead.direction) }),
    open: new Aead({ ...common, iv: directionIv(aead.direction === 0 ? 1 : 0), replayWindow: 8192 })
  }
}

function usage (msg: string): never {
  console.error(`echo-tunnel: ${msg}\nusage: echo-tunnel --peer HOST:PORT [--tun tun0] [--address 10.8.0.1/24] ` +
    '[--listen 0.0.0.0:5555] [--mtu 1420] [--offload auto|on|off] [--udp-offload auto|off] [--stats 1s] [--stats-format text|json] [--workers N [--steer none|inner-flow]] ' +
    '[--aead chacha20-poly1305|aes-256-gcm --key-file PATH [--direction auto|0|1]] [--forward js|native]')
  process.exit(2)
}

// ---- the tunnel -------------------------------------------------------------------------
async function main (): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  if (args.workers > 0) return await mainWithWorkers(args)

  const ciphers = args.aead === undefined ? undefined : makeCiphers(args.aead)
  // With --aead every packet read gets room for the counter in front and the tag behind.
  const room = ciphers === undefined ? {} : { headroom: ciphers.seal.headroom, tailroom: ciphers.seal.tailroom }
  const tun = await openTun({ name: args.tun, addresses: [args.address], mtu: args.mtu, offload: args.offload, ...room })
  const udp = await openUdp({ bind: args.listen, gso: args.udpOffload, gro: args.udpOffload })
  console.log(`echo-tunnel: ${tun.name} ${args.address} mtu ${args.mtu} offload ${JSON.stringify(tun.offload)} ` +
    `udp ${udp.local.address}:${udp.local.port} -> ${args.peer} features ${JSON.stringify(udp.features)}` +
    (args.aead === undefined ? '' : ` aead ${args.aead.algorithm} direction ${args.aead.direction}`))

  const { loops, peerErrors, peerErrorEvents, forwardStats } = carry(tun, udp, args.peer, args.forward, ciphers)
  const aeadStats = (): { seal: AeadStats, open: AeadStats } | undefined =>
    ciphers === undefined ? undefined : { seal: ciphers.seal.stats(), open: ciphers.open.stats() }

  // Status lines: rates from the difference between two stats() snapshots.
  let last: Snapshot = { t: process.hrtime.bigint(), tun: tun.stats(), udp: udp.stats() }
  const stopStatus = everyMs(args.statsMs, () => {
    const now: Snapshot = { t: process.hrtime.bigint(), tun: tun.stats(), udp: udp.stats() }
    const aead = aeadStats()
    console.log(args.statsJson
      ? JSON.stringify({ tun: now.tun, udp: now.udp, peerErrors, peerErrorEvents: peerErrorEvents(), aead, memory: process.memoryUsage() })
      : `${statusLine(last, now)} | peer errors ${sum(peerErrors)}${aead === undefined ? '' : ` | aead drops ${sum(aead.open.drops) + sum(aead.seal.drops)}`}`)
    last = now
  })

  // Clean shutdown: stop the status lines, snapshot the stats, close both (pending reads end, so
  // the two loops above finish), then print one line of JSON for scripts to parse.
  const stop = stopOnce(async (signal) => {
    stopStatus()
    const final = { signal, tun: tun.stats(), udp: udp.stats(), peerErrors, peerErrorEvents: peerErrorEvents(), aead: aeadStats(), forward: forwardStats() }
    tun.close()
    udp.close()
    await Promise.allSettled(loops)
    console.log(JSON.stringify(final))
  })
  await firstLoopEnd('echo-tunnel', loops)
  await stop('eof')
}

/**
 * The data plane, the same in the single-thread tunnel and in each worker: two loops that hand
 * batches from one side to the other. Ends when either side is closed (or fails).
 */
function carry (tun: Tun, udp: Udp, peer: string, forward: 'js' | 'native', ciphers?: { seal: Aead, open: Aead }): Carrier {
  // The peer may not be up yet (ICMP port unreachable -> ECONNREFUSED) or unreachable for a
  // while: tunio reports these as events and keeps going. We only count them: by errno, each
  // event standing for `count` errors (repeats are merged); peerErrorEvents counts the events.
  const peerErrors: Record<string, number> = {}
  let peerErrorEvents = 0
  udp.on('peerError', (err: UdpPeerError) => {
    const key = err.errno ?? err.code
    peerErrors[key] = (peerErrors[key] ?? 0) + (err.count ?? 1)
    peerErrorEvents++
  })
  if (forward === 'native') {
    // Each batch goes from one side to the other inside tunio's poll callback (sealed or opened
    // on the way with --aead); `done` resolves when the forward stops: null on close, the
    // error (a read failure, the counters running out) otherwise, which ends the tunnel.
    const out = tun.forward(udp, { to: peer, seal: ciphers?.seal })
    const back = udp.forward(tun, { open: ciphers?.open })
    const ended = async (f: Forward): Promise<void> => {
      const err = await f.done
      if (err !== null) throw err
    }
    return {
      peerErrors,
      peerErrorEvents: () => peerErrorEvents,
      forwardStats: () => ({ out: out.stats(), back: back.stats() }),
      loops: [ended(out), ended(back)]
    }
  }
  if (ciphers !== undefined) {
    let counters = new BigUint64Array(256)
    return {
      peerErrors,
      peerErrorEvents: () => peerErrorEvents,
      forwardStats: () => undefined,
      loops: [
        // TUN -> UDP: sealed in place (one call per batch), then sent as without --aead.
        (async () => {
          for await (const batch of tun) {
            ciphers.seal.seal(batch)
            udp.send(batch, peer)
          }
        })(),
        // UDP -> TUN: opened in place; forged, corrupted and replayed datagrams are released
        // from the batch and counted (ciphers.open.stats().drops), the rest written.
        (async () => {
          for await (const batch of udp) {
            if (counters.length < batch.length) counters = new BigUint64Array(batch.length)
            ciphers.open.open(batch, counters)
            tun.write(batch)
          }
        })()
      ]
    }
  }
  return {
    peerErrors,
    peerErrorEvents: () => peerErrorEvents,
    forwardStats: () => undefined,
    loops: [
      // TUN -> UDP: each batch holds one lease per IP packet (superpackets already split);
      // send() groups equal-size runs into UDP_SEGMENT sends. Ownership moves, nothing to release.
      (async () => { for await (const batch of tun) udp.send(batch, peer) })(),
      // UDP -> TUN: each lease is one datagram = one IP packet; write() coalesces TCP/UDP flows
      // back into superpackets when the device accepted offloads.
      (async () => { for await (const batch of udp) tun.write(batch) })()
    ]
  }
}

interface Carrier {
  loops: Array<Promise<void>>
  peerErrors: Record<string, number>
  peerErrorEvents: () => number
  /** --forward native: each direction's ForwardStats. */
  forwardStats: () => { out: ForwardStats, back: ForwardStats } | undefined
}

interface Snapshot { t: bigint, tun: TunStats, udp: UdpStats }

/** Rates and counts between two stats snapshots, both directions. */
function statusLine (last: Snapshot, now: Snapshot): string {
  const secs = Number(now.t - last.t) / 1e9
  const gbps = (bytes: number): string => (bytes * 8 / secs / 1e9).toFixed(2)
  const drops = sum(now.tun.drops) + sum(now.udp.drops) - sum(last.tun.drops) - sum(last.udp.drops)
  return `tun->udp ${gbps(now.tun.bytesIn - last.tun.bytesIn)} Gbit/s ${now.tun.packetsIn - last.tun.packetsIn} pkts ` +
    `(${now.tun.superpacketsIn - last.tun.superpacketsIn} superpkts) | ` +
    `udp->tun ${gbps(now.udp.bytesIn - last.udp.bytesIn)} Gbit/s ${now.udp.datagramsIn - last.udp.datagramsIn} pkts ` +
    `(${now.tun.superpacketsOut - last.tun.superpacketsOut} superpkts) | drops ${drops}`
}

/** Sums every number in a (nested) stats object such as `drops`. */
function sum (o: object): number {
  let n = 0
  for (const v of Object.values(o)) n += typeof v === 'number' ? v : (v !== null && typeof v === 'object' ? sum(v) : 0)
  return n
}

// ---- --workers N -----------------------------------------------------------------------
interface WorkerReport { tun: TunStats, udp: UdpStats, tid: number, cpuTicks: number, peerErrors: number }

/** Creates and configures the device, then holds it; the workers carry the packets. */
async function mainWithWorkers (args: Args): Promise<void> {
  const tun = await openTun({ name: args.tun, addresses: [args.address], mtu: args.mtu, offload: args.offload, multiQueue: true })
  tun.queues[0].detach() // keeps the device and its configuration; the kernel steers nothing here
  const workers: Worker[] = []
  // One at a time: a reuseport group numbers its sockets in bind order.
  for (let index = 0; index < args.workers; index++) {
    const w = new Worker(__filename, { workerData: { args, index } })
    const ready = await new Promise<{ tid: number }>((resolve, reject) => { w.once('message', resolve); w.once('error', reject) })
    console.log(`echo-tunnel: worker ${index} tid ${ready.tid}`)
    workers.push(w)
  }
  console.log(`echo-tunnel: ${tun.name} ${args.address} mtu ${args.mtu} offload ${JSON.stringify(tun.offload)} ` +
    `workers ${args.workers} steer ${args.steer ? 'inner-flow' : 'none'} -> ${args.peer}`)
  const ask = async (w: Worker, what: 'stats' | 'stop'): Promise<WorkerReport> => await new Promise((resolve) => {
    const onReply = (m: { reply: string, report: WorkerReport }): void => {
      if (m.reply === what) { w.off('message', onReply); resolve(m.report) }
    }
    w.on('message', onReply)
    w.postMessage(what)
  })
  // Status lines: the single-thread line over the workers' summed stats, then each worker's share.
  const snapshot = async (): Promise<{ all: Snapshot, each: Snapshot[] }> => {
    const reports = await Promise.all(workers.map(async (w) => await ask(w, 'stats')))
    const t = process.hrtime.bigint()
    const each = reports.map((r) => ({ t, tun: r.tun, udp: r.udp }))
    return { all: { t, tun: sumStats(reports.map((r) => r.tun)), udp: sumStats(reports.map((r) => r.udp)) }, each }
  }
  let last = await snapshot()
  const stopStatus = everyMs(args.statsMs, () => {
    void snapshot().then((now) => {
      const secs = Number(now.all.t - last.all.t) / 1e9
      const share = now.each.map((w, i) => `w${i} ${((w.tun.bytesIn + w.udp.bytesIn - last.each[i].tun.bytesIn - last.each[i].udp.bytesIn) * 8 / secs / 1e9).toFixed(2)} Gbit/s`)
      console.log(args.statsJson ? JSON.stringify({ tun: now.all.tun, udp: now.all.udp }) : `${statusLine(last.all, now.all)} | ${share.join(' ')}`)
      last = now
    })
  })
  stopOnce(async (signal) => {
    stopStatus()
    const finals = await Promise.all(workers.map(async (w) => await ask(w, 'stop')))
    tun.close()
    // The same shape as the single-thread line, summed over the workers, plus each worker's own.
    console.log(JSON.stringify({ signal, tun: sumStats(finals.map((f) => f.tun)), udp: sumStats(finals.map((f) => f.udp)), workers: finals }))
  })
}

/** One worker: its own queue of the device, its own reuseport socket, its own (default) pool. */
async function workerMain (): Promise<void> {
  const { args, index } = workerData as { args: Args, index: number }
  const port = parentPort as NonNullable<typeof parentPort>
  const tun = await openTun({ name: args.tun, attach: true, offload: args.offload })
  const udp = await openUdp({ bind: args.listen, gso: args.udpOffload, gro: args.udpOffload, reusePort: true, innerFlowSteering: args.steer ? args.workers : undefined })
  const { loops, peerErrors } = carry(tun, udp, args.peer, args.forward)
  // This thread's id and CPU time (utime + stime, in clock ticks) from /proc/thread-self.
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop())
  const cpuTicks = (): number => {
    const f = readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1].split(' ')
    return Number(f[11]) + Number(f[12])
  }
  const report = (): WorkerReport => ({ tun: tun.stats(), udp: udp.stats(), tid, cpuTicks: cpuTicks(), peerErrors: sum(peerErrors) })
  port.on('message', (m: string) => {
    if (m === 'stats') port.postMessage({ reply: 'stats', report: report() })
    if (m === 'stop') {
      const final = report()
      tun.close()
      udp.close()
      void Promise.allSettled(loops).then(() => { port.postMessage({ reply: 'stop', report: final }); port.close() })
    }
  })
  port.postMessage({ tid, index })
}

if (isMainThread) {
  main().catch((err: Error) => {
    console.error(`echo-tunnel: ${err.message}`)
    process.exit(1)
  })
} else {
  workerMain().catch((err: Error) => {
    console.error(`echo-tunnel worker: ${err.message}`)
    process.exit(1)
  })
}
