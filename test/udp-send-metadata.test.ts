// Send metadata from JavaScript, per datagram, against the real kernel: the source address a
// reply leaves from (IP_PKTINFO on send; a received lease keeps the address the peer used), the
// ECN bits (IP_TOS / IPV6_TCLASS on send, read back by the receiver), and a destination on fresh
// leases so that one send() carries datagrams for several peers.
import t, { type Test } from 'tap'
import * as fs from 'fs'
import * as path from 'path'
import { check, createNetns, deleteNetns, netnsSkipReason, runIn } from './helpers/netns'
import { startPeer, type Peer } from './helpers/udp-peer'

const dist = path.join(__dirname, '..', 'dist', 'index.js')
const built = fs.existsSync(dist) ? false : 'dist/ not built (npm run build:ts)'
const skip = netnsSkipReason() || built

// eslint-disable-next-line @typescript-eslint/no-var-requires
const tunio = (): typeof import('../lib/index') => require(dist)

t.test('lease.remote / local / ecn: settable on fresh leases, validated, refused once released', { skip: built }, async (t) => {
  const { Pool } = tunio()
  const pool = new Pool({ capBytes: 1 << 20 })
  const lease = pool.leaseFrom(Buffer.from('x'))
  t.equal(lease.remote, undefined)
  lease.remote = '192.0.2.1:51820'
  t.same(lease.remote, { address: '192.0.2.1', family: 'IPv4', port: 51820 })
  lease.remote = { address: '2001:db8::1', port: 9 }
  t.same(lease.remote, { address: '2001:db8::1', family: 'IPv6', port: 9 })
  lease.local = '2001:db8::2'
  t.same(lease.local, { address: '2001:db8::2', family: 'IPv6' })
  lease.local = { address: '192.0.2.9', ifindex: 3 }
  t.same(lease.local, { address: '192.0.2.9', family: 'IPv4', ifindex: 3 })
  lease.ecn = 2
  t.equal(lease.ecn, 2)
  lease.remote = undefined
  lease.local = undefined
  t.equal(lease.remote, undefined)
  t.equal(lease.local, undefined)
  t.equal(lease.ecn, 2)
  const bad: Array<[string, unknown]> = [
    ['remote', 'nonsense'], ['remote', '192.0.2.1:0'], ['remote', '192.0.2.1:70000'], ['remote', 7], ['remote', { address: 'x', port: 1 }],
    ['local', '192.0.2.1:5'], ['local', 'fe80::1%lo'], ['local', { address: '192.0.2.1', ifindex: -1 }], ['local', 5],
    ['ecn', 4], ['ecn', -1], ['ecn', 1.5], ['ecn', '1']
  ]
  for (const [field, value] of bad) {
    t.throws(() => { (lease as any)[field] = value }, { code: 'ERR_TUNIO_INVALID_ARG', argument: field }, `${field} = ${JSON.stringify(value)}`)
  }
  lease.release()
  t.throws(() => { lease.remote = '192.0.2.1:1' }, { code: 'ERR_TUNIO_LEASE_RELEASED' })
  t.throws(() => { lease.ecn = 1 }, { code: 'ERR_TUNIO_LEASE_RELEASED' })

  // Leases of a batch (the native side holds their metadata) take the same setters.
  const batch = pool.leaseBatch(2, 10)
  const first = batch.at(0) as any
  first.remote = '198.51.100.7:4000'
  first.local = '198.51.100.1'
  first.ecn = 3
  t.match(first.remote, { address: '198.51.100.7', port: 4000 })
  t.match(first.local, { address: '198.51.100.1' })
  t.equal(first.ecn, 3)
  t.throws(() => { first.ecn = 9 }, { code: 'ERR_TUNIO_INVALID_ARG', argument: 'ecn' })
  t.equal(batch.at(1)?.remote, undefined, 'the other packet is untouched')
  batch.release()
})

/**
 * A server namespace and a client namespace joined by veth (s0 - c0) with these addresses,
 * each with a tunio peer. IPv4 runs with IPv6 off; IPv6 addresses skip duplicate detection.
 */
