// Module entry: registers the wrapped classes in per-environment instance data
// (NODE_API_MODULE with node-addon-api is context-aware: Init runs once per environment).
#include <napi.h>

#include "addon_data.h"
#include "aead_wrap.h"
#include "batch_wrap.h"
#include "js_checked.h"
#include "endpoint_js.h"
#include "fault_seam.h"
#include "fd_passing_wrap.h"
#include "forward_wrap.h"
#include "lease_js.h"
#include "pool_wrap.h"
#include "route_wrap.h"
#include "tun_wrap.h"
#include "udp_wrap.h"
#include "lease_batch.h"  // kMaxLeaseBatch
#include "slot_packer.h"  // kMaxPacketRoom
#include "tun_device.h"   // TunDevice::kMaxQueues
#include "udp_socket.h"   // kMaxUdpBatch

namespace tunio {

namespace {

// A test hook that switches one AddonData flag: setExternalBuffers(false) forces the copy path
// that runtimes without external buffers take; setOpenSslAllowed(false) makes the AEAD API
// behave as in a runtime without OpenSSL.
template <bool AddonData::*flag>
Napi::Value SetAddonFlag(const Napi::CallbackInfo& info) {
  GetAddonData(info.Env())->*flag = info.Length() > 0 && JsTruthy(info[0]);
  return info.Env().Undefined();
}

// binding.limits: the numeric limits whose one definition is a constant of the core (or of
// the addon, for a batch's headers()/split()); lib/ checks its options and arguments against
// these, so the number is written once (test/shared-facts.test.ts holds the docs to them).
Napi::Value LimitsToJs(Napi::Env env) {
  return NumbersToJs(env, {
      {"tunQueues", TunDevice::kMaxQueues},
      {"udpBatchSize", kMaxUdpBatch},
      {"leaseSize", BufferPool::kMaxLeaseSize},
      {"leaseBatchCount", kMaxLeaseBatch},
      {"packetRoom", kMaxPacketRoom},
      {"poolMinCapBytes", BufferPool::kMinCapBytes},
      {"headerBytes", BatchWrap::kMaxHeaderBytes},
      {"releaseGroup", BatchWrap::kReleaseGroup},
  });
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);  // deleted by Node when the environment goes away

  // The wrapped classes the addon also constructs itself keep a reference in AddonData.
  auto export_class = [&](const char* name, Napi::Function ctor, Napi::FunctionReference* keep) {
    *keep = Napi::Persistent(ctor);
    exports.Set(name, ctor);
  };
  export_class("NativePool", PoolWrap::Define(env), &data->pool_ctor);
  export_class("NativeBatch", BatchWrap::Define(env), &data->batch_ctor);
  exports.Set("batchLayout", BatchLayoutToJs(env));
  export_class("NativeTun", TunWrap::Define(env), &data->tun_ctor);
  export_class("NativeUdp", UdpWrap::Define(env), &data->udp_ctor);

  exports.Set("NativeAead", AeadWrap::Define(env));
  exports.Set("NativeForward", ForwardWrap::Define(env));
  exports.Set("aeadLimits", AeadLimitsToJs(env));
  exports.Set("coalesceRefusals", CoalesceRefusalNamesToJs(env));
  // Each stats shape with every count 0, as the methods build it (test/shared-facts.test.ts).
  JsObject shapes(env);
  shapes.Value("tunQueue", TunQueueStatsShapeToJs(env))
      .Value("tun", TunStatsShapeToJs(env))
      .Value("peerErrors", PeerErrorsToJs(env, PeerErrorCounts()))
      .Value("udp", UdpStatsToJs(env, UdpStatsSources()))
      .Value("aead", AeadStatsToJs(env, AeadStats()))
      .Value("pool", PoolStatsToJs(env, PoolStats()))
      .Value("forward", ForwardStatsToJs(env, ForwardStats()));
  exports.Set("statsShapes", shapes.result());
  exports.Set("nativeDefaults", JsObject(env)
                                    .Value("tun", TunDefaultsToJs(env))
                                    .Value("udp", UdpDefaultsToJs(env))
                                    .Value("pool", NumbersToJs(env, {{"capBytes", BufferPool::kDefaultCapBytes}}))
                                    .result());
  exports.Set("limits", LimitsToJs(env));
  // The plain functions (the lease functions: lease_js.cc's TUNIO_LEASE_FUNCTIONS).
  static constexpr FunctionExport kFunctions[] = {
      {"setOpenSslAllowed", JsCallback<SetAddonFlag<&AddonData::openssl_allowed>>},
      {"setExternalBuffers", JsCallback<SetAddonFlag<&AddonData::external_buffers>>},
      {"interfaceIndex", JsCallback<InterfaceIndex>},
      {"sendMeta", JsCallback<SendMetaJs>},
      {"routeChange", JsCallback<RouteChange>},
      {"ruleChange", JsCallback<RuleChange>},
      {"sendFd", JsCallback<SendFd>},
      {"injectFault", JsCallback<InjectFault>},
  };
  ExportFunctions(env, exports, kFunctions);
  DefineLeaseFunctions(env, exports);
  exports.Set("NativeFdReceiver", FdReceiverWrap::Define(env));
  return exports;
}

}  // namespace tunio

static Napi::Object InitTunio(Napi::Env env, Napi::Object exports) { return tunio::Init(env, exports); }

NODE_API_MODULE(tunio, InitTunio)
