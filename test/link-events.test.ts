// 'link' events of a Tun against the kernel, in a throwaway namespace: `ip link set down/up`,
// `ip link set mtu`, removal of the device; no events after the last listener is removed; and
// a process whose only activity is a 'link' listener ends by itself.
import t from 'tap'
import * as path from 'path'
import type { ChildProcess } from 'child_process'
import { check, createNetns, deleteNetns, netnsSkipReason, nextJsonLine, spawnNodeIn } from './helpers/netns'

const skip = netnsSkipReason()
const FIXTURE = path.join(__dirname, 'fixtures', 'link-events.js')

/** Every JSON line the child prints, kept from the start (none is lost between waits). */
function lines (child: ChildProcess): () => Promise<any> {
  const queue: any[] = []
  let waiting: ((v: any) => void) | undefined
  let buf = ''
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString()
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = JSON.parse(buf.slice(0, i))
      buf = buf.slice(i + 1)
      if (waiting !== undefined) { const w = waiting; waiting = undefined; w(line) } else queue.push(line)
    }
  })
  return async () => {
    if (queue.length > 0) return queue.shift()
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { waiting = undefined; reject(new Error('no line from the fixture within 10 s')) }, 10_000)
      waiting = (v) => { clearTimeout(timer); resolve(v) }
    })
  }
}

t.test('link events for down/up, mtu and removal', { skip }, async (t) => {
  const ns = await createNetns('l')
  const child = spawnNodeIn(ns, FIXTURE, ['watch'])
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  t.teardown(async () => { child.kill('SIGKILL'); await deleteNetns(ns); if (stderr !== '') t.comment(`fixture stderr: ${stderr}`) })
  const next = lines(child)
  const ready = await Promise.race([next(), new Promise<any>((resolve) => setTimeout(() => resolve({ error: 'no ready line in 20 s' }), 20_000))])
  t.equal(ready.ready, true, `fixture ready ${ready.error ?? ''}`)
  // The monitor takes its baseline asynchronously: a first change can only be compared once
  // it has one, which a short pause gives it even on a loaded machine.
  await new Promise((resolve) => setTimeout(resolve, 300))

  await check(['ip', '-n', ns, 'link', 'set', 'tunl0', 'down'])
  t.match(await next(), { type: 'down', up: false, running: false, mtu: 1420 }, 'ip link set down: a down event')
  await check(['ip', '-n', ns, 'link', 'set', 'tunl0', 'up'])
  t.match(await next(), { type: 'up', up: true, running: true, mtu: 1420 }, 'ip link set up: an up event')
  await check(['ip', '-n', ns, 'link', 'set', 'tunl0', 'mtu', '1300'])
  t.match(await next(), { type: 'mtu', mtu: 1300, previousMtu: 1420, up: true }, 'ip link set mtu: an mtu event with the old value')
  await check(['ip', '-n', ns, 'link', 'set', 'tunl0', 'mtu', '1300'])  // no change, no event

  // Without listeners nothing is watched (and nothing arrives); with one again it is.
  child.stdin?.write('off\n')
  t.same(await next(), { off: true })
  await check(['ip', '-n', ns, 'link', 'set', 'tunl0', 'mtu', '1280'])
  child.stdin?.write('on\n')
  t.same(await next(), { on: true }, 'the mtu change while nobody listened made no event')
  await new Promise((resolve) => setTimeout(resolve, 300))
  await check(['ip', '-n', ns, 'link', 'set', 'tunl0', 'mtu', '1400'])
  t.match(await next(), { type: 'mtu', mtu: 1400, previousMtu: 1280 }, 'watching again: baseline from the current state')

  await check(['ip', '-n', ns, 'link', 'del', 'tunl0'])
  const events: any[] = []
  for (;;) {
    const e = await next()
    events.push(e)
    if (e.type === 'removed') break
  }
  t.equal(events[events.length - 1].type, 'removed', `ip link del: a removed event (${events.map((e) => e.type).join(', ')})`)
})

t.test("a 'link' listener alone does not keep the process alive", { skip }, async (t) => {
  const ns = await createNetns('k')
  const child = spawnNodeIn(ns, FIXTURE, ['alone'])
  t.teardown(async () => { child.kill('SIGKILL'); await deleteNetns(ns) })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const ready = await nextJsonLine(child, 20_000)
  t.equal(ready.ready, true, 'listener attached')
  const timer = new Promise<string>((resolve) => setTimeout(() => resolve('still running after 10 s'), 10_000))
  t.equal(await Promise.race([exited, timer]), 0, 'the process ended by itself')
})
