#!/usr/bin/env node
'use strict'
// Records the known-answer vectors of test/wireguard-handshake.test.ts from Debian's
// wireguard-go, so the handshake is checked against an implementation nobody here wrote:
//   node scripts/wireguard-vectors.js > test/fixtures/wireguard-vectors.json
// Needs root, wireguard-go and wg. In a namespace of its own (deleted at the end), wireguard-go
// runs a device `wgvPID` whose one peer is this script on a plain UDP socket (127.0.0.1:51821):
//  1. wireguard-go initiates (a UDP probe through it); we answer with a fixed ephemeral key and
//     record its initiation, our response and the data message it then sends (the probe).
//  2. we initiate with a fixed ephemeral key and timestamp; we record its response and the
//     data message (another probe) it sends with the new session.
//  3. a burst of initiations puts wireguard-go under load; it answers with cookie replies,
//     recorded with the MAC1 each one answers.
// The private keys are generated here and written into the file: they protect nothing.
const { execFileSync, spawn } = require('child_process')
const dgram = require('dgram')
const hs = require('../dist/examples/wireguard/handshake')
const cr = require('../dist/examples/wireguard/crypto')

const NS = `tunio-wgvec${process.pid}`
// wireguard-go's control socket is /var/run/wireguard/NAME.sock, shared by every namespace:
// the device name must be unique on the host, not only in the namespace.
const DEV = process.argv[3] ?? `wgv${process.pid}`
const hex = (b) => Buffer.from(b).toString('hex')
const b64 = (b) => Buffer.from(b).toString('base64')
const ip = (...a) => execFileSync('ip', a, { stdio: ['ignore', 'pipe', 'pipe'] }).toString()
// The recording runs in a second copy of this script inside the namespace (Node cannot enter
// one itself), so its socket, wireguard-go and the ip/wg commands all share it.
const inNs = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString()
// wg reads keys from files (a pipe from Node is a socket, which wg cannot fopen()).
const keyFile = (dir, name, key) => { const f = require('path').join(dir, name); require('fs').writeFileSync(f, b64(key) + '\n', { mode: 0o600 }); return f }
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function outer () {
  if (process.getuid() !== 0) throw new Error('needs root')
  ip('netns', 'add', NS)
  try {
    ip('-n', NS, 'link', 'set', 'lo', 'up')
    execFileSync('ip', ['netns', 'exec', NS, process.execPath, __filename, '--inside', DEV], { stdio: 'inherit' })
  } finally {
    try { ip('netns', 'del', NS) } catch {}
  }
}

