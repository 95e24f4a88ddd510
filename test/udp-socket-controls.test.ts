// Socket controls of openUdp() against the real kernel: `fwmark` (SO_MARK) and `bindDevice`
// (SO_BINDTODEVICE) decide which way datagrams leave, `pmtu` (IP_MTU_DISCOVER) what happens at
// a smaller path MTU. Two namespaces joined by two veth pairs: the receiver's address is routed
// through the first pair, through the second for the mark (a policy rule) and for a socket
// bound to the second device (a route of higher metric that only such a socket may use).
import t, { type Test } from 'tap'
import { spawnSync } from 'child_process'
import * as fs from 'fs'
import * as path from 'path'
import { check, createNetns, deleteNetns, netnsSkipReason, runIn } from './helpers/netns'
import { startPeer, type Peer } from './helpers/udp-peer'

const dist = path.join(__dirname, '..', 'dist', 'index.js')
const built = fs.existsSync(dist) ? false : 'dist/ not built (npm run build:ts)'
const skip = netnsSkipReason() || built

// eslint-disable-next-line @typescript-eslint/no-var-requires
const tunio = (): typeof import('../lib/index') => require(dist)

t.test('option validation names the option', { skip: built || process.platform !== 'linux' }, async (t) => {
  const bad: Array<[string, unknown]> = [
    ['fwmark', -1], ['fwmark', 1.5], ['fwmark', 2 ** 32], ['fwmark', '7'],
    ['bindDevice', ''], ['bindDevice', 'x'.repeat(16)], ['bindDevice', 'a/b'], ['bindDevice', 3],
    ['pmtu', 'maybe'], ['pmtu', true]
  ]
  for (const [option, value] of bad) {
    await t.rejects(tunio().openUdp({ bind: '127.0.0.1:0', [option]: value } as any),
      { code: 'ERR_TUNIO_INVALID_OPTION', option }, `${option}: ${JSON.stringify(value)}`)
  }
  await t.rejects(tunio().openUdp({ bind: '127.0.0.1:0', bindDevice: 'nosuchdev77' }),
    { code: 'ERR_TUNIO_UDP_OPEN', errno: 'ENODEV', syscall: 'setsockopt(SO_BINDTODEVICE)' }, 'an interface this namespace lacks: ENODEV')
  for (const pmtu of ['do', 'probe', 'dont', 'want'] as const) {
    const udp = await tunio().openUdp({ bind: '[::]:0', pmtu })
    t.equal(udp.fwmark, 0, `pmtu ${pmtu}: opens; no mark`)
    t.equal(udp.bindDevice, undefined)
    udp.close()
  }
})

