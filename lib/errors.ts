import type { Endpoint } from './lease'

/** Stable error codes. Every error tunio throws or emits carries one of these in `code`. */
export type TunioErrorCode =
  | 'ERR_TUNIO_INVALID_OPTION'
  | 'ERR_TUNIO_INVALID_ARG'
  | 'ERR_TUNIO_LEASE_RELEASED'
  | 'ERR_TUNIO_POOL_EXHAUSTED'
  | 'ERR_TUNIO_CLOSED'
  | 'ERR_TUNIO_UNSUPPORTED_PLATFORM'
  | 'ERR_TUNIO_BINDING_NOT_FOUND'
  | 'ERR_TUNIO_OFFLOAD_REFUSED'
  | 'ERR_TUNIO_TUN_OPEN'
  | 'ERR_TUNIO_TUN_EXISTS'
  | 'ERR_TUNIO_TUN_QUEUE'
  | 'ERR_TUNIO_NOT_MULTI_QUEUE'
  | 'ERR_TUNIO_LINK_CONFIG'
  | 'ERR_TUNIO_ROUTE'
  | 'ERR_TUNIO_RULE'
  | 'ERR_TUNIO_FD_PASSING'
  | 'ERR_TUNIO_UDP_OPEN'
  | 'ERR_TUNIO_UDP_SEND'
  | 'ERR_TUNIO_UDP_RECV'
  | 'ERR_TUNIO_UDP_PEER'
  | 'ERR_TUNIO_TUN_READ'
  | 'ERR_TUNIO_TUN_WRITE'
  | 'ERR_TUNIO_QUEUE_FULL'
  | 'ERR_TUNIO_NAPI'
  | 'ERR_TUNIO_AEAD_UNAVAILABLE'
  | 'ERR_TUNIO_AEAD_INIT'
  | 'ERR_TUNIO_AEAD_COUNTER_LIMIT'
  | 'ERR_TUNIO_VIEW_CLOSED'
  | 'ERR_TUNIO_FORWARDING'
  | 'ERR_TUNIO_FORWARD_READ'

/** An Error with a stable `code`; system-call failures also carry `errno` and `syscall`. */
export interface TunioError extends Error {
  code: TunioErrorCode
  /** errno name such as `EPERM`, for failed system calls. */
  errno?: string
  errnoNumber?: number
  /** The call that failed, e.g. `ioctl(TUNSETIFF)`. */
  syscall?: string
  /** For invalid options: the option's name. */
  option?: string
  /**
   * For ERR_TUNIO_INVALID_ARG: the argument's name, with the index for an item of an array
   * (`'source'`, `'datagrams[2]'`).
   */
  argument?: string
  /** For ERR_TUNIO_UDP_PEER ('peerError' events): the peer the ICMP error is about, when known. */
  remote?: Endpoint
}

export function tunioError (code: TunioErrorCode, message: string, extra?: Partial<TunioError>): TunioError {
  const err = new Error(message) as TunioError
  err.code = code
  if (extra) Object.assign(err, extra)
  return err
}

export function invalidOption (option: string, message: string): TunioError {
  const err = new TypeError(`invalid option "${option}": ${message}`) as unknown as TunioError
  err.code = 'ERR_TUNIO_INVALID_OPTION'
  err.option = option
  return err
}

export function invalidArg (argument: string, message: string): TunioError {
  const err = new TypeError(`invalid argument "${argument}": ${message}`) as unknown as TunioError
  err.code = 'ERR_TUNIO_INVALID_ARG'
  err.argument = argument
  return err
}

export function leaseReleased (): TunioError {
  return tunioError('ERR_TUNIO_LEASE_RELEASED', 'lease was already released or its ownership moved to send()/write()')
}

export function closedError (what: string): TunioError {
  return tunioError('ERR_TUNIO_CLOSED', `${what} is closed`)
}
