// The TUN device's send-side events against a real device in a namespace: 'congestion' when a
// queue's writes start waiting for the kernel, 'drain' when the queue is written, 'drop' for a
// full queue; nothing of it on a plain write; close() with packets waiting. (Coalescing's
// 'offload' events are in tun-wire.test.ts, under a real TCP transfer.)
import t from 'tap'
import * as path from 'path'
import { netnsSkipReason, runFixtureWithHooks } from './helpers/netns'

const fixture = path.join(__dirname, 'fixtures', 'tun-events.js')
const skip = netnsSkipReason()

t.test('TUN congestion, drain and drop events', { skip }, async (t) => {
  const o = await runFixtureWithHooks(t, 'ev', fixture, 60_000)

  t.same(o.linkDefaults, { mtu: 1500, txqueuelen: 500 }, 'a new TUN device has the MTU and txqueuelen TunOptions documents as the defaults')
  t.equal(o.plainAccepted, 2)
  t.same(o.plainEvents, [], 'a write the kernel takes emits nothing')

  t.equal(o.congestedAccepted, 10, 'a write that meets EAGAIN still accepts every packet')
  t.equal(o.queuedAfterWrite, 8, 'the two written before the refusal went out; 8 wait')
  t.same(o.eventsAfterWrite, [['congestion', { queue: 0, reason: 'EAGAIN', queued: 8 }]], "'congestion' from write() itself, with the queue and what waits")
  t.equal(o.behindAccepted, 2, 'a write while the queue waits is accepted')
  t.equal(o.queuedBehind, 10, 'and queued behind it (not written ahead)')
  t.same(o.eventsAfterDrain, [['drain', 0]], "one 'drain' with the queue index once the fd was writable; no second 'congestion'")
  t.equal(o.queuedAfterDrain, 0)

  t.equal(o.fullAccepted, 8, 'a full queue accepts writeQueueLength packets')
  t.same(o.fullStats, { queued: 8, queueFull: 4 })
  t.same(o.fullEvents, [
    ['drop', { queue: 0, reason: 'queueFull', count: 4 }],
    ['congestion', { queue: 0, reason: 'EAGAIN', queued: 8 }],
    ['drain', 0]
  ], "'drop' for the 4 beyond the limit, then 'congestion' and 'drain'")

  t.equal(o.queuedBeforeClose, 2)
  t.same(o.closeEvents, { closes: 1, others: [], poolInUse: 0 }, "close() discards what waits: no 'drain' or 'drop', its pool memory back, one 'close'")

  const expected = ['p0', 'p1', ...Array.from({ length: 12 }, (_, i) => `c${i}`)]
  t.same(o.received.slice(0, 14), expected, 'every packet arrived once, in order')
})
