// Option validation of openTun(), openUdp() and new Pool(): every bad option is refused with
// ERR_TUNIO_INVALID_OPTION, err.option set and its name in the message; system failures carry
// their own code and errno (EADDRINUSE, EPERM without CAP_NET_ADMIN).
import t, { type Test } from 'tap'
import * as path from 'path'
import { execFileSync, spawnSync } from 'child_process'
import { openTun, openUdp, Pool } from '../lib/index'
import { binding } from '../lib/binding'

const dist = path.join(__dirname, '..', 'dist', 'index.js')

interface Case { what: string, options: unknown, option: string }

function expectInvalid (t: Test, err: unknown, option: string): void {
  const e = err as { code?: string, option?: string, message?: string }
  t.equal(e.code, 'ERR_TUNIO_INVALID_OPTION', 'code')
  t.equal(e.option, option, 'err.option')
  t.match(e.message, `"${option}"`, 'message names the option')
}

// Every public openTun option: wrong type and, for numbers, both ends of the range. Validation
// runs before the device is opened, so none of these touch /dev/net/tun.
const tunCases: Case[] = [
  { what: 'options not an object', options: null, option: 'options' },
  { what: 'options a string', options: 'tun0', option: 'options' },
  { what: 'options an array', options: [], option: 'options' },
  { what: 'attach with addresses', options: { name: 'tun0', attach: true, addresses: ['10.0.0.1/24'] }, option: 'addresses' },
  { what: 'attach with mtu', options: { name: 'tun0', attach: true, mtu: 1400 }, option: 'mtu' },
  { what: 'attach with up', options: { name: 'tun0', attach: true, up: false }, option: 'up' },
  { what: 'address with a zone', options: { addresses: ['fe80::1%eth0/64'] }, option: 'addresses' },
  { what: 'unknown key', options: { nmae: 'tun0' }, option: 'nmae' },
  { what: 'unknown key next to valid ones', options: { name: 'tun0', queue: 2 }, option: 'queue' },
  { what: 'name not a string', options: { name: 5 }, option: 'name' },
  { what: 'name empty', options: { name: '' }, option: 'name' },
  { what: 'name 16 bytes', options: { name: 'abcdefghijklmnop' }, option: 'name' },
  { what: 'name 8 chars but 16 bytes', options: { name: 'éééééééé' }, option: 'name' },
  { what: 'name with slash', options: { name: 'tun/0' }, option: 'name' },
  { what: 'name with space', options: { name: 'tun 0' }, option: 'name' },
  { what: 'name with colon', options: { name: 'tun:0' }, option: 'name' },
  { what: 'name ..', options: { name: '..' }, option: 'name' },
  { what: 'mode unknown', options: { mode: 'tuntap' }, option: 'mode' },
  { what: 'mode wrong type', options: { mode: 1 }, option: 'mode' },
  { what: 'offload string', options: { offload: 'yes' }, option: 'offload' },
  { what: 'offload number', options: { offload: 1 }, option: 'offload' },
  { what: 'queues 0', options: { queues: 0 }, option: 'queues' },
  { what: 'queues 257', options: { queues: 257 }, option: 'queues' },
  { what: 'queues fractional', options: { queues: 1.5 }, option: 'queues' },
  { what: 'queues string', options: { queues: '2' }, option: 'queues' },
  { what: 'queues NaN', options: { queues: NaN }, option: 'queues' },
  { what: 'attach not boolean', options: { attach: 'true' }, option: 'attach' },
  { what: 'multiQueue not boolean', options: { multiQueue: 1 }, option: 'multiQueue' },
  { what: 'persist not boolean', options: { persist: 1 }, option: 'persist' },
  { what: 'owner negative', options: { owner: -1 }, option: 'owner' },
  { what: 'owner (uid_t)-1', options: { owner: 2 ** 32 - 1 }, option: 'owner' },
  { what: 'owner string', options: { owner: 'root' }, option: 'owner' },
  { what: 'group negative', options: { group: -1 }, option: 'group' },
  { what: 'group (gid_t)-1', options: { group: 2 ** 32 - 1 }, option: 'group' },
  { what: 'mtu 67', options: { mtu: 67 }, option: 'mtu' },
  { what: 'mtu 65536', options: { mtu: 65536 }, option: 'mtu' },
  { what: 'mtu string', options: { mtu: '1500' }, option: 'mtu' },
  { what: 'addresses not an array', options: { addresses: '10.8.0.1/24' }, option: 'addresses' },
  { what: 'addresses without prefix', options: { addresses: ['10.8.0.1'] }, option: 'addresses' },
  { what: 'addresses IPv4 prefix 33', options: { addresses: ['10.8.0.1/33'] }, option: 'addresses' },
  { what: 'addresses IPv4 octet 256', options: { addresses: ['256.8.0.1/24'] }, option: 'addresses' },
  { what: 'addresses IPv6 prefix 129', options: { addresses: ['fd08::1/129'] }, option: 'addresses' },
  { what: 'addresses bad IPv6', options: { addresses: ['fd08::zz/64'] }, option: 'addresses' },
  { what: 'addresses hostname', options: { addresses: ['localhost/8'] }, option: 'addresses' },
  { what: 'addresses empty string', options: { addresses: [''] }, option: 'addresses' },
  { what: 'addresses number entry', options: { addresses: [24] }, option: 'addresses' },
  { what: 'addresses second entry bad', options: { addresses: ['10.8.0.1/24', 'fd08::1/'] }, option: 'addresses' },
  { what: 'up not boolean', options: { up: 'yes' }, option: 'up' },
  { what: 'txqueuelen 0', options: { txqueuelen: 0 }, option: 'txqueuelen' },
  { what: 'txqueuelen 2^31', options: { txqueuelen: 2 ** 31 }, option: 'txqueuelen' },
  { what: 'gsoMaxSize 1279', options: { gsoMaxSize: 1279 }, option: 'gsoMaxSize' },
  { what: 'gsoMaxSize 65537', options: { gsoMaxSize: 65537 }, option: 'gsoMaxSize' },
  { what: 'split not boolean', options: { split: 0 }, option: 'split' },
  { what: 'coalesceTcp not boolean', options: { coalesceTcp: 'on' }, option: 'coalesceTcp' },
  { what: 'coalesceUdp not boolean', options: { coalesceUdp: null }, option: 'coalesceUdp' },
  { what: 'batchSize 0', options: { batchSize: 0 }, option: 'batchSize' },
  { what: 'batchSize 1025', options: { batchSize: 1025 }, option: 'batchSize' },
  { what: 'writeQueueLength 0', options: { writeQueueLength: 0 }, option: 'writeQueueLength' },
  { what: 'writeQueueLength 2^20+1', options: { writeQueueLength: (1 << 20) + 1 }, option: 'writeQueueLength' },
  { what: 'pool a plain object', options: { pool: { capBytes: 1 << 20 } }, option: 'pool' },
  { what: 'pool null', options: { pool: null }, option: 'pool' }
]

