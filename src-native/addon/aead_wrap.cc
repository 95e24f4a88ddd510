#include "aead_wrap.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "addon_data.h"
#include "batch_wrap.h"
#include "byte_source.h"
#include "errors.h"
#include "js_checked.h"
#include "stats_js.h"
#include "slot_packer.h"
#include "type_tags.h"

namespace tunio {

namespace {

uint64_t GetBigUint64(Napi::Object o, const char* key, uint64_t def) {
  Napi::Value v = JsGet(o, key);
  if (!v.IsBigInt()) return def;
  bool lossless = false;
  return v.As<Napi::BigInt>().Uint64Value(&lossless);
}
uint32_t GetUint32(Napi::Object o, const char* key, uint32_t def) {
  Napi::Value v = JsGet(o, key);
  return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : def;
}
bool GetBool(Napi::Object o, const char* key) {
  Napi::Value v = JsGet(o, key);
  return v.IsBoolean() && v.As<Napi::Boolean>().Value();
}
// The bytes of a byte-source option (lib/aead.ts passes its own copies; empty when unreadable).
std::vector<uint8_t> GetBytes(Napi::Object o, const char* key) {
  Napi::Env env = o.Env();
  ByteSpan bytes;
  if (!ReadByteSource(env, JsGet(o, key), key, &bytes)) {
    env.GetAndClearPendingException();
    return {};
  }
  return std::vector<uint8_t>(bytes.data, bytes.data + bytes.length);
}

}  // namespace

Napi::Function AeadWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeAead",
                     {InstanceMethod<&AeadWrap::Seal>("seal"), InstanceMethod<&AeadWrap::Open>("open"),
                      InstanceMethod<&AeadWrap::SealLeases>("sealLeases"),
                      InstanceMethod<&AeadWrap::OpenLeases>("openLeases"),
                      InstanceMethod<&AeadWrap::NextCounter>("nextCounter"),
                      InstanceMethod<&AeadWrap::Stats>("stats"),
                      InstanceMethod<&AeadWrap::SealOnThreadpool>("sealOnThreadpool")});
}

Napi::Value AeadLimitsToJs(Napi::Env env) {
  return NumbersToJs(env, {
      {"keyLength", kAeadKeyLen}, {"nonceLength", kAeadNonceLen}, {"tagLength", kAeadTagLen},
      {"counterLength", kAeadCounterLen}, {"maxHeaderLength", kAeadMaxHeaderLen},
      {"maxPadTo", kAeadMaxPadTo},
      {"minReplayWindow", ReplayWindow::kMinBits}, {"maxReplayWindow", ReplayWindow::kMaxBits}
  });
}

// new NativeAead(spec): `spec` as lib/aead.ts builds it (validated there).
AeadWrap::AeadWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AeadWrap>(info) {
  Napi::Env env = info.Env();
  SetTypeTag(env, Value(), kAeadTypeTag);  // a forward's seal/open (forward_wrap.cc)
  if (info.Length() < 1 || !info[0].IsObject()) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "NativeAead needs its spec object (lib/aead.ts)");
    return;
  }
  const EvpApi& api = evp_api();
  if (!api.available() || !GetAddonData(env)->openssl_allowed) {
    ThrowError(env, "ERR_TUNIO_AEAD_UNAVAILABLE",
               std::string("native AEAD needs the OpenSSL that Node exports to addons, and this runtime has none (") +
                   (api.missing ? api.missing : "disabled for a test") +
                   " not found; e.g. Electron links BoringSSL): use node:crypto per packet instead");
    return;
  }
  Napi::Object o = info[0].As<Napi::Object>();
  AeadSpec spec;
  spec.algorithm = GetUint32(o, "algorithm", 0) == 1 ? AeadAlgorithm::kAes256Gcm : AeadAlgorithm::kChaCha20Poly1305;
  spec.nonce = GetUint32(o, "nonce", 0) == 1 ? NonceLayout::kIvXorCounterBe : NonceLayout::kZeroCounterLe;
  std::vector<uint8_t> iv = GetBytes(o, "iv");
  if (iv.size() == kAeadNonceLen) std::memcpy(spec.iv, iv.data(), kAeadNonceLen);
  spec.header = GetBytes(o, "header");
  spec.counter_offset = GetUint32(o, "counterOffset", 0);
  spec.counter_big_endian = GetBool(o, "counterBigEndian");
  spec.aad = GetUint32(o, "aad", 0) == 1 ? AeadAad::kHeader : AeadAad::kNone;
  spec.verify_header = GetBool(o, "verifyHeader");
  spec.pad_to = GetUint32(o, "padTo", 0);
  spec.pad_limit = GetUint32(o, "padLimit", 0);
  spec.counter_limit = GetBigUint64(o, "counterLimit", UINT64_MAX);
  spec.replay_window = GetUint32(o, "replayWindow", 0);
  next_counter_ = GetBigUint64(o, "firstCounter", 0);
  std::vector<uint8_t> key = GetBytes(o, "key");
  cipher_ = std::make_unique<AeadCipher>(api, spec);
  AeadSpecError e = cipher_->init(key.data(), key.size());
  std::fill(key.begin(), key.end(), 0);  // OpenSSL's contexts hold the key from here on
  if (e == AeadSpecError::kCipherInit) {
    ThrowError(env, "ERR_TUNIO_AEAD_INIT", "OpenSSL refused to set up the cipher with this key");
  } else if (e != AeadSpecError::kOk) {
    ThrowRangeError(env, "ERR_TUNIO_INVALID_OPTION", std::string("invalid AEAD spec: ") + aead_spec_error_name(e));
  }
}

