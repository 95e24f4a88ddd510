// PacketBatch.headers() and split(): reading the start of every packet into one array and
// regrouping a batch's packets without a JS object per packet (what a VPN's router needs).
import t from 'tap'
import { Pool } from '../lib/index'

/** A batch of `n` leases; packet i is `i` repeated (i % 7 + 3) times. */
function filled (pool: Pool, n: number): ReturnType<Pool['leaseBatch']> {
  const batch = pool.leaseBatch(n, 16)
  for (let i = 0; i < n; i++) {
    const lease = batch.at(i)
    lease?.truncate(i % 7 + 3)
    lease?.set(new Uint8Array(i % 7 + 3).fill(i))
  }
  return batch
}

t.test('headers() copies each packet\'s first bytes and its length into caller arrays', async (t) => {
  const pool = new Pool({ capBytes: 1 << 20 })
  const batch = filled(pool, 10)
  batch.at(4)?.release()
  const out = new Uint8Array(10 * 5).fill(0xee)
  const lengths = new Int32Array(10)
  const r = batch.headers(5, out, lengths)
  t.equal(r.bytes, out, 'fills the given arrays')
  for (let i = 0; i < 10; i++) {
    const len = i % 7 + 3
    if (i === 4) { t.equal(lengths[i], -1, 'a released packet reads -1'); continue }
    t.equal(lengths[i], len, `length of ${i}`)
    const row = Array.from(out.subarray(i * 5, i * 5 + 5))
    t.same(row, [...new Array(Math.min(len, 5)).fill(i), ...new Array(5 - Math.min(len, 5)).fill(0)], `bytes of ${i}, zero past the end`)
  }
  t.same(Array.from(out.subarray(20, 25)), [0, 0, 0, 0, 0], 'the released packet\'s row is zeroed')
  const fresh = batch.headers(2)
  t.equal(fresh.bytes.length, 20, 'arrays made when none are given')
  t.throws(() => batch.headers(0), { code: 'ERR_TUNIO_INVALID_ARG' })
  t.throws(() => batch.headers(257), { code: 'ERR_TUNIO_INVALID_ARG' })
  t.throws(() => batch.headers(5, new Uint8Array(49)), { code: 'ERR_TUNIO_INVALID_ARG' }, 'out too short')
  t.throws(() => batch.headers(5, out, new Int32Array(9)), { code: 'ERR_TUNIO_INVALID_ARG' }, 'lengths too short')
  batch.release()
  t.equal(pool.stats().inUseBytes, 0)
})

t.test('split() moves packets into groups in order, 255 releases, bad groups move nothing', async (t) => {
  const pool = new Pool({ capBytes: 1 << 20 })
  const batch = filled(pool, 9)
  const viewOf2 = batch.at(2)?.buffer as Buffer
  t.throws(() => batch.split(Uint8Array.of(0, 1, 2, 0, 0, 0, 0, 0, 0), 2), { code: 'ERR_TUNIO_INVALID_ARG' }, 'group 2 of 2')
  t.equal(batch.live, 9, 'nothing moved by the refused call')
  t.equal(viewOf2.length, 5, 'and a view still reads')
  const groups = Uint8Array.of(1, 0, 1, 255, 0, 1, 1, 255, 0)
  const [g0, g1] = batch.split(groups, 2)
  t.equal(batch.live, 0, 'the source batch holds nothing now')
  t.equal(batch.at(2)?.held, false, 'its leases read as moved')
  t.equal(viewOf2.length, 0, 'and their views are detached')
  const contents = (b: typeof g0): number[] => Array.from(b, (l) => l.buffer[0])
  t.same(contents(g0), [1, 4, 8], 'group 0 in order')
  t.same(contents(g1), [0, 2, 5, 6], 'group 1 in order')
  t.same(Array.from(g1, (l) => l.length), [3, 5, 8, 9], 'lengths kept')
  const [only] = g0.split(new Uint8Array(3), 1)
  t.same(contents(only), [1, 4, 8], 'one group: the same packets in a new batch')
  only.release()
  g1.release()
  t.equal(pool.stats().inUseBytes, 0, 'every slot back in the pool (released group included)')
  t.throws(() => g1.split(new Uint8Array(4), 0), { code: 'ERR_TUNIO_INVALID_ARG' }, 'count 0')
  t.throws(() => g1.split(new Uint8Array(2), 1), { code: 'ERR_TUNIO_INVALID_ARG' }, 'groups too short')
})
