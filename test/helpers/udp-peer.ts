// Drives test/fixtures/udp-peer.js: a tunio process inside a network namespace that runs the
// code each step sends it and answers with the result (JSON), so one test can hold sockets in
// several namespaces at once.
import { spawn, type ChildProcess } from 'child_process'
import * as path from 'path'

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'udp-peer.js')
const DIST = path.join(__dirname, '..', '..', 'dist', 'index.js')

export interface Peer {
  /** Runs `code` (an async function body with `ctx` in scope) in the peer; resolves with its return value. */
  run: (code: string, timeoutMs?: number) => Promise<any>
  /** Ends the peer (closes its sockets); resolves once it exited. */
  stop: () => Promise<void>
  output: () => string
}

export function startPeer (ns: string, env: Record<string, string> = {}, wrapper: string[] = []): Peer {
  const argv = ['netns', 'exec', ns, ...wrapper, process.execPath, FIXTURE, DIST]
  const child: ChildProcess = spawn('ip', argv, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  let stderr = ''
  let buf = ''
  let next = 0
  const waiting = new Map<number, { resolve: (v: any) => void, reject: (e: Error) => void }>()
  const exited = new Promise<void>((resolve) => child.on('exit', () => {
    for (const w of waiting.values()) w.reject(new Error(`peer in ${ns} exited: ${stderr}`))
    waiting.clear()
    resolve()
  }))
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString()
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      let msg: any
      try { msg = JSON.parse(line) } catch { stderr += `(not JSON) ${line}\n`; continue }
      const w = waiting.get(msg.id)
      if (w === undefined) continue
      waiting.delete(msg.id)
      if (msg.ok === true) w.resolve(msg.value)
      else w.reject(Object.assign(new Error(`peer in ${ns}: ${String(msg.error?.message)}`), { peer: msg.error }))
    }
  })
  return {
    run (code: string, timeoutMs = 30_000): Promise<any> {
      const id = next++
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => { waiting.delete(id); reject(new Error(`peer in ${ns}: step timed out: ${code.slice(0, 200)}`)) }, timeoutMs)
        waiting.set(id, { resolve: (v) => { clearTimeout(timer); resolve(v) }, reject: (e) => { clearTimeout(timer); reject(e) } })
        child.stdin?.write(JSON.stringify({ id, code }) + '\n')
      })
    },
    async stop (): Promise<void> {
      child.stdin?.end()
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    },
    output: () => stderr
  }
}
