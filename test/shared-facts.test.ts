// Facts shared by the TS and C++ halves, checked against each other: the reason names
// of TunStats.coalesceRefusals (GroRefusal in src-native/core/gro_coalesce.h, exported by the
// addon as binding.coalesceRefusals) and the CoalesceRefusal type users compile against; the lease scratch layout.
import t from 'tap'
import * as fs from 'node:fs'
import * as path from 'node:path'
import ts from 'typescript'
import { binding } from '../lib/binding'

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
