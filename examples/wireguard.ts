/**
 * A WireGuard-compatible peer built on tunio (the modules are in examples/wireguard/; see
 * docs/wireguard.md for what it implements and what it leaves out).
 *
 *   node dist/examples/wireguard.js up /etc/wireguard/wg0.conf [--stats 1s] [--stats-format text|json]
 *
 * Reads a wg-quick style file, brings up a TUN named after the file (wg0) with its Address and
 * MTU, listens on ListenPort, and stays in the foreground: a status line per interval, and on
 * SIGINT/SIGTERM the device is removed and one line of JSON with every counter is printed.
 */
import { readFileSync } from 'fs'
import { openTun, openUdp } from '../lib/index'
import { ConfigError, parseConfig } from './wireguard/config'
import { Device } from './wireguard/device'
import { HEADROOM, TAILROOM } from './wireguard/datapath'
import { everyMs, firstLoopEnd, stopOnce } from './shared/lifecycle'

function usage (msg: string): never {
  console.error(`wireguard: ${msg}\nusage: wireguard up PATH/NAME.conf [--stats 1s] [--stats-format text|json]`)
  process.exit(2)
}

async function main (): Promise<void> {
  const [verb, file, ...rest] = process.argv.slice(2)
  if (verb !== 'up' || file === undefined) usage('expected: up PATH/NAME.conf')
  let statsMs = 1000
  let statsJson = false
  for (let i = 0; i < rest.length; i += 2) {
    const v = rest[i + 1]
    if (v === undefined) usage(`${rest[i]} needs a value`)
    if (rest[i] === '--stats') {
      const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(v)
      if (m === null) usage('--stats must look like 1s or 500ms (0: none)')
      statsMs = Number(m[1]) * (m[2] === 'ms' ? 1 : 1000)
    } else if (rest[i] === '--stats-format') {
      if (v !== 'text' && v !== 'json') usage('--stats-format must be text or json')
      statsJson = v === 'json'
    } else usage(`unknown option ${rest[i]}`)
  }
  let text: string
  try { text = readFileSync(file, 'utf8') } catch (err) { usage(`cannot read ${file}: ${(err as Error).message}`) }
  const config = parseConfig(text, file)

  // Every packet read gets room for the data message header in front and padding + tag
  // behind, so it is sealed where it lies and sent from there.
  const tun = await openTun({ name: config.name, addresses: config.addresses.map((a) => `${a.address}/${a.bits}`), mtu: config.mtu, headroom: HEADROOM, tailroom: TAILROOM })
  const udp = await openUdp({ bind: `[::]:${config.listenPort}` })
  const device = new Device(config, tun, udp)
  const peerErrors: Record<string, number> = {}
  udp.on('peerError', (err: { errno?: string, code: string }) => { const k = err.errno ?? err.code; peerErrors[k] = (peerErrors[k] ?? 0) + 1 })
  console.log(`wireguard: ${tun.name} up, ${config.addresses.map((a) => `${a.address}/${a.bits}`).join(' ')} mtu ${config.mtu} ` +
    `port ${udp.local.port} public key ${Buffer.from(device.local.publicKey).toString('base64')} peers ${device.peers.length} ` +
    `offload ${JSON.stringify(tun.offload)} udp ${JSON.stringify(udp.features)}`)
  const loops = device.start()

  let last = { t: performance.now(), tx: 0, rx: 0 }
  const totals = (): { tx: number, rx: number } => device.peers.reduce((s, p) => ({ tx: s.tx + p.counters.txBytes, rx: s.rx + p.counters.rxBytes }), { tx: 0, rx: 0 })
  const stopStatus = everyMs(statsMs, () => {
    const now = { t: performance.now(), ...totals() }
    const secs = (now.t - last.t) / 1000
    if (statsJson) console.log(JSON.stringify({ device: device.stats(), tun: tun.stats(), udp: udp.stats(), memory: process.memoryUsage() }))
    else {
      const d = device.stats() as { dataplane: Record<string, number>, peers: Array<{ endpoint: string | null, handshakesCompleted: number }> }
      console.log(`tx ${((now.tx - last.tx) * 8 / secs / 1e9).toFixed(2)} Gbit/s rx ${((now.rx - last.rx) * 8 / secs / 1e9).toFixed(2)} Gbit/s | ` +
        `handshakes ${d.peers.map((p) => p.handshakesCompleted).join('/')} | drops ${JSON.stringify(d.dataplane)}`)
    }
    last = now
  })

  const stop = stopOnce(async (signal) => {
    stopStatus()
    device.stop()
    const final = { signal, device: device.stats(), tun: tun.stats(), udp: udp.stats(), peerErrors }
    tun.close() // removes the device: it is not persistent
    udp.close()
    await Promise.allSettled(loops)
    console.log(JSON.stringify(final))
  })
  await firstLoopEnd('wireguard', loops)
  await stop('eof')
}

main().catch((err: Error) => {
  console.error(err instanceof ConfigError ? `wireguard: ${err.message}` : `wireguard: ${err.stack ?? err.message}`)
  process.exit(err instanceof ConfigError ? 2 : 1)
})
