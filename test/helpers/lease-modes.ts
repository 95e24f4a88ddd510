// The three ways a pool makes its Buffers (docs/ownership.md): 'transfer'
// (ArrayBuffer.prototype.transfer), 'external' (an external Buffer per lease) and 'copy' (no
// external buffers). A mode is chosen when the addon loads, so each runs in a child process
// started with that mode's node flags and environment.
import { execFile } from 'child_process'
import * as path from 'path'

export type LeaseMode = 'transfer' | 'external' | 'copy'

/** The built package the fixtures load. */
export const DIST = path.join(__dirname, '..', '..', 'dist', 'index.js')

/** Node 20 has ArrayBuffer.prototype.transfer behind a V8 flag only; later versions have it built in. */
export const TRANSFER_FLAGS: string[] = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function'
  ? []
  : ['--harmony-rab-gsab-transfer']

/** Each mode with the node flags and environment variables that make a child process use it. */
export const LEASE_MODES: ReadonlyArray<{ mode: LeaseMode, args: string[], env: NodeJS.ProcessEnv }> = [
  { mode: 'transfer', args: TRANSFER_FLAGS, env: { TUNIO_NO_EXTERNAL_BUFFERS: '', TUNIO_NO_TRANSFER: '' } },
  { mode: 'external', args: [], env: { TUNIO_NO_EXTERNAL_BUFFERS: '', TUNIO_NO_TRANSFER: '1' } },
  { mode: 'copy', args: [], env: { TUNIO_NO_EXTERNAL_BUFFERS: '1' } }
]

/** Runs `node <nodeArgs> --expose-gc <fixture> <DIST>` with `env` added; resolves with the JSON of its last line. */
export function runFixture (fixture: string, nodeArgs: string[], env: NodeJS.ProcessEnv): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [...nodeArgs, '--expose-gc', fixture, DIST], { env: { ...process.env, ...env }, timeout: 60000 },
      (err, stdout, stderr) => {
        if (err) { reject(new Error(`${err.message}\n${stderr}`)); return }
        resolve(JSON.parse(stdout.trim().split('\n').pop() as string))
      })
  })
}
