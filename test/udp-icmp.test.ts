// ICMP errors on an UNCONNECTED (dual-stack) socket, routed for real: a client namespace whose
// default routes go through a router namespace. The router answers for unreachable/prohibit
// routes and for destinations it has no route to with ICMP/ICMPv6 errors; the client itself
// has unreachable/prohibit routes (errors the client's kernel returns on send). Every one must
// come out as a 'peerError' with the destination we sent to, and the socket keeps working.
import t from 'tap'
import { spawn } from 'child_process'
import * as fs from 'fs'
import * as path from 'path'
import { check, createNetns, deleteNetns, netnsSkipReason, runIn } from './helpers/netns'

const dist = path.join(__dirname, '..', 'dist', 'index.js')

const CHILD = `
const arg = JSON.parse(process.argv[1])
const { openUdp } = require(arg.dist)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
;(async () => {
  const udp = await openUdp({ bind: '[::]:0' })
  const rx = await openUdp({ bind: '127.0.0.1:0' })
  const events = []
  udp.on('peerError', (e) => events.push({ errno: e.errno, origin: e.origin, remote: e.remote, icmpType: e.icmpType,
    icmpCode: e.icmpCode, offender: e.offender, syscall: e.syscall, code: e.code }))
  // A pending read keeps POLLIN armed: errors arrive through POLLERR without another send.
  const reading = udp.read()
  for (const target of arg.targets) {
    udp.send(Buffer.from('probe ' + target.address), target)
    await sleep(50)
  }
  for (let i = 0; i < 60 && events.length < arg.targets.length; i++) await sleep(50)
  // Still usable: a datagram to a listener arrives.
  udp.send(Buffer.from('still alive'), rx.local)
  const got = await rx.read()
  const alive = got !== null && got.length === 1 && Buffer.from(got.at(0).buffer).toString() === 'still alive'
  got?.release()
  const stats = udp.stats()
  const closed = udp.closed
  udp.close(); rx.close()
  await reading
  console.log(JSON.stringify({ events, stats, alive, closed }))
})().catch((err) => { console.error(err); process.exit(1) })
`

function runChild (ns: string, targets: Array<{ address: string, port: number }>): Promise<any> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', CHILD, JSON.stringify({ dist, targets })],
      { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`child timed out: ${err}`)) }, 30_000)
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    child.on('exit', (c) => {
      clearTimeout(timer)
      if (c !== 0) { reject(new Error(`child exited ${c}: ${err}`)); return }
      try { resolve(JSON.parse(out.trim().split('\n').pop() as string)) } catch { reject(new Error(`bad output ${out}: ${err}`)) }
    })
  })
}

const skip = netnsSkipReason() || (fs.existsSync(dist) ? false : 'dist/ not built (npm run build:ts)')

