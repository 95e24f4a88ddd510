// Pool, leases and batches: ownership rules from docs/ownership.md, against the real addon.
import t from 'tap'
import { Pool, PacketBatch, MAX_LEASE_SIZE, type Lease } from '../lib/index'

t.test('lease gives a writable Buffer of exactly the asked size, release returns the memory', async (t) => {
  const pool = new Pool({ capBytes: 1 << 20 })
  const lease = pool.lease(1400)
  t.equal(lease.length, 1400)
  t.equal(lease.buffer.length, 1400)
  lease.buffer.fill(0xab)
  t.equal(lease.buffer[1399], 0xab)
  t.equal(pool.stats().inUseBytes, 2048, 'a packet-sized slot is in use')
  lease.release()
  t.equal(pool.stats().inUseBytes, 0)
  t.equal(lease.length, 0)
  t.equal(lease.held, false)
})

t.test('a stale view reads as zero-length after release, and cannot show the next packet', async (t) => {
  const pool = new Pool({ capBytes: 1 << 20 })
  const a = pool.lease(100)
  const view = a.buffer
  const sub = view.subarray(10, 20)
  view.fill(1)
  a.release()
  t.equal(view.length, 0, 'the Buffer is detached')
  t.equal(sub.length, 0, 'views of it too')
  t.equal(view.buffer.byteLength, 0)
  const b = pool.lease(100)
  b.buffer.fill(2)
  t.equal(view[0], undefined, 'old view shows nothing of the new packet')
  b.release()
})

t.test('double release throws ERR_TUNIO_LEASE_RELEASED; dispose after release does not', async (t) => {
  const pool = new Pool({ capBytes: 1 << 20 })
  const lease = pool.lease(10)
  lease.release()
  t.throws(() => lease.release(), { code: 'ERR_TUNIO_LEASE_RELEASED' })
  t.throws(() => lease.buffer, { code: 'ERR_TUNIO_LEASE_RELEASED' })
  t.doesNotThrow(() => lease[Symbol.dispose]())
})

t.test('Symbol.dispose releases a held lease (using-style)', async (t) => {
  const pool = new Pool({ capBytes: 1 << 20 })
  {
    const lease = pool.lease(64)
    try {
      lease.buffer.fill(3)
      t.equal(pool.stats().slotsInUse, 1)
    } finally {
      lease[Symbol.dispose]()
    }
  }
  t.equal(pool.stats().slotsInUse, 0)
})

t.test('size limits and the cap: a full pool refuses cleanly without growing', async (t) => {
  const pool = new Pool({ capBytes: 1 << 20 })
  t.throws(() => pool.lease(MAX_LEASE_SIZE + 1), { code: 'ERR_TUNIO_INVALID_ARG' })
  t.throws(() => pool.lease(-1), { code: 'ERR_TUNIO_INVALID_ARG' })
  t.throws(() => pool.lease(1.5), { code: 'ERR_TUNIO_INVALID_ARG' })
  const held = []
  for (;;) {
    try {
      held.push(pool.lease(MAX_LEASE_SIZE))
    } catch (err) {
      t.match(err, { code: 'ERR_TUNIO_POOL_EXHAUSTED' })
      // The option's name as the user writes it (it once said "poolCapBytes").
      t.match((err as Error).message, /\(capBytes 1048576\): release leases and batches, or create the Pool with a larger capBytes/)
      t.throws(() => pool.leaseBatch(4, 1400), { code: 'ERR_TUNIO_POOL_EXHAUSTED', message: /\(capBytes 1048576\)/ }, 'leaseBatch: the same message')
      break
    }
  }
  t.equal(held.length, 16, '1 MiB holds 16 slots of 64 KiB')
  const s = pool.stats()
  t.ok(s.reservedBytes <= s.capBytes)
  t.equal(s.leaseFailures, 2, 'the lease and the batch that did not fit')
  for (const l of held) l.release()
  t.equal(pool.stats().inUseBytes, 0)
  t.equal(pool.stats().reservedBytes, s.reservedBytes, 'memory is kept for reuse, not freed')
})

