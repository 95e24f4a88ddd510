#include "lease_js.h"

#include <cstring>
#include <string>
#include <vector>

#include "addon_data.h"
#include "batch_wrap.h"
#include "js_checked.h"
#include "byte_source.h"
#include "errors.h"
#include "slot_packer.h"

namespace tunio {

namespace {

struct Handle {
  std::shared_ptr<LeaseTable> table;
};

// The table named by info[0]; throws and returns nullptr for anything else. Only our own
// Externals reach JavaScript from this addon, and only lib/pool-lease.ts passes them back.
LeaseTable* TableOf(const Napi::CallbackInfo& info) {
  void* data = nullptr;
  if (info.Length() < 1 || napi_get_value_external(info.Env(), info[0], &data) != napi_ok || data == nullptr) {
    ThrowTypeError(info.Env(), "ERR_TUNIO_INVALID_ARG", "not a lease table handle");
    return nullptr;
  }
  return static_cast<Handle*>(data)->table.get();
}

// info[arg] as a lease number that is held; throws ERR_TUNIO_LEASE_RELEASED otherwise.
bool HeldIndex(const Napi::CallbackInfo& info, const LeaseTable& table, size_t arg, uint32_t* index) {
  if (info.Length() <= arg || !info[arg].IsNumber()) {
    ThrowTypeError(info.Env(), "ERR_TUNIO_INVALID_ARG", "lease number must be a number");
    return false;
  }
  const int64_t i = info[arg].As<Napi::Number>().Int64Value();
  if (i < 0 || i > UINT32_MAX || !table.Held(static_cast<uint32_t>(i))) {
    ThrowError(info.Env(), "ERR_TUNIO_LEASE_RELEASED", "lease was already released or handed to send()/write()");
    return false;
  }
  *index = static_cast<uint32_t>(i);
  return true;
}

// Takes a slot of `size` bytes for a single lease and writes [number, generation] to the
// table's scratch; throws (returns -1) on a bad size or a full pool.
int64_t AcquireChecked(Napi::Env env, LeaseTable& table, double size, bool via_home) {
  table.DrainReleased();
  if (!(size >= 0 && size <= BufferPool::kMaxLeaseSize) || size != static_cast<double>(static_cast<int64_t>(size))) {
    ThrowRangeError(env, "ERR_TUNIO_INVALID_ARG",
                    "size must be an integer between 0 and " + std::to_string(BufferPool::kMaxLeaseSize));
    return -1;
  }
  const int64_t index = table.Acquire(static_cast<size_t>(size), via_home);
  if (index < 0) {
    ThrowPoolExhausted(env, table.pool()->cap_bytes());
    return -1;
  }
  uint32_t* scratch = table.scratch();
  scratch[LeaseTable::kScratchIndex] = static_cast<uint32_t>(index);
  scratch[LeaseTable::kScratchGeneration] = table.Generation(static_cast<uint32_t>(index)) & 0xfffff;
  return index;
}

double SizeArg(const Napi::CallbackInfo& info, size_t arg) {
  return info.Length() > arg && info[arg].IsNumber() ? info[arg].As<Napi::Number>().DoubleValue() : -1;
}

// An optional headroom/tailroom/start argument: 0 when absent; -1 when not a whole number
// 0..kMaxPacketRoom (lib/pool.ts checks the same first, with the option's name).
double RoomArg(const Napi::CallbackInfo& info, size_t arg, double max) {
  if (info.Length() <= arg || info[arg].IsUndefined()) return 0;
  const double v = SizeArg(info, arg);
  return v >= 0 && v <= max && v == static_cast<double>(static_cast<int64_t>(v)) ? v : -1;
}

bool RoomOk(Napi::Env env, double head, double tail) {
  if (head >= 0 && tail >= 0) return true;
  ThrowRangeError(env, "ERR_TUNIO_INVALID_ARG", "headroom and tailroom must be integers between 0 and " + std::to_string(kMaxPacketRoom));
  return false;
}

// What an external (Array)Buffer creation hands JavaScript: the value; null when the runtime
// forbids external buffers (from then on this environment, and the pool, use copies); or an
// ERR_TUNIO_NAPI exception naming the call that failed.
Napi::Value MadeOrNull(Napi::Env env, Napi::Value made, bool refused, const char* call) {
  if (!made.IsEmpty()) return made;
  if (refused) {
    GetAddonData(env)->external_buffers = false;
    return env.Null();
  }
  ThrowError(env, "ERR_TUNIO_NAPI", std::string(call) + " failed");
  return Napi::Value();
}

// An external Buffer over `length` bytes of lease `index` from `start`, or null (see MadeOrNull).
Napi::Value ViewOf(Napi::Env env, LeaseTable& table, uint32_t index, size_t start, size_t length) {
  bool refused = false;
  Napi::Value view = table.CreateView(env, index, start, length, &refused);
  return MadeOrNull(env, view, refused, "napi_create_external_buffer");
}

// leaseAcquire(handle, size, viaHome) -> number (transfer mode with viaHome, copy mode without).
Napi::Value Acquire(const Napi::CallbackInfo& info) {
  LeaseTable* table = TableOf(info);
  if (!table) return Napi::Value();
  const int64_t index = AcquireChecked(info.Env(), *table, SizeArg(info, 1), JsTruthy(info[2]));
  if (index < 0) return Napi::Value();
  return Napi::Number::New(info.Env(), static_cast<double>(index));
}

// leaseAcquireView(handle, size, headroom?, tailroom?) -> Buffer | null: external mode, one
// call per lease; the number is in scratch[0]. The slot holds headroom + size + tailroom and
// the Buffer shows the `size` bytes after the headroom. On null the slot is still leased
// (held in copy mode).
Napi::Value AcquireView(const Napi::CallbackInfo& info) {
  LeaseTable* table = TableOf(info);
  if (!table) return Napi::Value();
  const double size = SizeArg(info, 1);
  const double head = RoomArg(info, 2, kMaxPacketRoom);
  const double tail = RoomArg(info, 3, kMaxPacketRoom);
  if (!RoomOk(info.Env(), head, tail)) return Napi::Value();
  // A size that is no size stays one (AcquireChecked refuses it), whatever room is added.
  const int64_t index = AcquireChecked(info.Env(), *table, size >= 0 ? size + head + tail : size, false);
  if (index < 0) return Napi::Value();
  Napi::Value view = ViewOf(info.Env(), *table, static_cast<uint32_t>(index), static_cast<size_t>(head), static_cast<size_t>(size));
  if (view.IsEmpty()) table->Release(static_cast<uint32_t>(index));
  return view;
}

// leaseFrom(handle, source, viaHome, headroom?, tailroom?) -> number: a lease holding a copy of
// source after `headroom` bytes of its slot, in one call.
Napi::Value From(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LeaseTable* table = TableOf(info);
  if (!table) return Napi::Value();
  ByteSpan source;
  if (!ReadByteSource(env, info.Length() > 1 ? info[1] : env.Undefined(), "source", &source)) return Napi::Value();
  const double head = RoomArg(info, 3, kMaxPacketRoom);
  const double tail = RoomArg(info, 4, kMaxPacketRoom);
  if (!RoomOk(env, head, tail)) return Napi::Value();
  const int64_t index = AcquireChecked(env, *table, static_cast<double>(source.length) + head + tail, JsTruthy(info[2]));
  if (index < 0) return Napi::Value();
  if (source.length != 0) {
    std::memcpy(table->SlotAt(static_cast<uint32_t>(index))->data + static_cast<size_t>(head), source.data, source.length);
  }
  return Napi::Number::New(env, static_cast<double>(index));
}

// leaseHome(handle, i) -> ArrayBuffer | null: transfer mode, the slot's memory wrapped once.
Napi::Value Home(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LeaseTable* table = TableOf(info);
  uint32_t index;
  if (!table || !HeldIndex(info, *table, 1, &index)) return Napi::Value();
  bool refused = false;
  Napi::Value home = table->CreateHome(env, index, &refused);
  return MadeOrNull(env, home, refused, "napi_create_external_arraybuffer");
}

// The lease's `start` (its headroom, info[arg]; 0 when absent) and `length` (info[arg - 1])
// within its slot, or false with an exception pending when they do not fit it.
bool ExtentArgs(const Napi::CallbackInfo& info, const Slot* slot, size_t arg, size_t* start, size_t* length) {
  const double len = SizeArg(info, arg - 1);
  const double from = info.Length() > arg && !info[arg].IsUndefined() ? SizeArg(info, arg) : 0;
  if (!(len >= 0 && from >= 0 && from + len <= slot->capacity)) {
    ThrowRangeError(info.Env(), "ERR_TUNIO_INVALID_ARG", "start and length beyond the lease's slot");
    return false;
  }
  *start = static_cast<size_t>(from);
  *length = static_cast<size_t>(len);
  return true;
}

// leaseView(handle, i, length, start?) -> Buffer | null: external mode, for a lease made without one.
Napi::Value View(const Napi::CallbackInfo& info) {
  LeaseTable* table = TableOf(info);
  uint32_t index;
  if (!table || !HeldIndex(info, *table, 1, &index)) return Napi::Value();
  size_t start, length;
  if (!ExtentArgs(info, table->SlotAt(index), 3, &start, &length)) return Napi::Value();
  return ViewOf(info.Env(), *table, index, start, length);
}

// leaseCopyOut(handle, i, length, start?) -> Buffer: copy mode, a copy of the lease's bytes.
Napi::Value CopyOut(const Napi::CallbackInfo& info) {
  LeaseTable* table = TableOf(info);
  uint32_t index;
  if (!table || !HeldIndex(info, *table, 1, &index)) return Napi::Value();
  Slot* slot = table->SlotAt(index);
  size_t start = 0, n = 0;
  if (!ExtentArgs(info, slot, 3, &start, &n)) {
    info.Env().GetAndClearPendingException();  // as before: an impossible length copies nothing
    start = n = 0;
  }
  return Napi::Buffer<uint8_t>::Copy(info.Env(), slot->data + start, n);
}

// leaseSet(handle, i, offset, source, length, start?): copies source into the lease (which
// begins `start` bytes into its slot) at offset, within the lease's `length` bytes
// (lib/lease.ts checks the same first, with a clearer message) and never past the slot.
Napi::Value Set(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LeaseTable* table = TableOf(info);
  uint32_t index;
  if (!table || !HeldIndex(info, *table, 1, &index)) return Napi::Value();
  if (info.Length() < 5 || !info[2].IsNumber() || !info[4].IsNumber()) {
    ThrowTypeError(env, "ERR_TUNIO_INVALID_ARG", "leaseSet(handle, i, offset, source, length) needs numbers");
    return Napi::Value();
  }
  ByteSpan source;
  if (!ReadByteSource(env, info[3], "source", &source)) return Napi::Value();
  const double offset = info[2].As<Napi::Number>().DoubleValue();
  const double lease_length = info[4].As<Napi::Number>().DoubleValue();
  const double start = info.Length() > 5 && info[5].IsNumber() ? info[5].As<Napi::Number>().DoubleValue() : 0;
  Slot* slot = table->SlotAt(index);
  const double limit = start + lease_length < slot->capacity ? start + lease_length : slot->capacity;
  if (!(start >= 0 && offset >= 0 && start + offset + static_cast<double>(source.length) <= limit)) {
    ThrowRangeError(env, "ERR_TUNIO_INVALID_ARG", "source does not fit in the lease at that offset");
    return Napi::Value();
  }
  // memmove: the source may be a view of this very lease
  if (source.length != 0) std::memmove(slot->data + static_cast<size_t>(start + offset), source.data, source.length);
  return env.Undefined();
}

// Detaches `view`'s ArrayBuffer; false if someone else had detached it already (then its
// memory may live on in an ArrayBuffer tunio does not know).
bool DetachOwnView(Napi::Env env, Napi::Value view, bool* was_detached) {
  napi_value arraybuffer = nullptr;
  if (napi_get_typedarray_info(env, view, nullptr, nullptr, nullptr, &arraybuffer, nullptr) != napi_ok) return false;
  bool detached = false;
  napi_is_detached_arraybuffer(env, arraybuffer, &detached);
  *was_detached = detached;
  if (detached) return false;
  return napi_detach_arraybuffer(env, arraybuffer) == napi_ok;
}

// leaseRelease(handle, i, view?) -> boolean: detaches `view` (external and copy modes;
// transfer mode moved the memory home already, and calls this only when its release queue is
// full) and reuses the slot at once. A view detached by someone else keeps the slot out until
// its memory is collected (false).
Napi::Value Release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LeaseTable* table = TableOf(info);
  uint32_t index;
  if (!table || !HeldIndex(info, *table, 1, &index)) return Napi::Value();
  table->DrainReleased();
  if (info.Length() > 2 && info[2].IsTypedArray()) {
    bool was_detached = false;
    DetachOwnView(env, info[2], &was_detached);
    if (was_detached) {
      table->Abandon(index);
      return Napi::Boolean::New(env, false);
    }
  }
  table->Release(index);
  return Napi::Boolean::New(env, true);
}

// leaseAbandon(handle, i): transfer mode's release() found the memory moved away by the user.
Napi::Value Abandon(const Napi::CallbackInfo& info) {
  LeaseTable* table = TableOf(info);
  uint32_t index;
  if (!table || !HeldIndex(info, *table, 1, &index)) return Napi::Value();
  table->Abandon(index);
  return info.Env().Undefined();
}

// leaseDropView(handle, i, view): aead.seal([lease]) moves the lease within its slot, so its
// view goes: no token tracks the lease from here on (lib/pool-lease.ts watches the Lease
// object instead), then the view is detached, so its finalizer finds nothing to release.
Napi::Value DropView(const Napi::CallbackInfo& info) {
  LeaseTable* table = TableOf(info);
  uint32_t index;
  if (!table || !HeldIndex(info, *table, 1, &index)) return Napi::Value();
  table->ForgetToken(index);
  if (info.Length() > 2 && info[2].IsTypedArray()) {
    bool was_detached = false;
    DetachOwnView(info.Env(), info[2], &was_detached);
  }
  return info.Env().Undefined();
}

// leaseReleaseLeaked(handle, i, generation): the FinalizationRegistry saw the Lease collected.
Napi::Value ReleaseLeaked(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LeaseTable* table = TableOf(info);
  if (!table) return Napi::Value();
  if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber()) return Napi::Boolean::New(env, false);
  return Napi::Boolean::New(env, table->ReleaseLeaked(info[1].As<Napi::Number>().Uint32Value(),
                                                      info[2].As<Napi::Number>().Uint32Value()));
}

