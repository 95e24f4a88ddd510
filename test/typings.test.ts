// Typings as a user gets them: the files `npm pack` would publish are copied into
// node_modules/tunio of a scratch consumer project, and test/fixtures/typings/consumer.ts
// (the README's API) is type-checked against them with the consumer's own tsconfig, as ESM
// (nodenext, "type": "module"), as CommonJS (nodenext, plus `import x = require()`) and with
// node10 resolution (top-level "types"). The compiled consumers are then run to show the
// exports map resolves at run time (import and require) without loading the native addon.
import t from 'tap'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { spawnSync } from 'child_process'

// Two TypeScript versions x two sources of Node's types x three module settings: up to a minute
// or two on a loaded 2-core machine.
t.setTimeout(600_000)

const root = path.join(__dirname, '..')
const fixture = path.join(__dirname, 'fixtures', 'typings', 'consumer.ts')
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')

function packedFiles (): string[] {
  // --ignore-scripts: no prepack build here; npm test has built dist/ and types/ already.
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`npm pack --dry-run failed: ${r.stderr}`)
  const [pack] = JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>
  return pack.files.map((f) => f.path)
}

const base = {
  target: 'ES2022',
  lib: ['ES2022'],
  types: ['node'],
  strict: true,
  skipLibCheck: false,
  outDir: 'out',
  rootDir: '.'
}

const variants: Array<{ name: string, type: 'module' | 'commonjs', options: object, extra?: Record<string, string>, run: string }> = [
  {
    name: 'esm (nodenext)',
    type: 'module',
    options: { module: 'nodenext', moduleResolution: 'nodenext' },
    run: "import('./out/consumer.js').then((m) => console.log(JSON.stringify(m.loaded)))"
  },
  {
    name: 'cjs (nodenext)',
    type: 'commonjs',
    options: { module: 'nodenext', moduleResolution: 'nodenext' },
    extra: {
      'require-style.ts': [
        "import tunio = require('tunio')",
        'export const open: typeof tunio.openTun = tunio.openTun',
        "// @ts-expect-error not an export of tunio",
        'tunio.openTap()',
        ''
      ].join('\n')
    },
    run: "console.log(JSON.stringify(require('./out/consumer.js').loaded))"
  },
  {
    name: 'cjs (node10 resolution)',
    type: 'commonjs',
    options: { module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true },
    run: "console.log(JSON.stringify(require('./out/consumer.js').loaded))"
  }
]