const badEndpoints: Array<[string, unknown]> = [
  ['no port', '127.0.0.1'],
  ['empty port', '127.0.0.1:'],
  ['port 65536', '127.0.0.1:65536'],
  ['hostname', 'localhost:80'],
  ['unbracketed IPv6', '::1:80'],
  ['bad IPv4', '127.0.0.256:80'],
  ['bad IPv6', '[::g]:80'],
  ['number', 80],
  ['null', null],
  ['object without port', { address: '127.0.0.1' }],
  ['object with string port', { address: '127.0.0.1', port: '80' }],
  ['object with negative port', { address: '127.0.0.1', port: -1 }],
  ['object with hostname', { address: 'localhost', port: 80 }],
  ['object without address', { port: 80 }],
  ['zone of no interface', '[fe80::1%nosuch0]:80'],
  ['zone on IPv4', '[127.0.0.1%lo]:80'],
  ['empty zone', '[fe80::1%]:80'],
  ['zone index out of range', '[fe80::1%4294967296]:80']
]

const udpCases: Case[] = [
  { what: 'options undefined', options: undefined, option: 'options' },
  { what: 'options null', options: null, option: 'options' },
  { what: 'options an array', options: [], option: 'options' },
  { what: 'bind missing', options: {}, option: 'bind' },
  { what: 'unknown key', options: { bind: '127.0.0.1:0', reuseport: true }, option: 'reuseport' },
  ...badEndpoints.map(([what, bind]) => ({ what: `bind ${what}`, options: { bind }, option: 'bind' })),
  ...badEndpoints.map(([what, connect]) => ({ what: `connect ${what}`, options: { bind: '127.0.0.1:0', connect }, option: 'connect' })),
  { what: 'ipv6Only not boolean', options: { bind: '[::]:0', ipv6Only: 1 }, option: 'ipv6Only' },
  { what: 'reusePort not boolean', options: { bind: '127.0.0.1:0', reusePort: 'yes' }, option: 'reusePort' },
  { what: 'innerFlowSteering without reusePort', options: { bind: '127.0.0.1:0', innerFlowSteering: 2 }, option: 'innerFlowSteering' },
  { what: 'innerFlowSteering 0', options: { bind: '127.0.0.1:0', reusePort: true, innerFlowSteering: 0 }, option: 'innerFlowSteering' },
  { what: 'recvBufferSize 1023', options: { bind: '127.0.0.1:0', recvBufferSize: 1023 }, option: 'recvBufferSize' },
  { what: 'recvBufferSize 2^30+1', options: { bind: '127.0.0.1:0', recvBufferSize: 2 ** 30 + 1 }, option: 'recvBufferSize' },
  { what: 'recvBufferSize string', options: { bind: '127.0.0.1:0', recvBufferSize: '1m' }, option: 'recvBufferSize' },
  { what: 'sendBufferSize 1023', options: { bind: '127.0.0.1:0', sendBufferSize: 1023 }, option: 'sendBufferSize' },
  { what: 'sendBufferSize fractional', options: { bind: '127.0.0.1:0', sendBufferSize: 4096.5 }, option: 'sendBufferSize' },
  { what: 'gso string', options: { bind: '127.0.0.1:0', gso: 'maybe' }, option: 'gso' },
  { what: 'gro number', options: { bind: '127.0.0.1:0', gro: 0 }, option: 'gro' },
  { what: 'batchSize 0', options: { bind: '127.0.0.1:0', batchSize: 0 }, option: 'batchSize' },
  { what: 'batchSize 129', options: { bind: '127.0.0.1:0', batchSize: 129 }, option: 'batchSize' },
  { what: 'sendQueueLength 0', options: { bind: '127.0.0.1:0', sendQueueLength: 0 }, option: 'sendQueueLength' },
  { what: 'sendQueueLength 2^20+1', options: { bind: '127.0.0.1:0', sendQueueLength: (1 << 20) + 1 }, option: 'sendQueueLength' },
  { what: 'pool a plain object', options: { bind: '127.0.0.1:0', pool: {} }, option: 'pool' }
]

