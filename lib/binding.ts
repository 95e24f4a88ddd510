/**
 * The one loader of the native addon: node-gyp-build looks in prebuilds/ first, then
 * build/Release. On platforms other than Linux nothing is loaded; opening a device throws
 * ERR_TUNIO_UNSUPPORTED_PLATFORM instead of failing at import time.
 */
import * as path from 'path'
import { tunioError } from './errors'
import type { NativeBinding } from './native'

let cached: NativeBinding | undefined

export function isSupportedPlatform (): boolean {
  return process.platform === 'linux'
}

export function binding (): NativeBinding {
  if (cached) return cached
  if (!isSupportedPlatform()) {
    throw tunioError('ERR_TUNIO_UNSUPPORTED_PLATFORM',
      `tunio supports Linux only (TUN with virtio-net headers, UDP GSO/GRO); this is ${process.platform}-${process.arch}`)
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const load = require('node-gyp-build') as (dir: string) => NativeBinding
    cached = load(path.join(__dirname, '..'))
    // Test hook and escape hatch: behave as a runtime without external buffers (Electron).
    if (process.env.TUNIO_NO_EXTERNAL_BUFFERS === '1') cached.setExternalBuffers(false)
  } catch (cause) {
    throw tunioError('ERR_TUNIO_BINDING_NOT_FOUND',
      `tunio's native addon could not be loaded (no prebuild for ${process.platform}-${process.arch} and no build/Release): ` +
      `run "npm rebuild tunio" with a C++ toolchain. Cause: ${(cause as Error).message}`)
  }
  return cached
}
