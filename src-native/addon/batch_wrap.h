// PacketBatch on the native side: the packets of one read (or one pool.lease()), each entry
// owning one slot reference until it is released or moved to send()/write().
//
// JavaScript creates Lease objects lazily (batch.at(i)); a batch passed straight to
// send()/write() never materialises a JS object or Buffer per packet, which is what keeps the
// per-packet cost off the JS thread.
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "batch_layout.h"
#include "buffer_pool.h"
#include "packet.h"

namespace tunio {

// Packets one read call usually hands out (a batch of split superpackets or GRO reads):
// the vector is reserved this large up front instead of growing from empty.
constexpr size_t kReadBatchPacketsHint = 256;

// Keeps the slot alive for as long as a zero-copy Buffer over it exists. Shared between the
// batch entry and the Buffer's finalizer; whichever lets go last frees it. On release() the
// Buffer is detached first (no JS view can see the bytes any more), then the slot reference
// is dropped at once so the memory is reused without waiting for GC.
struct ViewRecord {
  std::shared_ptr<BufferPool> pool;  // the slot points into this pool
  SlotRef ref;
  bool entry_alive = true;
  bool finalized = false;
};

class BatchWrap : public Napi::ObjectWrap<BatchWrap> {
 public:
  // headers(): bytes copied per packet. Enough for an IPv6 header with a TCP/UDP header behind.
  static constexpr uint32_t kMaxHeaderBytes = 256;
  // split(): the group that means "release this packet" (groups are 0..count-1 otherwise).
  static constexpr uint8_t kReleaseGroup = 255;

  static Napi::Function Define(Napi::Env env);
  // Empty when the environment is being torn down; `packets` then stay with the caller.
  static Napi::Object Create(Napi::Env env, std::shared_ptr<BufferPool> pool, std::vector<Packet>&& packets);
  // A batch passed as an argument, type-checked (nullptr if not a batch). Not named Unwrap:
  // node-addon-api calls T::Unwrap on every method call, where V8 has already checked `this`.
  static BatchWrap* FromValue(Napi::Value value);

  explicit BatchWrap(const Napi::CallbackInfo& info);
  ~BatchWrap() override;

  // Moves every live packet out (ownership goes to a device). The JS side detaches the lease
  // Buffers it created before calling into the device; an open bytes() view is applied (as far
  // as it is valid: callers check it first with SyncBytes) and closed here.
  void TakeAll(Napi::Env env, std::vector<Packet>& out);
  size_t live() const { return live_; }

  // In-place transforms (aead_wrap.cc): the packets themselves, changed where they are.
  // Entries the transform dropped (slot reset) are settled afterwards with SettleTransformed().
  // JavaScript settles its own views first (lib/lease.ts: PacketBatch.settleViews), so no
  // Buffer shows the old extent of a packet.
  Packet* packets() { return packets_.data(); }
  size_t packet_count() const { return packets_.size(); }
  void SettleTransformed();

  // batch.bytes() (batch_bytes.cc). While a view is open, JavaScript may have moved packets
  // within their rooms: SyncBytes applies the table (copies written back first). With
  // `argument`, a packet outside its room throws ERR_TUNIO_INVALID_ARG naming it and nothing
  // is applied (false); without, such a table is left unapplied. Every operation that reads
  // packet extents syncs first. CloseBytes detaches the view's buffers and table (applying
  // nothing) and lets go of its slots. ApplyAndCloseBytes is the two in order, for operations
  // after which the view's extents are no use: with `argument` a table that cannot be applied
  // throws and the view stays open (false); without, the view closes all the same.
  bool SyncBytes(Napi::Env env, const char* argument);
  void CloseBytes(Napi::Env env);
  bool ApplyAndCloseBytes(Napi::Env env, const char* argument);
  const std::shared_ptr<BufferPool>& pool() const { return pool_; }

