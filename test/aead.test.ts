// Batch AEAD against node:crypto (both ways), tampering and replay within a batch, headroom of
// leaseBatch, option errors, and the runtime-without-OpenSSL error.
import t from 'tap'
import * as crypto from 'node:crypto'
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'
import { Aead, Pool, type AeadAlgorithm, type PacketBatch } from '../lib/index'
import { packet } from './helpers/packets'

const ALGORITHMS: AeadAlgorithm[] = ['chacha20-poly1305', 'aes-256-gcm']

function nonceOf (layout: 'counter-le' | 'iv-xor', counter: bigint, iv?: Uint8Array): Buffer {
  const n = Buffer.alloc(12)
  if (layout === 'counter-le') {
    n.writeBigUInt64LE(counter, 4)
  } else {
    n.writeBigUInt64BE(counter, 4)
    for (let i = 0; i < 12; i++) n[i] ^= (iv as Uint8Array)[i]
  }
  return n
}

function nodeSeal (alg: AeadAlgorithm, key: Buffer, nonce: Buffer, aad: Buffer | undefined, plain: Buffer): Buffer {
  const c = crypto.createCipheriv(alg, key, nonce, { authTagLength: 16 } as crypto.CipherGCMOptions) as crypto.CipherGCM
  if (aad !== undefined) c.setAAD(aad, { plaintextLength: plain.length })
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()])
}

function nodeOpen (alg: AeadAlgorithm, key: Buffer, nonce: Buffer, aad: Buffer | undefined, sealed: Buffer): Buffer {
  const d = crypto.createDecipheriv(alg, key, nonce, { authTagLength: 16 } as crypto.CipherGCMOptions) as crypto.DecipherGCM
  const body = sealed.subarray(0, sealed.length - 16)
  d.setAuthTag(sealed.subarray(sealed.length - 16))
  if (aad !== undefined) d.setAAD(aad, { plaintextLength: body.length })
  return Buffer.concat([d.update(body), d.final()])
}

/** A batch of leases with room for `aead`, each filled with `plains[i]`. */
function batchOf (pool: Pool, aead: Aead, plains: Buffer[]): PacketBatch {
  const size = Math.max(...plains.map((p) => p.length))
  const batch = pool.leaseBatch(plains.length, size, { headroom: aead.headroom, tailroom: aead.tailroom })
  plains.forEach((p, i) => {
    const lease = batch.at(i)!
    lease.truncate(p.length)
    lease.set(p)
  })
  return batch
}

t.test('sealed natively, opened by node:crypto; sealed by node:crypto, opened natively', async (t) => {
  const pool = new Pool({ capBytes: 8 << 20 })
  for (const algorithm of ALGORITHMS) {
    for (const nonce of ['counter-le', 'iv-xor'] as const) {
      for (const authenticate of ['header', 'none'] as const) {
        const key = crypto.randomBytes(32)
        const iv = nonce === 'iv-xor' ? crypto.randomBytes(12) : undefined
        const header = crypto.randomBytes(16)
        const opts = { algorithm, key, nonce, iv, header, counterOffset: 4, counterByteOrder: 'be' as const, authenticate, firstCounter: 2n ** 40n }
        const sealer = new Aead(opts)
        const plains = Array.from({ length: 20 }, (_, i) => crypto.randomBytes(i === 0 ? 0 : crypto.randomInt(1, 2000)))
        const batch = batchOf(pool, sealer, plains)
        t.equal(sealer.seal(batch), plains.length)
        t.equal(sealer.nextCounter, 2n ** 40n + 20n)
        const wire: Buffer[] = []
        for (let i = 0; i < plains.length; i++) {
          const bytes = Buffer.from(batch.at(i)!.buffer)
          const counter = 2n ** 40n + BigInt(i)
          t.equal(bytes.readBigUInt64BE(4), counter, 'counter written into the header')
          t.same(bytes.subarray(0, 4), header.subarray(0, 4), 'header template before the counter')
          t.same(bytes.subarray(12, 16), header.subarray(12, 16), 'and after it')
          const aad = authenticate === 'header' ? bytes.subarray(0, 16) : undefined
          const plain = nodeOpen(algorithm, key, nonceOf(nonce, counter, iv), aad, bytes.subarray(16))
          t.ok(plain.equals(plains[i]), `${algorithm} ${nonce} ${authenticate}: packet ${i} opens with node:crypto`)
          wire.push(bytes)
        }
        batch.release()

        // The reverse: node:crypto seals with counters in reverse order, tunio opens.
        const opener = new Aead(opts)
        const incoming = pool.leaseBatch(plains.length, 2048 + 32)
        plains.forEach((p, i) => {
          const counter = 1000n - BigInt(i)
          const h = Buffer.from(header)
          h.writeBigUInt64BE(counter, 4)
          const sealed = nodeSeal(algorithm, key, nonceOf(nonce, counter, iv), authenticate === 'header' ? h : undefined, p)
          const lease = incoming.at(i)!
          lease.truncate(16 + sealed.length)
          lease.set(h)
          lease.set(sealed, 16)
        })
        const counters = opener.open(incoming)
        for (let i = 0; i < plains.length; i++) {
          t.equal(counters[i], 1000n - BigInt(i))
          t.ok(Buffer.from(incoming.at(i)!.buffer).equals(plains[i]), `${algorithm} ${nonce} ${authenticate}: packet ${i} opened natively`)
        }
        t.equal(opener.stats().opened, plains.length)
        incoming.release()
      }
    }
  }
  t.equal(pool.stats().inUseBytes, 0, 'nothing left behind')
})