async function inside () {
  let wg
  try {
    // Keys: ours (A, this script) and wireguard-go's (B), a preshared key, fixed ephemerals.
    const a = cr.generateKeyPair()
    const b = cr.generateKeyPair()
    const psk = require('crypto').randomBytes(32)
    const ephResponder = cr.generateKeyPair()
    const ephInitiator = cr.generateKeyPair()
    wg = spawn('wireguard-go', ['-f', DEV], { stdio: ['ignore', 'ignore', 'inherit'] })
    for (let i = 0; i < 100 && !ip('link').includes(DEV); i++) await sleep(50)
    const dir = require('fs').mkdtempSync(require('path').join(require('os').tmpdir(), 'wgvec-'))
    try {
      inNs('wg', ['set', DEV, 'private-key', keyFile(dir, 'b.key', b.privateKey), 'listen-port', '51820'])
      inNs('wg', ['set', DEV, 'peer', b64(a.publicKey), 'preshared-key', keyFile(dir, 'psk', psk), 'allowed-ips', '10.9.0.1/32', 'endpoint', '127.0.0.1:51821'])
    } finally { require('fs').rmSync(dir, { recursive: true, force: true }) }
    ip('addr', 'add', '10.9.0.2/24', 'dev', DEV)
    ip('link', 'set', DEV, 'up')

    const local = hs.localIdentity(a.privateKey)
    const peer = hs.peerIdentity(local, b.publicKey, psk)
    const sock = dgram.createSocket('udp4')
    await new Promise((resolve) => sock.bind(51821, '127.0.0.1', resolve))
    const inbox = []
    let waiter
    sock.on('message', (m) => { inbox.push(new Uint8Array(m)); if (waiter) waiter() })
    const next = async (type, ms = 5000) => {
      const end = Date.now() + ms
      for (;;) {
        const i = inbox.findIndex((m) => m[0] === type)
        if (i >= 0) return inbox.splice(i, 1)[0]
        if (Date.now() > end) throw new Error(`no message of type ${type} from wireguard-go`)
        await new Promise((resolve) => { waiter = resolve; setTimeout(resolve, 50) })
      }
    }
    const send = (m) => new Promise((resolve) => sock.send(m, 51820, '127.0.0.1', resolve))
    // Traffic into the device: one UDP datagram "probe N" from 10.9.0.2 to 10.9.0.1 port 9.
    let probes = 0
    const ping = () => { const s = dgram.createSocket('udp4'); s.send(`probe ${++probes}`, 9, '10.9.0.1', () => s.close()) }

    // 1. wireguard-go initiates.
    ping()
    const initiation = await next(hs.MSG_INITIATION)
    if (!hs.checkMac1(initiation, local.mac1Key)) throw new Error('MAC1 of the initiation does not verify')
    const consumed = hs.consumeInitiation(local, initiation, (pub) => (cr.equal(pub, b.publicKey) ? peer : undefined))
    if (consumed === undefined) throw new Error('could not consume wireguard-go initiation')
    const resp = hs.createResponse(peer, consumed.init, 0x11223344, { ephemeral: ephResponder })
    hs.writeMacs(resp.message, peer.mac1Key, undefined)
    await send(resp.message)
    const data1 = await next(hs.MSG_DATA)

    // 2. we initiate (wireguard-go's rate limit is one initiation per 20 ms per peer).
    await sleep(100)
    const timestamp = hs.tai64n(Date.now())
    const init = hs.createInitiation(local, peer, 0x55667788, Date.now(), { ephemeral: ephInitiator, timestamp })
    hs.writeMacs(init.message, peer.mac1Key, undefined)
    await send(init.message)
    const response = await next(hs.MSG_RESPONSE)
    const keys = hs.consumeResponse(local, peer, init.state, response)
    if (keys === undefined) throw new Error('could not consume wireguard-go response')
    // wireguard-go uses the new session only once we confirmed it with a data message.
    const keepalive = new Uint8Array(32)
    keepalive[0] = hs.MSG_DATA
    keepalive.set(response.subarray(4, 8), 4)
    keepalive.set(cr.aeadSeal(keys.send, 0n, new Uint8Array(0), new Uint8Array(0)), 16)
    await send(keepalive)
    await sleep(100)
    inbox.length = 0
    ping()
    const data2 = await next(hs.MSG_DATA)

    // 3. under load: a burst of initiations with a valid MAC1 (their contents need not decrypt).
    const mac1s = new Map()
    for (let i = 0; i < 4000; i++) {
      const m = new Uint8Array(hs.INITIATION_LEN)
      m[0] = hs.MSG_INITIATION
      new DataView(m.buffer).setUint32(4, 0x70000000 + i, true)
      require('crypto').randomFillSync(m, 8, 108)
      mac1s.set(0x70000000 + i, hs.writeMacs(m, peer.mac1Key, undefined))
      sock.send(m, 51820, '127.0.0.1')
      if (i % 256 === 255) await new Promise((resolve) => setImmediate(resolve))
    }
    const cookieReply = await next(hs.MSG_COOKIE_REPLY)
    const cookieIndex = hs.receiverIndex(cookieReply)
    const cookieMac1 = mac1s.get(cookieIndex)

    console.log(JSON.stringify({
      note: 'Recorded by scripts/wireguard-vectors.js from ' + execFileSync('wireguard-go', ['--version']).toString().split('\n')[0].trim(),
      ourPrivate: hex(a.privateKey),
      ourPublic: hex(a.publicKey),
      peerPrivate: hex(b.privateKey),
      peerPublic: hex(b.publicKey),
      presharedKey: hex(psk),
      peerInitiates: {
        initiation: hex(initiation),
        responderEphemeralPrivate: hex(ephResponder.privateKey),
        responderIndex: 0x11223344,
        response: hex(resp.message),
        data: hex(data1)
      },
      weInitiate: {
        initiatorEphemeralPrivate: hex(ephInitiator.privateKey),
        initiatorIndex: 0x55667788,
        timestamp: hex(timestamp),
        initiation: hex(init.message),
        response: hex(response),
        keepalive: hex(keepalive),
        data: hex(data2)
      },
      cookie: { initiationMac1: hex(cookieMac1), reply: hex(cookieReply) }
    }, null, 2))
  } finally {
    if (wg) wg.kill('SIGTERM')
    await sleep(200)
  }
}

if (process.argv[2] === '--inside') {
  inside().then(() => process.exit(0), (err) => { console.error(`wireguard-vectors: ${err.stack}`); process.exit(1) })
} else {
  outer()
}