t.test('the tarball holds what users need and nothing of the development tree', async (t) => {
  const files = packedFiles()
  const present = (re: RegExp): boolean => files.some((f) => re.test(f))
  for (const required of ['package.json', 'README.md', 'binding.gyp', 'CMakeLists.txt', 'scripts/sources.js',
    'dist/index.js', 'dist/index.mjs', 'types/index.d.ts', 'LICENSE', 'docs/api/README.md']) {
    t.ok(files.includes(required), `has ${required}`)
  }
  t.ok(present(/^src-native\/core\/.*\.cc$/) && present(/^src-native\/addon\/.*\.cc$/), 'has the native sources (build from source)')
  t.ok(present(/^src-native\/.*\.h$/), 'has the native headers')
  const stray = files.filter((f) => /^(test|test-native|fuzz|bench|examples|lib|build[^/]*|node_modules|\.ci)\//.test(f) ||
    /^dist\/(examples|lib)\//.test(f) || f.endsWith('.map') || f.endsWith('.ts') && !f.endsWith('.d.ts'))
  t.same(stray, [], 'no tests, build trees, source maps or TypeScript sources')
  // Test hooks are an internal module: its JavaScript ships (dist/tun.js and dist/udp.js register
  // with it), but nothing a user sees reaches it: not the exports map, not a declaration file,
  // not docs/api.
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  t.same(Object.keys(pkg.exports).sort(), ['.', './package.json'], 'the exports map has only the API entry')
  t.notOk(files.includes('types/test-hooks.d.ts'), 'no declarations of the test hooks in the tarball')
  const hooks = /test-hooks|injectFault|forceGsoEio|forceCoalesce|forceWriteError|forceTunWrite|simulateGsoSegmentLimit/
  for (const f of files.filter((f) => f.startsWith('types/') || f.startsWith('docs/api/'))) {
    t.notMatch(fs.readFileSync(path.join(root, f), 'utf8'), hooks, `${f} does not mention a test hook`)
  }
})

// The compilers: the repo's TypeScript, and the latest one on the registry (what `npm i -D
// typescript` gives a consumer today: 7.x), installed into a scratch directory here.
function installLatestTypescript (dir: string): { version: string, tsc: string } {
  const r = spawnSync('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--loglevel=error', 'typescript@latest'], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`npm install typescript@latest failed: ${r.stderr}`)
  const pkg = path.join(dir, 'node_modules', 'typescript')
  return { version: JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')).version, tsc: path.join(pkg, 'bin', 'tsc') }
}

// Where Node's types come from: the consumer's own `types: ["node"]` (its @types/node), or no
// `types` setting and no @types/node of its own: only tunio's dependency (nested under
// node_modules/tunio, so tsc's automatic inclusion of node_modules/@types cannot find it),
// reached through the reference directive in tunio's index.d.ts.
const typeSources = [
  { name: 'types: ["node"]', types: ['node'], nested: false },
  { name: 'no types setting, @types/node only as tunio\'s dependency', types: undefined, nested: true }
]

t.test('published declarations type-check in consumer projects', async (t) => {
  const files = packedFiles()
  t.ok(files.includes('types/index.d.ts'), 'types/index.d.ts is published')
  t.ok(files.includes('dist/index.mjs') && files.includes('dist/index.js'), 'both entry points are published')
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  t.ok(pkg.dependencies['@types/node'], '@types/node is a dependency (the declarations use Node\'s types)')
  t.match(fs.readFileSync(path.join(root, 'types', 'index.d.ts'), 'utf8'), /^\/\/\/ <reference types="node"/m, 'index.d.ts references Node\'s types')

  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tunio-typings-'))
  t.teardown(() => fs.rmSync(scratch, { recursive: true, force: true }))
  const latest = installLatestTypescript(path.join(scratch, 'typescript-latest'))
  const repoVersion = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', 'typescript', 'package.json'), 'utf8')).version
  t.ok(Number(latest.version.split('.')[0]) >= 7, `the latest TypeScript is ${latest.version}`)
  const compilers = [
    { name: `TypeScript ${repoVersion}`, tsc, node10: true },
    // TypeScript 7 removed moduleResolution node10 (deprecated in 6.0).
    { name: `TypeScript ${latest.version}`, tsc: latest.tsc, node10: Number(latest.version.split('.')[0]) < 7 }
  ]
  const nodeTypes = path.join(root, 'node_modules', '@types', 'node')

  for (const src of typeSources) {
    // One project tree per source of Node's types; consumers are subdirectories.
    const project = path.join(scratch, src.nested ? 'nested' : 'own')
    const pkgDir = path.join(project, 'node_modules', 'tunio')
    for (const f of files) {
      fs.mkdirSync(path.dirname(path.join(pkgDir, f)), { recursive: true })
      fs.copyFileSync(path.join(root, f), path.join(pkgDir, f))
    }
    const typesDir = src.nested ? path.join(pkgDir, 'node_modules', '@types') : path.join(project, 'node_modules', '@types')
    fs.mkdirSync(typesDir, { recursive: true })
    fs.symlinkSync(nodeTypes, path.join(typesDir, 'node'))

    for (const compiler of compilers) {
      for (const v of variants) {
        const name = `${compiler.name}, ${src.name}, ${v.name}`
        const node10 = (v.options as { moduleResolution?: string }).moduleResolution === 'node10'
        await t.test(name, { skip: node10 && (!compiler.node10 ? `${compiler.name} has no node10 resolution` : src.nested && 'node10 resolution: checked with types: ["node"]') }, async (t) => {
          const dir = path.join(project, `${compiler.name}-${v.name}`.replace(/\W+/g, '-'))
          fs.mkdirSync(dir)
          const { types: _, ...rest } = base
          const options = { ...(src.types === undefined ? rest : { ...rest, types: src.types }), ...v.options }
          fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: v.type }))
          fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: options }))
          fs.copyFileSync(fixture, path.join(dir, 'consumer.ts'))
          for (const [file, text] of Object.entries(v.extra ?? {})) fs.writeFileSync(path.join(dir, file), text)

          // env -u: tap adds its loader hooks to NODE_OPTIONS of every child; TypeScript 7's tsc
          // (an ES module) fails under them.
          const check = spawnSync('env', ['-u', 'NODE_OPTIONS', process.execPath, compiler.tsc, '-p', dir], { cwd: dir, encoding: 'utf8' })
          t.equal(check.status, 0, `tsc: ${check.stdout}${check.stderr}`)

          const run = spawnSync(process.execPath, ['-e', v.run], { cwd: dir, encoding: 'utf8', env: { ...process.env, TUNIO_ADDON_PATH: '' } })
          t.equal(run.status, 0, `run: ${run.stderr}`)
          if (run.status === 0) {
            t.same(JSON.parse(run.stdout), { openTun: 'function', openUdp: 'function', Pool: 'function', supported: true })
          }
        })
      }
    }
  }
})
