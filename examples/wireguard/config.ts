/**
 * The wg-quick style configuration file of examples/wireguard: `[Interface]` and `[Peer]`
 * sections of `Key = Value` lines, `#` comments. Keys are matched without regard to case, as
 * wg(8) and wg-quick(8) do.
 *
 * Every line that is not understood is refused with its line number (ConfigError): a key this
 * example does not implement (DNS, Table, PostUp, FwMark, ...) is refused rather than ignored,
 * because a tunnel that silently leaves out part of its configuration is worse than one that
 * does not start.
 */
import { isIP } from 'net'
import { basename } from 'path'

export interface Prefix {
  /** 4 or 6. */
  family: 4 | 6
  /** The network address, host bits cleared: 4 or 16 bytes. */
  bytes: Uint8Array
  bits: number
  /** As written in the file (for messages), e.g. "10.0.0.0/24". */
  text: string
}

export interface InterfaceAddress {
  family: 4 | 6
  /** The address as written, without the prefix length. */
  address: string
  bits: number
}

export interface Endpoint { address: string, family: 4 | 6, port: number }

export interface PeerConfig {
  publicKey: Uint8Array
  presharedKey: Uint8Array
  allowedIPs: Prefix[]
  endpoint?: Endpoint
  /** Seconds; 0 = off. */
  persistentKeepalive: number
  /** Line of the `[Peer]` header, for messages about the peer as a whole. */
  line: number
}

export interface WireGuardConfig {
  /** The interface name: the file's name without `.conf`. */
  name: string
  privateKey: Uint8Array
  /** 0 = pick any free port. */
  listenPort: number
  addresses: InterfaceAddress[]
  /** wg-quick's default when the file has none: 1420 (1500 minus the largest IPv6 overhead). */
  mtu: number
  peers: PeerConfig[]
}

/** A refused configuration: `line` is 1-based (0 when the problem is the file as a whole). */
export class ConfigError extends Error {
  readonly code = 'ERR_WG_CONFIG'
  constructor (readonly file: string, readonly line: number, reason: string) {
    super(line > 0 ? `${file}:${line}: ${reason}` : `${file}: ${reason}`)
    this.name = 'ConfigError'
  }
}

export const DEFAULT_MTU = 1420
// IPv6 needs 1280; the largest a TUN write can carry is 65535.
const MIN_MTU = 576
const MAX_MTU = 65535
// Linux IFNAMSIZ is 16 including the terminating NUL; wg-quick allows these characters.
const INTERFACE_NAME = /^[a-zA-Z0-9_=+.-]{1,15}$/