 private:
  Napi::Value Size(const Napi::CallbackInfo& info);
  Napi::Value Live(const Napi::CallbackInfo& info);
  Napi::Value LengthOf(const Napi::CallbackInfo& info);
  Napi::Value Buffer(const Napi::CallbackInfo& info);
  Napi::Value Release(const Napi::CallbackInfo& info);
  Napi::Value ReleaseAll(const Napi::CallbackInfo& info);
  Napi::Value Detach(const Napi::CallbackInfo& info);
  Napi::Value WriteBack(const Napi::CallbackInfo& info);
  Napi::Value Truncate(const Napi::CallbackInfo& info);
  Napi::Value Meta(const Napi::CallbackInfo& info);
  Napi::Value SetMeta(const Napi::CallbackInfo& info);
  Napi::Value Extract(const Napi::CallbackInfo& info);
  // Batch byte access and regrouping without a JS object per packet (batch_groups.cc).
  Napi::Value Headers(const Napi::CallbackInfo& info);
  Napi::Value Split(const Napi::CallbackInfo& info);
  Napi::Value WithoutRemote(const Napi::CallbackInfo& info);
  // bytes(table: Int32Array) -> Buffer[] (one per run); syncBytes(argument) (batch_bytes.cc).
  Napi::Value Bytes(const Napi::CallbackInfo& info);
  Napi::Value SyncBytesJs(const Napi::CallbackInfo& info);
  // The open view's table, or nullptr when JavaScript detached or shrank it.
  int32_t* BytesTable(Napi::Env env);
  // Writes the packets' current extents into the open view's table.
  void PublishBytes(Napi::Env env);
  // GC of the batch with a view open: no JavaScript may run, so nothing is detached; each
  // zero-copy buffer keeps its slot until it is collected (as a lease Buffer does).
  void ForgetBytes();

  bool CheckIndex(const Napi::CallbackInfo& info, uint32_t* index);
  // CheckIndex, and entry *index still holds its packet (else ERR_TUNIO_LEASE_RELEASED).
  bool CheckHeld(const Napi::CallbackInfo& info, uint32_t* index);
  // Entry i still holds its packet (false once released, moved or the storage freed).
  bool Held(uint32_t i) const { return i < packets_.size() && packets_[i].valid(); }
  void DropEntry(uint32_t index);
  // Lets go of entry `index`'s JS view, if any (EntryDropsView).
  void DropView(uint32_t index);
  // Moves held entry `index` to the end of `to` (its JS view, if any, let go first).
  void MoveEntry(uint32_t index, std::vector<Packet>& to);
  // Once no entry holds a packet, frees the packet and view arrays. The JS wrapper of a
  // consumed batch can live until the next GC, and V8 does not see native memory: a read
  // batch reserves kReadBatchPacketsHint packets (22 KiB), so thousands of dead wrappers
  // between two scavenges held tens of MiB of malloc heap that grew with V8's young generation
  // (the soak's RSS steps). size_ keeps the entry count for size() and index checks.
  void FreeStorageIfConsumed();

  std::shared_ptr<BufferPool> pool_;
  std::vector<Packet> packets_;
  std::vector<ViewRecord*> views_;
  size_t size_ = 0;  // entries, also after the storage was freed
  size_t live_ = 0;

  // An open batch.bytes() view.
  struct BytesView {
    BatchLayout layout;
    Napi::Reference<Napi::Value> table;              // the Int32Array JavaScript passed in
    std::vector<Napi::Reference<Napi::Value>> buffers;  // one per run
    std::vector<ViewRecord*> records;                // zero-copy runs: keeps the slot while the Buffer lives
    std::vector<SlotRef> slots;                      // every run's slot, while the view is open
    std::vector<bool> copies;                        // the run's buffer is a copy (no external buffers)
  };
  std::unique_ptr<BytesView> bytes_;
};

// batchLayout: the field numbers of the bytes() table (batch_layout.h), for lib/batch-bytes.ts.
Napi::Value BatchLayoutToJs(Napi::Env env);

// Detaches the ArrayBuffer behind a Buffer/TypedArray/ArrayBuffer so every view of it reads as
// zero-length. Returns false (no exception) when the value is not detachable.
bool DetachView(Napi::Env env, Napi::Value value);

}  // namespace tunio