bool AeadWrap::CheckIdle(Napi::Env env) {
  if (forwarding_) {
    ThrowError(env, "ERR_TUNIO_FORWARDING", "this Aead is used by a forward: stop() the forward first");
    return false;
  }
  if (!busy_) return true;
  ThrowError(env, "ERR_TUNIO_INVALID_ARG", "this Aead is sealing on the threadpool: wait for it");
  return false;
}

bool AeadWrap::Claim(Napi::Env env) {
  if (!CheckIdle(env)) return false;
  forwarding_ = true;
  return true;
}

namespace {

// Removes the packets a batch transform dropped (reset), keeping the order.
void RemoveDropped(std::vector<Packet>& pkts) {
  pkts.erase(std::remove_if(pkts.begin(), pkts.end(), [](const Packet& p) { return !p.valid(); }), pkts.end());
}

}  // namespace

bool AeadWrap::SealForward(std::vector<Packet>& pkts) {
  if (aead_counters_left(cipher_->spec(), next_counter_) < pkts.size()) return false;
  const AeadBatchResult r = aead_seal_batch(*cipher_, pkts.data(), pkts.size(), &next_counter_, stats_);
  if (r.done != pkts.size()) RemoveDropped(pkts);
  return true;
}

void AeadWrap::OpenForward(std::vector<Packet>& pkts, std::vector<uint64_t>& counters) {
  if (counters.size() < pkts.size()) counters.resize(pkts.size());
  const AeadBatchResult r = aead_open_batch(*cipher_, pkts.data(), pkts.size(), counters.data(), stats_);
  if (r.done != pkts.size()) RemoveDropped(pkts);
}

BatchWrap* AeadWrap::BatchToSeal(const Napi::CallbackInfo& info, const char* usage) {
  Napi::Env env = info.Env();
  BatchWrap* batch = info.Length() > 0 ? BatchWrap::FromValue(info[0]) : nullptr;
  if (!batch) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", usage);
    return nullptr;
  }
  if (!CheckIdle(env) || !batch->SyncBytes(env, "batch")) return nullptr;
  if (aead_counters_left(cipher_->spec(), next_counter_) < batch->live()) {
    ThrowRangeError(env, "ERR_TUNIO_AEAD_COUNTER_LIMIT",
                    "sealing this batch would use a counter at or past the limit (" +
                        std::to_string(cipher_->spec().counter_limit) + "): a new key is needed");
    return nullptr;
  }
  return batch;
}

// seal(batch): every held packet, in order, with the next counters. Refuses the whole batch
// (moves nothing) when its counters would reach the limit.
Napi::Value AeadWrap::Seal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BatchWrap* batch = BatchToSeal(info, "seal() takes a PacketBatch");
  if (!batch) return Napi::Value();
  AeadBatchResult r = aead_seal_batch(*cipher_, batch->packets(), batch->packet_count(), &next_counter_, stats_);
  batch->CloseBytes(env);  // the packets moved: a view of their old extents is no use
  batch->SettleTransformed();
  return Napi::Number::New(env, static_cast<double>(r.done));
}

