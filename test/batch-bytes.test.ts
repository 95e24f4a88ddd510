// batch.bytes() in each lease mode ('transfer', 'external', 'copy'): test/fixtures/batch-bytes.js
// runs in a child process started with the mode's flags and environment (as pool-lease.test.ts).
import t from 'tap'
import * as path from 'path'
import { DIST, LEASE_MODES, TRANSFER_FLAGS, runFixture } from './helpers/lease-modes'
import { netns, tcpBothWays } from './helpers/tunnels'

const fixture = path.join(__dirname, 'fixtures', 'batch-bytes.js')
const run = (nodeArgs: string[], env: NodeJS.ProcessEnv): Promise<Record<string, any>> => runFixture(fixture, nodeArgs, env)

const CLOSED = 'ERR_TUNIO_VIEW_CLOSED'
const INVALID = 'ERR_TUNIO_INVALID_ARG'
const range = (n: number, f: (i: number) => unknown): unknown[] => Array.from({ length: n }, (_, i) => f(i))

for (const { mode, args, env } of LEASE_MODES) {
  t.test(`batch.bytes() in ${mode} mode`, async (t) => {
    const r = await run(args, env)
    t.equal(r.mode, mode, 'the pool picked this mode')
    t.equal(r.leaseViewDetached, 0, 'a lease Buffer made before bytes() is detached')
    t.equal(r.sameView, true, 'bytes() returns the open view')
    t.equal(r.runs, 1, '8 packed leases are one run: one Buffer, not eight')
    t.same(r.layout, [range(8, () => 0), range(8, (i) => i * 124 + 16), range(8, () => 100), range(8, (i) => i * 124), range(8, (i) => i * 124 + 124)],
      'run, start, length, minStart, maxEnd of each packet (16 headroom + 100 + 8 tailroom)')
    t.same(r.seen, range(8, (i) => i + 1), 'each packet\'s bytes where the table says')
    t.same(r.headers, range(8, (i) => [`HD${i}!`, i + 1]), 'a header written in front through the view is what headers() reads')
    t.same(r.headerLengths, range(8, () => 106), 'and the new lengths (header + 100 + trailer)')
    t.equal(r.leaseLength, 106, 'a lease\'s length follows the view')
    t.equal(r.stillOpen, true)
    t.same(r.leaseBuffer, [106, 'HD3!', 4, 0xee, 0xff], 'a lease Buffer shows the packet as the view laid it out')
    t.same(r.closedByLeaseBuffer, [false, CLOSED, CLOSED, 0, 0], 'and closes the view: getters throw, kept arrays and Buffers are detached')
    t.same(r.reopened, [true, 0, 106], 'bytes() again: a new view, the lease Buffer detached')
    t.same(r.refused, [`${INVALID} datagrams`, `${INVALID} datagrams[1]`, `${INVALID} batch`, `${INVALID} batch`, `${INVALID} batch`, `${INVALID} batch`],
      'a packet moved outside its room is refused by send() (alone and in an array), headers(), seal(), split(), truncate()')
    t.same(r.afterRefusal, [8, true, '0', 0, true], 'nothing moved: every packet held, the view open, no counter used, nothing sent')
    t.equal(r.boundsNotTrusted, `${INVALID} batch`, 'widening maxEnd in the table does not widen the room')
    t.same(r.wholeRoom, ['ok', 124], 'the whole room (headroom + packet + tailroom) is allowed')
    t.same(r.afterSend, [false, CLOSED, 0, 0, 0, 'ERR_TUNIO_LEASE_RELEASED'], 'send() closes the view and takes the batch')
    const sent = range(8, (i) => i === 2 ? `100:${'03'.repeat(5)}:3` : `106:${Buffer.from(`HD${i}!`).toString('hex')}0${i + 1}:255`) as string[]
    t.same(r.received, sent.sort(), 'the datagrams are the packets as the view laid them out (header, payload, trailer)')
    t.same(r.afterRelease, [false, CLOSED, CLOSED, CLOSED, 0, null, 0, null], 'released: getters throw, kept Buffer and arrays read as empty, never the next lease')
    t.same(r.leaseReleased, [false, true, [0, -1, 1], [50, -1, 50], 'ERR_TUNIO_LEASE_RELEASED', 50], 'a lease released closes the view; the next shows it not held')
    t.equal(r.sealed, 4)
    t.same(r.afterSeal, [false, -8, 24, true, true], 'seal() closes the view; the next shows header and tag filling the room')
    t.same(r.afterOpen, [false, ['0', '1', String(2n ** 64n - 1n), '3'], [0, 0, -1, 1], [64, 64, -1, 64], 0x42, 0x42],
      'a packet forged through the view is dropped by open(); the others open to their bytes')
    t.same(r.keptRun, [400, 0x5a, 0x5a, 4], 'a batch collected with its view open: a kept run Buffer keeps its bytes, the packets count as leaked')
    t.same(r.keptReleased, [0, 4], 'the slot returns once that Buffer is collected')
    t.same(r.keptLeaseBuffer, [100, 0x5a, 0x5a, 1], 'a lease Buffer kept after its batch was collected keeps its bytes, never the next lease\'s')
    t.same(r.keptLeaseReleased, [0, 1], 'and its slot until it is collected')
    t.equal(r.gro.packets, 32)
    t.ok(r.gro.buffers <= 4, `a UDP GRO read of 32 datagrams needed ${r.gro.buffers} Buffers`)
    t.equal(r.inUseAtEnd, 0, 'every slot back in the pool')
  })
}

