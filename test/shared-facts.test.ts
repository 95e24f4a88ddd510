// Facts shared by the TS and C++ halves, checked against each other: the reason names
// of TunStats.coalesceRefusals (GroRefusal in src-native/core/gro_coalesce.h, exported by the
// addon as binding.coalesceRefusals) and the CoalesceRefusal type users compile against; the
// stats shapes (field lists in src-native/core, exported as binding.statsShapes) and the TS
// interfaces of stats(); the lease scratch layout.
import t from 'tap'
import * as fs from 'node:fs'
import * as path from 'node:path'
import ts from 'typescript'
import { binding } from '../lib/binding'
import { TUN_DEFAULTS } from '../lib/tun'
import { UDP_DEFAULTS, openUdp } from '../lib/udp'
import { MAX_LEASE_SIZE } from '../lib/pool'

/** The string literals of `export type NAME = 'a' | 'b' ...` in a TypeScript source file. */
function unionMembers (file: string, name: string): string[] {
  const src = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  for (const st of src.statements) {
    if (!ts.isTypeAliasDeclaration(st) || st.name.text !== name) continue
    if (!ts.isUnionTypeNode(st.type)) throw new Error(`${name} is not a union`)
    return st.type.types.map((m) => {
      if (!ts.isLiteralTypeNode(m) || !ts.isStringLiteral(m.literal)) throw new Error(`${name}: ${m.getText(src)} is not a string literal`)
      return m.literal.text
    })
  }
  throw new Error(`no type ${name} in ${file}`)
}

/**
 * The property paths ('drops.queueFull') of `export interface NAME` in a TypeScript source file:
 * nested object types are walked, and so are the interfaces of the same file that a property's
 * type or an `extends` clause names; Record<Union, number> expands to the union's members (a
 * type alias of the same file); other types (arrays, types of other files) are leaves. An
 * optional property is reported with a '?' ('gsoMaxSize?'), so that a test sees it.
 */
function interfacePaths (file: string, name: string): string[] {
  const src = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const interfaceOf = (n: string): ts.InterfaceDeclaration | undefined =>
    src.statements.find((st): st is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(st) && st.name.text === n)
  const typeOf = (n: ts.TypeNode, prefix: string): string[] => {
    if (ts.isTypeLiteralNode(n)) return membersOf(n.members, prefix)
    if (ts.isTypeReferenceNode(n) && n.typeName.getText(src) === 'Record' && n.typeArguments !== undefined) {
      return unionMembers(file, n.typeArguments[0].getText(src)).map((k) => `${prefix}.${k}`)
    }
    const named = ts.isTypeReferenceNode(n) && n.typeArguments === undefined ? interfaceOf(n.typeName.getText(src)) : undefined
    return named !== undefined ? declarationOf(named, prefix) : [prefix]
  }
  const membersOf = (members: ts.NodeArray<ts.TypeElement>, prefix: string): string[] => members.flatMap((m) => {
    if (!ts.isPropertySignature(m) || m.type === undefined) throw new Error(`${name}: ${m.getText(src)} is not a typed property`)
    const key = m.name.getText(src) + (m.questionToken !== undefined ? '?' : '')
    return typeOf(m.type, prefix === '' ? key : `${prefix}.${key}`)
  })
  const declarationOf = (d: ts.InterfaceDeclaration, prefix: string): string[] => {
    const bases = (d.heritageClauses ?? []).flatMap((h) => h.types).flatMap((b) => {
      const base = interfaceOf(b.expression.getText(src))
      if (base === undefined) throw new Error(`${name}: base ${b.getText(src)} is not an interface of ${file}`)
      return declarationOf(base, prefix)
    })
    return [...bases, ...membersOf(d.members, prefix)]
  }
  const declared = interfaceOf(name)
  if (declared === undefined) throw new Error(`no interface ${name} in ${file}`)
  return declarationOf(declared, '').sort()
}

/**
 * The leaf paths of a plain object, as interfacePaths() names them; arrays, and the nested
 * objects at `leaves` (shapes checked on their own), are leaves.
 */
function objectPaths (o: object, leaves: string[] = [], prefix = ''): string[] {
  return Object.entries(o).flatMap(([k, v]) => {
    const p = prefix === '' ? k : `${prefix}.${k}`
    return v !== null && typeof v === 'object' && !Array.isArray(v) && !leaves.includes(p) ? objectPaths(v as object, leaves, p) : [p]
  }).sort()
}

