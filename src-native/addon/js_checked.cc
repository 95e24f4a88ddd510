#include "js_checked.h"

namespace tunio {

napi_value JsString(napi_env env, const std::string& s) {
  napi_value v = nullptr;
  return napi_create_string_utf8(env, s.data(), s.size(), &v) == napi_ok ? v : nullptr;
}

napi_value JsNumber(napi_env env, double d) {
  napi_value v = nullptr;
  return napi_create_double(env, d, &v) == napi_ok ? v : nullptr;
}

Napi::Value JsGet(Napi::Object o, const char* key) {
  napi_value v = nullptr;
  if (o.IsEmpty() || napi_get_named_property(o.Env(), o, key, &v) != napi_ok) v = nullptr;
  return Napi::Value(o.Env(), v);
}

Napi::Value JsGet(Napi::Array a, uint32_t index) {
  napi_value v = nullptr;
  if (a.IsEmpty() || napi_get_element(a.Env(), a, index, &v) != napi_ok) v = nullptr;
  return Napi::Value(a.Env(), v);
}

bool JsTruthy(Napi::Value v) {
  napi_value b = nullptr;
  bool out = false;
  if (v.IsEmpty() || napi_coerce_to_bool(v.Env(), v, &b) != napi_ok || napi_get_value_bool(v.Env(), b, &out) != napi_ok) return false;
  return out;
}

JsObject::JsObject(napi_env env) : env_(env) { Check(napi_create_object(env, &object_)); }

void ExportFunction(Napi::Env env, Napi::Object exports, const FunctionExport& f) {
  napi_value fn = nullptr;
  if (napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.callback, nullptr, &fn) == napi_ok) {
    napi_set_named_property(env, exports, f.name, fn);
  }
}

Napi::Value NumbersToJs(napi_env env, std::initializer_list<NamedNumber> fields) {
  JsObject o(env);
  for (const NamedNumber& f : fields) o.Number(f.name, f.value);
  return o.result();
}

JsObject& JsObject::Value(const char* key, napi_value v) {
  if (!object_) return *this;
  if (!v) {
    object_ = nullptr;
    return *this;
  }
  Check(napi_set_named_property(env_, object_, key, v));
  return *this;
}

JsObject& JsObject::Number(const char* key, double v) {
  return object_ ? Value(key, JsNumber(env_, v)) : *this;
}

JsObject& JsObject::Bool(const char* key, bool b) {
  if (!object_) return *this;
  napi_value v = nullptr;
  if (napi_get_boolean(env_, b, &v) != napi_ok) v = nullptr;
  return Value(key, v);
}

JsObject& JsObject::String(const char* key, const std::string& s) {
  return object_ ? Value(key, JsString(env_, s)) : *this;
}

JsArray::JsArray(napi_env env, size_t length) : env_(env) {
  if (napi_create_array_with_length(env, length, &array_) != napi_ok) array_ = nullptr;
}

JsArray& JsArray::Set(uint32_t index, napi_value v) {
  if (!array_) return *this;
  if (!v || napi_set_element(env_, array_, index, v) != napi_ok) array_ = nullptr;
  return *this;
}

}  // namespace tunio
