// Single leases (pool.lease, pool.leaseFrom, lease.set) in each way a pool can make their
// Buffers: 'transfer' (ArrayBuffer.prototype.transfer), 'external' (an external Buffer per
// lease) and 'copy' (no external buffers). Each mode runs test/fixtures/lease-modes.js in a
// child process started with that mode's flags and environment (see docs/ownership.md).
import t from 'tap'
import * as path from 'path'
import { LEASE_MODES, runFixture } from './helpers/lease-modes'

const fixture = path.join(__dirname, 'fixtures', 'lease-modes.js')
const run = (nodeArgs: string[], env: NodeJS.ProcessEnv): Promise<Record<string, any>> => runFixture(fixture, nodeArgs, env)

for (const { mode, args, env } of LEASE_MODES) {
  t.test(`single leases in ${mode} mode`, async (t) => {
    const r = await run(args, env)
    t.equal(r.mode, mode, 'the pool picked this mode')
    t.equal(r.externalBuffers, mode !== 'copy')
    t.same(r.length, [1400, 1400, 0], 'a Buffer of exactly the leased size')
    t.equal(r.sameView, true, 'buffer is made once')
    t.same(r.afterRelease, [0, 0, 0, 0, false], 'after release the view and its subarrays are detached')
    t.same(r.bufferAfterRelease, ['ERR_TUNIO_LEASE_RELEASED', 'ERR_TUNIO_LEASE_RELEASED', 0, 0],
      'lease.buffer after release() throws (single and batch lease); a Buffer taken before reads as zero-length')
    t.equal(r.staleShowsNothing, true, 'a stale view never shows the next packet')
    t.same(r.setVisible, [9, 8, 7], 'set() writes into the lease (seen through its Buffer)')
    t.same(r.setBounds, Array(5).fill('ERR_TUNIO_INVALID_ARG'), 'set() refuses what does not fit')
    t.same(r.truncated, [20, 20])
    t.equal(r.doubleRelease, 'ERR_TUNIO_LEASE_RELEASED')
    t.equal(r.setAfterRelease, 'ERR_TUNIO_LEASE_RELEASED')
    t.equal(r.disposeAfterRelease, 'ok')
    t.same(r.leaseFrom, [27, true], 'leaseFrom copies the source')
    t.equal(r.leaseFromBadArg, 'ERR_TUNIO_INVALID_ARG')
    t.equal(r.inUseAfterAll, 0)
    t.same(r.reclaim, [128, true, 0, 0], 'released slots are there for the next batch without growing the pool')
    t.equal(r.leakHeld, 15)
    t.same(r.leakAfterGc, [0, 15], 'collected leases (with a Buffer, without, leaseFrom) return and are counted')
    // In copy mode the kept Buffer is a copy, so the slot may go back as soon as the Lease is
    // collected; in the zero-copy modes the Buffer keeps it (and its bytes) out of the pool.
    t.same(r.keptBuffer, [mode === 'copy' ? 1 : 2, 300, 0x5a, 0x5a], 'a Buffer outliving its Lease keeps its bytes')
    t.same(r.keptReleased, [0, 1], 'and returns the slot once collected, counted as one leak')
    t.same(r.roomLeases, [300, 300, 200, 200, 0x62], 'a lease with headroom/tailroom shows only its own bytes')
    t.equal(r.roomSealed, 2, 'aead.seal([lease, leaseFrom, lease without room]) seals the two with room')
    t.same(r.roomAfterSeal, [0, 324, 224, false, 1], 'in place: header and tag in the room, the old view detached; no room: dropped, released, counted')
    t.same(r.roomOpenedByNode, [['0', 300, 0x61, 0x61], ['1', 200, 0x62, 0x62]], 'node:crypto opens each sealed lease, counters in array order')
    t.same(r.roomOpened, [['1', '0'], 300, 0x61, 0x61, 200, 0x62], 'aead.open([leases]) restores them in place')
    t.same(r.roomRefused, ['ERR_TUNIO_INVALID_ARG headroom', 'ERR_TUNIO_INVALID_ARG size', 'ERR_TUNIO_INVALID_ARG headroom'], 'room options are checked')
    t.same(r.afterSend, [false, false, false, 0], 'send() takes the leases and detaches their views')
    t.same(r.received, [[80, 0x43, 0x43], [120, 0x42, 0x42], [200, 0x41, 0x41], [200, 0x62, 0x62], [300, 0x61, 0x61]],
      'what was written is what arrived (leases with headroom from where they start)')
    t.equal(r.inUseAfterSend, 0)
    t.equal(r.debugReport, true, 'debug mode reports where the leaked lease was taken')
    t.same(r.workers, [`${mode}:25`, `${mode}:25`], 'workers each lease from their own pool and are terminated holding leases')
    if (mode === 'transfer') {
      t.same(r.movedAway, [1, false, true], 'memory transferred away by the user stays out of the pool')
      t.same(r.movedAwayCollected, [0, 0], 'until collected (not a leak)')
    }
  })
}