const poolCases: Case[] = [
  { what: 'options null', options: null, option: 'pool' },
  { what: 'options a number', options: 1 << 20, option: 'pool' },
  { what: 'options an array', options: [], option: 'pool' },
  { what: 'unknown key', options: { cap: 1 << 20 }, option: 'cap' },
  { what: 'capBytes below the minimum', options: { capBytes: 128 * 1024 - 1 }, option: 'capBytes' },
  { what: 'capBytes 0', options: { capBytes: 0 }, option: 'capBytes' },
  { what: 'capBytes above 2^40', options: { capBytes: 2 ** 40 + 1 }, option: 'capBytes' },
  { what: 'capBytes string', options: { capBytes: '64M' }, option: 'capBytes' },
  { what: 'capBytes fractional', options: { capBytes: 200000.5 }, option: 'capBytes' },
  { what: 'capBytes Infinity', options: { capBytes: Infinity }, option: 'capBytes' }
]

t.test('openTun refuses every bad option by name', async (t) => {
  for (const c of tunCases) {
    await t.test(c.what, async (t) => {
      let err: unknown
      try { await openTun(c.options as never) } catch (e) { err = e }
      t.ok(err, 'rejected')
      expectInvalid(t, err, c.option)
    })
  }
})

// An address's text has one check, the core's parse_cidr (src-native/core/netlink.cc, doctest
// test-native/netlink_test.cc): openTun() hands the strings on and the addon refuses them
// before opening anything, with the reason a route's `to` gets as well.
t.test('a TUN address is refused with the core\'s reason, also when the addon is called directly', async (t) => {
  const reasons: Array<[unknown, RegExp]> = [
    ['10.8.0.1', /invalid address '10\.8\.0\.1': missing \/prefix/],
    ['10.8.0.1/33', /IPv4 prefix must be 0\.\.32/],
    ['fd08::1/129', /IPv6 prefix must be 0\.\.128/],
    ['fe80::1%eth0/64', /takes no zone/],
    ['localhost/8', /not an IPv4 or IPv6 address/],
    [24, /must be a CIDR string like "10\.8\.0\.1\/24", got 24/]
  ]
  for (const [address, reason] of reasons) {
    await t.rejects(openTun({ name: 'tvalid0', addresses: [address as string] }), { code: 'ERR_TUNIO_INVALID_OPTION', option: 'addresses', message: reason }, String(address))
  }
  // Past lib/tun.ts: no string, a hole, a sparse array of 2^32-1 entries. A clear error, no device.
  const { NativeTun } = binding() as unknown as { NativeTun: new (...args: unknown[]) => { close: () => void } }
  const pool = new Pool()
  for (const addresses of [[24], [undefined, '10.0.0.1/24'], new Array(2 ** 32 - 1)]) {
    t.throws(() => new NativeTun({ name: 'tvalid0', addresses }, pool.native, () => {}).close(),
      { code: 'ERR_TUNIO_INVALID_OPTION', option: 'addresses', message: /invalid address ''/ })
  }
})

