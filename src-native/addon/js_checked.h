// Building JavaScript values from native code with every Node-API status checked.
//
// A worker's environment can start to go away (worker.terminate()) while one of our methods
// runs: from then on every Node-API call that may run JavaScript fails (napi_cannot_run_js),
// including setting a property and throwing. node-addon-api's wrappers answer such a failure by
// throwing a JS error about it, and when that throw fails too, by a fatal error that aborts the
// whole process (issue 15: `udp.stats()` in a terminated worker). So the addon's own values are
// built here instead: the first failed call stops the build, the result is empty, and the
// method returns it (nobody is left to see it). Nothing is thrown about the failure. The addon
// is also compiled with NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS (binding.gyp, CMakeLists.txt),
// node-addon-api's switch for the same rule in the wrappers we still call (Get, Unwrap, ...).
#pragma once

#include <napi.h>

#include <cstdint>
#include <initializer_list>
#include <string>

namespace tunio {

class JsObject {
 public:
  // A new plain object.
  explicit JsObject(napi_env env);
  // Properties added to an object that exists (e.g. an error); null makes a failed builder.
  JsObject(napi_env env, napi_value existing) : env_(env), object_(existing) {}

  JsObject& Number(const char* key, double v);
  JsObject& Count(const char* key, uint64_t v) { return Number(key, static_cast<double>(v)); }
  JsObject& Bool(const char* key, bool v);
  JsObject& String(const char* key, const std::string& v);
  // `v` null (a nested build that failed) fails this builder too.
  JsObject& Value(const char* key, napi_value v);
  JsObject& Value(const char* key, const JsObject& nested) { return Value(key, nested.get()); }

  bool ok() const { return object_ != nullptr; }
  // The object, or null once any step failed.
  napi_value get() const { return object_; }
  // For returning from a method: empty (undefined in JS) once any step failed.
  Napi::Value result() const { return Napi::Value(env_, object_); }

 private:
  void Check(napi_status status) {
    if (status != napi_ok) object_ = nullptr;
  }
  napi_env env_;
  napi_value object_ = nullptr;
};

// A plain function the addon exports: its JS name (also its .name) and the N-API callback.
// Rows of a table are written { "name", JsCallback<Fn> }: JsCallback<Fn> is the trampoline
// node-addon-api's templated Function::New<Fn> registers, so a call reaches Fn directly (the
// Callable overload of Function::New keeps the pointer in a heap CallbackData and calls
// through it: the lease functions run once per packet where JavaScript builds packets).
struct FunctionExport {
  const char* name;
  napi_callback callback;
};
template <Napi::Function::Callback fn>
constexpr napi_callback JsCallback = Napi::details::TemplatedCallback<fn>;

// exports[f.name] = a function named f.name calling f.callback.
void ExportFunction(Napi::Env env, Napi::Object exports, const FunctionExport& f);
// The same for each row of a table.
template <size_t n>
void ExportFunctions(Napi::Env env, Napi::Object exports, const FunctionExport (&functions)[n]) {
  for (const FunctionExport& f : functions) ExportFunction(env, exports, f);
}

// An object of named numbers, e.g. a layout or the limits the addon exports at load time
// (constants of the core: the TS layer reads them instead of writing them again).
struct NamedNumber {
  const char* name;
  double value;
};
Napi::Value NumbersToJs(napi_env env, std::initializer_list<NamedNumber> fields);

class JsArray {
 public:
  JsArray(napi_env env, size_t length);
  // `v` null fails the array.
  JsArray& Set(uint32_t index, napi_value v);
  bool ok() const { return array_ != nullptr; }
  napi_value get() const { return array_; }
  Napi::Value result() const { return Napi::Value(env_, array_); }

 private:
  napi_env env_;
  napi_value array_ = nullptr;
};

// o[key] / a[index]. node-addon-api's Get returns a value without its environment when the
// call fails, and the next call on that value is a fatal error (napi_get_last_error_info on a
// null env); this one keeps the environment, so later calls on it fail quietly instead.
Napi::Value JsGet(Napi::Object o, const char* key);
Napi::Value JsGet(Napi::Array a, uint32_t index);

// Boolean(v); false for an empty value (Napi's ToBoolean().Value() is fatal on one).
bool JsTruthy(Napi::Value v);

// The strings and numbers themselves; null on failure.
napi_value JsString(napi_env env, const std::string& s);
napi_value JsNumber(napi_env env, double v);

}  // namespace tunio
