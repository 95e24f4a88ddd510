// Routes and rules through tunio's API against the kernel, in a throwaway namespace
// (test/fixtures/routes.js does the calls and reads every state back with `ip -j`): what was
// added is there, errors are coded with the option or the errno, close() deletes exactly what
// the Tun added (an identical rule someone else added stays), and removeOnClose: false keeps.
import t from 'tap'
import * as path from 'path'
import { createNetns, deleteNetns, netnsSkipReason, nextJsonLine, spawnNodeIn } from './helpers/netns'
import { addRoute, addRule, deleteRule } from '../lib/index'

const skip = netnsSkipReason()
const FIXTURE = path.join(__dirname, 'fixtures', 'routes.js')

t.test('options are checked before anything is sent, each error naming its option', async (t) => {
  const invalid = (fn: () => unknown, option: string, pattern: RegExp): void => {
    t.throws(fn, { code: 'ERR_TUNIO_INVALID_OPTION', option, message: pattern }, `${option}: ${pattern}`)
  }
  invalid(() => addRoute({} as never), 'to', /is required/)
  invalid(() => addRoute({ to: 5 } as never), 'to', /non-empty string/)
  invalid(() => addRoute({ to: '10.0.0.0/8', table: 0 }), 'table', /between 1 and 4294967295/)
  invalid(() => addRoute({ to: '10.0.0.0/8', table: 'nope' as never }), 'table', /'main', 'local', 'default'/)
  invalid(() => addRoute({ to: '10.0.0.0/8', type: 'drop' as never }), 'type', /unicast, blackhole, unreachable, prohibit/)
  invalid(() => addRoute({ to: '10.0.0.0/8', dev: 'a b' }), 'dev', /interface name or index/)
  invalid(() => addRoute({ to: '10.0.0.0/8', metric: -1 }), 'metric', /between 0 and/)
  invalid(() => addRoute({ to: '10.0.0.0/8', via: '10.0.0.1', foo: 1 } as never), 'foo', /unknown option for a route/)
  invalid(() => addRule({ table: 5 } as never), 'family', /is required unless from or to/)
  invalid(() => addRule({ family: 5 as never, table: 5 }), 'family', /4 or 6/)
  invalid(() => addRule({ family: 4 } as never), 'table', /is required/)
  invalid(() => addRule({ family: 4, table: 5, fwmark: 2 ** 32 }), 'fwmark', /between 0 and 4294967295/)
  invalid(() => addRule({ family: 4, table: 5, invert: 1 as never }), 'invert', /boolean/)
  invalid(() => deleteRule({ family: 4, table: 5, suppressPrefixLength: 129 }), 'suppressPrefixLength', /between 0 and 128/)
})

