/** Shapes of the native addon's exports (internal; the public API is in index.ts). */
import type { GsoInfo } from './lease'

export interface NativeEndpoint { address: string, family: 'IPv4' | 'IPv6', port?: number, ifindex?: number }

export type NativeGsoMeta = GsoInfo

export interface NativeMeta { remote?: NativeEndpoint, local?: NativeEndpoint, ecn: number, gso?: NativeGsoMeta }

export interface NativeBatch {
  size (): number
  live (): number
  lengthOf (i: number): number
  buffer (i: number): Buffer
  release (i: number, view?: Buffer): boolean
  releaseAll (): number
  detach (view: ArrayBufferView | ArrayBuffer): boolean
  writeBack (i: number, view: Buffer): boolean
  truncate (i: number, length: number): number
  meta (i: number): NativeMeta
  extract (i: number): NativeBatch
}

export interface NativePoolStats {
  capBytes: number, reservedBytes: number, inUseBytes: number, highWaterBytes: number, slotsInUse: number,
  leaseFailures: number, leaked: number, acquired: number, externalBuffers: boolean
}

export interface NativePool {
  acquire (size: number, viaHome: boolean): number
  acquireView (size: number): Buffer | null
  leaseFrom (source: Uint8Array, viaHome: boolean): number
  home (index: number): ArrayBuffer | null
  view (index: number, length: number): Buffer | null
  copyOut (index: number, length: number): Buffer
  set (index: number, offset: number, source: Uint8Array): void
  release (index: number, view?: Buffer): boolean
  abandon (index: number): void
  releaseLeaked (index: number, generation: number): boolean
  surrender (index: number, length: number, view: Buffer | undefined, isCopy: boolean): NativeBatch
  leaseBatch (count: number, size: number): NativeBatch
  stats (): NativePoolStats
}

export interface NativeBinding {
  NativePool: new (capBytes: number, scratch: Uint32Array) => NativePool
  NativeBatch: new () => NativeBatch
  setExternalBuffers (allowed: boolean): void
  [name: string]: unknown
}