t.test('invalid pool options carry ERR_TUNIO_INVALID_OPTION and name the option', async (t) => {
  t.throws(() => new Pool({ capBytes: 5 }), { code: 'ERR_TUNIO_INVALID_OPTION', option: 'capBytes' })
  t.throws(() => new Pool({ capBytes: '1' as unknown as number }), { code: 'ERR_TUNIO_INVALID_OPTION', option: 'capBytes' })
  t.throws(() => new Pool({ cap: 1 } as never), { code: 'ERR_TUNIO_INVALID_OPTION', option: 'cap' })
})

t.test('truncate shortens a lease, never grows it', async (t) => {
  const pool = new Pool({ capBytes: 1 << 20 })
  const lease = pool.lease(100)
  lease.truncate(40)
  t.equal(lease.length, 40)
  t.equal(lease.buffer.length, 40)
  t.throws(() => lease.truncate(41), { code: 'ERR_TUNIO_INVALID_ARG' })
  lease.release()
})

t.test('PacketBatch: length, at(), iteration, release() of what is still held', async (t) => {
  const pool = new Pool({ capBytes: 1 << 20 })
  const batch = pool.leaseBatch(1, 10)
  const lease = batch.at(0) as Lease
  t.type(batch, PacketBatch)
  t.equal(batch.length, 1)
  t.equal(batch.at(0), lease)
  t.equal(batch.at(-1), lease)
  t.equal(batch.at(1), undefined)
  t.same([...batch], [lease])
  t.equal(batch.release(), 1)
  t.equal(batch.release(), 0, 'releasing a batch twice is harmless')
  t.throws(() => lease.release(), { code: 'ERR_TUNIO_LEASE_RELEASED' })
})

t.test('leaseBatch packs leases back to back into 64 KiB slots; each slot returns with its last lease', async (t) => {
  const pool = new Pool({ capBytes: 4 << 20 })
  const batch = pool.leaseBatch(100, 1400)
  t.equal(batch.length, 100)
  t.equal(pool.stats().slotsInUse, 3, '46 leases of 1400 bytes per 64 KiB slot: 3 slots for 100')
  const leases = [...batch]
  leases.forEach((l, i) => { t.equal(l.length, 1400); l.buffer.fill(i) })
  t.ok(leases.every((l, i) => l.buffer.every((b) => b === i)), 'no lease overlaps another')
  const firstView = leases[0].buffer
  for (let i = 0; i < 45; i++) leases[i].release()
  t.equal(pool.stats().slotsInUse, 3, 'a slot stays while one lease in it is held')
  leases[45].release()
  t.equal(pool.stats().slotsInUse, 2, 'the first slot is back with its 46th lease')
  t.equal(firstView.length, 0, "a released lease's view reads as empty")
  t.ok(leases[46].buffer.every((b) => b === 46), 'the neighbour in the next slot is untouched')
  t.equal(batch.release(), 54)
  t.equal(pool.stats().slotsInUse, 0)
  const one = pool.leaseBatch(1, 1400)
  t.equal(pool.stats().slotsInUse, 1)
  t.equal(one.release(), 1)
  const big = pool.leaseBatch(2, 40000)
  t.equal(pool.stats().slotsInUse, 2, 'leases over half a slot get a slot each')
  big.release()
})

t.test('garbage-collected leases go back to the pool and are counted as leaked', async (t) => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) {
    t.fail('needs node --expose-gc (the tap config in package.json passes it)')
    return
  }
  const pool = new Pool({ capBytes: 1 << 20 })
  ;(() => { for (let i = 0; i < 10; i++) pool.lease(100).buffer.fill(i) })()
  t.equal(pool.stats().slotsInUse, 10)
  for (let i = 0; i < 10 && pool.stats().slotsInUse > 0; i++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.equal(pool.stats().slotsInUse, 0, 'memory returned')
  t.equal(pool.stats().leaked, 10, 'counted as leaked')
})