t.test('tampered header, ciphertext, tag, truncation, wrong key and replay: each dropped and counted, the rest delivered', async (t) => {
  const pool = new Pool({ capBytes: 8 << 20 })
  for (const algorithm of ALGORITHMS) {
    const key = crypto.randomBytes(32)
    const header = Buffer.from([1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0])
    const opts = { algorithm, key, header, counterOffset: 4, verifyHeader: true }
    const sealer = new Aead(opts)
    const wrongKey = new Aead({ ...opts, key: crypto.randomBytes(32) })
    const plains = Array.from({ length: 12 }, (_, i) => crypto.randomBytes(100 + i))
    const good = batchOf(pool, sealer, plains)
    sealer.seal(good)
    const wire = plains.map((_, i) => Buffer.from(good.at(i)!.buffer))
    good.release()
    const forged = batchOf(pool, wrongKey, [plains[0]])
    wrongKey.seal(forged)
    const foreign = Buffer.from(forged.at(0)!.buffer)
    forged.release()

    // Packets 1, 3, 5, 7, 9 and 11 are bad in one way each; the others must arrive.
    const bad = new Map<number, (b: Buffer) => Buffer>([
      [1, (b) => { b[0] ^= 1; return b }],                      // header outside the counter
      [3, (b) => { b[20] ^= 0x40; return b }],                  // ciphertext
      [5, (b) => { b[b.length - 1] ^= 1; return b }],           // tag
      [7, (b) => b.subarray(0, b.length - 1)],                  // truncated
      [9, () => foreign],                                       // another key
      [11, () => wire[2]]                                       // replay of packet 2 (with a window)
    ])
    const incoming = pool.leaseBatch(wire.length, 2048)
    wire.forEach((w, i) => {
      const bytes = bad.has(i) ? bad.get(i)!(Buffer.from(w)) : w
      incoming.at(i)!.truncate(bytes.length)
      incoming.at(i)!.set(bytes)
    })
    const opener = new Aead({ ...opts, replayWindow: 1024 })
    const counters = opener.open(incoming)
    for (let i = 0; i < wire.length; i++) {
      if (bad.has(i)) {
        t.equal(counters[i], Aead.NO_COUNTER, `${algorithm}: packet ${i} dropped`)
        t.equal(incoming.at(i)!.held, false, `${algorithm}: packet ${i} released from the batch`)
      } else {
        t.equal(counters[i], BigInt(i))
        t.ok(Buffer.from(incoming.at(i)!.buffer).equals(plains[i]), `${algorithm}: packet ${i} delivered`)
      }
    }
    t.equal(incoming.live, wire.length - bad.size)
    const s = opener.stats()
    t.equal(s.opened, wire.length - bad.size)
    t.same(s.drops, { noRoom: 0, tooShort: 0, headerMismatch: 1, counterLimit: 0, authFailed: 4, replayed: 1, notIp: 0, cryptoError: 0 })
    incoming.release()

    // Shorter than header + tag.
    const tiny = pool.leaseBatch(1, 27)
    opener.open(tiny)
    t.equal(opener.stats().drops.tooShort, 1)
    tiny.release()
  }
  t.equal(pool.stats().inUseBytes, 0)
})

