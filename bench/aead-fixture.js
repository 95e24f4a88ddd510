'use strict'
// What the AEAD benches (aead-instructions.js, aead-nodes.js) seal and open: a sealer and an
// opener with the same key, a batch of 64 leases of 1,400 bytes with the AEAD's head- and
// tailroom, filled, and open()'s counters.
const { Aead, Pool } = require('../dist/index.js')

function aeadFixture (algorithm) {
  const opts = { algorithm, key: Buffer.alloc(32, 1), nonce: 'iv-xor', iv: Buffer.alloc(12) }
  const sealer = new Aead(opts)
  const opener = new Aead(opts)
  const batch = new Pool({ capBytes: 16 << 20 }).leaseBatch(64, 1400, { headroom: sealer.headroom, tailroom: sealer.tailroom })
  for (const lease of batch) lease.buffer.fill(0x61)
  return { sealer, opener, batch, counters: new BigUint64Array(64) }
}

module.exports = { aeadFixture }
