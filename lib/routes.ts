/**
 * Routes and policy rules through tunio's own rtnetlink code (what `ip route` and `ip rule`
 * do), e.g. a full tunnel as wg-quick sets it up: a default route in its own table, a rule
 * sending everything without the tunnel's mark there, and a rule that keeps the main table's
 * specific routes (`suppress_prefixlength 0`). See docs/netlink.md.
 */
import { binding } from './binding'
import { invalidOption, type TunioError } from './errors'
import { boolOption, checkKnownKeys, checkOptionsObject, describe, intOption, stringOption } from './options'

/** A routing table: its id (1 to 2^32-1) or one of the kernel's named tables. */
export type RouteTable = number | 'main' | 'local' | 'default'

/** `'unicast'` goes somewhere; the others drop: silently, or with ICMP unreachable / prohibited. */
export type RouteType = 'unicast' | 'blackhole' | 'unreachable' | 'prohibit'

export interface RouteOptions {
  /** Destination network, e.g. `'0.0.0.0/0'`, `'10.0.0.0/8'`, `'::/0'`; host bits must be zero. */
  to: string
  /** Gateway address, of the family of `to`. */
  via?: string
  /**
   * Outgoing interface, by name or index. A unicast route needs `dev` or `via` (with only
   * `via`, the kernel picks the device that reaches the gateway).
   */
  dev?: string | number
  /** Preferred source address for connections that start on this route (`ip route ... src`). */
  src?: string
  /** Default `'main'`. */
  table?: RouteTable
  /** Priority among routes to the same network (lower wins). Default: 0 for IPv4, 1024 for IPv6. */
  metric?: number
  /** Default `'unicast'`; the others take no `dev`, `via` or `src`. */
  type?: RouteType
}

/** A route as the kernel stored it (what an add returns; pass it to a delete to remove it). */
export interface Route {
  to: string
  via?: string
  src?: string
  /** Interface index. */
  dev?: number
  table: number
  /** Present when the kernel reports one (always for IPv6). */
  metric?: number
  type: RouteType
}

export interface RuleOptions {
  /** 4 or 6 (a rule belongs to one family); implied by `from` or `to`. */
  family?: 4 | 6
  /** The table to look up for packets this rule selects. */
  table: RouteTable
  /** Order among rules (lower first); without it the kernel picks one below the first rule's. */
  priority?: number
  /** Select packets with this mark (SO_MARK, netfilter): `fwmark & fwmask == fwmark`. */
  fwmark?: number
  /** Default 0xffffffff. */
  fwmask?: number
  /** `ip rule add not ...`: select the packets the selectors do NOT match. */
  invert?: boolean
  /**
   * Ignore a result of the table whose prefix is this long or shorter: `0` keeps everything
   * but the default route (wg-quick's `table main suppress_prefixlength 0`).
   */
  suppressPrefixLength?: number
  /** Source network selector, e.g. `'10.8.0.0/24'`. */
  from?: string
  /** Destination network selector. */
  to?: string
}

/** A rule as the kernel stored it (with the priority it has). */
export interface Rule {
  family: 4 | 6
  table: number
  priority?: number
  fwmark?: number
  fwmask?: number
  invert: boolean
  suppressPrefixLength?: number
  from?: string
  to?: string
}

const ROUTE_KEYS = ['to', 'via', 'dev', 'src', 'table', 'metric', 'type'] as const
const RULE_KEYS = ['family', 'table', 'priority', 'fwmark', 'fwmask', 'invert', 'suppressPrefixLength', 'from', 'to'] as const
const U32_MAX = 2 ** 32 - 1
const TABLES: Record<string, number> = { main: 254, local: 255, default: 253 }
const ROUTE_TYPES: readonly RouteType[] = ['unicast', 'blackhole', 'unreachable', 'prohibit']

interface NativeRoutes {
  routeChange (add: boolean, spec: Record<string, unknown>): Record<string, unknown>
  ruleChange (add: boolean, spec: Record<string, unknown>): Record<string, unknown>
  interfaceIndex (name: string): number
}
function native (): NativeRoutes { return binding() as unknown as NativeRoutes }

function tableOption (value: unknown, required: boolean): number | undefined {
  if (value === undefined) {
    if (required) throw invalidOption('table', "is required (a table id, or 'main', 'local', 'default')")
    return undefined
  }
  if (typeof value === 'string') {
    const id = TABLES[value]
    if (id === undefined) throw invalidOption('table', `must be a table id or 'main', 'local', 'default', got ${describe(value)}`)
    return id
  }
  return intOption('table', value, 1, U32_MAX)
}

function devOption (value: unknown): number | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'number') return intOption('dev', value, 1, 2 ** 31 - 1)
  if (typeof value !== 'string' || !/^[^\s/:%]{1,15}$/.test(value)) throw invalidOption('dev', `must be an interface name or index, got ${describe(value)}`)
  const index = native().interfaceIndex(value)
  if (index === 0) throw invalidOption('dev', `no interface named "${value}" in this network namespace`)
  return index
}