/** Parses a file's text. `path` names the file in messages and gives the interface name. */
export function parseConfig (text: string, path: string): WireGuardConfig {
  const file = basename(path)
  const fail = (line: number, reason: string): never => { throw new ConfigError(file, line, reason) }
  const m = /^(.*)\.conf$/.exec(file)
  if (m === null) fail(0, 'the file name must be NAME.conf (NAME becomes the interface name)')
  const name = (m as RegExpExecArray)[1]
  if (!INTERFACE_NAME.test(name)) fail(0, `"${name}" is not a valid interface name (1-15 of a-z A-Z 0-9 _ = + . -)`)

  let section: 'none' | 'interface' | 'peer' = 'none'
  let interfaceLine = 0
  let privateKey: Uint8Array | undefined
  let listenPort = 0
  let mtu: number | undefined
  const addresses: InterfaceAddress[] = []
  const peers: Array<Partial<PeerConfig> & { line: number, allowedIPs: Prefix[], seen: Set<string> }> = []
  const interfaceSeen = new Set<string>()

  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1
    const raw = lines[i]
    const hash = raw.indexOf('#')
    const line = (hash >= 0 ? raw.slice(0, hash) : raw).trim()
    if (line === '') continue
    if (line.startsWith('[')) {
      const header = /^\[\s*([A-Za-z]+)\s*\]$/.exec(line)
      const which = header?.[1].toLowerCase()
      if (which === 'interface') {
        if (interfaceLine > 0) fail(n, `a second [Interface] section (the first is on line ${interfaceLine})`)
        section = 'interface'
        interfaceLine = n
      } else if (which === 'peer') {
        section = 'peer'
        peers.push({ line: n, allowedIPs: [], seen: new Set() })
      } else {
        fail(n, `unknown section ${line} (only [Interface] and [Peer])`)
      }
      continue
    }
    const eq = line.indexOf('=')
    if (eq <= 0) fail(n, `expected "Key = Value", got "${line}"`)
    const key = line.slice(0, eq).trim()
    const value = line.slice(eq + 1).trim()
    const lkey = key.toLowerCase()
    if (!/^[A-Za-z]+$/.test(key)) fail(n, `"${key}" is not a key`)
    if (value === '') fail(n, `${key} has no value`)
    if (section === 'none') fail(n, `${key} outside of a section (start with [Interface])`)

    if (section === 'interface') {
      // Address may be repeated (the addresses add up); the rest may appear once.
      if (lkey !== 'address' && interfaceSeen.has(lkey)) fail(n, `${key} given twice in [Interface]`)
      interfaceSeen.add(lkey)
      switch (lkey) {
        case 'privatekey': privateKey = parseKey(value, key, n, fail); break
        case 'listenport': listenPort = parsePort(value, key, n, fail, true); break
        case 'mtu': {
          if (!/^\d+$/.test(value)) fail(n, `MTU must be a number, got "${value}"`)
          mtu = Number(value)
          if (mtu < MIN_MTU || mtu > MAX_MTU) fail(n, `MTU ${value} is out of range (${MIN_MTU}..${MAX_MTU})`)
          break
        }
        case 'address':
          for (const item of splitList(value, key, n, fail)) addresses.push(parseInterfaceAddress(item, n, fail))
          break
        default:
          fail(n, `${key} is not supported in [Interface] by this example (supported: PrivateKey, ListenPort, Address, MTU)`)
      }
    } else {
      const peer = peers[peers.length - 1]
      if (lkey !== 'allowedips' && peer.seen.has(lkey)) fail(n, `${key} given twice in this [Peer] (line ${peer.line})`)
      peer.seen.add(lkey)
      switch (lkey) {
        case 'publickey': peer.publicKey = parseKey(value, key, n, fail); break
        case 'presharedkey': peer.presharedKey = parseKey(value, key, n, fail); break
        case 'allowedips':
          for (const item of splitList(value, key, n, fail)) peer.allowedIPs.push(parsePrefix(item, n, fail))
          break
        case 'endpoint': peer.endpoint = parseEndpoint(value, n, fail); break
        case 'persistentkeepalive':
          peer.persistentKeepalive = value.toLowerCase() === 'off' ? 0 : parsePort(value, key, n, fail, true)
          break
        default:
          fail(n, `${key} is not supported in [Peer] by this example (supported: PublicKey, PresharedKey, AllowedIPs, Endpoint, PersistentKeepalive)`)
      }
    }
  }

  if (interfaceLine === 0) fail(0, 'no [Interface] section')
  if (privateKey === undefined) fail(interfaceLine, '[Interface] has no PrivateKey')
  const out: PeerConfig[] = []
  const byKey = new Map<string, number>()
  for (const p of peers) {
    if (p.publicKey === undefined) fail(p.line, '[Peer] has no PublicKey')
    const hex = Buffer.from(p.publicKey as Uint8Array).toString('hex')
    const earlier = byKey.get(hex)
    if (earlier !== undefined) fail(p.line, `the same PublicKey as the [Peer] on line ${earlier}`)
    byKey.set(hex, p.line)
    out.push({
      publicKey: p.publicKey as Uint8Array,
      presharedKey: p.presharedKey ?? new Uint8Array(32),
      allowedIPs: p.allowedIPs,
      endpoint: p.endpoint,
      persistentKeepalive: p.persistentKeepalive ?? 0,
      line: p.line
    })
  }
  return { name, privateKey: privateKey as Uint8Array, listenPort, addresses, mtu: mtu ?? DEFAULT_MTU, peers: out }
}

type Fail = (line: number, reason: string) => never

function splitList (value: string, key: string, n: number, fail: Fail): string[] {
  const items = value.split(',').map((s) => s.trim())
  if (items.some((s) => s === '')) fail(n, `${key} has an empty item in "${value}"`)
  return items
}