t.test('the stats interfaces of lib/ declare exactly the counters the addon builds', async (t) => {
  const shapes = binding().statsShapes
  const tun = objectPaths(shapes.tunQueue)
  t.ok(tun.length >= 30 && tun.includes('drops.queueFull') && tun.includes('coalesceRefusals.seqNotAdjacent'), `the addon builds a queue's stats (${tun.length} counters)`)
  t.same(interfacePaths(path.join(__dirname, '..', 'lib', 'tun.ts'), 'TunQueueStats'), tun, 'TunQueueStats (lib/tun.ts)')
  const peer = objectPaths(shapes.peerErrors)
  t.equal(peer.length, 5, 'five kinds of peer error')
  t.same(interfacePaths(path.join(__dirname, '..', 'lib', 'udp.ts'), 'PeerErrorCounts'), peer, 'PeerErrorCounts (lib/udp.ts)')
  const aead = objectPaths(shapes.aead)
  t.ok(aead.includes('drops.authFailed'), `the addon builds aead.stats() (${aead.length} counters)`)
  t.same(interfacePaths(path.join(__dirname, '..', 'lib', 'aead.ts'), 'AeadStats'), aead, 'AeadStats (lib/aead.ts)')
  // The pool's own stats() adds externalBuffers (the runtime's, not the pool's).
  const pool = objectPaths(shapes.pool)
  t.ok(pool.includes('highWaterBytes'), `the addon builds a pool's stats (${pool.length} counters)`)
  t.same(interfacePaths(path.join(__dirname, '..', 'lib', 'native.ts'), 'NativePoolStats'), [...pool, 'externalBuffers'].sort(), 'NativePoolStats (lib/native.ts)')
  t.ok(Object.values(shapes.tunQueue).every((v) => v === 0 || typeof v === 'object'), 'every counter starts at 0')
  // tun.stats() and udp.stats(): their nested pool is the pool's shape, checked above.
  const device = objectPaths(shapes.tun, ['pool'])
  t.ok(device.includes('coalescingTcp') && device.includes('queues') && device.includes('drops.queueFull'), `the addon builds tun.stats() (${device.length} keys)`)
  t.same(interfacePaths(path.join(__dirname, '..', 'lib', 'tun.ts'), 'TunStats'), device, 'TunStats (lib/tun.ts): the queues\' sum and the device\'s own keys')
  const udp = objectPaths(shapes.udp, ['pool'])
  t.ok(udp.includes('errorQueue.pollErrors') && udp.includes('drops.peer.connRefused') && udp.includes('syscalls.recvmsgErrqueue'), `the addon builds udp.stats() (${udp.length} keys)`)
  t.same(interfacePaths(path.join(__dirname, '..', 'lib', 'udp.ts'), 'UdpStats'), udp, 'UdpStats (lib/udp.ts)')
})

t.test('udp.stats() has every key UdpStats declares, open and after close', async (t) => {
  const shape = objectPaths(binding().statsShapes.udp)
  const u = await openUdp({ bind: { address: '127.0.0.1', port: 0 } })
  t.teardown(() => u.close())
  // A datagram to a loopback port nobody listens on: ICMP port unreachable, read from the error
  // queue, so that the socket's own counters (lost with it at close()) are not 0.
  const gone = await openUdp({ bind: { address: '127.0.0.1', port: 0 } })
  gone.close()
  const refused = new Promise((resolve) => u.once('peerError', resolve))
  const reading = u.read() // a pending read keeps the fd watched: the error arrives as POLLERR
  t.equal(u.send([Buffer.from('to nobody')], gone.local), 1, 'one datagram to a closed port')
  await Promise.race([refused, new Promise((resolve) => setTimeout(resolve, 5000))])
  const open = u.stats()
  t.same(objectPaths(open), shape, 'open: the shape the addon exports')
  t.equal(open.datagramsOut, 1, 'the send was counted')
  t.equal(open.peerErrors.connRefused, 1, 'the ICMP error was counted by the socket')
  t.ok(open.errorQueue.icmp >= 1 && open.syscalls.recvmsgErrqueue >= 1, 'read from the error queue')
  u.close()
  t.equal(await reading, null, 'close() ends the read')
  const closed = u.stats()
  t.same(objectPaths(closed), shape, 'closed: the same keys')
  t.equal(closed.datagramsOut, 1, 'closed: the counts of the socket\'s life')
  t.same({ ...closed.peerErrors }, { ...open.peerErrors }, 'closed: the socket\'s own counters as of close()')
  t.same({ ...closed.errorQueue }, { ...open.errorQueue })
  t.equal(closed.syscalls.recvmsgErrqueue, open.syscalls.recvmsgErrqueue)
  t.equal(closed.gsoPaths.suspended, 0, 'closed: no path suspended')
})

