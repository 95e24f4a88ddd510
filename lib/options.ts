/** Option validation shared by openTun() and openUdp(): every error names its option. */
import { binding } from './binding'
import { invalidOption, type TunioError } from './errors'

/**
 * The options argument itself: an object that is not an array (an array's keys would be
 * silently ignored).
 */
export function checkOptionsObject (options: unknown, name = 'options'): asserts options is object {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidOption(name, `must be an object, got ${Array.isArray(options) ? 'an array' : options === null ? 'null' : typeof options}`)
  }
}

/**
 * A value as an error message shows it. JSON.stringify throws on a BigInt (and on cycles), and
 * an error message must never be what throws.
 */
export function describe (value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'symbol' || typeof value === 'function') return typeof value
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}

export function checkKnownKeys (options: object, known: readonly string[], what: string): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw invalidOption(key, `unknown option for ${what} (known: ${known.join(', ')})`)
  }
}

export function intOption (name: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(name, `must be an integer between ${min} and ${max}, got ${describe(value)}`)
  }
  return value
}

export function boolOption (name: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'boolean') throw invalidOption(name, `must be a boolean, got ${describe(value)}`)
  return value
}

export function offloadOption (name: string, value: unknown): 'auto' | 'on' | 'off' {
  if (value === undefined || value === 'auto') return 'auto'
  if (value === true || value === 'on') return 'on'
  if (value === false || value === 'off') return 'off'
  throw invalidOption(name, `must be 'auto', true or false, got ${describe(value)}`)
}

/**
 * An interface name as the kernel takes it: 1 to 15 bytes (IFNAMSIZ less the NUL), no
 * whitespace, '/' or ':', not '.' or '..'.
 */
export function interfaceNameOption (name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw invalidOption(name, `must be a non-empty interface name, got ${describe(value)}`)
  if (Buffer.byteLength(value) > 15) throw invalidOption(name, `"${value}" is longer than 15 bytes (IFNAMSIZ)`)
  if (/[\s/:]/.test(value) || value === '.' || value === '..') throw invalidOption(name, `"${value}" is not a valid interface name`)
  return value
}

/** One of `choices` (strings), or undefined when absent. */
export function choiceOption<T extends string> (name: string, value: unknown, choices: readonly T[]): T | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw invalidOption(name, `must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got ${describe(value)}`)
  }
  return value as T
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

export function isIPv4 (s: string): boolean { return IPV4.test(s) }

export function isIPv6 (s: string): boolean {
  // net.isIPv6 is exact and well kept; use it instead of a hand-written grammar.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return (require('net') as typeof import('net')).isIPv6(s)
}

export interface HostPort { address: string, port: number }

/**
 * "1.2.3.4:5", "[::1]:5", ":5" (any address) or { address, port }. An IPv6 address may carry a
 * zone, "[fe80::1%eth0]:5" or "[fe80::1%2]:5": the interface (by name in this network
 * namespace, or by index) is the scope id a link-local address needs. The result names the
 * zone by index.
 */
export function endpointOption (name: string, value: unknown, defaultAddress = '0.0.0.0', fail: (name: string, message: string) => TunioError = invalidOption): HostPort {
  let address: string
  let port: number
  if (typeof value === 'string') {
    const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value)
    if (!m) throw fail(name, `"${value}" is not address:port (use [addr]:port for IPv6)`)
    address = m[1] ?? (m[2] === '' ? defaultAddress : m[2])
    port = Number(m[3])
  } else if (value !== null && typeof value === 'object' && typeof (value as HostPort).address === 'string') {
    address = (value as HostPort).address
    port = (value as HostPort).port
  } else {
    throw fail(name, 'must be "address:port" or { address, port }')
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw fail(name, `port ${describe(port)} is out of range 0-65535`)
  const percent = address.indexOf('%')
  if (percent >= 0) return { address: withScopeId(name, address.slice(0, percent), address.slice(percent + 1), fail), port }
  if (!isIPv4(address) && !isIPv6(address)) throw fail(name, `"${address}" is not an IPv4 or IPv6 address`)
  return { address, port }
}

/** "fe80::1" + zone "eth0" (an interface name) or "2" (an index) -> "fe80::1%<index>". */
function withScopeId (name: string, address: string, zone: string, fail: (name: string, message: string) => TunioError): string {
  if (!isIPv6(address) || address.includes('%')) {
    throw fail(name, `"${address}%${zone}": a zone (%interface) follows an IPv6 address only`)
  }
  let index: number
  if (/^\d{1,10}$/.test(zone)) {
    index = Number(zone)
  } else if (/^[^\s/%:]{1,15}$/.test(zone)) {
    index = (binding() as unknown as { interfaceIndex: (n: string) => number }).interfaceIndex(zone)
    if (index === 0) throw fail(name, `no interface named "${zone}" (the zone of "${address}%${zone}") in this network namespace`)
  } else {
    throw fail(name, `"${zone}" (after the % of "${address}") is not an interface name or index`)
  }
  if (index > 0xffffffff) throw fail(name, `zone index ${zone} is out of range`)
  return `${address}%${index}`
}
