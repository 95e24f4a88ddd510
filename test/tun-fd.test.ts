// openTun({ fd }) in a process without CAP_NET_ADMIN: a privileged helper (fixtures/fd-helper.js)
// creates two TUN devices and hands their fds over a Unix socket (sendFd / receiveFd,
// SCM_RIGHTS) to a forwarder that setpriv started without CAP_NET_ADMIN in any capability set.
// Kernel TCP between two namespaces then runs through it with the offloads on. Also: what
// openTun({ fd }) refuses.
import t from 'tap'
import { buildWire, netnsSkipReason } from './helpers/netns'
import { intactTransfer } from './helpers/tcp-transfer'
import { openTun, receiveFd, sendFd } from '../lib/index'

const skip = netnsSkipReason() || (spawnOk('setpriv') ? false : 'no setpriv (Debian package util-linux)')

function spawnOk (cmd: string): boolean {
  return require('child_process').spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0
}

t.test('a forwarder without CAP_NET_ADMIN carries TCP with offloads through TUN fds it was handed', { skip }, async (t) => {
  const wire = await buildWire({ offload: 'auto', fdHandOver: true })
  t.teardown(() => wire.destroy())
  const fdMode = wire.ready.fdMode
  t.equal(fdMode.netAdmin, false, 'the forwarder has no CAP_NET_ADMIN (CapEff bit 12 clear)')
  t.equal(fdMode.openByName, 'EPERM', 'so opening a TUN by name is refused to it with EPERM')
  t.ok(wire.ready.a.offload.vnetHdr && wire.ready.a.offload.tso4 && wire.ready.a.offload.tso6, `offloads on for the fd of tunA: ${JSON.stringify(wire.ready.a.offload)}`)
  t.ok(wire.ready.b.offload.tso4, 'and tunB')
  const { s } = await intactTransfer(t, wire, '10.77.1.1', 32 << 20, 5011, 60_000)
  t.ok(s.b.superpacketsIn > 0, `the unprivileged forwarder read TSO superpackets from tunB (${s.b.superpacketsIn}, ${s.b.segmentsIn} segments)`)
  t.ok(s.a.superpacketsOut > 0, `and wrote coalesced superpackets to tunA (${s.a.superpacketsOut})`)
})

t.test('openTun({ fd }) refuses device and link options, and fds that are no TUN', async (t) => {
  for (const key of ['name', 'mtu', 'addresses', 'queues', 'attach', 'persist']) {
    const value = key === 'addresses' ? ['10.0.0.1/24'] : key === 'name' ? 'x' : key === 'attach' || key === 'persist' ? true : 2000
    await t.rejects(openTun({ fd: 0, [key]: value }), { code: 'ERR_TUNIO_INVALID_OPTION', option: key, message: /is not applied with fd/ }, `fd + ${key}`)
  }
  await t.rejects(openTun({ fd: -1 }), { code: 'ERR_TUNIO_INVALID_OPTION', option: 'fd' })
  if (process.platform === 'linux') {
    // /dev/null is no TUN: ioctl(TUNGETIFF) fails, and the fd stays open (it was not taken over).
    const fs = await import('fs')
    const fd = fs.openSync('/dev/null', 'r')
    await t.rejects(openTun({ fd }), { code: 'ERR_TUNIO_TUN_OPEN', syscall: 'ioctl(TUNGETIFF)', message: /is not a TUN\/TAP device fd/ })
    t.doesNotThrow(() => fs.fstatSync(fd), 'a refused fd stays open for its owner')
    fs.closeSync(fd)
  }
})

t.test('receiveFd / sendFd: argument errors and a timeout that cleans up', async (t) => {
  t.throws(() => sendFd('', 1), { code: 'ERR_TUNIO_INVALID_ARG', argument: 'path' })
  t.throws(() => sendFd('/tmp/x', -1), { code: 'ERR_TUNIO_INVALID_ARG', argument: 'source' })
  t.throws(() => sendFd('/tmp/x', {} as never), { code: 'ERR_TUNIO_INVALID_ARG', argument: 'source' })
  t.throws(() => receiveFd('/tmp/x', { timeoutMs: 0 }), { code: 'ERR_TUNIO_INVALID_ARG', argument: 'options.timeoutMs' })
  if (process.platform !== 'linux') return
  const fs = await import('fs')
  const os = await import('os')
  const dir = fs.mkdtempSync(`${os.tmpdir()}/tunio-fd-`)
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const sock = `${dir}/s`
  t.throws(() => sendFd(sock, 1), { code: 'ERR_TUNIO_FD_PASSING', errno: /ENOENT|ECONNREFUSED/ }, 'nobody waiting at the path')
  await t.rejects(receiveFd(sock, { timeoutMs: 50 }), { code: 'ERR_TUNIO_FD_PASSING', errno: 'ETIMEDOUT' })
  t.notOk(fs.existsSync(sock), 'the socket is removed after the timeout')
  fs.writeFileSync(sock, '')
  await t.rejects(receiveFd(sock), { code: 'ERR_TUNIO_FD_PASSING', errno: 'EADDRINUSE' }, 'an existing path is never taken over')
  t.ok(fs.existsSync(sock), 'and never removed')
  fs.rmSync(sock)
  // One hand-over in this process: the received descriptor is the same open file.
  const pending = receiveFd(sock)
  const src = fs.openSync(`${dir}/file`, 'w')
  sendFd(sock, src)
  const got = await pending
  t.equal(got.pid, process.pid, 'the sender is this process (kernel credentials)')
  t.not(got.fd, src, 'a new descriptor')
  t.equal(fs.fstatSync(got.fd).ino, fs.fstatSync(src).ino, 'of the same file')
  fs.closeSync(got.fd)
  fs.closeSync(src)
  t.notOk(fs.existsSync(sock), 'the socket is removed once the fd arrived')
})