t.test('the counter limit: seal refuses a batch that would reach it, touching nothing; open drops counters past it', async (t) => {
  const pool = new Pool({ capBytes: 4 << 20 })
  const key = crypto.randomBytes(32)
  const sealer = new Aead({ algorithm: 'chacha20-poly1305', key, counterLimit: 10n, firstCounter: 6n })
  const batch = batchOf(pool, sealer, [Buffer.alloc(10, 1), Buffer.alloc(10, 2), Buffer.alloc(10, 3), Buffer.alloc(10, 4), Buffer.alloc(10, 5)])
  t.throws(() => sealer.seal(batch), { code: 'ERR_TUNIO_AEAD_COUNTER_LIMIT' })
  t.equal(batch.at(0)!.length, 10, 'nothing sealed')
  t.equal(sealer.nextCounter, 6n)
  batch.at(4)!.release()
  t.equal(sealer.seal(batch), 4, 'four counters were left: 6..9')
  t.equal(sealer.nextCounter, 10n)
  const wire = [0, 1, 2, 3].map((i) => Buffer.from(batch.at(i)!.buffer))
  batch.release()
  const opener = new Aead({ algorithm: 'chacha20-poly1305', key, counterLimit: 8n })
  const incoming = pool.leaseBatch(4, 100)
  wire.forEach((w, i) => { incoming.at(i)!.truncate(w.length); incoming.at(i)!.set(w) })
  const counters = opener.open(incoming)
  t.same([...counters], [6n, 7n, Aead.NO_COUNTER, Aead.NO_COUNTER])
  t.equal(opener.stats().drops.counterLimit, 2)
  incoming.release()
})

t.test('leaseBatch headroom/tailroom: sealed leases grow in place, too little room is dropped and counted', async (t) => {
  const pool = new Pool({ capBytes: 4 << 20 })
  const aead = new Aead({ algorithm: 'aes-256-gcm', key: crypto.randomBytes(32) })
  t.equal(aead.headroom, 8)
  t.equal(aead.tailroom, 16)
  const roomy = pool.leaseBatch(3, 1000, { headroom: 8, tailroom: 16 })
  const view = roomy.at(0)!.buffer
  view.fill(7)
  t.equal(aead.seal(roomy), 3)
  t.equal(view.length, 0, 'a Buffer made before sealing is detached')
  t.equal(roomy.at(0)!.length, 8 + 1000 + 16)
  t.equal(roomy.at(0)!.buffer.length, 1024)
  roomy.release()
  const tight = pool.leaseBatch(2, 1000, { headroom: 8, tailroom: 15 })
  t.equal(aead.seal(tight), 0)
  t.equal(aead.stats().drops.noRoom, 2)
  t.equal(tight.live, 0)
  t.throws(() => pool.leaseBatch(1, 100, { headroom: 513 }), { code: 'ERR_TUNIO_INVALID_ARG' })
  t.throws(() => pool.leaseBatch(1, 65536, { tailroom: 1 }), { code: 'ERR_TUNIO_INVALID_ARG' })
  t.equal(pool.stats().inUseBytes, 0)
})

