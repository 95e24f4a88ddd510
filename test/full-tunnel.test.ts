// A full tunnel set up only with tunio's API (wg-quick's rule set), against the kernel: in
// namespace a the default route goes through the TUN (table 51820, `not fwmark 51820 table
// 51820`, `table main suppress_prefixlength 0`); the tunnel's own UDP, marked with SO_MARK,
// still reaches the peer, whose address a reaches only by main's default route (which the
// suppress rule hides from everything unmarked); TCP to an address that only the far side of
// the tunnel has arrives intact; close() removes the routes and rules.
import t from 'tap'
import { spawn } from 'child_process'
import * as path from 'path'
import { nextJsonLine } from './helpers/netns'
import { netns, readyForTunnels } from './helpers/tunnels'

const FIXTURE = path.join(__dirname, 'fixtures', 'full-tunnel.js')
const MARK = 51820
const TABLE = 51820
const PEER = '192.0.2.2'          // b's tunnel endpoint: in a only behind main's default route
const INSIDE = '10.99.0.1'        // an address of b that a reaches only through the tunnel

if (readyForTunnels(t)) {

  t.test('full tunnel by rules made with tunio: marked UDP reaches the peer, TCP through the tunnel intact, all removed on close()', async (t) => {
    const wire = netns.createWire('f')
    t.teardown(() => wire.cleanup())
    const ipA = (...args: string[]): string => wire.exec('a', 'ip', args)
    wire.exec('b', 'ip', ['addr', 'add', `${PEER}/32`, 'dev', 'veth0'])
    wire.exec('b', 'ip', ['addr', 'add', `${INSIDE}/32`, 'dev', 'lo'])
    ipA('route', 'add', 'default', 'via', netns.WIRE.b)   // a's way to the peer: main's default route

    const b = await netns.startEcho(wire, 'b')            // b's end: the echo tunnel, peer 172.31.255.1
    const a = spawn('ip', ['netns', 'exec', wire.ns.a, process.execPath, FIXTURE, `${PEER}:5555`, String(MARK), String(TABLE)], { stdio: ['pipe', 'pipe', 'pipe'] })
    wire.procs.add(a)
    let stderr = ''
    a.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
    const ready = await nextJsonLine(a, 20_000 * netns.TIME_SCALE)
    t.equal(ready.ready, true, `a's endpoint up: ${ready.error ?? ''} ${stderr}`)
    if (ready.ready !== true) return
    t.equal(ready.fwmark, MARK, 'its UDP socket carries the mark (SO_MARK read back)')

    // The rule set does what wg-quick's does, by the kernel's own route lookup.
    const routeGet = (...args: string[]): any => JSON.parse(ipA('-j', 'route', 'get', ...args))[0]
    t.equal(routeGet(PEER).dev, 'tun0', 'unmarked traffic to the peer would go into the tunnel')
    t.equal(routeGet(PEER, 'mark', String(MARK)).dev, 'veth0', 'marked traffic to the peer leaves by the veth')
    t.equal(routeGet(INSIDE).dev, 'tun0', `${INSIDE} is routed through the tunnel`)
    t.equal(routeGet(netns.WIRE.b).dev, 'veth0', 'the main table\'s connected route still wins (suppress_prefixlength 0 hides only its default)')

    const r = await netns.tcpTransfer(wire, 'a', 'b', 8 * 1024 * 1024, { dst: INSIDE, port: 7200 })
    t.ok(r.ok, `8 MiB of TCP to ${INSIDE} through the tunnel: ${r.bytes} bytes, sha256 match`) || t.comment(r.output)

    const before = { table: ipA('-j', 'route', 'show', 'table', String(TABLE)), rules: ipA('-j', 'rule', 'show') }
    t.match(before.table, /"dst":"default","dev":"tun0"/, 'the default route in table 51820 before close')
    t.match(before.rules, /"not":null,"src":"all","fwmark":"0xca6c","table":"51820"/, 'the not-fwmark rule before close')

    const closed = nextJsonLine(a, 10_000)
    a.stdin?.write('exit\n')
    const final = await closed
    t.same(final.stats.errors, [], 'no send errors in a\'s endpoint')
    t.ok(final.stats.udpDatagramsOut > 1000 && final.stats.udpDatagramsIn > 0, `a's marked socket carried the transfer (data out, ACKs in: the far kernel acknowledges coalesced superpackets) (${final.stats.udpDatagramsOut} datagrams out, ${final.stats.udpDatagramsIn} in)`)
    t.equal(ipA('route', 'show', 'table', String(TABLE)).trim(), '', 'after close(): table 51820 is empty (ip route show table 51820)')
    const rules = ipA('rule', 'show')
    t.notMatch(rules, /fwmark 0xca6c/, 'after close(): no fwmark rule (ip rule)')
    t.notMatch(rules, /suppress_prefixlength/, 'after close(): no suppress_prefixlength rule')
    t.match(rules, /32766:\s+from all lookup main/, 'the kernel\'s own rules are untouched')
    await b.stop()
  })
}