t.test('openUdp refuses every bad option by name', async (t) => {
  for (const c of udpCases) {
    await t.test(c.what, async (t) => {
      let err: unknown
      try {
        const udp = await openUdp(c.options as never)
        udp.close()
      } catch (e) { err = e }
      t.ok(err, 'rejected')
      expectInvalid(t, err, c.option)
    })
  }
})

t.test('new Pool refuses every bad option by name', async (t) => {
  for (const c of poolCases) {
    t.test(c.what, async (t) => {
      let err: unknown
      try { void new Pool(c.options as never) } catch (e) { err = e }
      t.ok(err, 'thrown')
      expectInvalid(t, err, c.option)
    })
  }
})

t.test('valid edge values are accepted', async (t) => {
  t.doesNotThrow(() => new Pool({ capBytes: 1 << 20 }))
  t.doesNotThrow(() => new Pool({}))
  for (const bind of ['127.0.0.1:0', { address: '127.0.0.1', port: 0 }, '[::1]:0', ':0']) {
    const udp = await openUdp({ bind, gso: false, gro: 'auto', batchSize: 128, recvBufferSize: 1024, sendQueueLength: 1 })
    t.type(udp.local.port, 'number', `bind ${JSON.stringify(bind)}`)
    t.ok(udp.local.port > 0)
    udp.close()
  }
})

