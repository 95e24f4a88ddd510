// The one way JavaScript reaches the core's fault seams, for tunio's own tests only:
// binding.injectFault(device, fault, ...args), called by the hooks lib/tun.ts and lib/udp.ts
// register for lib/test-hooks.ts. It installs a kernel with faults where the core takes one
// (TunQueueIo::set_writer with tun_io_faults.h's OneWriteFault; UdpSocket::set_send_calls with
// udp_socket_faults.h's UdpSocketFaults), the way the native tests do. NativeTun and NativeUdp
// have no fault methods of their own: their JS classes are what production code calls.
#pragma once

#include <napi.h>

#include <string>

namespace tunio {

class TunWrap;
class UdpWrap;

// The faults by device (`device` a NativeTun or a NativeUdp, told apart by type tag):
//   NativeTun, 'coalesceEinval', queue: the next coalesced write on the queue fails with EINVAL
//   NativeTun, 'writeError', queue, 'EAGAIN' | 'ENOBUFS', skip: after `skip` writes, one fails
//   NativeUdp, 'gsoEio': the next GSO send fails with EIO
//   NativeUdp, 'gsoSegmentLimit', n: GSO sends of more than n segments fail (0: no limit)
// A closed device throws ERR_TUNIO_CLOSED; anything else ERR_TUNIO_INVALID_ARG.
Napi::Value InjectFault(const Napi::CallbackInfo& info);

// The wraps' friend: it installs the faults in their queues and socket.
struct FaultSeam {
  static Napi::Value Tun(TunWrap& tun, const std::string& fault, const Napi::CallbackInfo& info);
  static Napi::Value Udp(UdpWrap& udp, const std::string& fault, const Napi::CallbackInfo& info);
};

}  // namespace tunio