/**
 * A key as wg(8) writes it: 44 characters of standard base64 for 32 bytes. The last character
 * before '=' carries only 4 bits, so only 16 of the 64 letters are canonical there; anything
 * else would be a different string for the same key, which wg refuses too.
 */
function parseKey (value: string, key: string, n: number, fail: Fail): Uint8Array {
  if (!/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(value)) fail(n, `${key} is not a base64 32-byte key`)
  return new Uint8Array(Buffer.from(value, 'base64'))
}

function parsePort (value: string, key: string, n: number, fail: Fail, zeroOk: boolean): number {
  if (!/^\d{1,5}$/.test(value)) fail(n, `${key} must be a number 0..65535, got "${value}"`)
  const port = Number(value)
  if (port > 65535 || (!zeroOk && port === 0)) fail(n, `${key} ${value} is out of range`)
  return port
}

function parseInterfaceAddress (item: string, n: number, fail: Fail): InterfaceAddress {
  const slash = item.indexOf('/')
  const address = slash >= 0 ? item.slice(0, slash) : item
  const family = isIP(address)
  if (family === 0) fail(n, `Address "${item}" is not an IP address`)
  const max = family === 4 ? 32 : 128
  const bits = slash >= 0 ? parseBits(item.slice(slash + 1), max, item, n, fail) : max
  return { family: family as 4 | 6, address, bits }
}

function parseBits (s: string, max: number, item: string, n: number, fail: Fail): number {
  if (!/^\d{1,3}$/.test(s) || Number(s) > max) fail(n, `prefix length in "${item}" must be 0..${max}`)
  return Number(s)
}

/** "10.0.0.0/24", "fd00::/64", or a bare address (a /32 or /128). Host bits are cleared. */
export function parsePrefix (item: string, n: number, fail: Fail): Prefix {
  const slash = item.indexOf('/')
  const address = slash >= 0 ? item.slice(0, slash) : item
  const family = isIP(address)
  if (family === 0) fail(n, `AllowedIPs "${item}" is not an IP address or prefix`)
  const max = family === 4 ? 32 : 128
  const bits = slash >= 0 ? parseBits(item.slice(slash + 1), max, item, n, fail) : max
  const bytes = ipBytes(address)
  for (let b = 0; b < bytes.length; b++) {
    const keep = Math.max(0, Math.min(8, bits - b * 8))
    bytes[b] &= (0xff << (8 - keep)) & 0xff
  }
  return { family: family as 4 | 6, bytes, bits, text: item }
}

/** "192.0.2.1:51820" or "[2001:db8::1]:51820". Host names are not resolved by this example. */
function parseEndpoint (value: string, n: number, fail: Fail): Endpoint {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:[\]]+):(\d+)$/.exec(value)
  if (m === null) fail(n, `Endpoint must be HOST:PORT or [IPv6]:PORT, got "${value}"`)
  const [, host, port] = m as RegExpExecArray
  const family = isIP(host)
  if (family === 0) fail(n, `Endpoint host "${host}" is not an IP address (this example does not resolve names)`)
  if (family === 6 && !value.startsWith('[')) fail(n, `an IPv6 Endpoint needs brackets: [${host}]:${port}`)
  const p = parsePort(port, 'Endpoint port', n, fail, false)
  return { address: host, family: family as 4 | 6, port: p }
}

/** The bytes of an IPv4 (4) or IPv6 (16) address literal already checked with isIP(). */
export function ipBytes (address: string): Uint8Array {
  if (isIP(address) === 4) return new Uint8Array(address.split('.').map(Number))
  const out = new Uint8Array(16)
  let s = address
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s)
  if (v4 !== null) {
    const b = v4[1].split('.').map(Number)
    s = s.slice(0, v4.index) + ((b[0] << 8) | b[1]).toString(16) + ':' + ((b[2] << 8) | b[3]).toString(16)
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined]
  const h = head === '' ? [] : head.split(':')
  const t = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t]
  groups.forEach((g, i) => { const v = parseInt(g, 16); out[2 * i] = v >> 8; out[2 * i + 1] = v & 0xff })
  return out
}
