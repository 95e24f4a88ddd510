// Throwaway network namespaces for wire tests: create/delete, run a command inside, spawn a
// node child inside, and a two-namespace TUN "wire" joined by a forwarder process.
import * as os from 'os'
import { execFile, spawn, spawnSync, type ChildProcess } from 'child_process'
import * as fs from 'fs'
import * as path from 'path'

let counter = 0
const created = new Set<string>()

export interface RunResult { code: number, stdout: string, stderr: string }

/** Root with /dev/net/tun and a working `ip netns`; otherwise the reason to skip. */
export function netnsSkipReason (): string | false {
  if (process.platform !== 'linux') return 'not Linux'
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root (CAP_NET_ADMIN) for network namespaces'
  if (!fs.existsSync('/dev/net/tun')) return 'no /dev/net/tun'
  if (spawnSync('ip', ['-V'], { stdio: 'ignore' }).status !== 0) return 'no ip command (Debian package iproute2, in scripts/test-packages.txt)'
  return false
}

/** Runs argv (no shell) and resolves with its exit code and output; never rejects on status. */
export function run (argv: string[], opts: { input?: string, timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(argv[0], argv.slice(1), { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      // A child killed by a signal has no exit code: report it as a shell would (128 + signal
      // number, 139 = SIGSEGV) and name the signal, which CI's log would otherwise not show.
      const signal = err === null ? null : (err as unknown as { signal?: NodeJS.Signals | null }).signal ?? null
      const code = err === null
        ? 0
        : signal !== null ? 128 + (os.constants.signals[signal] ?? 0)
          : typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? (err as unknown as { code: number }).code : 1
      const note = signal !== null ? ` killed by ${signal}: ${err!.message}` : err !== null && code === 1 ? ` ${err.message}` : ''
      resolve({ code, stdout: String(stdout), stderr: String(stderr) + note })
    })
    if (opts.input !== undefined) child.stdin?.end(opts.input)
  })
}

/** Like run() but throws with the command and stderr when the exit status is not 0. */
export async function check (argv: string[], opts: { input?: string, timeoutMs?: number } = {}): Promise<string> {
  const r = await run(argv, opts)
  if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (${r.code}): ${r.stderr.trim()}`)
  return r.stdout
}

/** Creates a uniquely named namespace (tunio-t<pid>-<n><tag>) with lo up. */
export async function createNetns (tag = ''): Promise<string> {
  const name = `tunio-t${process.pid}-${counter++}${tag}`
  await check(['ip', 'netns', 'add', name])
  created.add(name)
  await check(['ip', '-n', name, 'link', 'set', 'lo', 'up'])
  return name
}

/** Deletes a namespace created here; missing ones are ignored. */
export async function deleteNetns (name: string): Promise<void> {
  created.delete(name)
  await run(['ip', 'netns', 'del', name])
}

/** Last resort on exit: synchronously delete namespaces a crashed test left behind. */
process.on('exit', () => {
  for (const name of created) {
    try { require('child_process').execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' }) } catch {}
  }
})

/** Runs argv inside the namespace. */
export function runIn (ns: string, argv: string[], opts: { input?: string, timeoutMs?: number } = {}): Promise<RunResult> {
  return run(['ip', 'netns', 'exec', ns, ...argv], opts)
}

/**
 * Runs `node fixture args...` inside the namespace and returns the JSON object on the last line
 * of its stdout; throws with its stderr when it exits non-zero.
 */
export async function runFixtureIn (ns: string, fixture: string, args: string[], timeoutMs: number): Promise<any> {
  const r = await runIn(ns, [process.execPath, fixture, ...args], { timeoutMs })
  if (r.code !== 0) throw new Error(`fixture ${fixture} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout.trim().split('\n').pop() as string)
}

/**
 * Runs a fixture that takes the built package and its test hooks (`node fixture
 * dist/index.js dist/test-hooks.js`) in a namespace of its own, deleted when `t` ends; returns
 * the fixture's JSON result as runFixtureIn does.
 */
