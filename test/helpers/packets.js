// The one packet builder of the JavaScript side: the tap tests, their fixtures (plain node
// children, hence CommonJS with types in packets.d.ts) and fuzz/make-seeds.js. Its C++ twin,
// for the native tests and the fuzz targets, is test-native/packet_builders.h, with the same
// fields and defaults. One library for both languages would mean compiling test code into the
// addon, so there are two; change them together.
'use strict'

/** Sum of big-endian 16-bit words (an odd last byte padded with zero), not yet folded. */
function onesSum (bytes, sum = 0) {
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += (bytes[i] << 8) | bytes[i + 1]
  if (bytes.length % 2) sum += bytes[bytes.length - 1] << 8
  return sum
}

/** Folds a one's-complement sum to 16 bits. */
function fold (sum) {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536)
  return sum
}

/** The Internet checksum (RFC 1071) of `bytes`. */
function internetChecksum (bytes) {
  return (~fold(onesSum(bytes))) & 0xffff
}

/** `n` bytes of tb::pattern's sequence (test-native/packet_builders.h). */
function pattern (n, seed) {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = (seed + i * 7 + (i >> 8)) & 0xff
  return b
}

const V4_SRC = [10, 0, 0, 1]
const V4_DST = [10, 0, 0, 2]
const V6_SRC = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
const V6_DST = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]

/**
 * An IPv4 or IPv6 TCP/UDP packet from named fields; each defaults as tb::Ip, tb::Tcp and
 * tb::Udp do: IPv4 TCP ACK 10.0.0.1:40000 -> 10.0.0.2:443 (fd00::1 -> fd00::2 over IPv6),
 * TTL 64, ID 0x1234, DF, seq 1000, ack 5000, window 512, no payload, full checksums.
 * checksum: 'full', 'partial' (the pseudo-header sum, as a CHECKSUM_PARTIAL packet carries it)
 * or 'zero'. ipChecksum false leaves the IPv4 header checksum 0.
 */
function packet ({
  version = 4, proto = 6, tos = 0, ttl = 64, id = 0x1234, df = true, flowLabel = 0,
  src = version === 4 ? V4_SRC : V6_SRC, dst = version === 4 ? V4_DST : V6_DST, ipOptions = [],
  sport = 40000, dport = 443, seq = 1000, ack = 5000, flags = 0x10, window = 512, tcpOptions = [],
  payload = Buffer.alloc(0), checksum = 'full', ipChecksum = true
} = {}) {
  let l4
  if (proto === 6) {
    l4 = Buffer.alloc(20 + tcpOptions.length)
    l4.writeUInt32BE(seq >>> 0, 4); l4.writeUInt32BE(ack >>> 0, 8)
    l4[12] = (l4.length / 4) << 4; l4[13] = flags; l4.writeUInt16BE(window, 14)
    l4.set(tcpOptions, 20)
  } else {
    l4 = Buffer.alloc(8)
    l4.writeUInt16BE(8 + payload.length, 4)
  }
  l4.writeUInt16BE(sport, 0); l4.writeUInt16BE(dport, 2)
  l4 = Buffer.concat([l4, payload])
  let ip, pseudo
  if (version === 4) {
    const ihl = 20 + ipOptions.length
    ip = Buffer.alloc(ihl)
    ip[0] = 0x40 | (ihl / 4); ip[1] = tos; ip.writeUInt16BE(ihl + l4.length, 2); ip.writeUInt16BE(id, 4)
    ip.writeUInt16BE(df ? 0x4000 : 0, 6); ip[8] = ttl; ip[9] = proto
    ip.set(src, 12); ip.set(dst, 16); ip.set(ipOptions, 20)
    if (ipChecksum) ip.writeUInt16BE(internetChecksum(ip), 10)
    pseudo = onesSum(ip.subarray(12, 20)) + proto + l4.length
  } else {
    ip = Buffer.alloc(40)
    ip[0] = 0x60 | (tos >> 4); ip[1] = ((tos << 4) & 0xff) | ((flowLabel >> 16) & 15); ip.writeUInt16BE(flowLabel & 0xffff, 2)
    ip.writeUInt16BE(l4.length, 4); ip[6] = proto; ip[7] = ttl
    ip.set(src, 8); ip.set(dst, 24)
    pseudo = onesSum(ip.subarray(8, 40)) + proto + l4.length
  }
  const at = proto === 6 ? 16 : 6
  if (checksum === 'partial') l4.writeUInt16BE(fold(pseudo), at)
  if (checksum === 'full') {
    let c = (~fold(onesSum(l4, pseudo))) & 0xffff
    if (proto === 17 && c === 0) c = 0xffff // 0 would mean "no checksum"
    l4.writeUInt16BE(c, at)
  }
  return Buffer.concat([ip, l4])
}

module.exports = { packet, pattern, internetChecksum, onesSum, fold }