async function serverAndClient (t: Test, addresses: { server: string[], client: string[] }): Promise<{ nsS: string, s: Peer, c: Peer }> {
  const v6 = addresses.server[0].includes(':')
  const nsS = await createNetns('s')
  const nsC = await createNetns('c')
  t.teardown(async () => { await deleteNetns(nsS); await deleteNetns(nsC) })
  if (!v6) {
    for (const ns of [nsS, nsC]) await runIn(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'])
  }
  await check(['ip', 'link', 'add', 's0', 'netns', nsS, 'type', 'veth', 'peer', 'name', 'c0', 'netns', nsC])
  for (const [ns, dev, cidrs] of [[nsS, 's0', addresses.server], [nsC, 'c0', addresses.client]] as const) {
    for (const cidr of cidrs) await check(['ip', '-n', ns, 'addr', 'add', cidr, 'dev', dev, ...(v6 ? ['nodad'] : [])])
    await check(['ip', '-n', ns, 'link', 'set', dev, 'up'])
  }
  const s = startPeer(nsS)
  const c = startPeer(nsC)
  t.teardown(async () => { await s.stop(); await c.stop() })
  return { nsS, s, c }
}

t.test('a reply leaves from the address the peer used; ECN arrives; one send() reaches two peers', { skip }, async (t) => {
  // Two addresses on one device: the kernel's own choice of source is the first.
  const { nsS, s, c } = await serverAndClient(t, { server: ['10.93.0.1/24', '10.93.0.2/24'], client: ['10.93.0.10/24', '10.93.0.11/24'] })
  await s.run(`ctx.sockets.srv = await ctx.tunio.openUdp({ bind: '0.0.0.0:7200' })`)
  await c.run(`
    ctx.sockets.c1 = await ctx.tunio.openUdp({ bind: '10.93.0.10:7301' })
    ctx.sockets.c2 = await ctx.tunio.openUdp({ bind: '10.93.0.11:7302' })`)

  // The client writes to the SECOND address; ECN: one datagram per codepoint, in one send()
  // (equal sizes: the planner must not merge datagrams with different ECN bits into one GSO send).
  const arriving = s.run(`
    const got = []
    const deadline = Date.now() + 5000
    while (got.length < 4 && Date.now() < deadline) {
      const batch = await ctx.sockets.srv.read()
      for (const lease of batch) got.push({ data: lease.buffer.toString(), local: lease.local, remote: lease.remote, ecn: lease.ecn })
      // keep the first lease to answer with (its remote and local travel with it)
      if (ctx.kept === undefined) { ctx.kept = batch; } else batch.release()
    }
    return got`)
  await c.run(`
    const { Pool } = ctx.tunio
    const pool = ctx.sockets.c1.pool
    const leases = [0, 1, 2, 3].map((ecn) => { const l = pool.leaseFrom(Buffer.from('ecn ' + ecn)); l.ecn = ecn; return l })
    ctx.sockets.c1.send(leases, { address: '10.93.0.2', port: 7200 })`)
  const got = await arriving
  t.equal(got.length, 4, 'four datagrams arrived')
  for (const d of got) {
    t.equal(d.local?.address, '10.93.0.2', `${d.data}: received on the second address (IP_PKTINFO)`)
    t.equal(d.ecn, Number(d.data.split(' ')[1]), `${d.data}: ECN bits as sent`)
  }

  // Replies: the received lease as it came (sticky source), a fresh lease given the received
  // lease's remote and local, and a fresh lease with only a destination (the kernel's choice).
  const replies = c.run(`return await ctx.collect(ctx.sockets.c1, 3, 5000)`)
  await s.run(`
    const srv = ctx.sockets.srv
    const received = ctx.kept.at(0)
    const fresh = srv.pool.leaseFrom(Buffer.from('fresh with local'))
    fresh.remote = received.remote
    fresh.local = received.local
    const plain = srv.pool.leaseFrom(Buffer.from('fresh without local'))
    plain.remote = received.remote
    received.set(Buffer.from('echo'))
    received.truncate(4)
    srv.send([received, fresh, plain])
    ctx.kept.release()`)
  const back = await replies
  const from = Object.fromEntries(back.map((d: any) => [Buffer.from(d.data, 'hex').toString(), d.remote.address]))
  t.equal(from.echo, '10.93.0.2', 'the received lease answers from the address the peer wrote to')
  t.equal(from['fresh with local'], '10.93.0.2', 'a fresh lease with local set does the same')
  t.equal(from['fresh without local'], '10.93.0.1', 'without it the kernel picks the first address (what sticky sources avoid)')

  // A source that is no longer ours: the reply still goes out, from the route's choice.
  await check(['ip', '-n', nsS, 'addr', 'del', '10.93.0.2/24', 'dev', 's0'])
  const late = c.run(`return await ctx.collect(ctx.sockets.c1, 1, 5000)`)
  const fallbacks = await s.run(`
    const srv = ctx.sockets.srv
    const l = srv.pool.leaseFrom(Buffer.from('after removal'))
    l.remote = { address: '10.93.0.10', port: 7301 }
    l.local = '10.93.0.2'
    srv.send(l)
    return srv.stats().sourceFallbacks`)
  const lateGot = await late
  t.equal(lateGot.length, 1, 'a reply whose source was removed is still delivered')
  t.equal(lateGot[0]?.remote.address, '10.93.0.1', 'from the remaining address')
  t.equal(fallbacks, 1, 'counted in stats().sourceFallbacks')

  // One send() of fresh leases for two peers: each lease carries its own destination.
  const toC1 = c.run(`return await ctx.collect(ctx.sockets.c1, 3, 5000)`)
  const toC2 = c.run(`return await ctx.collect(ctx.sockets.c2, 3, 5000)`)
  const accepted = await s.run(`
    const srv = ctx.sockets.srv
    const leases = []
    for (let i = 0; i < 6; i++) {
      const l = srv.pool.leaseFrom(Buffer.alloc(100, i))
      l.remote = i % 2 === 0 ? '10.93.0.10:7301' : '10.93.0.11:7302'
      leases.push(l)
    }
    return srv.send(leases)`)
  t.equal(accepted, 6, 'send() without `to` accepts fresh leases that have a destination')
  const [g1, g2] = await Promise.all([toC1, toC2])
  t.same(g1.map((d: any) => d.data.slice(0, 2)), ['00', '02', '04'], 'peer 1 got its three, in order')
  t.same(g2.map((d: any) => d.data.slice(0, 2)), ['01', '03', '05'], 'peer 2 got its three, in order')
})

t.test('IPv6: a reply leaves from the address the peer used; a removed source falls back', { skip }, async (t) => {
  const { nsS, s, c } = await serverAndClient(t, { server: ['fd93::1/64', 'fd93::2/64'], client: ['fd93::10/64'] })
  await s.run(`ctx.sockets.srv = await ctx.tunio.openUdp({ bind: '[::]:7200' })`)
  await c.run(`ctx.sockets.cl = await ctx.tunio.openUdp({ bind: '[fd93::10]:7300' })`)
  const arriving = s.run(`
    const batch = await ctx.sockets.srv.read()
    const lease = batch.at(0)
    const got = { local: lease.local, remote: lease.remote }
    lease.set(Buffer.from('echo'))
    lease.truncate(4)
    ctx.sockets.srv.send(lease)
    batch.release()
    return got`)
  const reply = c.run(`return await ctx.collect(ctx.sockets.cl, 1, 5000)`)
  await c.run(`ctx.sockets.cl.send(Buffer.from('hello'), '[fd93::2]:7200')`)
  const got = await arriving
  t.equal(got.local?.address, 'fd93::2', 'received on the second address (IPV6_PKTINFO)')
  const back = await reply
  t.equal(back[0]?.remote.address, 'fd93::2', 'the reply leaves from it')

  await check(['ip', '-n', nsS, 'addr', 'del', 'fd93::2/64', 'dev', 's0'])
  const late = c.run(`return await ctx.collect(ctx.sockets.cl, 1, 5000)`)
  const fallbacks = await s.run(`
    const srv = ctx.sockets.srv
    const l = srv.pool.leaseFrom(Buffer.from('after removal'))
    l.remote = '[fd93::10]:7300'
    l.local = 'fd93::2'
    srv.send(l)
    return srv.stats().sourceFallbacks`)
  const lateGot = await late
  t.equal(lateGot[0]?.remote.address, 'fd93::1', 'a reply whose source was removed leaves from the remaining address')
  t.equal(fallbacks, 1, 'counted in stats().sourceFallbacks')
})
