// The tests of tunnels between two namespaces joined by veth (the examples, the C reference of
// `npm run bench`, the full tunnel), whose namespaces and endpoints scripts/netns.js builds.
import { execFileSync } from 'child_process'
import * as path from 'path'
import { type Test } from 'tap'

// eslint-disable-next-line @typescript-eslint/no-var-requires
export const netns = require(path.join(__dirname, '..', '..', 'scripts', 'netns.js'))

/**
 * True when the tunnel tests can run here: root (network namespaces, TUN devices) and each
 * command of `needs` (name -> what it is and its Debian package); the examples are built then.
 * Otherwise passes one assertion that says why they are skipped, and returns false.
 */
export function readyForTunnels (t: Test, needs: Record<string, string> = {}): boolean {
  if (process.getuid?.() !== 0) {
    t.pass('skipped: needs root (network namespaces, TUN devices)')
    return false
  }
  for (const [cmd, what] of Object.entries(needs)) {
    if (!netns.has(cmd)) {
      t.pass(`skipped: needs ${what}`)
      return false
    }
  }
  execFileSync(process.execPath, [path.join(__dirname, '..', '..', 'scripts', 'build-examples.js')], { stdio: 'inherit' })
  return true
}

/**
 * `bytes` of TCP from a to b (port 7100), then from b to a (port 7101), across the wire's
 * tunnel; each direction asserted to arrive intact (named as `names` says, e.g. 'tunio' and
 * 'socat'), with the transfer's output in a comment when it did not.
 */
export async function tcpBothWays (t: Test, wire: unknown, bytes: number, opts: { timeoutMs?: number, names?: [string, string] } = {}): Promise<void> {
  const [a, b] = opts.names ?? ['a', 'b']
  const timeout = opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }
  const ab = await netns.tcpTransfer(wire, 'a', 'b', bytes, timeout)
  t.ok(ab.ok, `${a} -> ${b}: ${ab.bytes as number} bytes, sha256 ${ab.received as string} (sent ${ab.sent as string})`) || t.comment(ab.output)
  const ba = await netns.tcpTransfer(wire, 'b', 'a', bytes, { port: 7101, ...timeout })
  t.ok(ba.ok, `${b} -> ${a}: ${ba.bytes as number} bytes, sha256 ${ba.received as string} (sent ${ba.sent as string})`) || t.comment(ba.output)
}

/** A wire of two namespaces (removed after the test) with an endpoint started by `start` in each. */
export async function endpointPair (t: Test, tag: string, start: (wire: any, side: 'a' | 'b') => Promise<any>): Promise<{ wire: any, a: any, b: any }> {
  const wire = netns.createWire(tag)
  t.teardown(() => wire.cleanup())
  return { wire, a: await start(wire, 'a'), b: await start(wire, 'b') }
}