t.test('the defaults openTun() and openUdp() state are the core\'s own', async (t) => {
  const { tun, udp } = binding().nativeDefaults
  t.ok(Object.keys(tun).length >= 10, `the addon exports the TUN defaults (${Object.keys(tun).join(', ')})`)
  for (const [key, value] of Object.entries(tun)) t.equal((TUN_DEFAULTS as Record<string, unknown>)[key], value, `TUN_DEFAULTS.${key}`)
  t.ok(Object.keys(udp).length >= 4, `the addon exports the UDP defaults (${Object.keys(udp).join(', ')})`)
  for (const [key, value] of Object.entries(udp)) t.equal((UDP_DEFAULTS as Record<string, unknown>)[key], value, `UDP_DEFAULTS.${key}`)
})

t.test('CoalesceRefusal (lib/tun.ts) names exactly the reasons the addon counts, in its order', async (t) => {
  const declared = unionMembers(path.join(__dirname, '..', 'lib', 'tun.ts'), 'CoalesceRefusal')
  const exported = [...binding().coalesceRefusals]
  t.ok(exported.length >= 10, `the addon exports the reasons (${exported.length})`)
  t.same(declared, exported)
  t.equal(new Set(exported).size, exported.length, 'no name twice')
})

t.test('the lease scratch layout the TS layer reads comes from the addon and is self-consistent', async (t) => {
  const l = binding().leaseScratch
  const fixed = [l.index, l.generation, l.pending]
  t.equal(new Set(fixed).size, fixed.length, 'index, generation and pending are distinct words')
  t.ok(fixed.every((w) => Number.isInteger(w) && w >= 0 && w < l.queue), 'they come before the release queue')
  t.ok(l.queueLength >= 1, `the release queue holds ${l.queueLength}`)
  t.equal(l.words, l.queue + l.queueLength, 'words covers the queue exactly')
})

/** The doc comment of member `member` of interface or class `container` in a TypeScript source file. */
function memberDoc (file: string, container: string, member: string): string {
  const src = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  for (const st of src.statements) {
    if (!(ts.isInterfaceDeclaration(st) || ts.isClassDeclaration(st)) || st.name?.text !== container) continue
    for (const m of st.members as ts.NodeArray<ts.Node & { name?: ts.PropertyName }>) {
      if (m.name === undefined || m.name.getText(src) !== member) continue
      return ts.getJSDocCommentsAndTags(m).map((d) => ts.getTextOfJSDocComment(d.comment) ?? '').join(' ').replace(/\s+/g, ' ')
    }
  }
  throw new Error(`no member ${container}.${member} in ${file}`)
}

