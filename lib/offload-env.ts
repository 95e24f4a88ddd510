/**
 * Operator switches: environment variables that turn an offload off without a code change, as
 * tailscale's TS_DEBUG_DISABLE_UDP_GSO family does. Read here and nowhere else, at each
 * openUdp()/openTun() (so a process can open devices with different settings by changing
 * process.env in between). A variable counts as set unless it is empty, '0' or 'false'.
 * An offload switched off this way is off even where the option asks for it (`gso: true`): the
 * operator's switch wins. udp.setOffload()/tun.setOffload() can turn it on again at run time.
 */

/** Which offload each variable turns off. */
export const OFFLOAD_ENV = {
  /** UDP_SEGMENT on send (openUdp `gso`). */
  udpGso: 'TUNIO_DISABLE_UDP_GSO',
  /** UDP_GRO on receive (openUdp `gro`). */
  udpGro: 'TUNIO_DISABLE_UDP_GRO',
  /** Superpackets on TUN reads: TSO/USO (TUNSETOFFLOAD), as openTun `offload: false` but keeping the virtio header. */
  tunTso: 'TUNIO_DISABLE_TUN_TSO',
  /** Coalesced TUN writes (GRO on write: openTun `coalesceTcp`/`coalesceUdp`). */
  tunGro: 'TUNIO_DISABLE_TUN_GRO'
} as const

export type OffloadSwitch = keyof typeof OFFLOAD_ENV

/** True when the operator turned this offload off with its environment variable. */
export function disabledByEnv (which: OffloadSwitch): boolean {
  const value = process.env[OFFLOAD_ENV[which]]
  if (value === undefined) return false
  const v = value.trim().toLowerCase()
  return v !== '' && v !== '0' && v !== 'false'
}