// leaseSurrender(handle, i, length, view?, isCopy, start?) -> NativeBatch of one packet for
// send()/write(): `length` bytes from `start`, the rest of the slot its headroom and tailroom.
// A copy-mode Buffer is written back first; the view is detached. A zero-copy view detached by
// someone else: the slot stays out (abandoned) and this throws.
Napi::Value Surrender(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LeaseTable* table = TableOf(info);
  uint32_t index;
  if (!table || !HeldIndex(info, *table, 1, &index)) return Napi::Value();
  Slot* slot = table->SlotAt(index);
  const double wanted_start = info.Length() > 5 && info[5].IsNumber() ? info[5].As<Napi::Number>().DoubleValue() : 0;
  const uint32_t start = wanted_start >= 0 && wanted_start <= slot->capacity ? static_cast<uint32_t>(wanted_start) : 0;
  const double wanted = SizeArg(info, 2);
  const uint32_t length = wanted >= 0 && wanted <= slot->capacity - start ? static_cast<uint32_t>(wanted) : slot->capacity - start;
  if (info.Length() > 3 && info[3].IsTypedArray()) {
    auto view = info[3].As<Napi::TypedArray>();
    const bool is_copy = JsTruthy(info[4]);
    if (is_copy) {
      // The copy-mode Buffer is ours, but the user may have detached or transferred it:
      // then there is nothing to write back.
      ByteSpan copy;
      if (ReadByteSource(env, view, "buffer", &copy)) {
        const size_t n = copy.length < length ? copy.length : length;
        if (n != 0) std::memcpy(slot->data + start, copy.data, n);
      } else {
        env.GetAndClearPendingException();
      }
    }
    bool was_detached = false;
    DetachOwnView(env, view, &was_detached);
    if (was_detached && !is_copy) {
      table->Abandon(index);
      ThrowError(env, "ERR_TUNIO_LEASE_RELEASED", "the lease's ArrayBuffer was detached (transferred away) by someone else");
      return Napi::Value();
    }
  }
  std::vector<Packet> packets(1);
  packets[0].slot = table->Take(index);
  packets[0].offset = start;
  packets[0].length = length;
  packets[0].headroom = start;  // the whole slot is this lease's
  packets[0].tailroom = slot->capacity - start - length;
  return BatchWrap::Create(env, table->pool(), std::move(packets));
}

}  // namespace

