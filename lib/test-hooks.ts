/**
 * Fault injection for tunio's own tests. Not part of the API: index.ts does not export it,
 * the package's exports map does not reach it, its declarations are left out of the tarball
 * and typedoc never sees it (tests load lib/test-hooks or dist/test-hooks.js by path). Each
 * device registers its hooks here when it is created; the hooks reach the native object,
 * which user code cannot.
 */
import { binding } from './binding'
import type { Tun } from './tun'
import type { Udp } from './udp'

/** @internal */
export interface Hooks {
  forceGsoEioOnce?: () => void
  simulateGsoSegmentLimit?: (segments: number) => void
  forceCoalesceEinvalOnce?: (queue: number) => void
  forceTunWriteErrorOnce?: (queue: number, errno: 'EAGAIN' | 'ENOBUFS', skip: number) => void
}

const registry = new WeakMap<object, Hooks>()

/** The faults the addon's one fault seam installs (src-native/addon/fault_seam.h), by device. */
type Fault =
  | [native: object, fault: 'coalesceEinval', queue: number]
  | [native: object, fault: 'writeError', queue: number, errno: 'EAGAIN' | 'ENOBUFS', skip: number]
  | [native: object, fault: 'gsoEio']
  | [native: object, fault: 'gsoSegmentLimit', segments: number]

/** @internal called by the hooks the Udp and Tun constructors register, with their native object */
export function injectFault (...args: Fault): void {
  (binding() as unknown as { injectFault: (...a: Fault) => void }).injectFault(...args)
}

/** @internal called by the Udp and Tun constructors */
export function registerTestHooks (device: object, hooks: Hooks): void { registry.set(device, hooks) }

function hook<K extends keyof Hooks> (device: object, name: K): NonNullable<Hooks[K]> {
  const h = registry.get(device)?.[name]
  if (h === undefined) throw new TypeError(`${name}: not a tunio device with that hook`)
  return h as NonNullable<Hooks[K]>
}

/** The next GSO send of `udp` behaves as if the kernel returned EIO (the fallback re-sends it). */
export function forceGsoEioOnce (udp: Udp): void { hook(udp, 'forceGsoEioOnce')() }

/**
 * From now on `udp` behaves as on a kernel that takes at most `segments` segments per
 * UDP_SEGMENT send (64 before Linux 6.9): a GSO send of more fails with EINVAL without a
 * syscall. 0 ends it (the real kernel's limit again).
 */
export function simulateGsoSegmentLimit (udp: Udp, segments: number): void { hook(udp, 'simulateGsoSegmentLimit')(segments) }

/**
 * The next coalesced write on `queue` (default 0) behaves as if the kernel had refused it with
 * EINVAL, as some 2024 stable kernels do: the segments are then written one by one, coalescing
 * is suspended for the device until a probe, and stats().coalesceFallbacks counts it.
 */
export function forceCoalesceEinvalOnce (tun: Tun, queue = 0): void { hook(tun, 'forceCoalesceEinvalOnce')(queue) }

/**
 * After `skip` more writes on `queue` went to the kernel, one write fails with `errno` (EAGAIN:
 * the fd is full) without a syscall: the packets from there on wait in the write queue until
 * the fd polls writable, as when the kernel really refuses.
 */
export function forceTunWriteErrorOnce (tun: Tun, queue = 0, errno: 'EAGAIN' | 'ENOBUFS' = 'EAGAIN', skip = 0): void {
  hook(tun, 'forceTunWriteErrorOnce')(queue, errno, skip)
}