t.test('send(…, to) validates `to` like an option', async (t) => {
  const udp = await openUdp({ bind: '127.0.0.1:0' })
  t.teardown(() => udp.close())
  for (const [what, to] of badEndpoints) {
    if (to === null) continue // null/undefined `to` mean "no override"
    let err: unknown
    try { udp.send([Buffer.from('x')], to as never) } catch (e) { err = e }
    t.ok(err, `to: ${what} throws`)
    expectInvalid(t, err, 'to')
  }
})

// An endpoint's text has one check, the core's parser (src-native/core/endpoint_text.h,
// doctest test-native/endpoint_text_test.cc): bind, connect and `to` go to the addon as given
// and a lease's remote, local and ecn are checked by the addon's SendMetaFieldFromJs (setMeta,
// binding.sendMeta), all with the core's reason.
// An interface name has one check, the core's valid_ifname (src-native/core/netlink.cc, doctest
// test-native/netlink_test.cc): openTun's name and openUdp's bindDevice are refused by the
// addon, before anything is opened, with its reason.
t.test('an interface name is refused with the core\'s reason', async (t) => {
  const reasons: Array<[string, RegExp]> = [
    ['abcdefghijklmnop', /invalid interface name 'abcdefghijklmnop': longer than 15 bytes/],
    ['éééééééé', /longer than 15 bytes/],
    ['tun/0', /contains '\/', ':', NUL or whitespace/],
    ['a\u0000b', /contains '\/', ':', NUL or whitespace/],
    ['..', /'\.' and '\.\.' are reserved/]
  ]
  for (const [name, reason] of reasons) {
    await t.rejects(openTun({ name }), { code: 'ERR_TUNIO_INVALID_OPTION', option: 'name', message: reason }, `name ${JSON.stringify(name)}`)
    await t.rejects(openUdp({ bind: '127.0.0.1:0', bindDevice: name }), { code: 'ERR_TUNIO_INVALID_OPTION', option: 'bindDevice', message: reason }, `bindDevice ${JSON.stringify(name)}`)
  }
  // A template is for a device the kernel names: not to attach to, and never a socket's device.
  await t.rejects(openTun({ name: 'tun%x' }), { option: 'name', message: /'%' must be followed by 'd'/ })
  await t.rejects(openTun({ name: 'tun%d', attach: true }), { option: 'name', message: /'%' is not allowed here/ })
  await t.rejects(openUdp({ bind: '127.0.0.1:0', bindDevice: 'tun%d' }), { option: 'bindDevice', message: /'%' is not allowed here/ })
})

/** The loopback interface's index in this network namespace. */
function lo (): number { return (binding() as unknown as { interfaceIndex: (name: string) => number }).interfaceIndex('lo') }