// A real round trip: TCP through two TUN devices in two namespaces joined by veth, each end's
// per-packet transform done in JavaScript in place through batch.bytes() (test/fixtures/
// js-transform-tunnel.js: a marker prepended into the headroom and the payload XORed, undone on
// the other side), in the default lease mode and in copy mode.
const tunnelFixture = path.join(__dirname, 'fixtures', 'js-transform-tunnel.js')

for (const { mode, env } of [LEASE_MODES[0], LEASE_MODES[2]]) {
  t.test(`a JS transform through bytes() carries TCP intact both ways (${mode} mode)`, {
    skip: process.getuid?.() !== 0 && 'needs root (network namespaces, TUN devices)'
  }, async (t) => {
    const wire = netns.createWire(mode === 'copy' ? 'y' : 'x')
    t.teardown(() => wire.cleanup())
    const start = async (side: 'a' | 'b'): Promise<any> => {
      const other = side === 'a' ? 'b' : 'a'
      const child = wire.spawn(side, 'env', [...Object.entries(env).map(([k, v]) => `${k}=${v as string}`), process.execPath,
        ...(mode === 'transfer' ? TRANSFER_FLAGS : []),
        tunnelFixture, DIST, 'tun0', `${netns.TUNNEL[side] as string}/24`, '5555', `${netns.WIRE[other] as string}:5555`])
      await netns.waitFor(() => child.output.includes('ready') || child.exitCode !== null, 20000 * netns.TIME_SCALE)
      if (child.exitCode !== null) throw new Error(`endpoint ${side} exited: ${child.output as string}`)
      return child
    }
    const stop = async (child: any): Promise<any> => {
      child.kill('SIGTERM')
      await child.exited
      return JSON.parse((child.output as string).trim().split('\n').reverse().find((l: string) => l.startsWith('{')) as string)
    }
    const a = await start('a')
    const b = await start('b')
    const MB = 16 * 1024 * 1024
    await tcpBothWays(t, wire, MB, { timeoutMs: 60000 })
    const fa = await stop(a)
    const fb = await stop(b)
    t.comment(`a: ${JSON.stringify(fa)}`)
    t.comment(`b: ${JSON.stringify(fb)}`)
    for (const [name, f] of [['a', fa], ['b', fb]]) {
      t.ok(f.transformed > 1000 && f.restored > 1000, `${name as string}: ${f.transformed as number} packets transformed out, ${f.restored as number} restored in`)
      t.equal(f.badMarker, 0, `${name as string}: every datagram carried the marker written through the view`)
      t.ok(f.buffersOut < f.transformed / 4, `${name as string}: ${f.buffersOut as number} Buffers for ${f.transformed as number} packets (not one per packet)`)
    }
    t.ok(fa.gsoSends > 0 && fa.superpacketsIn > 0, `a: the transformed segments still left in UDP_SEGMENT sends (${fa.gsoSends as number})`)
  })
}
