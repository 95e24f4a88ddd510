// batch.bytes(): the bytes of a whole batch for a JavaScript transform, as one Buffer per run of
// contiguous memory plus a table of each packet's place (src-native/core/batch_layout.h), with
// no object per packet. JavaScript may move a packet's start and length within its room; the
// next operation that reads the packet (send, write, seal, headers, a lease's length) applies
// that first. See docs/ownership.md for the rules.
//
// Lifetime: the view closes (buffers and table detached) when its batch is released, sent,
// split, sealed or opened, when one of its leases is released, sent or makes a Buffer, and when
// bytes() is called again. Nothing of a closed view reads pool memory: a detached Buffer reads
// as empty. A zero-copy run Buffer holds a reference on its slot (a ViewRecord, as a lease
// Buffer does), so even a Buffer the batch's GC could not detach never shows reused memory.
// Where external buffers are refused, a run's Buffer is a copy, written back on every sync.
#include <cstring>
#include <string>

#include "addon_data.h"
#include "batch_wrap.h"
#include "byte_source.h"
#include "errors.h"
#include "js_checked.h"

namespace tunio {

namespace {

void FinalizeRunView(node_api_basic_env /*env*/, void* /*data*/, void* hint) {
  auto* record = static_cast<ViewRecord*>(hint);
  record->finalized = true;
  record->ref.reset();
  if (!record->entry_alive) delete record;
}

}  // namespace

int32_t* BatchWrap::BytesTable(Napi::Env env) {
  if (!bytes_) return nullptr;
  ByteSpan span;
  if (!ReadByteSource(env, bytes_->table.Value(), "table", &span)) {
    env.GetAndClearPendingException();
    return nullptr;
  }
  if (span.length < sizeof(int32_t) * kLayoutFields * size_) return nullptr;
  // The Int32Array lib/batch-bytes.ts made over an ArrayBuffer of its own: writable, aligned.
  return reinterpret_cast<int32_t*>(const_cast<uint8_t*>(span.data));
}

bool BatchWrap::SyncBytes(Napi::Env env, const char* argument) {
  if (!bytes_) return true;
  BytesView& v = *bytes_;
  // Copies first: the bytes JavaScript wrote into them belong in the slots whatever the table says.
  for (size_t r = 0; r < v.buffers.size(); r++) {
    if (!v.copies[r]) continue;
    const LayoutRun& run = v.layout.runs()[r];
    ByteSpan copy;
    if (!ReadByteSource(env, v.buffers[r].Value(), "buffer", &copy)) {
      env.GetAndClearPendingException();  // detached or moved away by the user: nothing to write back
      continue;
    }
    if (copy.length == run.end - run.begin && copy.length != 0) std::memcpy(run.slot->data + run.begin, copy.data, copy.length);
  }
  int32_t* table = BytesTable(env);
  if (!table) {
    // Detached by the user: nothing to read, the packets keep their extents and the view is gone.
    CloseBytes(env);
    return true;
  }
  const size_t n = packets_.size();
  const size_t bad = v.layout.check(packets_.data(), n, size_, table);
  if (bad < n) {
    if (!argument) return false;
    const int32_t* t = table;
    const size_t c = size_;
    ThrowInvalidArg(env, argument,
                    "packet " + std::to_string(bad) + " of its bytes() view lies outside its room: start " +
                        std::to_string(t[kLayoutStart * c + bad]) + ", length " + std::to_string(t[kLayoutLength * c + bad]) +
                        ", room " + std::to_string(t[kLayoutMinStart * c + bad]) + " to " +
                        std::to_string(t[kLayoutMaxEnd * c + bad]) + " (start >= minStart, start + length <= maxEnd)");
    return false;
  }
  v.layout.apply(packets_.data(), n, size_, table);
  return true;
}

bool BatchWrap::ApplyAndCloseBytes(Napi::Env env, const char* argument) {
  if (!SyncBytes(env, argument) && argument) return false;
  CloseBytes(env);
  return true;
}

void BatchWrap::PublishBytes(Napi::Env env) {
  int32_t* table = BytesTable(env);
  if (table) bytes_->layout.publish(packets_.data(), packets_.size(), size_, table);
}

void BatchWrap::CloseBytes(Napi::Env env) {
  if (!bytes_) return;
  std::unique_ptr<BytesView> v = std::move(bytes_);
  // Detach before the slots are let go: from here on no view can read them.
  for (auto& buffer : v->buffers) {
    if (!buffer.IsEmpty()) DetachView(env, buffer.Value());
  }
  if (!v->table.IsEmpty()) DetachView(env, v->table.Value());
  for (ViewRecord* record : v->records) {
    if (!record) continue;
    record->entry_alive = false;
    record->ref.reset();
    if (record->finalized) delete record;
  }
}

void BatchWrap::ForgetBytes() {
  if (!bytes_) return;
  for (ViewRecord* record : bytes_->records) {
    if (!record) continue;
    record->entry_alive = false;  // its Buffer's finalizer lets go of the slot
    if (record->finalized) delete record;
  }
  bytes_.reset();
}

// bytes(table) -> Buffer[]: opens a view. `table` is an Int32Array of kLayoutFields entries per
// packet (lib/batch-bytes.ts makes it); it is filled here and read back on every sync.
Napi::Value BatchWrap::Bytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "bytes(table: Int32Array)");
    return Napi::Value();
  }
  ByteSpan table_bytes;
  if (!ReadByteSource(env, info[0], "table", &table_bytes)) return Napi::Value();
  if (table_bytes.length < sizeof(int32_t) * kLayoutFields * size_) {
    ThrowRangeError(env, "ERR_TUNIO_INVALID_ARG", "the layout table needs batchLayout.fields entries per packet");
    return Napi::Value();
  }
  // A view already open: what it says is applied before it closes.
  if (!ApplyAndCloseBytes(env, "batch")) return Napi::Value();

  auto v = std::make_unique<BytesView>();
  v->layout.plan(packets_.data(), packets_.size());
  const auto& runs = v->layout.runs();
  AddonData* data = GetAddonData(env);
  JsArray result(env, runs.size());
  for (size_t r = 0; r < runs.size() && result.ok(); r++) {
    const LayoutRun& run = runs[r];
    const size_t length = run.end - run.begin;
    v->slots.push_back(SlotRef::share(run.slot));
    napi_value buffer = nullptr;
    ViewRecord* record = nullptr;
    if (data->external_buffers) {
      record = new ViewRecord{pool_, SlotRef::share(run.slot)};
      napi_status status = napi_create_external_buffer(env, length, run.slot->data + run.begin, FinalizeRunView, record, &buffer);
      if (status != napi_ok) {
        delete record;  // its ref goes with it
        record = nullptr;
        buffer = nullptr;
        if (status == napi_no_external_buffers_allowed) data->external_buffers = false;
      }
    }
    if (!buffer) {
      void* copy = nullptr;
      if (napi_create_buffer_copy(env, length, run.slot->data + run.begin, &copy, &buffer) != napi_ok) buffer = nullptr;
    }
    v->records.push_back(record);
    v->copies.push_back(record == nullptr);
    v->buffers.push_back(buffer ? Napi::Persistent(Napi::Value(env, buffer)) : Napi::Reference<Napi::Value>());
    result.Set(static_cast<uint32_t>(r), buffer);
  }
  v->table = Napi::Persistent(info[0]);
  bytes_ = std::move(v);
  if (!result.ok()) {
    // The environment is going away (or a buffer could not be made): no view.
    CloseBytes(env);
    return Napi::Value();
  }
  PublishBytes(env);
  return result.result();
}

// syncBytes(argument): applies an open view now, throwing ERR_TUNIO_INVALID_ARG naming
// `argument` if a packet lies outside its room (lib/packets.ts checks every batch of a
// send()/write() this way before anything moves).
Napi::Value BatchWrap::SyncBytesJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string argument = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "batch";
  if (!SyncBytes(env, argument.c_str())) return Napi::Value();
  return env.Undefined();
}

}  // namespace tunio

namespace tunio {

// The table's field numbers (batch_layout.h) for lib/batch-bytes.ts: the one source of truth.
Napi::Value BatchLayoutToJs(Napi::Env env) {
  return NumbersToJs(env, {
      {"fields", kLayoutFields}, {"run", kLayoutRun}, {"start", kLayoutStart}, {"length", kLayoutLength},
      {"minStart", kLayoutMinStart}, {"maxEnd", kLayoutMaxEnd}
  });
}

}  // namespace tunio