// open(batch, counters): counters[i] = packet i's counter, or 2^64 - 1 where it was dropped.
Napi::Value AeadWrap::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BatchWrap* batch = info.Length() > 0 ? BatchWrap::FromValue(info[0]) : nullptr;
  if (!batch || info.Length() < 2 || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_biguint64_array) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "open() takes a PacketBatch and a BigUint64Array");
    return Napi::Value();
  }
  if (!CheckIdle(env) || !batch->SyncBytes(env, "batch")) return Napi::Value();
  const size_t n = batch->packet_count();
  // Read through the one byte-source reader: a detached array or one outside its resized
  // buffer is refused rather than written through a stale pointer.
  ByteSpan counters;
  if (!ReadByteSource(env, info[1], "counters", &counters)) return Napi::Value();
  if (counters.length / sizeof(uint64_t) < n) {
    ThrowRangeError(env, "ERR_TUNIO_INVALID_ARG", "the counters array is shorter than the batch");
    return Napi::Value();
  }
  // The caller's own writable memory (a BigUint64Array is never read-only).
  uint64_t* out = reinterpret_cast<uint64_t*>(const_cast<uint8_t*>(counters.data));
  AeadBatchResult r = aead_open_batch(*cipher_, batch->packets(), n, out, stats_);
  batch->CloseBytes(env);
  batch->SettleTransformed();
  return Napi::Number::New(env, static_cast<double>(r.done));
}

namespace {

class ThreadpoolSeal : public Napi::AsyncWorker {
 public:
  ThreadpoolSeal(Napi::Env env, AeadWrap* owner, AeadCipher* cipher, uint64_t* next_counter, AeadStats* stats,
                 bool* busy, std::shared_ptr<BufferPool> pool, std::vector<Packet>&& packets)
      : Napi::AsyncWorker(env, "tunio.aeadSeal"), deferred_(Napi::Promise::Deferred::New(env)), cipher_(cipher),
        next_counter_(next_counter), stats_(stats), busy_(busy), pool_(std::move(pool)), packets_(std::move(packets)) {
    owner_ = Napi::Persistent(owner->Value());  // keeps the Aead (and cipher_) alive until OnOK
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  // Worker thread: only the cipher, the counter, the stats and the packets moved in here.
  void Execute() override { aead_seal_batch(*cipher_, packets_.data(), packets_.size(), next_counter_, *stats_); }
  void OnOK() override {
    *busy_ = false;
    std::vector<Packet> kept;
    kept.reserve(packets_.size());
    for (Packet& p : packets_) {
      if (p.valid()) kept.push_back(std::move(p));
    }
    deferred_.Resolve(BatchWrap::Create(Env(), pool_, std::move(kept)));
  }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference owner_;
  AeadCipher* cipher_;
  uint64_t* next_counter_;
  AeadStats* stats_;
  bool* busy_;
  std::shared_ptr<BufferPool> pool_;
  std::vector<Packet> packets_;
};

}  // namespace

Napi::Value AeadWrap::SealOnThreadpool(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BatchWrap* batch = BatchToSeal(info, "sealOnThreadpool() takes a native batch");
  if (!batch) return Napi::Value();
  std::vector<Packet> packets;
  batch->TakeAll(env, packets);
  busy_ = true;
  auto* work = new ThreadpoolSeal(env, this, cipher_.get(), &next_counter_, &stats_, &busy_, batch->pool(), std::move(packets));
  work->Queue();
  return work->Promise();
}

Napi::Value AeadWrap::NextCounter(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), next_counter_);
}

Napi::Value AeadWrap::Stats(const Napi::CallbackInfo& info) { return AeadStatsToJs(info.Env(), stats_).result(); }

JsObject AeadStatsToJs(napi_env env, const AeadStats& s) {
  GroupedStats out(env);
  TUNIO_AEAD_STATS(TUNIO_STATS_TO_JS)
  return out.done();
}

}  // namespace tunio