t.test('WireGuard layout: padded to 16 up to the limit, trimmed back by the IP header', async (t) => {
  const pool = new Pool({ capBytes: 4 << 20 })
  const key = crypto.randomBytes(32)
  const header = Buffer.alloc(16)
  header.writeUInt32LE(4, 0)
  header.writeUInt32LE(0x12345678, 4)
  const wg = { algorithm: 'chacha20-poly1305' as const, key, header, counterOffset: 8, authenticate: 'none' as const, padTo: 16, padLimit: 1420 }
  const sealer = new Aead(wg)
  t.equal(sealer.tailroom, 31)
  // A 61-byte IPv4 packet.
  const ip = packet({ proto: 17, payload: Buffer.alloc(33) })
  const batch = batchOf(pool, sealer, [ip, Buffer.alloc(0)])
  sealer.seal(batch)
  const sealed = Buffer.from(batch.at(0)!.buffer)
  t.equal(sealed.length, 16 + 64 + 16)
  t.equal(batch.at(1)!.length, 32, 'a keepalive: header and tag only')
  // node:crypto opens it as WireGuard would: nonce = 4 zero bytes + counter LE, no AAD.
  const plain = nodeOpen('chacha20-poly1305', key, nonceOf('counter-le', 0n), undefined, sealed.subarray(16))
  t.ok(plain.subarray(0, 61).equals(ip))
  t.ok(plain.subarray(61).equals(Buffer.alloc(3)), 'zero padding')
  const opener = new Aead({ ...wg, verifyHeader: true })
  const counters = opener.open(batch)
  t.same([...counters], [0n, 1n])
  t.ok(Buffer.from(batch.at(0)!.buffer).equals(ip), 'trimmed to the IP length')
  t.equal(batch.at(1)!.length, 0)
  batch.release()
})

t.test('bad options are refused with their name', async (t) => {
  const key = crypto.randomBytes(32)
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ algorithm: 'aes-128-gcm', key }, 'algorithm'],
    [{ algorithm: 'aes-256-gcm', key: key.subarray(0, 16) }, 'key'],
    [{ algorithm: 'aes-256-gcm', key, nonce: 'iv-xor' }, 'iv'],
    [{ algorithm: 'aes-256-gcm', key, iv: Buffer.alloc(12) }, 'iv'],
    [{ algorithm: 'aes-256-gcm', key, header: Buffer.alloc(65) }, 'header'],
    [{ algorithm: 'aes-256-gcm', key, header: Buffer.alloc(12), counterOffset: 5 }, 'counterOffset'],
    [{ algorithm: 'aes-256-gcm', key, padTo: 257 }, 'padTo'],
    [{ algorithm: 'aes-256-gcm', key, counterLimit: 5 }, 'counterLimit'],
    [{ algorithm: 'aes-256-gcm', key, replayWindow: 64 }, 'replayWindow'],
    [{ algorithm: 'aes-256-gcm', key, extra: 1 }, 'extra']
  ]
  for (const [opts, option] of bad) {
    t.throws(() => new Aead(opts as never), { code: 'ERR_TUNIO_INVALID_OPTION', option }, option)
  }
  const aead = new Aead({ algorithm: 'aes-256-gcm', key })
  t.throws(() => aead.seal({} as never), { code: 'ERR_TUNIO_INVALID_ARG', argument: 'batch' })
  t.equal(aead.seal([]), 0, 'an empty array of leases seals nothing')
  const pool = new Pool({ capBytes: 1 << 20 })
  const b = pool.leaseBatch(4, 10)
  t.throws(() => aead.open(b, new BigUint64Array(3)), { code: 'ERR_TUNIO_INVALID_ARG' })
  b.release()
})

