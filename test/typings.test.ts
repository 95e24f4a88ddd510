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
    'dist/index.js', 'dist/index.mjs', 'types/index.d.ts']) {
    t.ok(files.includes(required), `has ${required}`)
  }
  t.ok(present(/^src-native\/core\/.*\.cc$/) && present(/^src-native\/addon\/.*\.cc$/), 'has the native sources (build from source)')
  t.ok(present(/^src-native\/.*\.h$/), 'has the native headers')
  const stray = files.filter((f) => /^(test|test-native|fuzz|bench|examples|lib|build[^/]*|node_modules|\.ci)\//.test(f) ||
    /^dist\/(examples|lib)\//.test(f) || f.endsWith('.map') || f.endsWith('.ts') && !f.endsWith('.d.ts'))
  t.same(stray, [], 'no tests, build trees, source maps or TypeScript sources')
})

t.test('published declarations type-check in consumer projects', async (t) => {
  const files = packedFiles()
  t.ok(files.includes('types/index.d.ts'), 'types/index.d.ts is published')
  t.ok(files.includes('dist/index.mjs') && files.includes('dist/index.js'), 'both entry points are published')

  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tunio-typings-'))
  t.teardown(() => fs.rmSync(scratch, { recursive: true, force: true }))
  const pkgDir = path.join(scratch, 'node_modules', 'tunio')
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(pkgDir, f)), { recursive: true })
    fs.copyFileSync(path.join(root, f), path.join(pkgDir, f))
  }
  fs.mkdirSync(path.join(scratch, 'node_modules', '@types'))
  fs.symlinkSync(path.join(root, 'node_modules', '@types', 'node'), path.join(scratch, 'node_modules', '@types', 'node'))

  for (const v of variants) {
    await t.test(v.name, async (t) => {
      const dir = path.join(scratch, v.name.replace(/\W+/g, '-'))
      fs.mkdirSync(dir)
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: v.type }))
      fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...base, ...v.options } }))
      fs.copyFileSync(fixture, path.join(dir, 'consumer.ts'))
      for (const [name, text] of Object.entries(v.extra ?? {})) fs.writeFileSync(path.join(dir, name), text)

      const check = spawnSync(process.execPath, [tsc, '-p', dir], { cwd: dir, encoding: 'utf8' })
      t.equal(check.status, 0, `tsc: ${check.stdout}${check.stderr}`)

      const run = spawnSync(process.execPath, ['-e', v.run], { cwd: dir, encoding: 'utf8', env: { ...process.env, TUNIO_ADDON_PATH: '' } })
      t.equal(run.status, 0, `run: ${run.stderr}`)
      if (run.status === 0) {
        t.same(JSON.parse(run.stdout), { openTun: 'function', openUdp: 'function', Pool: 'function', supported: true })
      }
    })
  }
})
