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
import { UDP_DEFAULTS } from '../lib/udp'

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
 * nested object types are walked, Record<Union, number> expands to the union's members (a type
 * alias of the same file), other types are leaves.
 */
function interfacePaths (file: string, name: string): string[] {
  const src = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const typeOf = (n: ts.TypeNode, prefix: string): string[] => {
    if (ts.isTypeLiteralNode(n)) return membersOf(n.members, prefix)
    if (ts.isTypeReferenceNode(n) && n.typeName.getText(src) === 'Record' && n.typeArguments !== undefined) {
      return unionMembers(file, n.typeArguments[0].getText(src)).map((k) => `${prefix}.${k}`)
    }
    return [prefix]
  }
  const membersOf = (members: ts.NodeArray<ts.TypeElement>, prefix: string): string[] => members.flatMap((m) => {
    if (!ts.isPropertySignature(m) || m.type === undefined) throw new Error(`${name}: ${m.getText(src)} is not a typed property`)
    const key = m.name.getText(src)
    return typeOf(m.type, prefix === '' ? key : `${prefix}.${key}`)
  })
  for (const st of src.statements) {
    if (ts.isInterfaceDeclaration(st) && st.name.text === name) return membersOf(st.members, '').sort()
  }
  throw new Error(`no interface ${name} in ${file}`)
}

/** The leaf paths of a plain object, as interfacePaths() names them. */
function objectPaths (o: object, prefix = ''): string[] {
  return Object.entries(o).flatMap(([k, v]) => {
    const p = prefix === '' ? k : `${prefix}.${k}`
    return v !== null && typeof v === 'object' ? objectPaths(v as object, p) : [p]
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
