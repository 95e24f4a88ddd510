// Every field of TunOptions and UdpOptions has a doc comment that states its default, and a
// default tunio applies itself is stated as TUN_DEFAULTS / UDP_DEFAULTS hold it (the one place
// openTun()/openUdp() take it from), so a changed default cannot leave the docs behind.
import t from 'tap'
import * as path from 'path'
import * as ts from 'typescript'
import { TUN_DEFAULTS, UDP_DEFAULTS } from '../lib/index'
import { FORWARD_DEFAULTS } from '../lib/forward'

const root = path.join(__dirname, '..')

function optionDocs (file: string, iface: string): Map<string, string> {
  const source = ts.createSourceFile(file, ts.sys.readFile(path.join(root, file)) as string, ts.ScriptTarget.ES2022, true)
  const docs = new Map<string, string>()
  source.forEachChild((node) => {
    if (!ts.isInterfaceDeclaration(node) || node.name.text !== iface) return
    for (const m of node.members) {
      if (!ts.isPropertySignature(m)) continue
      const text = ts.getJSDocCommentsAndTags(m).map((d) => ts.getTextOfJSDocComment(d.comment) ?? '').join(' ')
      docs.set((m.name as ts.Identifier).text, text.replace(/\s+/g, ' '))
    }
  })
  return docs
}

/** A default as the doc comments write it: 'tun', true, 64, 4 MiB. */
function written (value: unknown): string {
  if (typeof value === 'string') return `'${value}'`
  if (typeof value === 'number' && value >= 1 << 20 && value % (1 << 20) === 0) return `${value / (1 << 20)} MiB`
  return String(value)
}

for (const [file, iface, defaults, required] of [
  ['lib/tun.ts', 'TunOptions', TUN_DEFAULTS, []],
  ['lib/udp.ts', 'UdpOptions', UDP_DEFAULTS, ['bind']]
] as const) {
  t.test(`${iface}: every field documented with its default`, async (t) => {
    const docs = optionDocs(file, iface)
    t.ok(docs.size >= 10, `${docs.size} fields found`)
    for (const [name, text] of docs) {
      t.ok(text.length > 20, `${name} has a description`)
      if (!(required as readonly string[]).includes(name)) t.match(text, /Default/, `${name} states its default: ${text}`)
    }
    for (const [name, value] of Object.entries(defaults)) {
      t.ok(docs.has(name), `${name} of the defaults is an option`)
      t.match(docs.get(name) ?? '', new RegExp(`Default ${written(value).replace(/[.*+?^${}()|[\]\\']/g, '\\$&')}[.;: ]|Default ${written(value)}$`),
        `${name}: the doc comment says "Default ${written(value)}"`)
    }
  })
}

t.test('the forwards\' batchSize docs state FORWARD_DEFAULTS (the rounds lib/forward.ts applies)', async (t) => {
  const tunDoc = optionDocs('lib/forward.ts', 'TunForwardOptions').get('batchSize') ?? ''
  t.match(tunDoc, `Default ${FORWARD_DEFAULTS.tunBatchSize}, or ${FORWARD_DEFAULTS.tunSealedBatchSize} with \`seal\``)
  t.match(optionDocs('lib/forward.ts', 'UdpForwardOptions').get('batchSize') ?? '', `Default ${FORWARD_DEFAULTS.udpBatchSize}.`)
  t.ok(Object.isFrozen(FORWARD_DEFAULTS))
})

t.test('recvBufferSize points at udp.socketBuffers (udp.info() does not exist)', async (t) => {
  const doc = optionDocs('lib/udp.ts', 'UdpOptions').get('recvBufferSize') ?? ''
  t.match(doc, /udp\.socketBuffers\.recv/)
  t.notMatch(doc, /udp\.info\(\)/)
})

t.test('the defaults are frozen (a user cannot change what openTun()/openUdp() apply)', async (t) => {
  t.ok(Object.isFrozen(TUN_DEFAULTS) && Object.isFrozen(UDP_DEFAULTS))
})