t.test('fwmark without CAP_NET_ADMIN/CAP_NET_RAW: ERR_TUNIO_UDP_OPEN with EPERM', { skip: skip || (spawnSync('setpriv', ['--version']).status !== 0 ? 'no setpriv (util-linux)' : false) }, async (t) => {
  const code = `require(${JSON.stringify(dist)}).openUdp({ bind: '127.0.0.1:0', fwmark: 1 })
    .then((u) => { u.close(); console.log(JSON.stringify({ opened: true })) },
          (e) => console.log(JSON.stringify({ code: e.code, errno: e.errno, syscall: e.syscall, message: e.message })))`
  // The bounding set limits what an exec'd root process may have: without these two, SO_MARK is refused.
  const r = spawnSync('setpriv', ['--bounding-set', '-net_admin,-net_raw', process.execPath, '-e', code], { encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout.trim())
  t.match(out, { code: 'ERR_TUNIO_UDP_OPEN', errno: 'EPERM', syscall: 'setsockopt(SO_MARK)' }, out.message)
})

interface TwoPaths { nsA: string, nsB: string }

async function twoPaths (t: Test): Promise<TwoPaths> {
  const nsA = await createNetns('a')
  const nsB = await createNetns('b')
  t.teardown(async () => { await deleteNetns(nsA); await deleteNetns(nsB) })
  for (const ns of [nsA, nsB]) await runIn(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'])
  for (const n of [1, 2]) {
    await check(['ip', 'link', 'add', `a${n}`, 'netns', nsA, 'type', 'veth', 'peer', 'name', `b${n}`, 'netns', nsB])
    await check(['ip', '-n', nsA, 'addr', 'add', `10.91.${n}.1/24`, 'dev', `a${n}`])
    await check(['ip', '-n', nsB, 'addr', 'add', `10.91.${n}.2/24`, 'dev', `b${n}`])
    await check(['ip', '-n', nsA, 'link', 'set', `a${n}`, 'up'])
    await check(['ip', '-n', nsB, 'link', 'set', `b${n}`, 'up'])
  }
  await check(['ip', '-n', nsB, 'addr', 'add', '10.91.9.1/32', 'dev', 'lo'])
  await check(['ip', '-n', nsA, 'route', 'add', '10.91.9.1/32', 'via', '10.91.1.2'])
  // Only a socket bound to a2 takes this one (lookups for a bound socket skip other devices).
  await check(['ip', '-n', nsA, 'route', 'add', '10.91.9.1/32', 'via', '10.91.2.2', 'dev', 'a2', 'metric', '200'])
  // Marked datagrams use table 77, which routes through the second pair.
  await check(['ip', '-n', nsA, 'route', 'add', '10.91.9.1/32', 'via', '10.91.2.2', 'table', '77'])
  await check(['ip', '-n', nsA, 'rule', 'add', 'fwmark', '0x5a', 'lookup', '77', 'priority', '100'])
  return { nsA, nsB }
}

async function txPackets (ns: string, dev: string): Promise<number> {
  const j = JSON.parse(await check(['ip', '-n', ns, '-s', '-j', 'link', 'show', dev]))
  return Number(j[0].stats64.tx.packets)
}

t.test('fwmark and bindDevice pick the egress device', { skip }, async (t) => {
  const { nsA, nsB } = await twoPaths(t)
  const a: Peer = startPeer(nsA)
  const b: Peer = startPeer(nsB)
  t.teardown(async () => { await a.stop(); await b.stop() })
  await b.run(`ctx.sockets.rx = await ctx.tunio.openUdp({ bind: '10.91.9.1:7000' })`)
  const opened = await a.run(`
    const { openUdp } = ctx.tunio
    ctx.sockets.plain = await openUdp({ bind: '0.0.0.0:0' })
    ctx.sockets.marked = await openUdp({ bind: '0.0.0.0:0', fwmark: 0x5a })
    ctx.sockets.bound = await openUdp({ bind: '0.0.0.0:0', bindDevice: 'a2' })
    return { mark: ctx.sockets.marked.fwmark, device: ctx.sockets.bound.bindDevice, plainMark: ctx.sockets.plain.fwmark }`)
  t.same(opened, { mark: 0x5a, device: 'a2', plainMark: 0 }, 'the kernel reports the mark and the device')

  const N = 20
  for (const [name, via, source] of [['plain', 'a1', '10.91.1.1'], ['marked', 'a2', '10.91.2.1'], ['bound', 'a2', '10.91.2.1']] as const) {
    const other = via === 'a1' ? 'a2' : 'a1'
    const before = { [via]: await txPackets(nsA, via), [other]: await txPackets(nsA, other) }
    const receiving = b.run(`return await ctx.collect(ctx.sockets.rx, ${N}, 5000)`)
    await a.run(`
      const udp = ctx.sockets.${name}
      for (let i = 0; i < ${N}; i++) udp.send(Buffer.from('${name} ' + i), { address: '10.91.9.1', port: 7000 })`)
    const got = await receiving
    const viaDelta = await txPackets(nsA, via) - before[via]
    const otherDelta = await txPackets(nsA, other) - before[other]
    t.equal(got.length, N, `${name}: all ${N} datagrams arrived`)
    t.ok(got.every((d: any) => d.remote.address === source), `${name}: from ${source}, the address of ${via} (got ${[...new Set(got.map((d: any) => d.remote.address))].join(', ')})`)
    t.ok(viaDelta >= N, `${name}: ${via} sent ${viaDelta} packets (>= ${N})`)
    t.ok(otherDelta < N, `${name}: ${other} sent ${otherDelta} (not the datagrams)`)
  }
})

// The path of the pmtu tests, per IP version: namespaces a - r - b joined by veth (a0-r0,
// r1-b0), r routing between the two subnets, the second hop 1280 bytes (the narrow one: only
// the router's ICMP can tell a); a tunio peer in a and in b. IPv4 runs with IPv6 off.
const NARROW_PATH = {
  4: { a0: '10.92.1.1/24', r0: '10.92.1.2/24', r1: '10.92.2.1/24', b0: '10.92.2.2/24', addrFlags: [], routeFlags: [], sysctls: ['net.ipv4.ip_forward=1', 'net.ipv4.icmp_ratelimit=0'] },
  6: { a0: 'fd92:1::1/64', r0: 'fd92:1::2/64', r1: 'fd92:2::1/64', b0: 'fd92:2::2/64', addrFlags: ['nodad'], routeFlags: ['-6'], sysctls: ['net.ipv6.conf.all.forwarding=1', 'net.ipv6.icmp.ratelimit=0'] }
}

async function narrowPath (t: Test, family: 4 | 6): Promise<{ a: Peer, b: Peer }> {
  const p = NARROW_PATH[family]
  const nsA = await createNetns('a')
  const nsR = await createNetns('r')
  const nsB = await createNetns('b')
  t.teardown(async () => { await deleteNetns(nsA); await deleteNetns(nsR); await deleteNetns(nsB) })
  if (family === 4) {
    for (const ns of [nsA, nsR, nsB]) await runIn(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'])
  }
  await check(['ip', 'link', 'add', 'a0', 'netns', nsA, 'type', 'veth', 'peer', 'name', 'r0', 'netns', nsR])
  await check(['ip', 'link', 'add', 'r1', 'netns', nsR, 'type', 'veth', 'peer', 'name', 'b0', 'netns', nsB])
  const devices: Array<[string, 'a0' | 'r0' | 'r1' | 'b0']> = [[nsA, 'a0'], [nsR, 'r0'], [nsR, 'r1'], [nsB, 'b0']]
  for (const [ns, dev] of devices) await check(['ip', '-n', ns, 'addr', 'add', p[dev], 'dev', dev, ...p.addrFlags])
  await check(['ip', '-n', nsR, 'link', 'set', 'r1', 'mtu', '1280'])
  await check(['ip', '-n', nsB, 'link', 'set', 'b0', 'mtu', '1280'])
  for (const [ns, dev] of devices) await check(['ip', '-n', ns, 'link', 'set', dev, 'up'])
  const address = (cidr: string): string => cidr.split('/')[0]
  await check(['ip', '-n', nsA, ...p.routeFlags, 'route', 'add', 'default', 'via', address(p.r0)])
  await check(['ip', '-n', nsB, ...p.routeFlags, 'route', 'add', 'default', 'via', address(p.r1)])
  for (const sysctl of p.sysctls) await runIn(nsR, ['sysctl', '-qw', sysctl])
  const a = startPeer(nsA)
  const b = startPeer(nsB)
  t.teardown(async () => { await a.stop(); await b.stop() })
  return { a, b }
}

t.test("pmtu 'do' across a router to a smaller MTU: a 'pathMtu' event with that MTU, GSO back after the datagrams fit", { skip }, async (t) => {
  const { a, b } = await narrowPath(t, 4)
  await b.run(`ctx.sockets.rx = await ctx.tunio.openUdp({ bind: '10.92.2.2:7100' })`)
  const to = `{ address: '10.92.2.2', port: 7100 }`

  // 'dont' (the default): the router fragments; 1400-byte datagrams arrive whole.
  const plain = b.run(`return await ctx.collect(ctx.sockets.rx, 3, 4000)`)
  await a.run(`
    ctx.sockets.plain = await ctx.tunio.openUdp({ bind: '0.0.0.0:0' })
    ctx.sockets.plain.send([Buffer.alloc(1400, 1), Buffer.alloc(1400, 2), Buffer.alloc(1400, 3)], ${to})`)
  t.same((await plain).map((d: any) => d.length), [1400, 1400, 1400], "pmtu 'dont': fragmented on the way, delivered")

  const first = await a.run(`
    const udp = ctx.record('tx', await ctx.tunio.openUdp({ bind: '0.0.0.0:0', pmtu: 'do' }))
    ctx.sockets.tx = udp
    ctx.reading = udp.read()  // keeps POLLIN armed: ICMP errors arrive through POLLERR
    udp.send(Buffer.alloc(1400, 7), ${to})
    for (let i = 0; i < 60 && !ctx.events.tx.some((e) => e.type === 'pathMtu'); i++) await ctx.sleep(50)
    return ctx.events.tx`)
  const mtuEvents = first.filter((e: any) => e.type === 'pathMtu')
  t.same(mtuEvents, [{ type: 'pathMtu', remote: { address: '10.92.2.2', family: 'IPv4' }, mtu: 1280, source: 'icmp' }],
    'the router\'s fragmentation-needed becomes one pathMtu event with the narrow link\'s MTU')

  // Known now: the next datagram that does not fit is refused locally, with the same MTU (no new event).
  const second = await a.run(`
    ctx.events.tx.length = 0
    ctx.sockets.tx.send(Buffer.alloc(1400, 8), ${to})
    await ctx.sleep(200)
    return { events: ctx.events.tx, stats: ctx.sockets.tx.stats() }`)
  t.same(second.events.filter((e: any) => e.type === 'pathMtu'), [], 'the same MTU again: no second pathMtu event')
  t.match(second.events.filter((e: any) => e.type === 'peerError'), [{ errno: 'EMSGSIZE', origin: 'local', mtu: 1280 }], 'the refused datagram: peerError EMSGSIZE with mtu 1280')

  // GSO: a run of 1400s is refused as a whole (EMSGSIZE), GSO is suspended for this peer and
  // each datagram is refused alone (DF); then runs of 1200s (fit: 1228 <= 1280) go out, and
  // GSO comes back with the probe after its back-off. Every 1200-byte datagram arrives.
  const N = 8
  const ROUNDS = 10
  const fitting = b.run(`return (await ctx.collect(ctx.sockets.rx, ${N * ROUNDS}, 8000)).map((d) => d.length)`)
  const third = await a.run(`
    const udp = ctx.sockets.tx
    ctx.events.tx.length = 0
    const before = udp.stats()
    udp.send(Array.from({ length: ${N} }, (_, i) => Buffer.alloc(1400, i)), ${to})
    for (let r = 0; r < ${ROUNDS}; r++) {
      udp.send(Array.from({ length: ${N} }, (_, i) => Buffer.alloc(1200, i)), ${to})
      await ctx.sleep(60)
    }
    await ctx.sleep(100)
    const after = udp.stats()
    return { events: ctx.events.tx, gsoSends: after.gsoSends - before.gsoSends, gsoFallbacks: after.gsoFallbacks - before.gsoFallbacks,
      tooBig: after.drops.peer.messageSize - before.drops.peer.messageSize }`)
  const got = await fitting
  t.comment(JSON.stringify(third))
  t.equal(got.length, N * ROUNDS, `all ${N * ROUNDS} datagrams that fit arrived`)
  t.ok(got.every((n: number) => n === 1200), 'and only those')
  t.equal(third.tooBig, N, `the ${N} that did not fit were refused one by one (drops.peer.messageSize)`)
  t.ok(third.gsoFallbacks >= 1, 'the 1400-byte run was refused as a GSO send')
  const offload = third.events.filter((e: any) => e.type === 'offload')
  t.match(offload[0], { offload: 'gso', enabled: false, cause: 'pathMtu', errno: 'EMSGSIZE', remote: { address: '10.92.2.2' } }, 'GSO suspended for this peer')
  t.match(offload[offload.length - 1], { offload: 'gso', enabled: true }, 'and back once a probe went out')
  t.ok(third.gsoSends >= 1, `GSO sends after the probe (${third.gsoSends})`)
  t.same(third.events.filter((e: any) => e.type === 'pathMtu'), [], 'the route MTU read after the refusal is the same 1280: no new event')
})

t.test("pmtu 'do' over IPv6 (dual-stack socket): ICMPv6 packet too big becomes a 'pathMtu' event with source icmp6", { skip }, async (t) => {
  const { a, b } = await narrowPath(t, 6)
  await b.run(`ctx.sockets.rx = await ctx.tunio.openUdp({ bind: '[fd92:2::2]:7100' })`)
  const events = await a.run(`
    const udp = ctx.record('tx', await ctx.tunio.openUdp({ bind: '[::]:0', pmtu: 'do' }))
    ctx.sockets.tx = udp
    ctx.reading = udp.read()
    // Neighbour discovery may hold the first datagram back: send until the router answers.
    for (let i = 0; i < 40 && !ctx.events.tx.some((e) => e.type === 'pathMtu'); i++) {
      udp.send(Buffer.alloc(1400, 7), { address: 'fd92:2::2', port: 7100 })
      await ctx.sleep(50)
    }
    return ctx.events.tx.filter((e) => e.type === 'pathMtu')`)
  t.same(events, [{ type: 'pathMtu', remote: { address: 'fd92:2::2', family: 'IPv6' }, mtu: 1280, source: 'icmp6' }],
    'one pathMtu event with the narrow link\'s MTU, from the router\'s ICMPv6 packet too big')
  const fits = b.run(`return (await ctx.collect(ctx.sockets.rx, 1, 4000)).map((d) => d.length)`)
  await a.run(`ctx.sockets.tx.send(Buffer.alloc(1200, 1), { address: 'fd92:2::2', port: 7100 })`)
  t.same(await fits, [1200], 'a datagram that fits (1200 + 48 <= 1280) arrives')
})
