'use strict'
// Shared by test/wireguard-interop.test.ts and bench/tunnel.js: WireGuard endpoints on the two
// sides of a scripts/netns.js wire, either examples/wireguard (tunio) or Debian's wireguard-go
// configured with wg(8). Tunnel addresses are netns.TUNNEL (10.8.0.1 / 10.8.0.2) plus
// fd08::1 / fd08::2; the UDP port is 51820 on both sides.

const crypto = require('crypto')
const fs = require('fs')
const os = require('os')
const path = require('path')
const netns = require('./netns')

const EXAMPLE = path.join(netns.ROOT, 'dist', 'examples', 'wireguard.js')
const PORT = 51820
const TUNNEL6 = { a: 'fd08::1', b: 'fd08::2' }

/** A fresh X25519 key pair as wg(8) writes keys: base64 of the raw 32 bytes. */
function genKey () {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('x25519')
  const raw = (k, type) => k.export({ format: 'der', type }).subarray(-32).toString('base64')
  return { private: raw(privateKey, 'pkcs8'), public: raw(publicKey, 'spki') }
}

/** Keys for both sides and a preshared key. */
function keys () { return { a: genKey(), b: genKey(), psk: crypto.randomBytes(32).toString('base64') } }

// Interface names must be unique on the host, not only in a namespace: wireguard-go's control
// socket is /var/run/wireguard/NAME.sock, in the file system every namespace shares.
let counter = 0
function ifname (kind) { return `wg${kind}${process.pid % 100000}${counter++}`.slice(0, 15) }

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tunio-wg-'))
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }))

/**
 * examples/wireguard in `side`. peers: [{ publicKey, psk, allowedIPs, endpoint, keepalive }].
 * Resolves once the device is up; stop() resolves with the final JSON stats.
 */
async function startExample (wire, side, { privateKey, peers, mtu = 1420, listenPort = PORT, stats = '0', statsFormat = 'text', nodeArgs = [], name = ifname('t'), addresses = [`${netns.TUNNEL[side]}/24`, `${TUNNEL6[side]}/64`] }) {
  const lines = ['[Interface]', `PrivateKey = ${privateKey}`, `ListenPort = ${listenPort}`,
    `Address = ${addresses.join(', ')}`, `MTU = ${mtu}`]
  for (const p of peers) {
    lines.push('', '[Peer]', `PublicKey = ${p.publicKey}`)
    if (p.psk) lines.push(`PresharedKey = ${p.psk}`)
    lines.push(`AllowedIPs = ${p.allowedIPs.join(', ')}`)
    if (p.endpoint) lines.push(`Endpoint = ${p.endpoint}`)
    if (p.keepalive) lines.push(`PersistentKeepalive = ${p.keepalive}`)
  }
  const file = path.join(tmp, `${name}.conf`)
  fs.writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 })
  const child = wire.spawn(side, process.execPath, [...nodeArgs, EXAMPLE, 'up', file, '--stats', stats, '--stats-format', statsFormat])
  await netns.waitFor(() => child.output.includes(`wireguard: ${name} up`) || child.exitCode !== null, 20000 * netns.TIME_SCALE)
  if (child.exitCode !== null) throw new Error(`wireguard example in ${side} exited: ${child.output}`)
  return {
    kind: 'example',
    name,
    child,
    pid: child.pid,
    async stop () {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const t = setTimeout(() => child.kill('SIGKILL'), 5000 * netns.TIME_SCALE)
      await child.exited
      clearTimeout(t)
      const last = child.output.trim().split('\n').reverse().find((l) => l.startsWith('{'))
      return last ? JSON.parse(last) : null
    }
  }
}

