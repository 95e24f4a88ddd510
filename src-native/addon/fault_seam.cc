#include "fault_seam.h"

#include <algorithm>
#include <cerrno>
#include <memory>

#include "errors.h"
#include "tun_io_faults.h"
#include "tun_wrap.h"
#include "type_tags.h"
#include "udp_socket_faults.h"
#include "udp_wrap.h"

namespace tunio {

namespace {

constexpr size_t kFirstFaultArg = 2;  // after (device, fault)

int64_t IntArg(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && info[i].IsNumber() ? info[i].As<Napi::Number>().Int64Value() : 0;
}

Napi::Value UnknownFault(Napi::Env env, const std::string& fault) {
  ThrowRangeError(env, "ERR_TUNIO_INVALID_ARG", "injectFault: no fault '" + fault + "' for this device");
  return Napi::Value();
}

}  // namespace

Napi::Value FaultSeam::Tun(TunWrap& tun, const std::string& fault, const Napi::CallbackInfo& info) {
  int q;
  if (!tun.QueueArg(info, kFirstFaultArg, &q)) return Napi::Value();
  int err = 0;
  bool coalesced_only = false;
  int64_t skip = 0;
  if (fault == "coalesceEinval") {
    err = EINVAL;
    coalesced_only = true;
  } else if (fault == "writeError") {
    const size_t errno_arg = kFirstFaultArg + 1;
    const std::string name = info.Length() > errno_arg && info[errno_arg].IsString() ? info[errno_arg].As<Napi::String>().Utf8Value() : "";
    err = name == "EAGAIN" ? EAGAIN : name == "ENOBUFS" ? ENOBUFS : 0;
    if (err == 0) {
      ThrowRangeError(info.Env(), "ERR_TUNIO_INVALID_ARG", "injectFault writeError: EAGAIN or ENOBUFS");
      return Napi::Value();
    }
    skip = std::max<int64_t>(0, IntArg(info, kFirstFaultArg + 2));
  } else {
    return UnknownFault(info.Env(), fault);
  }
  tun.queues_[static_cast<size_t>(q)].io->set_writer(
      std::make_unique<OneWriteFault>(&tun.dev_, q, err, coalesced_only, static_cast<uint32_t>(skip)));
  return info.Env().Undefined();
}

Napi::Value FaultSeam::Udp(UdpWrap& udp, const std::string& fault, const Napi::CallbackInfo& info) {
  if (!udp.CheckOpen(info.Env())) return Napi::Value();
  if (fault != "gsoEio" && fault != "gsoSegmentLimit") return UnknownFault(info.Env(), fault);
  // The socket's kernel with faults, made on first use; the wrap owns it (declared before its
  // socket, so that it outlives the socket it is installed in).
  if (!udp.send_faults_) {
    udp.send_faults_ = std::make_unique<UdpSocketFaults>();
    udp.socket_->set_send_calls(udp.send_faults_.get());
  }
  if (fault == "gsoEio") {
    udp.send_faults_->fail_next_gso(EIO);
  } else {
    udp.send_faults_->set_gso_segment_limit(static_cast<uint16_t>(std::clamp<int64_t>(IntArg(info, kFirstFaultArg), 0, 65535)));
  }
  return info.Env().Undefined();
}

Napi::Value InjectFault(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string fault = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  Napi::Value device = info.Length() > 0 ? info[0] : env.Undefined();
  if (TunWrap* tun = UnwrapTagged<TunWrap>(device, kTunTypeTag)) return FaultSeam::Tun(*tun, fault, info);
  if (UdpWrap* udp = UnwrapTagged<UdpWrap>(device, kUdpTypeTag)) return FaultSeam::Udp(*udp, fault, info);
  ThrowRangeError(env, "ERR_TUNIO_INVALID_ARG", "injectFault: not a NativeTun or NativeUdp");
  return Napi::Value();
}

}  // namespace tunio
