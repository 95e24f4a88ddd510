/**
 * Byte sources: what `pool.leaseFrom()`, `lease.set()`, `udp.send()` and `tun.write()` accept
 * as bytes. Any ArrayBufferView: a Buffer, a typed array of any element type (its bytes, not
 * its element values), a DataView; over an ArrayBuffer, a SharedArrayBuffer, a resizable or a
 * growable one. Refused with ERR_TUNIO_INVALID_ARG naming the argument: anything else, a view
 * whose ArrayBuffer is detached (e.g. the Buffer of a released lease), a view that lies outside
 * its resized buffer. The native side reads the same views in one place
 * (src-native/addon/byte_source.h) and refuses the same things; checking here first lets
 * send()/write() refuse a bad argument before any lease moves.
 *
 * Lengths are read with the built-in getters: an own `length` or `byteLength` property on a
 * view cannot make tunio believe it is longer or shorter than it is.
 */
import { types } from 'util'
import { invalidArg } from './errors'

function getter<T> (proto: object, name: string): (this: unknown) => T {
  const get = Object.getOwnPropertyDescriptor(proto, name)?.get
  if (get === undefined) throw new Error(`no built-in getter ${name}`)
  return get as (this: unknown) => T
}

const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object
const typedArrayByteLength = getter<number>(typedArrayPrototype, 'byteLength')
const typedArrayByteOffset = getter<number>(typedArrayPrototype, 'byteOffset')
const typedArrayBuffer = getter<ArrayBufferLike>(typedArrayPrototype, 'buffer')
// ValidateTypedArray: throws for a detached buffer or a view outside its resized buffer
const typedArrayEntries = (typedArrayPrototype as { entries: (this: unknown) => unknown }).entries
const dataViewByteLength = getter<number>(DataView.prototype, 'byteLength')
const dataViewByteOffset = getter<number>(DataView.prototype, 'byteOffset')
const dataViewBuffer = getter<ArrayBufferLike>(DataView.prototype, 'buffer')
// ES2024 (Node >= 22); older runtimes: slice() throws on a detached buffer
const arrayBufferDetached = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'detached')?.get
const arrayBufferSlice = ArrayBuffer.prototype.slice

/** A Buffer, a typed array or a DataView. */
export type ByteSource = ArrayBufferView

export function isByteSource (value: unknown): value is ByteSource { return ArrayBuffer.isView(value) }

/** Whether `buffer` is a detached ArrayBuffer (a SharedArrayBuffer never is). */
export function isDetached (buffer: ArrayBufferLike): boolean {
  if (types.isSharedArrayBuffer(buffer)) return false
  if (arrayBufferDetached !== undefined) return arrayBufferDetached.call(buffer) as boolean
  try { arrayBufferSlice.call(buffer, 0, 0) } catch { return true }
  return false
}

function unreadable (argument: string, buffer: ArrayBufferLike): Error {
  return isDetached(buffer)
    ? invalidArg(argument, 'its ArrayBuffer is detached (the Buffer of a released or sent lease, or memory transferred away)')
    : invalidArg(argument, 'the view lies outside its (resized) ArrayBuffer')
}

/**
 * The byte length of `value`, or throws ERR_TUNIO_INVALID_ARG naming `argument` when it is not
 * a readable byte source.
 */
export function byteSourceLength (value: unknown, argument: string): number {
  if (!ArrayBuffer.isView(value)) throw invalidArg(argument, 'must be a Buffer, a typed array or a DataView')
  if (types.isDataView(value)) {
    try { return dataViewByteLength.call(value) } catch { throw unreadable(argument, dataViewBuffer.call(value)) }
  }
  const length = typedArrayByteLength.call(value)
  if (length === 0) {
    // detached and out-of-bounds views read as zero-length too
    try { typedArrayEntries.call(value) } catch { throw unreadable(argument, typedArrayBuffer.call(value)) }
  }
  return length
}

/** The ArrayBuffer (or SharedArrayBuffer) under a byte source. */
export function bufferOf (value: ByteSource): ArrayBufferLike {
  return types.isDataView(value) ? dataViewBuffer.call(value) : typedArrayBuffer.call(value)
}

/** A Uint8Array over the same bytes as a byte source already checked by byteSourceLength(). */
export function asUint8Array (value: ByteSource): Uint8Array {
  if (types.isUint8Array(value)) return value // TypedArray.prototype.set() copies it by its internal length
  if (types.isDataView(value)) return new Uint8Array(dataViewBuffer.call(value), dataViewByteOffset.call(value), dataViewByteLength.call(value))
  return new Uint8Array(typedArrayBuffer.call(value), typedArrayByteOffset.call(value), typedArrayByteLength.call(value))
}