/** Debian's wireguard-go in `side`, configured with wg set and ip. */
async function startWireguardGo (wire, side, { privateKey, peers, mtu = 1420, listenPort = PORT, name = ifname('g') }) {
  // A wireguard-go killed with SIGKILL (a crashed run's cleanup) leaves its socket behind, and
  // wg would talk to that dead socket: the name carries our pid, so a leftover is ours.
  const sock = path.join('/var/run/wireguard', `${name}.sock`)
  fs.rmSync(sock, { force: true })
  const child = wire.spawn(side, 'wireguard-go', ['-f', name], { env: { ...process.env, LOG_LEVEL: 'error' } })
  child.on('exit', () => fs.rmSync(sock, { force: true }))
  await netns.waitFor(() => { try { return wire.exec(side, 'ip', ['link', 'show', name]).includes(name) } catch { return child.exitCode !== null } }, 20000 * netns.TIME_SCALE)
  if (child.exitCode !== null) throw new Error(`wireguard-go in ${side} exited: ${child.output}`)
  const keyFile = (n, v) => { const f = path.join(tmp, `${name}.${n}`); fs.writeFileSync(f, v + '\n', { mode: 0o600 }); return f }
  wire.exec(side, 'wg', ['set', name, 'private-key', keyFile('key', privateKey), 'listen-port', String(listenPort)])
  for (const [i, p] of peers.entries()) {
    const args = ['set', name, 'peer', p.publicKey, 'allowed-ips', p.allowedIPs.join(',')]
    if (p.psk) args.push('preshared-key', keyFile(`psk${i}`, p.psk))
    if (p.endpoint) args.push('endpoint', p.endpoint)
    if (p.keepalive) args.push('persistent-keepalive', String(p.keepalive))
    wire.exec(side, 'wg', args)
  }
  wire.exec(side, 'ip', ['addr', 'add', `${netns.TUNNEL[side]}/24`, 'dev', name])
  wire.exec(side, 'ip', ['addr', 'add', `${TUNNEL6[side]}/64`, 'dev', name, 'nodad'])
  wire.exec(side, 'ip', ['link', 'set', name, 'mtu', String(mtu), 'up'])
  return {
    kind: 'wireguard-go',
    name,
    child,
    pid: child.pid,
    /** wg show NAME dump: the peers' lines (public key, psk, endpoint, allowed ips, handshake, rx, tx, keepalive). */
    dump () { return wire.exec(side, 'wg', ['show', name, 'dump']).trim().split('\n').slice(1).map((l) => l.split('\t')) },
    async stop () {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const t = setTimeout(() => child.kill('SIGKILL'), 5000)
      await child.exited
      clearTimeout(t)
      return null
    }
  }
}

/** The peer entry of `other` as seen from `side`. */
function peerOf (k, other, { endpoint = true, keepalive = 0, allowedIPs } = {}) {
  return {
    publicKey: k[other].public,
    psk: k.psk,
    allowedIPs: allowedIPs ?? [`${netns.TUNNEL[other]}/32`, `${TUNNEL6[other]}/128`],
    endpoint: endpoint ? `${netns.WIRE[other]}:${PORT}` : undefined,
    keepalive
  }
}

/** Starts `kind` ('example' | 'wireguard-go') in `side` with the other side as its one peer. */
async function start (wire, side, kind, k, opts = {}) {
  const other = side === 'a' ? 'b' : 'a'
  const cfg = { privateKey: k[side].private, peers: [peerOf(k, other, opts)], ...opts }
  return kind === 'example' ? await startExample(wire, side, cfg) : await startWireguardGo(wire, side, cfg)
}

/** Pings `to`'s tunnel address (v4 or v6) from `from`; resolves with ping's exit status. */
function ping (wire, from, to, { v6 = false, count = 3, timeoutSec = 5 } = {}) {
  try {
    wire.exec(from, 'ping', ['-c', String(count), '-i', '0.2', '-W', String(timeoutSec), v6 ? TUNNEL6[to] : netns.TUNNEL[to]], { timeout: (timeoutSec + count) * 1000 + 5000 })
    return 0
  } catch (err) { return err.status ?? 1 }
}

function hasWireguardGo () { return netns.has('wireguard-go') && netns.has('wg') }

module.exports = { EXAMPLE, PORT, TUNNEL6, genKey, keys, startExample, startWireguardGo, start, peerOf, ping, hasWireguardGo, ifname }

