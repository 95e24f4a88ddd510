// examples/wireguard config parser: a full file parsed, and every kind of malformed line refused
// with its line number and a reason.
import t from 'tap'
import { parseConfig, ConfigError, DEFAULT_MTU } from '../examples/wireguard/config'

const KEY_A = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk='
const KEY_B = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg='
const KEY_C = 'TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0='

const GOOD = `# a comment line
[Interface]
PrivateKey = ${KEY_A}
ListenPort = 51820
Address = 10.0.0.1/24, fd00::1/64   # two addresses on one line
Address = 10.1.0.1
MTU = 1380

[Peer]
PublicKey = ${KEY_B}
PresharedKey = ${KEY_C}
AllowedIPs = 10.0.0.2/32, 10.5.0.7/16
allowedips = fd00::2/128
Endpoint = 192.0.2.1:51820
PersistentKeepalive = 25

[peer]
PublicKey = ${KEY_C}
Endpoint = [2001:db8::1]:4500
PersistentKeepalive = off
`

t.test('a complete file', async (t) => {
  const c = parseConfig(GOOD, '/etc/wireguard/wg0.conf')
  t.equal(c.name, 'wg0')
  t.equal(Buffer.from(c.privateKey).toString('base64'), KEY_A)
  t.equal(c.listenPort, 51820)
  t.equal(c.mtu, 1380)
  t.same(c.addresses.map((a) => `${a.address}/${a.bits}`), ['10.0.0.1/24', 'fd00::1/64', '10.1.0.1/32'])
  t.equal(c.peers.length, 2)
  const [p, q] = c.peers
  t.equal(Buffer.from(p.publicKey).toString('base64'), KEY_B)
  t.equal(Buffer.from(p.presharedKey).toString('base64'), KEY_C)
  t.same(p.allowedIPs.map((x) => `${x.family}:${Buffer.from(x.bytes).toString('hex')}/${x.bits}`),
    ['4:0a000002/32', '4:0a050000/16', '6:fd000000000000000000000000000002/128'], 'host bits cleared, keys case-insensitive, AllowedIPs add up')
  t.same(p.endpoint, { address: '192.0.2.1', family: 4, port: 51820 })
  t.equal(p.persistentKeepalive, 25)
  t.equal(p.line, 9)
  t.same(q.endpoint, { address: '2001:db8::1', family: 6, port: 4500 })
  t.equal(q.persistentKeepalive, 0)
  t.same(q.presharedKey, new Uint8Array(32), 'no PresharedKey: 32 zero bytes, as the protocol defines')
  t.same(q.allowedIPs, [])
  t.equal(parseConfig(`[Interface]\nPrivateKey=${KEY_A}\n`, 'x.conf').mtu, DEFAULT_MTU, 'default MTU')
})

