// Aead on the JS side (lib/aead.ts): one AeadCipher (src-native/core/aead.h) with its counter
// and stats. Converts values and nothing else: options are validated in lib/aead.ts, the
// packet rules live in the core.
#pragma once

#include <napi.h>

#include <memory>

#include "aead.h"
#include "js_checked.h"

namespace tunio {

class BatchWrap;

class AeadWrap : public Napi::ObjectWrap<AeadWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit AeadWrap(const Napi::CallbackInfo& info);

  // A native forward (forward_wrap.h) takes this Aead for its life: Claim() (false, with an
  // error thrown, when it is sealing on the threadpool or another forward has it) ... Release().
  // Meanwhile seal()/open() from JS throw: the counter and the replay window are the forward's.
  bool Claim(Napi::Env env);
  void Release() { forwarding_ = false; }
  // The forward's round, in place: packets that fail are dropped and removed from `pkts`
  // (counted in stats). SealForward refuses (false, nothing sealed) when the counters would
  // reach the limit; OpenForward checks counters against the replay window (AeadSpec).
  bool SealForward(std::vector<Packet>& pkts);
  void OpenForward(std::vector<Packet>& pkts, std::vector<uint64_t>& counters);

 private:
  Napi::Value Seal(const Napi::CallbackInfo& info);
  Napi::Value Open(const Napi::CallbackInfo& info);
  // sealLeases(targets, extents) / openLeases(targets, extents, counters): the same over an
  // array of leases (aead_leases.cc).
  Napi::Value SealLeases(const Napi::CallbackInfo& info);
  Napi::Value OpenLeases(const Napi::CallbackInfo& info);
  Napi::Value TransformLeases(const Napi::CallbackInfo& info, bool seal);
  Napi::Value NextCounter(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  // Measurement hook for bench/crypto.js (not public API): the same seal on a libuv threadpool
  // thread. The batch's packets move into the work and come back in a new batch (the promise's
  // value), so JavaScript cannot touch them meanwhile; the cipher is busy until then.
  Napi::Value SealOnThreadpool(const Napi::CallbackInfo& info);
  // The batch argument of seal()/sealOnThreadpool(), synced, when this Aead is idle and has
  // counters for every packet of it; else throws (`usage` when it is not a batch) and null.
  BatchWrap* BatchToSeal(const Napi::CallbackInfo& info, const char* usage);
  bool CheckIdle(Napi::Env env);

  std::unique_ptr<AeadCipher> cipher_;
  bool busy_ = false;  // a threadpool seal owns cipher_ and the counter
  bool forwarding_ = false;  // a native forward owns them (Claim)
  uint64_t next_counter_ = 0;
  AeadStats stats_;
};

// Facts lib/aead.ts validates against (one source of truth): key, tag and header sizes.
Napi::Value AeadLimitsToJs(Napi::Env env);
// aead.stats() (with every count 0 also binding.statsShapes.aead).
JsObject AeadStatsToJs(napi_env env, const AeadStats& s);

}  // namespace tunio
