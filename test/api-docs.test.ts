// docs/api is generated from lib/ by typedoc (npm run docs) and committed. This regenerates it
// into a scratch directory and compares, so a change to the public API or its doc comments
// without `npm run docs` fails here, with the files that differ.
import t from 'tap'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { spawnSync } from 'child_process'

const root = path.join(__dirname, '..')
const committed = path.join(root, 'docs', 'api')

function listFiles (dir: string, base = dir): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(path.join(dir, e.name), base) : [path.relative(base, path.join(dir, e.name))]).sort()
}

t.test('docs/api matches what npm run docs generates from lib/', async (t) => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tunio-api-docs-'))
  t.teardown(() => fs.rmSync(scratch, { recursive: true, force: true }))
  const typedoc = path.join(root, 'node_modules', 'typedoc', 'bin', 'typedoc')
  const r = spawnSync(process.execPath, [typedoc, '--out', scratch, '--logLevel', 'Error'], { cwd: root, encoding: 'utf8' })
  t.equal(r.status, 0, `typedoc: ${r.stdout}${r.stderr}`)

  const expected = listFiles(scratch)
  t.same(listFiles(committed), expected, 'same files (run npm run docs and commit docs/api)')
  const stale = expected.filter((f) => fs.existsSync(path.join(committed, f)) &&
    fs.readFileSync(path.join(committed, f), 'utf8') !== fs.readFileSync(path.join(scratch, f), 'utf8'))
  t.same(stale, [], 'same contents (run npm run docs and commit docs/api)')
})

// What the newcomer's review (issue 16) found in docs/api, each pinned down.
t.test('docs/api: PacketBatch described, Lease without a constructor, options with defaults, events typed', async (t) => {
  const read = (f: string): string => fs.readFileSync(path.join(committed, f), 'utf8')
  t.match(read('classes/PacketBatch.md'), /The packets of one read/, 'PacketBatch has its own description (not the package blurb)')
  t.notMatch(read('classes/PacketBatch.md'), /packet I\/O for VPN data planes/)
  t.notMatch(read('classes/Lease.md'), /Constructor/i, 'Lease shows no constructor')
  const tunOptions = read('interfaces/TunOptions.md')
  for (const field of ['mtu', 'owner', 'group', 'persist', 'txqueuelen', 'coalesceTcp', 'coalesceUdp', 'pool']) {
    const section = tunOptions.split(/\n### /).find((s) => s.startsWith(`${field}?`)) ?? ''
    t.match(section, /Default/, `TunOptions.${field} has a description with its default`)
  }
  t.match(read('interfaces/UdpOptions.md'), /udp\.socketBuffers\.recv/)
  t.notMatch(read('interfaces/UdpOptions.md'), /udp\.info\(\)/)
  for (const e of ['congestion', 'drain', 'drop', 'offload', 'close']) t.match(read('interfaces/TunEvents.md'), new RegExp(`### ${e}`), `TunEvents.${e}`)
  t.match(read('classes/Tun.md'), /close\(\)[^]*discarded/, 'Tun.close() says what happens to queued writes')
  t.match(read('classes/Udp.md'), /close\(\)[^]*discarded/, 'Udp.close() says what happens to queued sends')
})
