#!/usr/bin/env node
// Writes the small hand-made seed corpora for the fuzz targets into fuzz/corpus/<target>/.
// Usage: node fuzz/make-seeds.js   (deterministic; rerun after changing the layouts below)
'use strict'
const fs = require('fs')
const path = require('path')

const { packet: build } = require('../test/helpers/packets')

// The seeds' payload bytes, as first written (tb::pattern adds i >> 8, which would change the
// longer seeds): kept so that the corpus stays byte-identical.
function payload (n, seed) {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = (seed + i * 7) & 0xff
  return b
}

// The seeds' packets: test/helpers/packets.js with IPv4 ID 1 unless a seed names another.
const packet = (fields) => build({ id: 1, ...fields })

// 10-byte virtio_net_hdr, little-endian (the x86/arm64 host order the kernel uses).
function vnet ({ flags = 1, type, hdrLen, gso, csumStart, csumOffset }) {
  const b = Buffer.alloc(10)
  b[0] = flags; b[1] = type
  b.writeUInt16LE(hdrLen, 2); b.writeUInt16LE(gso, 4)
  b.writeUInt16LE(csumStart, 6); b.writeUInt16LE(csumOffset, 8)
  return b
}

function chunks (optByte, maxSeg, pkts) {
  const parts = [Buffer.from([optByte, maxSeg])]
  for (const p of pkts) {
    const l = Buffer.alloc(2); l.writeUInt16BE(p.length, 0)
    parts.push(l, p)
  }
  return Buffer.concat(parts)
}

const ts = Buffer.from([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2])

// fuzz_udp_gro_split: [i32 LE gso_size][u32 LE arithmetic-only length][the read's bytes]
function groRead (gso, virtualLen, bytes) {
  const h = Buffer.alloc(8)
  h.writeInt32LE(gso, 0); h.writeUInt32LE(virtualLen >>> 0, 4)
  return Buffer.concat([h, bytes])
}
const seeds = {
  fuzz_checksum: {
    'odd-aligned': Buffer.concat([Buffer.from([3, 0x12, 0x34, 1]), payload(61, 5)]),
    'all-ones': Buffer.concat([Buffer.from([0, 0xff, 0xff, 0]), Buffer.alloc(40, 0xff)]),
    'short': Buffer.from([1, 0, 0, 0, 0xab])
  },
  fuzz_ip_headers: {
    'tcp4-options': packet({ ipOptions: Buffer.from([1, 1, 1, 0]), tcpOptions: ts, payload: payload(20, 1) }),
    'udp6': packet({ version: 6, proto: 17, payload: payload(9, 2) }),
    'tcp6': packet({ version: 6, payload: payload(3, 3) })
  },
  fuzz_gso_split: {
    'tcp4-3seg': Buffer.concat([vnet({ type: 1, hdrLen: 40, gso: 100, csumStart: 20, csumOffset: 16 }),
      packet({ payload: payload(250, 1), flags: 0x18, checksum: 'partial' })]),
    'tcp6-ts': Buffer.concat([vnet({ type: 4, hdrLen: 72, gso: 60, csumStart: 40, csumOffset: 16 }),
      packet({ version: 6, tcpOptions: ts, payload: payload(200, 2), flags: 0x99, checksum: 'partial' })]),
    'udp4-uso': Buffer.concat([vnet({ type: 5, hdrLen: 28, gso: 70, csumStart: 20, csumOffset: 6 }),
      packet({ proto: 17, payload: payload(201, 3), checksum: 'partial' })]),
    'udp6-uso': Buffer.concat([vnet({ type: 5, hdrLen: 48, gso: 64, csumStart: 40, csumOffset: 6 }),
      packet({ version: 6, proto: 17, payload: payload(128, 4), checksum: 'partial' })]),
    'none-csum': Buffer.concat([vnet({ type: 0, hdrLen: 0, gso: 0, csumStart: 20, csumOffset: 16 }),
      packet({ payload: payload(33, 5), checksum: 'partial' })]),
    'tcp4-ipopts-ecn': Buffer.concat([vnet({ type: 0x81, hdrLen: 44, gso: 50, csumStart: 24, csumOffset: 16 }),
      packet({ ipOptions: Buffer.from([1, 1, 1, 0]), payload: payload(120, 6), flags: 0xd0, checksum: 'partial' })])
  },
  fuzz_udp_gro_split: {
    'even-run': groRead(100, 6400, payload(400, 1)),
    'short-last': groRead(1400, 65535, payload(1400 * 3 + 17, 2)),
    'not-coalesced': groRead(0, 0, payload(64, 3)),
    'empty-datagram': groRead(1400, 1, Buffer.alloc(0)),
    'gso-larger': groRead(9000, 0xffffffff, payload(300, 4)),
    'negative-gso': groRead(-1, 0xfffffffe, payload(50, 5)),
    'one-byte-segments': groRead(1, 0x80000001, payload(64, 6))
  },
  fuzz_gro_coalesce: {
    'tcp4-run': chunks(1, 64, [0, 1, 2, 3].map((i) => packet({ seq: 1000 + i * 100, id: 1 + i, payload: payload(i === 3 ? 40 : 100, i) }))),
    'tcp-interleaved-psh': chunks(5, 64, [
      packet({ seq: 0, id: 1, payload: payload(80, 1) }),
      packet({ version: 6, seq: 0, payload: payload(80, 2), tcpOptions: ts }),
      packet({ seq: 80, id: 2, payload: payload(80, 3), flags: 0x18 }),
      packet({ version: 6, seq: 80, payload: payload(80, 4), tcpOptions: ts }),
      packet({ seq: 160, id: 3, payload: payload(80, 5) })
    ]),
    'udp-mixed': chunks(7, 3, [
      packet({ proto: 17, id: 1, payload: payload(60, 1) }),
      packet({ proto: 17, id: 2, payload: payload(60, 2) }),
      packet({ version: 6, proto: 17, payload: payload(60, 3) }),
      packet({ proto: 17, id: 3, payload: payload(60, 4) }),
      packet({ proto: 17, id: 4, payload: payload(20, 5) }),
      packet({ proto: 6, id: 9, seq: 5, payload: payload(0, 0), flags: 0x12 })
    ])
  }
}

for (const [target, files] of Object.entries(seeds)) {
  const dir = path.join(__dirname, 'corpus', target)
  fs.mkdirSync(dir, { recursive: true })
  for (const [name, buf] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), buf)
}
console.log('seeds written to', path.join(__dirname, 'corpus'))