// Each case: the file and the line number the error must name (0: the file as a whole).
const BAD: Array<[string, string, number, RegExp]> = [
  ['key before a section', `ListenPort = 1\n[Interface]\nPrivateKey = ${KEY_A}`, 1, /outside of a section/],
  ['unknown section', `[Interface]\nPrivateKey = ${KEY_A}\n[Peers]`, 3, /unknown section/],
  ['line without =', `[Interface]\nPrivateKey = ${KEY_A}\nListenPort 51820`, 3, /Key = Value/],
  ['empty value', `[Interface]\nPrivateKey = ${KEY_A}\nMTU =`, 3, /no value/],
  ['bad key name', `[Interface]\nPrivate Key = ${KEY_A}`, 2, /not a key/],
  ['short key', '[Interface]\nPrivateKey = abc=', 2, /base64 32-byte key/],
  ['key with non-canonical last character', `[Interface]\nPrivateKey = ${KEY_A.slice(0, 42)}n=`, 2, /base64 32-byte key/],
  ['port out of range', `[Interface]\nPrivateKey = ${KEY_A}\nListenPort = 65536`, 3, /out of range/],
  ['port not a number', `[Interface]\nPrivateKey = ${KEY_A}\nListenPort = http`, 3, /0\.\.65535/],
  ['MTU too small', `[Interface]\nPrivateKey = ${KEY_A}\nMTU = 100`, 3, /out of range/],
  ['MTU not a number', `[Interface]\nPrivateKey = ${KEY_A}\nMTU = 1400b`, 3, /number/],
  ['bad address', `[Interface]\nPrivateKey = ${KEY_A}\nAddress = 10.0.0.300/24`, 3, /not an IP address/],
  ['bad prefix length', `[Interface]\nPrivateKey = ${KEY_A}\nAddress = 10.0.0.1/33`, 3, /prefix length/],
  ['empty list item', `[Interface]\nPrivateKey = ${KEY_A}\nAddress = 10.0.0.1/24,,fd00::1/64`, 3, /empty item/],
  ['unsupported wg-quick key', `[Interface]\nPrivateKey = ${KEY_A}\nDNS = 1.1.1.1`, 3, /not supported/],
  ['key given twice', `[Interface]\nPrivateKey = ${KEY_A}\nListenPort = 1\nListenPort = 2`, 4, /twice/],
  ['second [Interface]', `[Interface]\nPrivateKey = ${KEY_A}\n\n[Interface]`, 4, /second \[Interface\]/],
  ['no PrivateKey', '# x\n[Interface]\nListenPort = 1', 2, /no PrivateKey/],
  ['no [Interface]', '# nothing', 0, /no \[Interface\]/],
  ['peer without PublicKey', `[Interface]\nPrivateKey = ${KEY_A}\n[Peer]\nAllowedIPs = 10.0.0.0/8`, 3, /no PublicKey/],
  ['duplicate peer', `[Interface]\nPrivateKey = ${KEY_A}\n[Peer]\nPublicKey = ${KEY_B}\n[Peer]\nPublicKey = ${KEY_B}`, 5, /same PublicKey as the \[Peer\] on line 3/],
  ['bad AllowedIPs', `[Interface]\nPrivateKey = ${KEY_A}\n[Peer]\nPublicKey = ${KEY_B}\nAllowedIPs = 10.0.0.0/8, nonsense`, 5, /not an IP address or prefix/],
  ['AllowedIPs v6 prefix too long', `[Interface]\nPrivateKey = ${KEY_A}\n[Peer]\nPublicKey = ${KEY_B}\nAllowedIPs = fd00::/129`, 5, /prefix length/],
  ['endpoint without port', `[Interface]\nPrivateKey = ${KEY_A}\n[Peer]\nPublicKey = ${KEY_B}\nEndpoint = 192.0.2.1`, 5, /HOST:PORT/],
  ['endpoint host name', `[Interface]\nPrivateKey = ${KEY_A}\n[Peer]\nPublicKey = ${KEY_B}\nEndpoint = vpn.example.com:51820`, 5, /does not resolve names/],
  ['endpoint port 0', `[Interface]\nPrivateKey = ${KEY_A}\n[Peer]\nPublicKey = ${KEY_B}\nEndpoint = 192.0.2.1:0`, 5, /out of range/],
  ['IPv6 endpoint without brackets', `[Interface]\nPrivateKey = ${KEY_A}\n[Peer]\nPublicKey = ${KEY_B}\nEndpoint = 2001:db8::1:51820`, 5, /HOST:PORT|brackets/],
  ['bad keepalive', `[Interface]\nPrivateKey = ${KEY_A}\n[Peer]\nPublicKey = ${KEY_B}\nPersistentKeepalive = often`, 5, /0\.\.65535/],
  ['unsupported peer key', `[Interface]\nPrivateKey = ${KEY_A}\n[Peer]\nPublicKey = ${KEY_B}\nFwMark = 1`, 5, /not supported in \[Peer\]/],
  ['peer key given twice', `[Interface]\nPrivateKey = ${KEY_A}\n[Peer]\nPublicKey = ${KEY_B}\nPublicKey = ${KEY_C}`, 5, /twice in this \[Peer\] \(line 3\)/],
  ['CRLF line endings keep line numbers', `[Interface]\r\nPrivateKey = ${KEY_A}\r\n\r\nMTU = x\r\n`, 4, /number/]
]

for (const [what, text, line, reason] of BAD) {
  t.test(`refused: ${what}`, async (t) => {
    let err: unknown
    try { parseConfig(text, '/tmp/wg0.conf') } catch (e) { err = e }
    t.ok(err instanceof ConfigError, 'a ConfigError')
    const e = err as ConfigError
    t.equal(e.code, 'ERR_WG_CONFIG')
    t.equal(e.line, line, `line ${line}`)
    t.match(e.message, reason)
    t.match(e.message, line > 0 ? `wg0.conf:${line}: ` : 'wg0.conf: ', 'the message starts with file:line')
  })
}

t.test('the file name gives the interface name', async (t) => {
  t.throws(() => parseConfig(`[Interface]\nPrivateKey = ${KEY_A}`, 'wg0.cfg'), { code: 'ERR_WG_CONFIG', line: 0 })
  t.throws(() => parseConfig(`[Interface]\nPrivateKey = ${KEY_A}`, 'a-name-far-too-long.conf'), /not a valid interface name/)
})
