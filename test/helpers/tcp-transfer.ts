// Kernel TCP across a wire of namespaces: a receiver in one namespace hashes what each
// connection brings, a sender in another sends random bytes on each of its connections and
// hashes them; the test compares the two. (scripts/netns.js has the same for the tunnels of
// the examples, whose wires are built by that script.)
import { spawn, type ChildProcess } from 'child_process'
import { type Test } from 'tap'
import { nextJsonLine, tcpInCsumErrors, type Wire } from './netns'

/** What one connection carried, as the receiver or the sender counted it. */
export interface FlowResult { port: number, bytes: number, sha: string }

// argv: host port flows. Prints {listening: true}, then one line: the FlowResult of every
// connection once `flows` have ended (keyed by the sender's port).
const RECEIVER = `
const net = require('net'), crypto = require('crypto')
const [host, port, flows] = process.argv.slice(1)
const results = []
const srv = net.createServer((s) => {
  const h = crypto.createHash('sha256'); let bytes = 0; const remotePort = s.remotePort
  s.on('data', (d) => { h.update(d); bytes += d.length })
  s.on('error', (e) => { process.stdout.write(JSON.stringify({ error: e.message }) + '\\n', () => process.exit(1)) })
  s.on('end', () => {
    results.push({ port: remotePort, bytes, sha: h.digest('hex') })
    if (results.length === Number(flows)) process.stdout.write(JSON.stringify(results) + '\\n', () => process.exit(0))
  })
})
srv.listen(Number(port), host, () => process.stdout.write(JSON.stringify({ listening: true }) + '\\n'))
`

// argv: host port flows bytes. Prints one line: the FlowResult of every connection once all
// have been sent (keyed by its local port).
const SENDER = `
const net = require('net'), crypto = require('crypto')
const [host, port, flows, total] = process.argv.slice(1)
const results = []
for (let i = 0; i < Number(flows); i++) {
  const h = crypto.createHash('sha256'); let left = Number(total)
  const s = net.connect(Number(port), host)
  s.on('error', (e) => { console.log(JSON.stringify({ error: e.message })); process.exit(1) })
  const pump = () => {
    while (left > 0) {
      const c = crypto.randomBytes(Math.min(left, 1 << 16)); left -= c.length; h.update(c)
      if (!s.write(c)) return s.once('drain', pump)
    }
    const p = s.localPort
    s.end(() => {
      results.push({ port: p, bytes: Number(total), sha: h.digest('hex') })
      if (results.length === Number(flows)) console.log(JSON.stringify(results))
    })
  }
  s.on('connect', pump)
}
`

function nodeIn (ns: string, code: string, args: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
}

async function results (child: ChildProcess, who: string, timeoutMs: number): Promise<FlowResult[]> {
  const line = await nextJsonLine(child, timeoutMs)
  if (!Array.isArray(line)) throw new Error(`${who}: ${JSON.stringify(line)}`)
  return line
}

/**
 * `flows` concurrent TCP connections of `bytes` random bytes each from namespace `fromNs` to
 * host:port in namespace `to.ns`; resolves with each side's results and the time from the
 * receiver listening to the last connection received.
 */
export async function tcpFlows (to: { ns: string, host: string }, fromNs: string, opts: { port: number, flows: number, bytes: number, timeoutMs: number }): Promise<{ sent: FlowResult[], received: FlowResult[], ms: number }> {
  const args = [to.host, String(opts.port), String(opts.flows)]
  const recv = nodeIn(to.ns, RECEIVER, args)
  let send: ChildProcess | undefined
  try {
    const l = await nextJsonLine(recv)
    if (l.listening !== true) throw new Error(`receiver: ${JSON.stringify(l)}`)
    const start = Date.now()
    const received = results(recv, 'receiver', opts.timeoutMs)
    send = nodeIn(fromNs, SENDER, [...args, String(opts.bytes)])
    const sent = await results(send, 'sender', opts.timeoutMs)
    return { sent, received: await received, ms: Date.now() - start }
  } finally {
    recv.kill('SIGKILL')
    send?.kill('SIGKILL')
  }
}

/** One TCP connection of `bytes` random bytes across a TUN wire, from nsB to host in nsA. */
export async function tcpTransfer (wire: Wire, host: string, bytes: number, port: number, timeoutMs: number): Promise<{ sent: FlowResult, received: FlowResult, ms: number }> {
  const r = await tcpFlows({ ns: wire.nsA, host }, wire.nsB, { port, flows: 1, bytes, timeoutMs })
  return { sent: r.sent[0], received: r.received[0], ms: r.ms }
}

/**
 * tcpTransfer, checked: every byte arrived with the sender's sha256, the forwarder reported
 * no error, and nsA counted no TCP checksum error meanwhile (TcpInCsumErrors unchanged).
 * Resolves with the transfer and the wire's stats after it.
 */
export async function intactTransfer (t: Test, wire: Wire, host: string, bytes: number, port: number, timeoutMs: number): Promise<{ r: Awaited<ReturnType<typeof tcpTransfer>>, s: any }> {
  const csum0 = await tcpInCsumErrors(wire.nsA)
  const r = await tcpTransfer(wire, host, bytes, port, timeoutMs)
  t.equal(r.received.bytes, bytes, `all ${bytes} bytes arrived`)
  t.equal(r.received.sha, r.sent.sha, 'sha256 matches')
  const s = await wire.stats()
  t.same(s.errors, [], 'no forwarder errors')
  t.equal(await tcpInCsumErrors(wire.nsA), csum0, 'TcpInCsumErrors in nsA unchanged')
  return { r, s }
}