t.test('unconnected socket: ICMP and local errors from a routed path are peerError events', { skip }, async (t) => {
  const client = await createNetns('c')
  const router = await createNetns('r')
  t.teardown(async () => { await deleteNetns(client); await deleteNetns(router) })
  await check(['ip', 'link', 'add', 'c0', 'netns', client, 'type', 'veth', 'peer', 'name', 'r0', 'netns', router])
  await check(['ip', '-n', client, 'addr', 'add', '10.77.0.1/24', 'dev', 'c0'])
  await check(['ip', '-n', client, 'addr', 'add', 'fd77::1/64', 'dev', 'c0', 'nodad'])
  await check(['ip', '-n', router, 'addr', 'add', '10.77.0.2/24', 'dev', 'r0'])
  await check(['ip', '-n', router, 'addr', 'add', 'fd77::2/64', 'dev', 'r0', 'nodad'])
  await check(['ip', '-n', client, 'link', 'set', 'c0', 'up'])
  await check(['ip', '-n', router, 'link', 'set', 'r0', 'up'])
  await check(['ip', '-n', client, 'route', 'add', 'default', 'via', '10.77.0.2'])
  await check(['ip', '-n', client, '-6', 'route', 'add', 'default', 'via', 'fd77::2'])
  // Errors the client's own kernel returns on send (origin local).
  await check(['ip', '-n', client, 'route', 'add', 'unreachable', '100.64.9.0/24'])
  await check(['ip', '-n', client, 'route', 'add', 'prohibit', '100.64.10.0/24'])
  // The router forwards, and answers with ICMP for these.
  await runIn(router, ['sysctl', '-qw', 'net.ipv4.ip_forward=1'])
  await runIn(router, ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1'])
  // No per-host ICMP rate limit in the router (its token bucket is shared between forwarding
  // errors and its own port unreachables: with the default only two of our four would go out).
  await runIn(router, ['sysctl', '-qw', 'net.ipv4.icmp_ratelimit=0'])
  await runIn(router, ['sysctl', '-qw', 'net.ipv6.icmp.ratelimit=0'])
  await check(['ip', '-n', router, 'route', 'add', 'unreachable', '198.51.100.0/24'])
  await check(['ip', '-n', router, 'route', 'add', 'prohibit', '203.0.113.0/24'])
  await check(['ip', '-n', router, '-6', 'route', 'add', 'unreachable', '2001:db8:1::/64'])
  await check(['ip', '-n', router, '-6', 'route', 'add', 'prohibit', '2001:db8:2::/64'])
  // (no route at all on the router for 192.0.2.0/24: net unreachable)

  const cases = [
    { address: '198.51.100.7', errno: 'EHOSTUNREACH', origin: 'icmp', type: 3, code: 1, offender: '10.77.0.2' },
    { address: '203.0.113.7', errno: 'EHOSTUNREACH', origin: 'icmp', type: 3, code: 13, offender: '10.77.0.2' },
    { address: '192.0.2.7', errno: 'ENETUNREACH', origin: 'icmp', type: 3, code: 0, offender: '10.77.0.2' },
    { address: '10.77.0.2', errno: 'ECONNREFUSED', origin: 'icmp', type: 3, code: 3, offender: '10.77.0.2' },
    { address: '2001:db8:1::7', errno: 'ENETUNREACH', origin: 'icmp6', type: 1, code: 0, offender: 'fd77::2' },
    { address: '2001:db8:2::7', errno: 'EACCES', origin: 'icmp6', type: 1, code: 1, offender: 'fd77::2' },
    { address: 'fd77::2', errno: 'ECONNREFUSED', origin: 'icmp6', type: 1, code: 4, offender: 'fd77::2' },
    { address: '100.64.9.7', errno: 'EHOSTUNREACH', origin: 'local' },
    { address: '100.64.10.7', errno: 'EACCES', origin: 'local' }
  ]
  const targets = cases.map((c, i) => ({ address: c.address, port: 4000 + i }))
  const r = await runChild(client, targets)
  t.comment(`events: ${JSON.stringify(r.events)}`)
  t.comment(`stats: peerErrors ${JSON.stringify(r.stats.peerErrors)} errorQueue ${JSON.stringify(r.stats.errorQueue)} drops.peer ${JSON.stringify(r.stats.drops.peer)} syscalls ${JSON.stringify(r.stats.syscalls)}`)
  for (const [i, c] of cases.entries()) {
    const mine = r.events.filter((e: any) => e.remote?.address === c.address)
    t.equal(mine.length, 1, `${c.address}: exactly one event`)
    const e = mine[0]
    if (e === undefined) continue
    t.equal(e.code, 'ERR_TUNIO_UDP_PEER')
    t.equal(e.errno, c.errno, `${c.address}: ${c.errno}`)
    t.equal(e.origin, c.origin, `${c.address}: origin ${c.origin}`)
    t.equal(e.remote.port, targets[i].port, `${c.address}: the port we sent to`)
    if (c.origin !== 'local') {
      t.equal(e.icmpType, c.type, `${c.address}: ICMP type`)
      t.equal(e.icmpCode, c.code, `${c.address}: ICMP code`)
      t.equal(e.offender?.address, c.offender, `${c.address}: reported by ${c.offender}`)
    }
  }
  t.equal(r.events.length, cases.length, 'no other events')
  t.equal(r.stats.errorQueue.icmp, 4, 'four ICMPv4 entries')
  t.equal(r.stats.errorQueue.icmp6, 3, 'three ICMPv6 entries')
  t.equal(r.stats.peerErrors.hostUnreachable, 5, 'EHOSTUNREACH x3 (two ICMP, one local) + EACCES x2 (local, ICMPv6 prohibited)')
  t.equal(r.stats.peerErrors.netUnreachable, 2)
  t.equal(r.stats.peerErrors.connRefused, 2)
  t.equal(r.stats.drops.peer.hostUnreachable, 2, 'the two datagrams refused locally were dropped')
  t.ok(r.stats.errorQueue.pollErrors >= 1, 'errors were picked up by POLLERR')
  t.equal(r.closed, false, 'socket still open')
  t.equal(r.alive, true, 'socket still sends after all the errors')
})
