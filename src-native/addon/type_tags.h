// Which native class a JavaScript object wraps, checked without running JavaScript.
//
// napi_instanceof looks up and calls Symbol.hasInstance: a call into JavaScript nested inside
// ours. Under Node 22, 24 and 26 (not 20) a worker calling tun.write() in a loop, which checks
// each item with it, ignored worker.terminate() about once in 50-120 terminations and ran on
// for good (CI's test/worker-terminate.test.ts timed out; gdb showed the worker still in the
// loop, every Node-API call failing, a second terminate() ended it). So the termination was
// lost, most likely caught inside the nested call, where Node-API keeps it as the pending
// exception and does not throw it again once the environment is stopping. With type tags
// (napi_type_tag_object, Node-API 8: a private property, checking it runs nothing) the same
// loops ran 300 terminations each without a hang (repro in the commit message).
#pragma once

#include <napi.h>

namespace tunio {

// Random 128-bit values; only their distinctness matters.
inline constexpr napi_type_tag kBatchTypeTag = {0x8a1f3c6e52d94b07ULL, 0xb3e4a9d1027c5f68ULL};
inline constexpr napi_type_tag kPoolTypeTag = {0x4d7b2e90c1a85f36ULL, 0x9e06f4b3a72d18c5ULL};
// The ends and the Aead of a native forward (forward_wrap.cc checks its arguments with them).
inline constexpr napi_type_tag kTunTypeTag = {0x2c95e7a4d3b1068fULL, 0x71f8b0c6e24a9d53ULL};
inline constexpr napi_type_tag kUdpTypeTag = {0xe6034b9f1a7dc258ULL, 0x3b9d52e8f0c16a47ULL};
inline constexpr napi_type_tag kAeadTypeTag = {0x58a1d6c3f70e92b4ULL, 0xc4e27f0b938d165aULL};

// Tags a new wrapper in its constructor (skipped when the environment is going away: the
// object is then never handed out).
inline void SetTypeTag(napi_env env, napi_value object, const napi_type_tag& tag) {
  if (object != nullptr) napi_type_tag_object(env, object, &tag);
}

inline bool HasTypeTag(napi_env env, napi_value object, const napi_type_tag& tag) {
  bool tagged = false;
  return napi_check_object_type_tag(env, object, &tag, &tagged) == napi_ok && tagged;
}

// The native object a JS value wraps when it carries `tag`, or null: not an object, another
// class, or the environment is going away. Every caller must check for null even when the tag
// matched: under worker.terminate() napi_unwrap fails (napi_pending_exception) after the tag
// check passed, and node-addon-api's Unwrap then returns null (NODE_API_SWALLOW_UNTHROWABLE_
// EXCEPTIONS, js_checked.h). injectFault dereferenced it and crashed the process with SIGSEGV
// (CI, test/worker-terminate.test.ts, a worker looping on testHooks.forceGsoEioOnce).
template <class Wrap>
Wrap* UnwrapTagged(Napi::Value value, const napi_type_tag& tag) {
  if (value.IsEmpty() || !value.IsObject() || !HasTypeTag(value.Env(), value, tag)) return nullptr;
  return Napi::ObjectWrap<Wrap>::Unwrap(value.As<Napi::Object>());
}

}  // namespace tunio