export async function runFixtureWithHooks (t: { teardown: (fn: () => unknown) => void }, tag: string, fixture: string, timeoutMs: number): Promise<any> {
  const ns = await createNetns(tag)
  t.teardown(() => deleteNetns(ns))
  const dist = path.join(__dirname, '..', '..', 'dist')
  return await runFixtureIn(ns, fixture, [path.join(dist, 'index.js'), path.join(dist, 'test-hooks.js')], timeoutMs)
}

/** Spawns `node script args...` inside the namespace (stdio piped). */
export function spawnNodeIn (ns: string, script: string, args: string[] = [], nodeArgs: string[] = []): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, process.execPath, ...nodeArgs, script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
}

/** Resolves with the next complete JSON line a child prints on stdout. */
export function nextJsonLine (child: ChildProcess, timeoutMs = 10_000): Promise<any> {
  return new Promise((resolve, reject) => {
    let buf = ''
    const onData = (d: Buffer): void => {
      buf += d.toString()
      const i = buf.indexOf('\n')
      if (i < 0) return
      cleanup()
      const line = buf.slice(0, i)
      const rest = buf.slice(i + 1)
      if (rest.length > 0) child.stdout?.unshift(Buffer.from(rest))
      try { resolve(JSON.parse(line)) } catch (err) { reject(new Error(`not JSON from child: ${line}`)) }
    }
    const onExit = (code: number | null): void => { cleanup(); reject(new Error(`child exited (${code}) before a JSON line; got: ${buf}`)) }
    const timer = setTimeout(() => { cleanup(); reject(new Error(`no JSON line within ${timeoutMs} ms; got: ${buf}`)) }, timeoutMs)
    const cleanup = (): void => { clearTimeout(timer); child.stdout?.off('data', onData); child.off('exit', onExit) }
    child.stdout?.on('data', onData)
    child.on('exit', onExit)
  })
}

export const FORWARDER = path.join(__dirname, '..', 'fixtures', 'tun-forwarder.js')
/** Creates two TUNs and hands their fds to a forwarder (test/fixtures/fd-helper.js). */
export const FD_HELPER = path.join(__dirname, '..', 'fixtures', 'fd-helper.js')
/** The multi-queue forwarder: one worker thread per queue pair (test/fixtures/mq-forwarder.js). */
export const MQ_FORWARDER = path.join(__dirname, '..', 'fixtures', 'mq-forwarder.js')

export interface Wire {
  nsA: string, nsB: string, nsFw: string
  forwarder: ChildProcess
  ready: any
  stderr: () => string
  /** Current forwarder stats (both devices, CPU, errors). */
  stats: () => Promise<any>
  /** Stops the forwarder (final stats) and deletes every namespace. Idempotent. */
  destroy: () => Promise<any>
}

export interface WireOptions {
  offload: 'auto' | boolean, ipv6?: boolean, mtu?: number
  /** Forward with MQ_FORWARDER and this many workers (one queue of each device each). */
  workers?: number
  /**
   * The forwarder runs without CAP_NET_ADMIN (setpriv drops it from the bounding set) and gets
   * both devices' fds from FD_HELPER, which creates them (openTun({ fd }), receiveFd, sendFd).
   */
  fdHandOver?: boolean
}

/**
 * nsA (10.77.1.1/24, fd77:1::1/64 on tunA) <-> forwarder (both TUN fds) <-> nsB (10.77.2.1/24,
 * fd77:2::1/64 on tunB). The forwarder opens both devices in its own namespace, then each link
 * is moved into its namespace (the fds stay valid).
 */
