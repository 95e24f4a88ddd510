/**
 * A point-to-point IP-over-UDP tunnel endpoint built on tunio.
 *
 *   node dist/examples/echo-tunnel.js --tun tun0 --address 10.8.0.1/24 \
 *     --listen 0.0.0.0:5555 --peer 192.0.2.2:5555 --mtu 1420 --offload auto --stats 1s
 *
 * Wire format: one raw IP packet per UDP datagram, no header, no encryption, the same as
 * `socat UDP-DATAGRAM:<peer>:5555,bind=:5555 TUN:10.8.0.2/24,tun-type=tun,iff-no-pi`, so
 * either end can be socat. It is NOT a VPN: anyone who can reach the UDP port can inject
 * packets. Put your encryption/authentication between the read and the send.
 *
 * Packets are never copied in JavaScript: a batch read from one side is handed to the other
 * (ownership moves; tunio releases the leases once the kernel has the bytes).
 *
 * Status: one line per interval on stdout; on SIGINT/SIGTERM a final line of JSON with stats.
 */
import { openTun, openUdp, type TunioError } from '../lib/index'

// ---- command line -----------------------------------------------------------------------
interface Args { tun: string, address: string, listen: string, peer: string, mtu: number, offload: 'auto' | boolean, statsMs: number }

function parseArgs (argv: string[]): Args {
  const a: Record<string, string> = { tun: 'tun0', address: '10.8.0.1/24', listen: '0.0.0.0:5555', mtu: '1420', offload: 'auto', stats: '1s' }
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '')
    if (!(key in a) && key !== 'peer') usage(`unknown option ${argv[i]}`)
    if (argv[i + 1] === undefined) usage(`${argv[i]} needs a value`)
    a[key] = argv[i + 1]
  }
  if (a.peer === undefined) usage('--peer is required')
  const offload = { auto: 'auto', on: true, off: false }[a.offload] as Args['offload'] | undefined
  if (offload === undefined) usage('--offload must be auto, on or off')
  // "1s", "500ms", "2" (seconds) or "0" (no status lines)
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(a.stats)
  if (m === null) usage('--stats must look like 1s or 500ms')
  const statsMs = Number(m[1]) * (m[2] === 'ms' ? 1 : 1000)
  return { tun: a.tun, address: a.address, listen: a.listen, peer: a.peer, mtu: Number(a.mtu), offload, statsMs }
}

function usage (msg: string): never {
  console.error(`echo-tunnel: ${msg}\nusage: echo-tunnel --peer HOST:PORT [--tun tun0] [--address 10.8.0.1/24] ` +
    '[--listen 0.0.0.0:5555] [--mtu 1420] [--offload auto|on|off] [--stats 1s]')
  process.exit(2)
}

// ---- the tunnel -------------------------------------------------------------------------
async function main (): Promise<void> {
  const args = parseArgs(process.argv.slice(2))

  const tun = await openTun({ name: args.tun, addresses: [args.address], mtu: args.mtu, offload: args.offload })
  const udp = await openUdp({ bind: args.listen, gso: 'auto', gro: 'auto' })
  console.log(`echo-tunnel: ${tun.name} ${args.address} mtu ${args.mtu} offload ${JSON.stringify(tun.offload)} ` +
    `udp ${udp.local.address}:${udp.local.port} -> ${args.peer} features ${JSON.stringify(udp.features)}`)

  // The peer may not be up yet (ICMP port unreachable -> ECONNREFUSED) or unreachable for a
  // while: tunio reports these as events and keeps going. We only count them.
  const peerErrors: Record<string, number> = {}
  udp.on('peerError', (err: TunioError) => {
    const key = err.errno ?? err.code
    peerErrors[key] = (peerErrors[key] ?? 0) + 1
  })

  // TUN -> UDP: each batch holds one lease per IP packet (superpackets already split);
  // send() groups equal-size runs into UDP_SEGMENT sends. Ownership moves, nothing to release.
  const outbound = (async () => {
    for await (const batch of tun) udp.send(batch, args.peer)
  })()

  // UDP -> TUN: each lease is one datagram = one IP packet; write() coalesces TCP/UDP flows
  // back into superpackets when the device accepted offloads.
  const inbound = (async () => {
    for await (const batch of udp) tun.write(batch)
  })()

  // Status lines: rates from the difference between two stats() snapshots.
  let last = { t: process.hrtime.bigint(), tun: tun.stats(), udp: udp.stats() }
  const timer = args.statsMs > 0
    ? setInterval(() => {
      const now = { t: process.hrtime.bigint(), tun: tun.stats(), udp: udp.stats() }
      const secs = Number(now.t - last.t) / 1e9
      const gbps = (bytes: number): string => (bytes * 8 / secs / 1e9).toFixed(2)
      const drops = sum(now.tun.drops) + sum(now.udp.drops) - sum(last.tun.drops) - sum(last.udp.drops)
      console.log(
        `tun->udp ${gbps(now.tun.bytesIn - last.tun.bytesIn)} Gbit/s ${now.tun.packetsIn - last.tun.packetsIn} pkts ` +
        `(${now.tun.superpacketsIn - last.tun.superpacketsIn} superpkts) | ` +
        `udp->tun ${gbps(now.udp.bytesIn - last.udp.bytesIn)} Gbit/s ${now.udp.datagramsIn - last.udp.datagramsIn} pkts ` +
        `(${now.tun.superpacketsOut - last.tun.superpacketsOut} superpkts) | drops ${drops} | peer errors ${sum(peerErrors)}`)
      last = now
    }, args.statsMs)
    : undefined

  // Clean shutdown: stop the timer, snapshot the stats, close both (pending reads end, so the
  // two loops above finish), then print one line of JSON for scripts to parse.
  let stopping = false
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return
    stopping = true
    if (timer !== undefined) clearInterval(timer)
    const final = { signal, tun: tun.stats(), udp: udp.stats(), peerErrors }
    tun.close()
    udp.close()
    await Promise.allSettled([outbound, inbound])
    console.log(JSON.stringify(final))
    process.exit(process.exitCode ?? 0)
  }
  process.on('SIGINT', () => { void stop('SIGINT') })
  process.on('SIGTERM', () => { void stop('SIGTERM') })

  // A loop that ends on its own means an I/O error: report it and stop.
  await Promise.race([outbound, inbound]).catch((err: Error) => {
    console.error(`echo-tunnel: ${err.message}`)
    process.exitCode = 1
  })
  await stop('eof')
}

/** Sums every number in a (nested) stats object such as `drops`. */
function sum (o: object): number {
  let n = 0
  for (const v of Object.values(o)) n += typeof v === 'number' ? v : (v !== null && typeof v === 'object' ? sum(v) : 0)
  return n
}

main().catch((err: Error) => {
  console.error(`echo-tunnel: ${err.message}`)
  process.exit(1)
})