t.test('a runtime without OpenSSL: the addon loads, Aead throws ERR_TUNIO_AEAD_UNAVAILABLE', async (t) => {
  const script = `
    const { Aead, Pool } = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'index.ts'))})
    new Pool().leaseBatch(1, 10).release()
    try { new Aead({ algorithm: 'chacha20-poly1305', key: Buffer.alloc(32) }); console.log('no error') }
    catch (e) { console.log(e.code, e.message) }`
  const r = spawnSync(process.execPath, [...process.execArgv, '-e', script], { env: { ...process.env, TUNIO_NO_OPENSSL: '1' }, encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, /^ERR_TUNIO_AEAD_UNAVAILABLE .*OpenSSL/)
})

t.test('the threadpool measurement hook seals the same bytes, and the cipher refuses other calls meanwhile', async (t) => {
  const pool = new Pool({ capBytes: 4 << 20 })
  const key = crypto.randomBytes(32)
  const inline = new Aead({ algorithm: 'chacha20-poly1305', key })
  const pooled = new Aead({ algorithm: 'chacha20-poly1305', key })
  const plains = Array.from({ length: 8 }, () => crypto.randomBytes(700))
  const a = batchOf(pool, inline, plains)
  const b = batchOf(pool, pooled, plains)
  inline.seal(a)
  const pending = pooled.sealOnThreadpool(b)
  t.equal(b.live, 0, 'the packets moved into the work')
  t.throws(() => pooled.seal(a), { code: 'ERR_TUNIO_INVALID_ARG' }, 'busy while the work runs')
  const sealed = await pending
  t.equal(sealed.live, 8)
  for (let i = 0; i < 8; i++) t.ok(Buffer.from(sealed.at(i)!.buffer).equals(Buffer.from(a.at(i)!.buffer)), `packet ${i} identical`)
  t.equal(pooled.nextCounter, 8n)
  a.release()
  sealed.release()
  t.equal(pool.stats().inUseBytes, 0)
})

t.test('an array of leases: packets of two batches and single leases mixed, sealed in array order, cross-checked with node:crypto', async (t) => {
  const pool = new Pool({ capBytes: 8 << 20 })
  for (const algorithm of ALGORITHMS) {
    const key = crypto.randomBytes(32)
    const header = crypto.randomBytes(12)
    const opts = { algorithm, key, header, counterOffset: 2, authenticate: 'header' as const, firstCounter: 5n }
    const sealer = new Aead(opts)
    const room = { headroom: sealer.headroom, tailroom: sealer.tailroom }
    const b1 = pool.leaseBatch(3, 200, room)
    const b2 = pool.leaseBatch(2, 300, room)
    for (const l of b1) l.set(crypto.randomBytes(200))
    for (const l of b2) l.set(crypto.randomBytes(300))
    const untouched = Buffer.from(b1.at(1)!.buffer)
    const single = pool.lease(500, room)
    single.set(crypto.randomBytes(500))
    const from = pool.leaseFrom(crypto.randomBytes(77), room)
    const leases = [b1.at(2)!, single, b2.at(0)!, from, b1.at(0)!]
    const plains = leases.map((l) => Buffer.from(l.buffer))
    t.equal(sealer.seal(leases), 5)
    t.equal(sealer.nextCounter, 10n)
    const wire: Buffer[] = []
    leases.forEach((l, i) => {
      const bytes = Buffer.from(l.buffer)
      const counter = 5n + BigInt(i)
      t.equal(bytes.length, 12 + plains[i].length + 16, `${algorithm}: lease ${i} grew by header and tag in place`)
      t.equal(bytes.readBigUInt64LE(2), counter, 'counters in array order')
      const plain = nodeOpen(algorithm, key, nonceOf('counter-le', counter), bytes.subarray(0, 12), bytes.subarray(12))
      t.ok(plain.equals(plains[i]), `${algorithm}: lease ${i} opens with node:crypto`)
      wire.push(bytes)
    })
    t.ok(Buffer.from(b1.at(1)!.buffer).equals(untouched), 'a packet of the batch not in the array is untouched')
    // Opened natively as an array of single leases (in reverse order), in place.
    const incoming = wire.map((w) => pool.leaseFrom(w)).reverse()
    const counters = new Aead(opts).open(incoming)
    t.same(Array.from(counters), [9n, 8n, 7n, 6n, 5n])
    incoming.forEach((l, i) => t.ok(Buffer.from(l.buffer).equals(plains[4 - i]), `${algorithm}: opened in place (${i})`))
    for (const l of [...incoming, single, from]) l.release()
    b1.release()
    b2.release()
  }
  t.equal(pool.stats().inUseBytes, 0, 'nothing left behind')
})

t.test('an array of leases: no room and a bad tag drop just those leases (released, counted), the rest delivered', async (t) => {
  const pool = new Pool({ capBytes: 8 << 20 })
  const key = crypto.randomBytes(32)
  const sealer = new Aead({ algorithm: 'aes-256-gcm', key })
  const room = { headroom: sealer.headroom, tailroom: sealer.tailroom }
  const a = pool.lease(100, room)
  const cramped = pool.leaseBatch(2, 100) // no headroom: packed back to back
  const b = pool.leaseFrom(Buffer.alloc(60, 1), room)
  a.set(Buffer.alloc(100, 2))
  t.equal(sealer.seal([a, cramped.at(0)!, b]), 2)
  t.equal(cramped.at(0)!.held, false, 'the lease without room is dropped from its batch')
  t.equal(cramped.live, 1)
  t.equal(sealer.stats().drops.noRoom, 1)
  const tampered = pool.leaseFrom(Buffer.from(a.buffer))
  tampered.buffer[20] ^= 1
  const good = pool.leaseFrom(Buffer.from(b.buffer))
  const opener = new Aead({ algorithm: 'aes-256-gcm', key })
  const counters = opener.open([tampered, good])
  t.same(Array.from(counters), [Aead.NO_COUNTER, 1n])
  t.equal(tampered.held, false, 'the forged single lease is released')
  t.same(Buffer.from(good.buffer), Buffer.alloc(60, 1))
  t.equal(opener.stats().drops.authFailed, 1)
  for (const l of [a, b, good]) l.release()
  cramped.release()
  t.equal(pool.stats().inUseBytes, 0)
})

t.test('an array of leases that is not all distinct held leases is refused before anything is touched', async (t) => {
  const pool = new Pool({ capBytes: 8 << 20 })
  const sealer = new Aead({ algorithm: 'chacha20-poly1305', key: crypto.randomBytes(32), firstCounter: 3n })
  const room = { headroom: sealer.headroom, tailroom: sealer.tailroom }
  const lease = pool.lease(50, room)
  lease.set(Buffer.alloc(50, 7))
  const batch = pool.leaseBatch(2, 50, room)
  const released = pool.lease(10)
  released.release()
  const outOfRoom = pool.leaseBatch(2, 50, room)
  const view = outOfRoom.bytes()
  view.start[1] = view.minStart[1] - 1
  const cases: Array<[string, () => unknown, string]> = [
    ['a Buffer among the leases', () => sealer.seal([lease, Buffer.alloc(3)] as never), 'ERR_TUNIO_INVALID_ARG leases[1]'],
    ['a batch among the leases', () => sealer.seal([lease, batch] as never), 'ERR_TUNIO_INVALID_ARG leases[1]'],
    ['the same lease twice', () => sealer.seal([lease, batch.at(0)!, lease]), 'ERR_TUNIO_INVALID_ARG leases[2]'],
    ['a released lease', () => sealer.seal([lease, released]), 'ERR_TUNIO_LEASE_RELEASED leases[1]'],
    ['not an array', () => sealer.seal(new Set([lease]) as never), 'ERR_TUNIO_INVALID_ARG batch'],
    ['a lease of a batch whose bytes() view lies outside its room', () => sealer.seal([lease, outOfRoom.at(0)!]), 'ERR_TUNIO_INVALID_ARG leases[1]'],
    ['open() with too short a counters array', () => sealer.open([lease, batch.at(1)!], new BigUint64Array(1)), 'ERR_TUNIO_INVALID_ARG counters'],
    ['open() with a Buffer among the leases', () => sealer.open([lease, Buffer.alloc(30)] as never), 'ERR_TUNIO_INVALID_ARG leases[1]']
  ]
  for (const [what, call, expected] of cases) {
    let got = 'no error'
    try { call() } catch (err) { got = `${(err as { code: string }).code} ${(err as { argument: string }).argument}` }
    t.equal(got, expected, what)
    t.equal(sealer.nextCounter, 3n, `${what}: no counter used`)
    t.same([lease.held, lease.length, batch.live, outOfRoom.live], [true, 50, 2, 2], `${what}: every lease still held, unchanged`)
    t.same(Buffer.from(lease.buffer), Buffer.alloc(50, 7), `${what}: its bytes untouched`)
  }
  const limited = new Aead({ algorithm: 'chacha20-poly1305', key: crypto.randomBytes(32), firstCounter: 9n, counterLimit: 10n })
  t.throws(() => limited.seal([lease, batch.at(0)!]), { code: 'ERR_TUNIO_AEAD_COUNTER_LIMIT' }, 'an array that would reach the counter limit')
  t.same([limited.nextCounter, lease.length, batch.at(0)!.length], [9n, 50, 50], 'and nothing was sealed')
  lease.release()
  batch.release()
  outOfRoom.release()
  t.equal(pool.stats().inUseBytes, 0)
})
