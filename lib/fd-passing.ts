/**
 * Handing a TUN fd from a privileged helper to an unprivileged data plane over a Unix socket
 * (SCM_RIGHTS), which Node cannot do by itself. The data plane waits with `receiveFd(path)`
 * and opens the device with `openTun({ fd })`; the helper, which has CAP_NET_ADMIN, creates
 * and configures the device (`openTun({ name, mtu, addresses })`) and calls
 * `sendFd(path, tun)`. See README ("Running without CAP_NET_ADMIN").
 */
import { binding } from './binding'
import { invalidArg, tunioError } from './errors'
import { describe } from './options'

/** A descriptor received with `receiveFd()`, and who sent it (from the kernel, not forgeable). */
export interface ReceivedFd {
  fd: number
  pid: number
  uid: number
  gid: number
}

export interface ReceiveFdOptions {
  /** Give up after this many milliseconds (`ERR_TUNIO_FD_PASSING`, errno `ETIMEDOUT`). Default: wait. */
  timeoutMs?: number
}

interface NativeFdReceiver { close (): void }
interface NativeFdPassing {
  sendFd (path: string, fd: number): void
  NativeFdReceiver: new (path: string, cb: (fdOrError: number | Error, pid?: number, uid?: number, gid?: number) => void) => NativeFdReceiver
}
function native (): NativeFdPassing { return binding() as unknown as NativeFdPassing }

/** Anything that holds a TUN queue fd (a Tun). */
interface HasQueueFd { queueFd (queue: number): number }

function checkPath (path: unknown): asserts path is string {
  if (typeof path !== 'string' || path.length === 0) throw invalidArg('path', `must be a socket path, got ${describe(path)}`)
}

/**
 * Binds a Unix datagram socket at `path` (which must not exist; create it in a directory only
 * the sender may write to) and resolves with the first descriptor a `sendFd()` hands over.
 * The socket is removed again once one arrived, on timeout and on failure. Datagrams that are
 * not a tunio hand-over are ignored. Check `uid`/`pid` if the directory lets others in.
 * The fd is yours: pass it to `openTun({ fd })` (which takes it over) or close it.
 */
export function receiveFd (path: string, options: ReceiveFdOptions = {}): Promise<ReceivedFd> {
  checkPath(path)
  const timeoutMs = options.timeoutMs
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1)) {
    throw invalidArg('options.timeoutMs', `must be a positive integer, got ${describe(timeoutMs)}`)
  }
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined
    const receiver = new (native().NativeFdReceiver)(path, (fdOrError, pid, uid, gid) => {
      if (timer !== undefined) clearTimeout(timer)
      if (fdOrError instanceof Error) reject(fdOrError)
      else resolve({ fd: fdOrError, pid: pid ?? -1, uid: uid ?? -1, gid: gid ?? -1 })
    })
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        receiver.close()
        reject(tunioError('ERR_TUNIO_FD_PASSING', `no fd arrived at ${path} within ${timeoutMs} ms`, { errno: 'ETIMEDOUT', syscall: 'recvmsg(SCM_RIGHTS)' }))
      }, timeoutMs)
    }
  })
}

/**
 * Sends a descriptor to the `receiveFd()` waiting at `path`: a number, or a Tun (its queue
 * `queue`, default 0). The receiver gets its own descriptor of the same open file; this one
 * stays open. A TUN device lives while any process holds one, so the sender may close its Tun
 * afterwards (and should not read from it: both would take packets off the same queue).
 */
export function sendFd (path: string, source: number | HasQueueFd, queue = 0): void {
  checkPath(path)
  let fd: number
  if (typeof source === 'number') {
    if (!Number.isInteger(source) || source < 0 || source > 2 ** 31 - 1) throw invalidArg('source', `must be a file descriptor or a Tun, got ${describe(source)}`)
    fd = source
  } else if (source !== null && typeof source === 'object' && typeof (source as HasQueueFd).queueFd === 'function') {
    fd = source.queueFd(queue)
  } else {
    throw invalidArg('source', `must be a file descriptor or a Tun, got ${describe(source)}`)
  }
  native().sendFd(path, fd)
}