t.test('routes and rules in a namespace: added, coded errors, exactly what was added removed on close()', { skip }, async (t) => {
  const ns = await createNetns('r')
  t.teardown(() => deleteNetns(ns))
  const child = spawnNodeIn(ns, FIXTURE)
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const r = await nextJsonLine(child, 30_000)
  t.notOk(r.error, `fixture ran: ${r.error ?? ''} ${stderr}`)
  if (r.error !== undefined) return

  const { added, errors, before, after } = r
  t.same(added.default4, { to: '0.0.0.0/0', dev: r.ifindex, table: 51820, type: 'unicast' }, 'default route through the tun, as stored')
  t.equal(added.default6.metric, 1024, 'IPv6 route: the metric the kernel chose comes back')
  t.same(added.viaGateway, { to: '10.50.0.0/16', via: '10.9.0.2', dev: r.ifindex, table: 254, metric: 7, type: 'unicast' }, 'gateway route in main')
  t.same(added.blackhole, { to: '10.60.0.0/16', table: 51820, type: 'blackhole' }, 'blackhole route has no device')
  t.ok(Number.isInteger(added.notMark.priority) && added.notMark.priority !== 100, `the kernel picked a priority (${added.notMark.priority})`)
  t.match(added.notMark, { family: 4, fwmark: 51820, invert: true, table: 51820 })
  t.match(added.suppress, { family: 4, table: 254, suppressPrefixLength: 0, invert: false })
  t.match(added.notMark6, { family: 6, fwmark: 51820, fwmask: 0xffff, priority: 32000, invert: true })
  t.match(added.fromRule, { family: 4, from: '10.9.0.0/24', priority: 31000 })

  t.match(errors.duplicateRoute, { code: 'ERR_TUNIO_ROUTE', errno: 'EEXIST', syscall: 'RTM_NEWROUTE' }, 'an existing route: EEXIST')
  t.match(errors.duplicateRoute.message, /cannot add route \(default \(0\.0\.0\.0\/0\) dev \d+ table 51820/)
  t.match(errors.duplicateRule, { code: 'ERR_TUNIO_RULE', errno: 'EEXIST', syscall: 'RTM_NEWRULE' }, 'an existing rule: EEXIST')
  t.match(errors.unreachableGateway, { code: 'ERR_TUNIO_ROUTE', errno: 'ENETUNREACH' }, 'a gateway off the link: ENETUNREACH')
  t.match(errors.hostBits, { code: 'ERR_TUNIO_INVALID_OPTION', option: 'to', message: /host bits set \(the network is 10\.70\.0\.0\/16\)/ })
  t.match(errors.gatewayFamily, { code: 'ERR_TUNIO_INVALID_OPTION', option: 'via', message: /not an IPv4 address/ })
  t.match(errors.blackholeDev, { code: 'ERR_TUNIO_INVALID_OPTION', option: 'dev', message: /a blackhole route has no device/ })
  t.match(errors.noFamily, { option: 'family' })
  t.match(errors.maskWithoutMark, { code: 'ERR_TUNIO_INVALID_OPTION', option: 'fwmask', message: /needs fwmark/ })
  t.match(errors.suppressTooLong, { option: 'suppressPrefixLength', message: /0\.\.32 for IPv4/ })
  t.match(errors.badTable, { option: 'table' })
  t.match(errors.unknownKey, { option: 'gw', message: /unknown option for a route/ })
  t.match(errors.noDevice, { option: 'dev', message: /no interface named "nosuchdev0"/ })
  t.match(errors.deleteMissing, { code: 'ERR_TUNIO_ROUTE', errno: 'ESRCH', syscall: 'RTM_DELROUTE' })
  t.match(errors.deleteMissingRule, { code: 'ERR_TUNIO_RULE', errno: 'ENOENT', syscall: 'RTM_DELRULE' })

  const dsts = (routes: any[]): string[] => routes.map((x) => `${x.type === undefined || x.type === 'unicast' ? '' : x.type + ' '}${x.dst}`).sort()
  t.same(dsts(before.routes4), ['blackhole 10.60.0.0/16', 'default', 'unreachable 10.61.0.0/16'], 'table 51820 before close (ip -j route)')
  t.same(dsts(before.routes6), ['default'], 'IPv6 table 51820 before close')
  t.ok(before.main.some((x: any) => x.dst === '10.50.0.0/16' && x.gateway === '10.9.0.2' && x.metric === 7), 'gateway route in main')
  const ruleIn = (rules: any[], pred: (x: any) => boolean): number => rules.filter(pred).length
  const notMark = (x: any): boolean => x.not === null && x.fwmark === '0xca6c' && x.table === '51820'
  t.equal(ruleIn(before.rules4, notMark), 2, 'two "not fwmark 51820 table 51820" rules: ours and the one added with ip')
  t.equal(ruleIn(before.rules4, (x) => x.suppress_prefixlen === 0 && x.table === 'main'), 1, 'suppress_prefixlength 0 rule')
  t.equal(ruleIn(before.rules6, (x) => x.priority === 32000 && x.fwmark === '0xca6c' && x.fwmask === '0xffff'), 1, 'IPv6 fwmark/mask rule')

  t.same(dsts(after.routes4), ['unreachable 10.61.0.0/16'], 'after close: only the removeOnClose: false route is left in table 51820')
  t.same(after.routes6, [], 'after close: IPv6 table 51820 empty')
  t.notOk(after.main.some((x: any) => x.dst === '10.50.0.0/16'), 'after close: the gateway route is gone')
  t.equal(ruleIn(after.rules4, notMark), 1, 'after close: the ip-added rule with the same selectors stays')
  t.equal(ruleIn(after.rules4, (x) => x.priority === 100 && x.not === null), 1, '... and it is that one (priority 100)')
  t.equal(ruleIn(after.rules4, (x) => x.suppress_prefixlen !== undefined || x.priority === 31000), 0, 'after close: our other IPv4 rules are gone')
  t.equal(ruleIn(after.rules6, (x) => x.priority === 32000), 0, 'after close: the IPv6 rule is gone')
  t.equal(ruleIn(after.rules4, (x) => x.priority === 1000), 1, 'a rule added without a Tun stays after close')
  t.same(r.warnings, [], 'close() had nothing to warn about (the deleted route was not deleted twice)')
  t.ok(r.standaloneGone, 'deleteRule() of what addRule() returned removes it')
})
