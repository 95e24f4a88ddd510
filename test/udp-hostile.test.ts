// Hostile UDP input through the real kernel, in a throwaway namespace: malformed datagrams
// from a raw socket, empty and maximum-size datagrams, a flood into a small receive buffer,
// and a flood while the consumer holds every pool slot. Nothing crashes, nothing wedges (a
// marker datagram still arrives afterwards), and every datagram sent is accounted for: read
// by tunio, or dropped by the kernel and counted by reason in the namespace's /proc/net/snmp.
// The traffic runs in test/fixtures/udp-hostile.js (inside the namespace); asserts are here.
import t from 'tap'
import * as path from 'path'
import { createNetns, deleteNetns, netnsSkipReason, runIn } from './helpers/netns'

const CHILD = path.join(__dirname, 'fixtures', 'udp-hostile.js')
const skip = netnsSkipReason()

async function scenario (t: { teardown: (fn: () => unknown) => void }, name: string): Promise<any> {
  const ns = await createNetns('h')
  t.teardown(() => deleteNetns(ns))
  const r = await runIn(ns, [process.execPath, CHILD, name], { timeoutMs: 120_000 })
  if (r.code !== 0) throw new Error(`${name} child exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout.trim().split('\n').pop() as string)
}

const zeroDrops = { truncated: 0, queueFull: 0, poolExhausted: 0, invalid: 0, sendFailed: 0 }
function tunioDrops (stats: any): object {
  const { peer, ...rest } = stats.drops
  return rest
}

t.test('hostile UDP input', { skip }, async (t) => {
  t.test('malformed datagrams from a raw socket: kernel drops by reason, the rest delivered exactly', async (t) => {
    const r = await scenario(t, 'malformed')
    const k = 50
    t.same(r.sent, { bad_checksum: k, length_past_end: k, length_below_8: k, trimmed: k, zero_checksum: k, ip_options: k }, 'injector sent every kind')
    const byHead: Record<string, number[]> = {}
    for (const g of r.got) (byHead[g.head] ??= []).push(g.len)
    t.same(Object.keys(byHead).sort(), ['TRIM!', 'ip-options', 'zero-csum'], 'only the valid kinds reached tunio')
    t.same(byHead['TRIM!'], new Array(k).fill(5), 'UDP length shorter than the IP payload: cut to the UDP length')
    t.same(byHead['zero-csum'], new Array(k).fill(9), 'checksum 0 (none) delivered whole')
    t.same(byHead['ip-options'], new Array(k).fill(10), 'IPv4 options delivered whole')
    t.equal(r.snmp.InCsumErrors, k, 'kernel: Udp InCsumErrors counts the bad checksums')
    t.equal(r.snmp.InErrors, 3 * k, 'kernel: Udp InErrors = bad checksum + length past end + length below 8')
    t.equal(r.snmp.InDatagrams, 3 * k, 'kernel: Udp InDatagrams = what tunio read')
    t.equal(r.snmp.RcvbufErrors, 0, 'no buffer overflow')
    t.equal(r.stats.datagramsIn, 3 * k + 1, 'tunio datagramsIn = delivered + marker')
    t.same(tunioDrops(r.stats), zeroDrops, 'tunio dropped nothing itself')
    t.ok(r.marker, 'the socket still receives afterwards')
  })

  t.test('empty, one-byte and maximum-size datagrams, IPv4 and IPv6', async (t) => {
    const r = await scenario(t, 'sizes')
    for (const host of ['127.0.0.1', '::1']) {
      const x = r[host]
      t.same(x.got.map((g: any) => g.len), x.sizes, `${host}: every size arrives as sent, in order (${x.sizes.join(', ')})`)
      t.same(x.got.map((g: any) => g.sha), x.expected, `${host}: contents intact (sha256 of each)`)
      t.same(tunioDrops(x.stats), zeroDrops, `${host}: nothing truncated or dropped`)
      t.ok(x.marker, `${host}: the socket still receives afterwards`)
    }
  })

  t.test('flood into a small receive buffer: every datagram read or counted as RcvbufErrors', async (t) => {
    const r = await scenario(t, 'flood')
    t.equal(r.sent.flood, 20000, 'sent 20000 datagrams of 1200 bytes')
    t.equal(r.snmp.OutDatagrams, 20000, 'the kernel accepted all of them')
    t.ok(r.snmp.RcvbufErrors > 0, `the flood overflowed the buffer (${r.snmp.RcvbufErrors} kernel drops)`)
    t.equal(r.received + r.snmp.RcvbufErrors, 20000, `read ${r.received} + dropped ${r.snmp.RcvbufErrors} = sent`)
    t.equal(r.snmp.InDatagrams, r.received, 'kernel InDatagrams = what tunio read')
    t.equal(r.unique, r.received, 'no datagram read twice')
    t.ok(r.lengthsOk, 'every datagram 1200 bytes')
    t.equal(r.stats.datagramsIn, r.received + 1, 'tunio datagramsIn = read + marker')
    t.same(tunioDrops(r.stats), zeroDrops, 'tunio dropped nothing itself')
    t.ok(r.marker, 'the socket still receives after the flood')
  })

  t.test('consumer holds every pool slot during a flood: reading pauses, then resumes', async (t) => {
    const r = await scenario(t, 'pool')
    t.equal(r.held, 4, 'four leases held (the whole 256 KiB pool)')
    t.equal(r.exhaustedAt.slotsInUse, 4, 'pool exhausted')
    t.equal(r.stalled, null, 'nothing read while no slot is free')
    t.ok(r.waits > 0, `tunio counted the stall (waits.recvPoolExhausted ${r.waits})`)
    t.ok(r.snmp.RcvbufErrors > 0, `kernel dropped the overflow (${r.snmp.RcvbufErrors})`)
    t.equal(r.received + r.snmp.RcvbufErrors, r.sent.flood, `read ${r.received} + dropped ${r.snmp.RcvbufErrors} = sent ${r.sent.flood}`)
    t.same(tunioDrops(r.stats), zeroDrops, 'tunio dropped nothing itself')
    t.ok(r.marker, 'reading resumed after the leases came back')
    t.equal(r.poolEnd.inUseBytes, 0, 'pool empty at the end')
    t.equal(r.poolEnd.leaked, 0, 'no leaked leases')
  })
})