LeaseTable* LeaseTableFromValue(Napi::Env env, Napi::Value handle) {
  if (handle.Type() != napi_external) return nullptr;
  void* data = nullptr;
  if (napi_get_value_external(env, handle, &data) != napi_ok || data == nullptr) return nullptr;
  return static_cast<Handle*>(data)->table.get();
}

Napi::Value NewLeaseHandle(Napi::Env env, const std::shared_ptr<LeaseTable>& table) {
  auto* handle = new Handle{table};
  napi_value result;
  // A basic finalizer: it only drops a C++ reference.
  napi_status status = napi_create_external(
      env, handle, [](node_api_basic_env, void* data, void*) { delete static_cast<Handle*>(data); }, nullptr, &result);
  if (status != napi_ok) {
    delete handle;
    ThrowError(env, "ERR_TUNIO_NAPI", "napi_create_external failed");
    return Napi::Value();
  }
  return Napi::Value(env, result);
}

// The lease functions JavaScript calls, the one list of them: each is a callback above,
// exported by DefineLeaseFunctions as "lease" + its name. Defined in this file, so each is
// inlined into its trampoline (JsCallback), with no call of its own per lease operation.
#define TUNIO_LEASE_FUNCTIONS(X) \
  X(Acquire)                     \
  X(AcquireView)                 \
  X(From)                        \
  X(Home)                        \
  X(View)                        \
  X(CopyOut)                     \
  X(Set)                         \
  X(Release)                     \
  X(Abandon)                     \
  X(DropView)                    \
  X(ReleaseLeaked)               \
  X(Surrender)

void DefineLeaseFunctions(Napi::Env env, Napi::Object exports) {
  // The layout of the scratch words (LeaseTable::kScratch*), read by lib/pool-lease.ts: the
  // one definition is lease_table.h.
  exports.Set("leaseScratch", NumbersToJs(env, {
                                   {"index", LeaseTable::kScratchIndex},
                                   {"generation", LeaseTable::kScratchGeneration},
                                   {"pending", LeaseTable::kScratchPending},
                                   {"queue", LeaseTable::kScratchQueue},
                                   {"queueLength", LeaseTable::kReleaseQueue},
                                   {"words", LeaseTable::kScratchWords},
                               }));
  // Each exported as "lease" + its name here (leaseAcquire, ...: lib/pool-lease.ts's calls).
#define TUNIO_LEASE_FUNCTION_EXPORT(name) {"lease" #name, JsCallback<name>},
  static constexpr FunctionExport kLeaseFunctions[] = {TUNIO_LEASE_FUNCTIONS(TUNIO_LEASE_FUNCTION_EXPORT)};
#undef TUNIO_LEASE_FUNCTION_EXPORT
  ExportFunctions(env, exports, kLeaseFunctions);
}

}  // namespace tunio
