// The smaller defects of issue 15, each through the public API against the real kernel
// (test/fixtures/input-defects.js runs in a throwaway namespace with a veth pair for
// link-local addresses and opens its own TUN devices): leases of a batch released or sent as
// a whole; the same lease or batch twice in one send()/write(); a released batch; the Buffer
// of a released lease; no destination on an unconnected socket; zone addresses; the errno of
// a TUN deleted from outside; link options with attach; arrays as options.
import t from 'tap'
import * as path from 'path'
import { check, createNetns, deleteNetns, netnsSkipReason, runFixtureIn } from './helpers/netns'
import { Aead, Pool, openUdp } from '../lib/index'

const fixture = path.join(__dirname, 'fixtures', 'input-defects.js')
const dist = path.join(__dirname, '..', 'dist', 'index.js')
const skip = netnsSkipReason()

t.test('input defects', { skip }, async (t) => {
  const ns = await createNetns('d')
  t.teardown(() => deleteNetns(ns))
  await check(['ip', '-n', ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1'])
  for (const [dev, addr] of [['v0', 'fe80::1/64'], ['v1', 'fe80::2/64']]) {
    await check(['ip', '-n', ns, 'link', 'set', dev, 'up'])
    await check(['ip', '-n', ns, 'addr', 'add', addr, 'dev', dev, 'nodad'])
  }
  const o = await runFixtureIn(ns, fixture, [dist], 120_000)

  for (const k of Object.keys(o).filter((k) => k.endsWith('Error'))) t.fail(`${k.slice(0, -5)} threw: ${String(o[k])}`)
  const released = 'ERR_TUNIO_LEASE_RELEASED'
  t.same(o.afterBatchRelease, [false, 0, released, released], 'a lease made after batch.release() reads as released')
  t.same(o.afterBatchSend, [false, 0, released], 'a lease made after the batch was sent reads as released')

  t.match(o.udpSameLeaseTwice, { code: 'ERR_TUNIO_INVALID_ARG', argument: 'datagrams[1]' }, 'udp.send([l, l]) is refused')
  t.same(o.udpSameLeaseTwiceAfter, [true, 0], 'and nothing moved or went out: the lease is still held')
  t.match(o.tunSameLeaseTwice, { code: 'ERR_TUNIO_INVALID_ARG', argument: 'packets[1]' }, 'tun.write([l, l]) is refused')
  t.same(o.tunSameLeaseTwiceAfter, [true, 0], 'and nothing moved or was written')
  t.match(o.batchLeaseTwice, { code: 'ERR_TUNIO_INVALID_ARG', argument: 'datagrams[1]' }, 'a batch lease twice is refused')
  t.match(o.batchAndItsLease, { code: 'ERR_TUNIO_INVALID_ARG', argument: 'datagrams[1]' }, 'a batch and one of its leases is refused')
  t.same(o.batchAndItsLeaseAfter, [2, true, true], 'and the batch kept its packets')
  t.equal(o.laterGoodSend, 3, 'the same lease and batch send normally afterwards')
  t.same(o.laterGoodSendAfter, [false, 0])
  t.equal(o.receivedCount, 5, 'everything sent arrived once')

  t.match(o.tunReleasedBatch, { code: released, argument: 'packets' }, 'tun.write(releasedBatch) is refused, not 0')
  t.match(o.udpReleasedBatch, { code: released, argument: 'datagrams' }, 'udp.send(releasedBatch) is refused')
  t.match(o.udpSameBatchTwice, { code: 'ERR_TUNIO_INVALID_ARG', argument: 'datagrams[1]' }, 'udp.send([b, b]) is refused, not 3')
  t.equal(o.udpSameBatchTwiceAfter, 3, 'and the batch kept its packets')
  t.equal(o.emptyBatch, 0, 'a batch of no packets sends nothing and is no error')
  t.equal(o.oneByOne, 0, 'nor does a batch whose packets were released one by one')

  t.match(o.tunReleasedView, { code: 'ERR_TUNIO_INVALID_ARG', argument: 'packets' }, 'the Buffer of a released lease is refused with a code')
  t.equal(o.tunReleasedViewMalformed, 0, 'not counted as a malformed packet')
  t.match(o.udpReleasedView, { code: 'ERR_TUNIO_INVALID_ARG', argument: 'datagrams[1]' })

  const noDest = { code: 'ERR_TUNIO_INVALID_ARG', argument: 'to', errno: 'EDESTADDRREQ' }
  t.match(o.noDestination, noDest, 'udp.send(buf) without a destination on an unconnected socket is refused at once')
  t.match(o.noDestinationLease, noDest, 'so is a lease without a sender')
  t.equal(o.noDestinationLeaseAfter, true, 'which stays held')
  t.match(o.noDestinationBatch, noDest, 'and a batch from the pool')
  t.equal(o.echoWithoutTo, 1, 'a received batch goes back to its sender without `to`')
  t.same(o.echoed, ['reply to me'])
  t.equal(o.connectedWithoutTo, 1, 'a connected socket needs no `to`')
  t.same(o.connectedArrived, ['connected'])

  t.same(o.zoneLocal, ['fe80::1%v0', 'fe80::2%v1'], 'bind to link-local addresses with a zone by name and by index')
  t.equal(o.zoneSend, 1)
  t.same(o.zoneReceived, [['link-local', 'fe80::1%v1']], 'the datagram arrives; its sender carries the zone it came in on')
  t.equal(o.zoneReply, 1, 'which answers it')
  t.same(o.zoneReplyArrived, ['back'])
  t.match(o.zoneUnknown, { code: 'ERR_TUNIO_INVALID_OPTION', option: 'bind', message: /no interface named "nosuch0"/ })
  t.match(o.zoneOnIPv4, { code: 'ERR_TUNIO_INVALID_OPTION', option: 'bind' })
  t.match(o.zoneInTo, { code: 'ERR_TUNIO_INVALID_OPTION', option: 'to' })
  t.match(o.zoneTunAddress, { code: 'ERR_TUNIO_INVALID_OPTION', option: 'addresses' }, 'a TUN address with a zone is refused, naming the option')

  t.equal(o.headersShared, true, 'batch.headers() into a Uint8Array over a SharedArrayBuffer')
  t.match(o.headersOutOfBounds, { code: 'ERR_TUNIO_INVALID_ARG', argument: 'out' }, 'an out array outside its resized buffer is refused')
  t.match(o.headersOutOfBoundsNative, { code: 'ERR_TUNIO_INVALID_ARG' }, 'by the addon too (not written through)')
  t.match(o.headersLengthsNative, { code: 'ERR_TUNIO_INVALID_ARG' }, 'so is a lengths array outside its buffer')
  t.match(o.splitOutOfBounds, { code: 'ERR_TUNIO_INVALID_ARG', argument: 'groups' }, 'and a groups array for split()')
  t.match(o.splitOutOfBoundsNative, { code: 'ERR_TUNIO_INVALID_ARG' })
  t.equal(o.outputArraysAfter, 4, 'nothing moved')
  t.same(o.deletedTun, { code: 'ERR_TUNIO_TUN_READ', errno: 'EBADFD' }, 'a TUN deleted from outside reads EBADFD, not E77')

  t.match(o.attachWithAddresses, { code: 'ERR_TUNIO_INVALID_OPTION', option: 'addresses' }, 'attach refuses addresses')
  t.match(o.attachWithMtu, { code: 'ERR_TUNIO_INVALID_OPTION', option: 'mtu' }, 'and the other link options')
  for (const k of ['tunArray', 'udpArray']) t.match(o[k], { code: 'ERR_TUNIO_INVALID_OPTION', option: 'options' }, `${k}: an array is not options`)
  t.match(o.poolArray, { code: 'ERR_TUNIO_INVALID_OPTION', option: 'pool' }, 'new Pool([]) too')
  t.equal(o.links, 1, 'no TUN device was created by a refused call')
  t.equal(o.inUseBytes, 0, 'every slot is back in the pool')
})

// What the property tests (api-properties.test.ts) found, pinned down one by one.
t.test('found by the property tests', async (t) => {
  const pool = new Pool({ capBytes: 1 << 20 })
  const rx = await openUdp({ bind: '127.0.0.1:0', pool })
  const tx = await openUdp({ bind: '127.0.0.1:0', pool })
  t.teardown(() => { rx.close(); tx.close() })
  const l = pool.lease(30)
  l.buffer.fill(1)
  t.throws(() => tx.send([l.buffer, l], `127.0.0.1:${rx.local.port}`), { code: 'ERR_TUNIO_INVALID_ARG', argument: 'datagrams[0]' },
    'a view of a lease moving in the same call is refused before anything moves')
  t.equal(l.held, true, 'and the lease is still held')
  l.release()
  for (const [what, options, option] of [
    ['a BigInt option', { bind: ':0', batchSize: 1n }, 'batchSize'],
    ['a BigInt bool option', { bind: ':0', ipv6Only: [0n] }, 'ipv6Only'],
    ['a port without toString', { bind: { address: '127.0.0.1', port: Object.create(null) } }, 'bind']
  ] as Array<[string, object, string]>) {
    await t.rejects(openUdp(options as never), { code: 'ERR_TUNIO_INVALID_OPTION', option }, `${what}: a coded error, not a TypeError from the message`)
  }
  for (const algorithm of [Object.create(null), 'toString', ['chacha20-poly1305']]) {
    t.throws(() => new Aead({ algorithm, key: new Uint8Array(32) } as never), { code: 'ERR_TUNIO_INVALID_OPTION', option: 'algorithm' })
  }
  t.throws(() => new Aead([] as never), { code: 'ERR_TUNIO_INVALID_OPTION', option: 'options' })
  const batch = pool.leaseBatch(2, 10)
  const ab = new ArrayBuffer(8)
  const detached = new Float64Array(ab)
  structuredClone(ab, { transfer: [ab] })
  t.equal(batch.at(detached as never), undefined, 'batch.at() of a non-number is undefined, never a TypeError from coercing it')
  t.throws(() => batch.at(0)?.truncate(-1), { code: 'ERR_TUNIO_INVALID_ARG', argument: 'length' }, 'a batch lease names truncate()\'s argument')
  batch.release()
})