/** @internal Route options as routeChange takes them; `defaultDev` is a Tun's own ifindex. */
export function routeSpec (options: RouteOptions, extraKeys: readonly string[] = [], defaultDev?: number): Record<string, unknown> {
  checkOptionsObject(options)
  checkKnownKeys(options, [...ROUTE_KEYS, ...extraKeys], 'a route')
  const to = stringOption('to', options.to)
  if (to === undefined) throw invalidOption('to', "is required (the destination network, e.g. '0.0.0.0/0')")
  if (options.type !== undefined && !ROUTE_TYPES.includes(options.type)) {
    throw invalidOption('type', `must be one of ${ROUTE_TYPES.join(', ')}, got ${describe(options.type)}`)
  }
  const type = options.type ?? 'unicast'
  const spec: Record<string, unknown> = { to, type, table: tableOption(options.table, false) ?? 254 }
  const via = stringOption('via', options.via)
  if (via !== undefined) spec.via = via
  const src = stringOption('src', options.src)
  if (src !== undefined) spec.src = src
  const dev = devOption(options.dev) ?? (type === 'unicast' ? defaultDev : undefined)
  if (dev !== undefined) spec.dev = dev
  const metric = intOption('metric', options.metric, 0, U32_MAX)
  if (metric !== undefined) spec.metric = metric
  return spec
}

/** @internal Rule options as ruleChange takes them. */
export function ruleSpec (options: RuleOptions, extraKeys: readonly string[] = []): Record<string, unknown> {
  checkOptionsObject(options)
  checkKnownKeys(options, [...RULE_KEYS, ...extraKeys], 'a rule')
  const spec: Record<string, unknown> = { table: tableOption(options.table, true), invert: boolOption('invert', options.invert) ?? false }
  if (options.family !== undefined && options.family !== 4 && options.family !== 6) throw invalidOption('family', `must be 4 or 6, got ${describe(options.family)}`)
  const from = stringOption('from', options.from)
  const to = stringOption('to', options.to)
  if (options.family === undefined && from === undefined && to === undefined) {
    throw invalidOption('family', 'is required unless from or to gives it (a rule belongs to IPv4 or IPv6)')
  }
  if (options.family !== undefined) spec.family = options.family
  if (from !== undefined) spec.from = from
  if (to !== undefined) spec.to = to
  for (const key of ['priority', 'fwmark', 'fwmask'] as const) {
    const v = intOption(key, options[key], 0, U32_MAX)
    if (v !== undefined) spec[key] = v
  }
  const suppress = intOption('suppressPrefixLength', options.suppressPrefixLength, 0, 128)
  if (suppress !== undefined) spec.suppressPrefixLength = suppress
  return spec
}

/** @internal The public shape of a stored route (without the protocol tunio marks its own with). */
export function publicRoute (stored: Record<string, unknown>): Route {
  const { protocol: _protocol, ...route } = stored
  return route as unknown as Route
}

/** @internal */
export function routeChange (add: boolean, spec: Record<string, unknown>): Record<string, unknown> {
  return native().routeChange(add, spec)
}

/** @internal */
export function ruleChange (add: boolean, spec: Record<string, unknown>): Record<string, unknown> {
  return native().ruleChange(add, spec)
}

/** @internal Whether a delete of `deleted` (canonical, as routeChange returned it) removed `stored`. */
export function sameEntry (stored: Record<string, unknown>, deleted: Record<string, unknown>): boolean {
  for (const [key, value] of Object.entries(deleted)) {
    if (key === 'protocol') continue
    if (stored[key] !== value) return false
  }
  return true
}

/**
 * Adds a route (RTM_NEWROUTE with NLM_F_EXCL: an identical route that exists is an
 * `ERR_TUNIO_ROUTE` error with `errno` `'EEXIST'`, never silently shared). Needs CAP_NET_ADMIN.
 * Returns the route as the kernel stored it. Nothing removes it later: see `tun.addRoute()`
 * for routes that go with a device.
 */
export function addRoute (options: RouteOptions): Route {
  return publicRoute(routeChange(true, routeSpec(options)))
}

/** Deletes the route that matches every field given (`ERR_TUNIO_ROUTE`, `ESRCH` when none does). */
export function deleteRoute (options: RouteOptions | Route): void {
  routeChange(false, { ...routeSpec(options as RouteOptions), protocol: 0 })
}

/**
 * Adds a policy rule (RTM_NEWRULE; an identical rule is `ERR_TUNIO_RULE` `'EEXIST'`). Needs
 * CAP_NET_ADMIN. Returns the rule as the kernel stored it, with its priority.
 */
export function addRule (options: RuleOptions): Rule {
  return ruleChange(true, ruleSpec(options)) as unknown as Rule
}

/** Deletes the first rule that matches every field given (`ERR_TUNIO_RULE`, `ENOENT` when none does). */
export function deleteRule (options: RuleOptions | Rule): void {
  ruleChange(false, ruleSpec(options as RuleOptions))
}

/** @internal Whether a failed delete only says the entry is gone already. */
export function alreadyGone (err: unknown): boolean {
  const e = err as TunioError
  return (e.code === 'ERR_TUNIO_ROUTE' && e.errno === 'ESRCH') || (e.code === 'ERR_TUNIO_RULE' && e.errno === 'ENOENT') ||
    e.errno === 'ENODEV'
}