export async function buildWire (opts: WireOptions): Promise<Wire> {
  const names: string[] = []
  let forwarder: ChildProcess | undefined
  let finalStats: any
  let destroyed = false
  let stderr = ''
  const destroy = async (): Promise<any> => {
    if (destroyed) return finalStats
    destroyed = true
    try {
      if (forwarder !== undefined && forwarder.exitCode === null && forwarder.signalCode === null) {
        const f = forwarder
        const exited = new Promise<void>((resolve) => f.once('exit', () => resolve()))
        const last = nextJsonLine(f, 5000).catch(() => undefined)
        f.stdin?.write('exit\n')
        finalStats = await last
        const timer = setTimeout(() => f.kill('SIGKILL'), 5000)
        await exited
        clearTimeout(timer)
      }
    } finally {
      for (const n of names) await deleteNetns(n)
    }
    return finalStats
  }
  try {
    const nsFw = await createNetns('f'); names.push(nsFw)
    const nsA = await createNetns('a'); names.push(nsA)
    const nsB = await createNetns('b'); names.push(nsB)
    const socketDir = opts.fdHandOver === true ? fs.mkdtempSync('/tmp/tunio-fd-') : undefined
    const sockets = socketDir === undefined ? [] : [path.join(socketDir, 'a'), path.join(socketDir, 'b')]
    const args = socketDir === undefined ? ['tunA', 'tunB', String(opts.offload)] : [`recv:${sockets[0]}`, `recv:${sockets[1]}`, String(opts.offload)]
    if (opts.workers !== undefined) args.push(String(opts.workers))
    else if (opts.mtu !== undefined) args.push(String(opts.mtu))
    if (socketDir === undefined) {
      forwarder = spawnNodeIn(nsFw, opts.workers !== undefined ? MQ_FORWARDER : FORWARDER, args)
    } else {
      // Still uid 0, but without CAP_NET_ADMIN in any set: creating or attaching a TUN, and
      // every link change, is refused to it (the ready line reports what it tried).
      forwarder = spawn('ip', ['netns', 'exec', nsFw, 'setpriv', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-net_admin',
        '--', process.execPath, FORWARDER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    }
    forwarder.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
    if (socketDir !== undefined) {
      const helper = spawnNodeIn(nsFw, FD_HELPER, ['tunA', 'tunB', sockets[0], sockets[1], String(opts.offload)])
      helper.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
      const sent = await nextJsonLine(helper, 30_000).finally(() => fs.rmSync(socketDir, { recursive: true, force: true }))
      if (sent.sent !== true) throw new Error(`fd helper failed: ${sent.error} ${stderr}`)
    }
    const ready = await nextJsonLine(forwarder, 30_000)
    if (ready.ready !== true) throw new Error(`forwarder failed: ${ready.error} ${stderr}`)
    const sides: Array<[string, string, string, string, string, string]> = [
      [nsA, 'tunA', '10.77.1.1/24', '10.77.2.0/24', 'fd77:1::1/64', 'fd77:2::/64'],
      [nsB, 'tunB', '10.77.2.1/24', '10.77.1.0/24', 'fd77:2::1/64', 'fd77:1::/64']
    ]
    for (const [ns, dev, addr, peer, addr6, peer6] of sides) {
      await check(['ip', '-n', nsFw, 'link', 'set', dev, 'netns', ns])
      await check(['ip', '-n', ns, 'addr', 'add', addr, 'dev', dev])
      if (opts.ipv6 !== false) await check(['ip', '-n', ns, 'addr', 'add', addr6, 'dev', dev, 'nodad'])
      await check(['ip', '-n', ns, 'link', 'set', dev, 'up'])
      await check(['ip', '-n', ns, 'route', 'add', peer, 'dev', dev])
      if (opts.ipv6 !== false) await check(['ip', '-n', ns, 'route', 'add', peer6, 'dev', dev])
    }
    const f = forwarder
    return {
      nsA, nsB, nsFw, forwarder: f, ready,
      stderr: () => stderr,
      stats: async () => { const p = nextJsonLine(f); f.stdin?.write('stats\n'); return await p },
      destroy
    }
  } catch (err) {
    await destroy()
    throw err
  }
}

/** The `ip -s -j link show` counters of a device inside a namespace. */
export async function ipLinkStats (ns: string, dev: string): Promise<{ rx: { packets: number, bytes: number, dropped: number, errors: number }, tx: { packets: number, bytes: number, dropped: number, errors: number } }> {
  const j = JSON.parse(await check(['ip', '-n', ns, '-s', '-j', 'link', 'show', dev]))
  return j[0].stats64
}

/** TCP InCsumErrors of a namespace (covers IPv4 and IPv6 TCP). */
export async function tcpInCsumErrors (ns: string): Promise<number> {
  const snmp = (await check(['ip', 'netns', 'exec', ns, 'cat', '/proc/net/snmp'])).split('\n').filter((l) => l.startsWith('Tcp:'))
  const keys = snmp[0].split(/\s+/)
  const vals = snmp[1].split(/\s+/)
  return Number(vals[keys.indexOf('InCsumErrors')])
}