t.test('an endpoint is refused with the core\'s reason wherever it is taken', async (t) => {
  const reasons: Array<[unknown, RegExp]> = [
    ['127.0.0.1', /"127\.0\.0\.1" is not address:port \(use \[addr\]:port for IPv6\)/],
    ['127.0.0.1:65536', /port 65536 is out of range 0-65535/],
    ['localhost:80', /"localhost" is not an IPv4 or IPv6 address/],
    ['[fe80::1%nosuch0]:80', /no interface named "nosuch0" \(the zone of "fe80::1%nosuch0"\) in this network namespace/],
    ['[127.0.0.1%lo]:80', /"127\.0\.0\.1%lo": a zone \(%interface\) follows an IPv6 address only/],
    ['[fe80::1%4294967296]:80', /zone index 4294967296 is out of range/],
    [{ address: '127.0.0.1', port: 80.5 }, /port 80\.5 is out of range 0-65535/],
    [{ address: '127.0.0.1', port: '80' }, /port must be a number from 0 to 65535/],
    [80, /must be "address:port" or \{ address, port \}/]
  ]
  const udp = await openUdp({ bind: '127.0.0.1:0' })
  t.teardown(() => udp.close())
  const pool = new Pool()
  const lease = pool.leaseFrom(Buffer.from('x'))
  const batch = pool.leaseBatch(1, 1)
  t.teardown(() => { lease.release(); batch.release() })
  for (const [value, reason] of reasons) {
    const what = JSON.stringify(value)
    await t.rejects(openUdp({ bind: value as string }), { code: 'ERR_TUNIO_INVALID_OPTION', option: 'bind', message: reason }, `bind ${what}`)
    await t.rejects(openUdp({ bind: '127.0.0.1:0', connect: value as string }), { code: 'ERR_TUNIO_INVALID_OPTION', option: 'connect', message: reason }, `connect ${what}`)
    t.throws(() => udp.send([Buffer.from('x')], value as string), { code: 'ERR_TUNIO_INVALID_OPTION', option: 'to', message: reason }, `send to ${what}`)
    for (const l of [lease, batch.at(0) as typeof lease]) {
      t.throws(() => { l.remote = value as string }, { code: 'ERR_TUNIO_INVALID_ARG', argument: 'remote', message: reason }, `remote ${what}`)
    }
  }
  t.throws(() => { lease.remote = '192.0.2.1:0' }, { argument: 'remote', message: /port 0 is not a destination/ })
  lease.remote = '[::ffff:192.0.2.1]:7'
  t.same(lease.remote, { address: '192.0.2.1', family: 'IPv4', port: 7 }, 'a v4-mapped remote is the IPv4 peer it names')
  const first = batch.at(0) as typeof lease
  for (const remote of ['[fe80::1%lo]:7', `[fe80::1%${lo()}]:7`]) {
    lease.remote = remote
    first.remote = remote
    t.same(lease.remote, { address: 'fe80::1%lo', family: 'IPv6', port: 7 }, `${remote}: the zone reads back by name`)
    t.same(first.remote, lease.remote, 'on a lease of a batch as on a lease of the pool')
  }
  first.remote = undefined
  lease.remote = undefined

  // local and ecn: the same one check for a lease of the pool and of a batch.
  const badMeta: Array<[string, unknown, RegExp]> = [
    ['local', 'fe80::1%lo', /"fe80::1%lo": a local address takes no zone \(the interface is ifindex\)/],
    ['local', '192.0.2.1:5', /"192\.0\.2\.1:5" is not an IPv4 or IPv6 address/],
    ['local', 5, /must be an IPv4 or IPv6 address of this host, or \{ address, ifindex\? \}/],
    ['local', { address: '192.0.2.1', ifindex: -1 }, /ifindex must be an integer between 0 and 4294967295, got -1/],
    ['local', { address: '192.0.2.1', ifindex: '3' }, /ifindex must be an integer between 0 and 4294967295/],
    ['ecn', 4, /must be 0 \(not ECT\), 1 \(ECT\(1\)\), 2 \(ECT\(0\)\) or 3 \(CE\), got 4/],
    ['ecn', 1.5, /got 1\.5/],
    ['ecn', '1', /must be 0 \(not ECT\), 1 \(ECT\(1\)\), 2 \(ECT\(0\)\) or 3 \(CE\)/]
  ]
  for (const [field, value, reason] of badMeta) {
    for (const l of [lease, first]) {
      t.throws(() => { (l as unknown as Record<string, unknown>)[field] = value }, { code: 'ERR_TUNIO_INVALID_ARG', argument: field, message: reason }, `${field} = ${JSON.stringify(value)}`)
    }
  }
  for (const l of [lease, first]) {
    l.local = { address: '::ffff:192.0.2.9', ifindex: 3 }
    t.same(l.local, { address: '192.0.2.9', family: 'IPv4', ifindex: 3 })
    l.ecn = 3
    t.equal(l.ecn, 3)
  }

  // Past lib/: the addon applies the same parser, and a value of another type is a thrown error.
  const b = binding() as unknown as { NativeUdp: new (...args: unknown[]) => { close: () => void } }
  for (const bind of [undefined, null, 5, {}, { address: 5, port: 1 }, { address: '127.0.0.1', port: 2 ** 53 }, '1.2.3.4\u00005:6']) {
    t.throws(() => new b.NativeUdp({ bind }, pool.native, () => {}).close(), { code: 'ERR_TUNIO_INVALID_OPTION', option: 'bind' }, `NativeUdp bind ${String(bind)}`)
  }
  const native = (batch as unknown as { native: { setMeta: (...args: unknown[]) => void } }).native
  for (const remote of [5, 'x', { address: '127.0.0.1', port: 0 }, { address: '127.0.0.1', port: -1 }]) {
    t.throws(() => native.setMeta(0, remote), { code: 'ERR_TUNIO_INVALID_ARG', argument: 'remote' }, `setMeta remote ${JSON.stringify(remote)}`)
  }
})