t.test('the limits lib/ checks come from the addon, which enforces the same numbers', async (t) => {
  const l = binding().limits
  const keys = ['tunQueues', 'udpBatchSize', 'leaseSize', 'leaseBatchCount', 'packetRoom', 'poolMinCapBytes', 'headerBytes', 'releaseGroup']
  t.same(Object.keys(l).sort(), [...keys].sort(), 'the addon exports these limits')
  for (const k of keys) t.ok(Number.isInteger((l as unknown as Record<string, number>)[k]) && (l as unknown as Record<string, number>)[k] > 0, `${k} is a positive integer`)
  t.equal(MAX_LEASE_SIZE, l.leaseSize, 'MAX_LEASE_SIZE (a public constant, readable without the addon) is the addon\'s')

  // What the docs say is what the addon exports.
  const lib = (f: string): string => path.join(__dirname, '..', 'lib', f)
  const capDefault = binding().nativeDefaults.pool.capBytes
  for (const [file, container, member, ...says] of [
    ['tun.ts', 'TunOptions', 'queues', `1 to ${l.tunQueues}.`],
    ['tun.ts', 'TunOptions', 'headroom', `at most ${l.packetRoom}.`],
    ['tun.ts', 'TunOptions', 'tailroom', `at most ${l.packetRoom}.`],
    ['udp.ts', 'UdpOptions', 'batchSize', `1 to ${l.udpBatchSize}.`],
    ['pool.ts', 'LeaseBatchOptions', 'headroom', `at most ${l.packetRoom}.`],
    ['pool.ts', 'LeaseBatchOptions', 'tailroom', `at most ${l.packetRoom}.`],
    ['pool.ts', 'PoolOptions', 'capBytes', `default ${capDefault / 2 ** 20} MiB`, `minimum ${l.poolMinCapBytes / 1024} KiB`],
    ['pool.ts', 'Pool', 'leaseFrom', `more than ${l.leaseSize.toLocaleString('en-US')} bytes`],
    ['lease.ts', 'PacketBatch', 'headers', `(1 to ${l.headerBytes})`],
    ['lease.ts', 'PacketBatch', 'split', `(1 to ${l.releaseGroup})`, `group ${l.releaseGroup} releases`]
  ]) {
    const doc = memberDoc(lib(file), container, member)
    for (const s of says) t.ok(doc.includes(s), `${container}.${member} (lib/${file}) says "${s}"`)
  }

  // At the limit lib/ and the addon accept; one past it lib/ refuses, and so does the addon
  // when called past lib/ (its own check of the same constant).
  const { Pool } = await import('../lib/pool')
  t.ok(new Pool({ capBytes: l.poolMinCapBytes }), 'capBytes poolMinCapBytes')
  const pool = new Pool()
  t.throws(() => new Pool({ capBytes: l.poolMinCapBytes - 1 }), { code: 'ERR_TUNIO_INVALID_OPTION' }, 'capBytes below poolMinCapBytes')
  const full = pool.leaseBatch(l.leaseBatchCount, 0)
  t.equal(full.length, l.leaseBatchCount, `leaseBatch(${l.leaseBatchCount})`)
  full.release()
  t.throws(() => pool.leaseBatch(l.leaseBatchCount + 1, 0), { code: 'ERR_TUNIO_INVALID_ARG' }, 'lib/: one lease too many')
  t.throws(() => pool.native.leaseBatch(l.leaseBatchCount + 1, 0, 0, 0), { code: 'ERR_TUNIO_INVALID_ARG' }, 'the addon: one lease too many')
  t.throws(() => pool.native.leaseBatch(1, 0, l.packetRoom + 1, 0), { code: 'ERR_TUNIO_INVALID_ARG' }, 'the addon: headroom past packetRoom')
  pool.lease(l.leaseSize - 2 * l.packetRoom, { headroom: l.packetRoom, tailroom: l.packetRoom }).release()
  t.throws(() => pool.lease(0, { headroom: l.packetRoom + 1 }), { code: 'ERR_TUNIO_INVALID_ARG' }, 'lib/: headroom past packetRoom')
  t.throws(() => pool.lease(l.leaseSize + 1), { code: 'ERR_TUNIO_INVALID_ARG' }, 'lib/: a lease past leaseSize')
  const batch = pool.leaseBatch(2, 1)
  t.equal(batch.headers(l.headerBytes).bytes.length, 2 * l.headerBytes, `headers(${l.headerBytes})`)
  t.throws(() => batch.headers(l.headerBytes + 1), { code: 'ERR_TUNIO_INVALID_ARG' }, 'lib/: headers past headerBytes')
  t.throws(() => batch.native.headers(l.headerBytes + 1, new Uint8Array(4 * l.headerBytes), new Int32Array(2)), { code: 'ERR_TUNIO_INVALID_ARG' }, 'the addon: headers past headerBytes')
  t.throws(() => batch.split(Uint8Array.of(0, 0), l.releaseGroup + 1), { code: 'ERR_TUNIO_INVALID_ARG' }, 'lib/: split into more than releaseGroup groups')
  t.throws(() => batch.native.split(Uint8Array.of(0, 0), l.releaseGroup + 1), { code: 'ERR_TUNIO_INVALID_ARG' }, 'the addon: likewise')
  const groups = batch.split(Uint8Array.of(0, l.releaseGroup), l.releaseGroup)
  t.equal(groups.length, l.releaseGroup, `split into ${l.releaseGroup} groups`)
  t.same(groups.map((g) => g.length).slice(0, 2), [1, 0], `group ${l.releaseGroup} released the second packet`)
  for (const g of groups) g.release()

  const { openTun } = await import('../lib/tun')
  await t.rejects(openTun({ name: 'tunio-lim0', queues: l.tunQueues + 1 }), { code: 'ERR_TUNIO_INVALID_OPTION' }, 'lib/: queues past tunQueues')
  t.throws(() => new (binding() as unknown as { NativeTun: new (...a: unknown[]) => unknown }).NativeTun({ name: 'tunio-lim0', queues: l.tunQueues + 1 }, pool.native, () => {}),
    /queues must be 1\.\.256/, 'the addon (the core\'s TunDevice::open): queues past tunQueues')
  await t.rejects(openUdp({ bind: '127.0.0.1:0', batchSize: l.udpBatchSize + 1 }), { code: 'ERR_TUNIO_INVALID_OPTION' }, 'lib/: batchSize past udpBatchSize')
  t.throws(() => new (binding() as unknown as { NativeUdp: new (...a: unknown[]) => unknown }).NativeUdp({ bind: '127.0.0.1:0', batchSize: l.udpBatchSize + 1 }, pool.native, () => {}),
    { code: 'ERR_TUNIO_UDP_OPEN' }, 'the addon (the core\'s UdpSocket::init): batchSize past udpBatchSize')
  const u = await openUdp({ bind: '127.0.0.1:0', batchSize: l.udpBatchSize, pool })
  u.close()
})
