/**
 * The one loader of the native addon. node-gyp-build looks in build/Release (a build from
 * source), then prebuilds/<platform>-<arch>/. Nothing is loaded at import time: on platforms
 * other than Linux importing works and opening a device throws ERR_TUNIO_UNSUPPORTED_PLATFORM.
 *
 * TUNIO_ADDON_PATH=/abs/path/tunio.node loads that file instead. It is for tests of other
 * builds of the same addon (the cmake-js build, the sanitized build), not for applications.
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
  const override = process.env.TUNIO_ADDON_PATH
  try {
    if (override) {
      cached = require(path.resolve(override)) as NativeBinding
    } else {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const load = require('node-gyp-build') as (dir: string) => NativeBinding
      cached = load(path.join(__dirname, '..'))
    }
    // Test hook and escape hatch: behave as a runtime without external buffers (Electron).
    if (process.env.TUNIO_NO_EXTERNAL_BUFFERS === '1') cached.setExternalBuffers(false)
    // Test hook: behave as a runtime without OpenSSL for addons (Electron's BoringSSL).
    if (process.env.TUNIO_NO_OPENSSL === '1') cached.setOpenSslAllowed(false)
  } catch (cause) {
    const reason = (cause as Error).message
    throw tunioError('ERR_TUNIO_BINDING_NOT_FOUND', override
      ? `tunio's native addon could not be loaded from TUNIO_ADDON_PATH=${override}: ${reason}`
      : `tunio's native addon could not be loaded (no prebuild for ${process.platform}-${process.arch} and no build/Release): ` +
        `run "npm rebuild tunio" with a C++ toolchain. Cause: ${reason}`)
  }
  return cached
}
