// The declarations use Node's types (Buffer, EventEmitter, Disposable): they load them
// themselves, so a consumer needs no `types: ["node"]` (preserve: TypeScript >= 5.5 drops
// reference directives from declaration output otherwise).
/// <reference types="node" preserve="true" />
/**
 * tunio: packet I/O for VPN data planes in Node.js.
 * See README.md for the API in use and docs/ for the design notes.
 */
export { Lease, PacketBatch } from './lease'
export { BatchBytes } from './batch-bytes'
export type { Endpoint, LocalAddress, GsoInfo } from './lease'
export { Pool, getDefaultPool, MAX_LEASE_SIZE } from './pool'
export type { PoolOptions, PoolStats, LeaseBatchOptions, LeaseOptions } from './pool'
export type { LeaseMode } from './pool-lease'
export { setLeaseDebug, leakReports } from './leak-debug'
export type { LeakReport } from './leak-debug'
export type { TunioError, TunioErrorCode } from './errors'
export { isSupportedPlatform } from './binding'
export { openTun, Tun, TunQueue, TUN_DEFAULTS } from './tun'
export type { TunOptions, TunOffload, TunStats, TunQueueStats, LinkStats, TunEvents, CoalesceRefusal, TunOffloadEvent, TunCongestion, TunDrop, TunLinkEvent, TunRouteOptions, TunRuleOptions } from './tun'
export { addRoute, deleteRoute, addRule, deleteRule } from './routes'
export type { RouteOptions, Route, RouteTable, RouteType, RuleOptions, Rule } from './routes'
export { receiveFd, sendFd } from './fd-passing'
export type { ReceivedFd, ReceiveFdOptions } from './fd-passing'
export { openUdp, Udp, UDP_DEFAULTS } from './udp'
export type { UdpOptions, UdpFeatures, UdpStats, PeerErrorCounts, UdpPeerError, UdpCongestion, UdpDrop, UdpOffloadEvent, UdpPathMtu, UdpEvents } from './udp'
export type { TypedEvents } from './events'
export type { PacketInput } from './packets'
export type { ByteSource } from './bytes'
export { sumStats } from './stats'
export { Aead } from './aead'
export { Forward } from './forward'
export type { TunForwardOptions, UdpForwardOptions, ForwardStats } from './forward'
export type { AeadOptions, AeadStats, AeadAlgorithm, AeadNonceLayout } from './aead'
export type { HostPort } from './options'
