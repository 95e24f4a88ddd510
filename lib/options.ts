/** Option validation shared by openTun() and openUdp(): every error names its option. */
import { invalidOption } from './errors'

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

/** A non-empty string, or undefined when absent. What the string says is checked where it is parsed. */
export function stringOption (name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length === 0) throw invalidOption(name, `must be a non-empty string, got ${describe(value)}`)
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

/**
 * An endpoint as the API takes it: "1.2.3.4:5", "[::1]:5", ":5" (any IPv4 address) or
 * { address, port }; an IPv6 address may carry a zone, "[fe80::1%eth0]:5" or "[fe80::1%2]:5".
 */
export interface HostPort { address: string, port: number }