t.test('port in use: binding twice without reusePort is ERR_TUNIO_UDP_OPEN / EADDRINUSE', async (t) => {
  for (const host of ['127.0.0.1', '[::1]']) {
    const a = await openUdp({ bind: `${host}:0` })
    t.teardown(() => a.close())
    const addr = `${host}:${a.local.port}`
    await t.rejects(openUdp({ bind: addr }), { code: 'ERR_TUNIO_UDP_OPEN', errno: 'EADDRINUSE', syscall: 'bind' }, addr)
    // one side without reusePort is still a conflict
    await t.rejects(openUdp({ bind: addr, reusePort: true }), { code: 'ERR_TUNIO_UDP_OPEN', errno: 'EADDRINUSE' })
  }
  // both with reusePort share the port
  const r1 = await openUdp({ bind: '127.0.0.1:0', reusePort: true })
  const r2 = await openUdp({ bind: `127.0.0.1:${r1.local.port}`, reusePort: true })
  t.equal(r2.local.port, r1.local.port, 'reusePort on both: same port')
  r2.close()
  r1.close()
})

function hasIpNetns (): boolean {
  return spawnSync('ip', ['netns', 'list']).status === 0 && spawnSync('setpriv', ['--version']).status === 0
}

t.test('openTun without CAP_NET_ADMIN: ERR_TUNIO_TUN_OPEN / EPERM', { skip: !hasIpNetns() && 'needs ip netns and setpriv (util-linux)' }, async (t) => {
  // A throwaway namespace, so that a wrongly successful open cannot leave a device on the host.
  // Stays root (so /dev/net/tun, mode 0600 on Debian, can be opened) but with every
  // capability gone from the bounding set: exec recomputes root's caps without CAP_NET_ADMIN.
  const ns = `tunio-opt-${process.pid}`
  execFileSync('ip', ['netns', 'add', ns])
  t.teardown(() => { spawnSync('ip', ['netns', 'del', ns]) })
  const code = `
    require(${JSON.stringify(dist)}).openTun({ name: 'tunio-nocap' }).then(
      (tun) => { tun.close(); console.log(JSON.stringify({ opened: true })) },
      (e) => console.log(JSON.stringify({ code: e.code, errno: e.errno, syscall: e.syscall, message: e.message })))`
  const r = spawnSync('ip', ['netns', 'exec', ns, 'setpriv', '--inh-caps=-all', '--bounding-set=-all', '--',
    process.execPath, '-e', code], { encoding: 'utf8', timeout: 60_000 })
  t.equal(r.status, 0, `child exit (stderr: ${r.stderr})`)
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}')
  t.equal(out.code, 'ERR_TUNIO_TUN_OPEN')
  t.equal(out.errno, 'EPERM')
  t.match(out.syscall, /TUNSETIFF/)
  t.match(out.message, /EPERM|not permitted/)
  t.match(out.message, /needs CAP_NET_ADMIN/, 'the message names the capability')
})
