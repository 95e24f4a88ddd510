#include "lease_table.h"

namespace tunio {

LeaseTable::LeaseTable(std::shared_ptr<BufferPool> pool) : pool_(std::move(pool)) {
  pool_->set_reclaim([](void* table) { static_cast<LeaseTable*>(table)->DrainReleased(); }, this);
}

LeaseTable::~LeaseTable() { pool_->set_reclaim(nullptr, nullptr); }

void LeaseTable::DrainReleased() {
  uint32_t* s = scratch();
  uint32_t pending = s[kScratchPending];
  if (pending == 0) return;
  if (pending > kReleaseQueue) pending = kReleaseQueue;  // JavaScript wrote it: stay in bounds
  s[kScratchPending] = 0;
  for (uint32_t i = 0; i < pending; i++) {
    const uint32_t index = s[kScratchQueue + i];
    if (Held(index)) Release(index);
  }
}

int64_t LeaseTable::Acquire(size_t size, bool via_home) {
  Slot* slot = pool_->acquire(size);
  if (!slot) return -1;
  const uint32_t index = slot->index;
  if (entries_.size() < pool_->slot_count()) {
    entries_.resize(pool_->slot_count());
    homes_.resize(pool_->slot_count(), nullptr);
  }
  Entry& e = entries_[index];
  e.slot = SlotRef(slot);
  e.token = via_home ? homes_[index] : nullptr;
  e.generation++;
  e.abandoned = false;
  return index;
}

bool LeaseTable::Held(uint32_t index) const {
  return index < entries_.size() && entries_[index].slot && !entries_[index].abandoned;
}

void LeaseTable::Release(uint32_t index) {
  Entry& e = entries_[index];
  e.slot.reset();
  e.token = nullptr;
}

void LeaseTable::Abandon(uint32_t index) {
  Entry& e = entries_[index];
  if (e.token == nullptr) {
    Release(index);  // nothing will tell us when the memory is free again: cannot happen, be safe
    return;
  }
  e.abandoned = true;
}

SlotRef LeaseTable::Take(uint32_t index) {
  Entry& e = entries_[index];
  e.token = nullptr;
  return std::move(e.slot);
}

bool LeaseTable::ReleaseLeaked(uint32_t index, uint32_t generation) {
  if (index >= entries_.size()) return false;
  Entry& e = entries_[index];
  // A lease with a token is tracked by the token: its Buffer may outlive the Lease object.
  if (!e.slot || e.abandoned || e.token != nullptr || (e.generation & 0xfffff) != generation) return false;
  pool_->count_leak();
  Release(index);
  return true;
}

LeaseToken* LeaseTable::NewToken(uint32_t index) {
  return new LeaseToken{shared_from_this(), index};
}

// Runs once no ArrayBuffer holds the slot's memory any more. It touches no JS, so it is a
// basic finalizer (see docs/ownership.md, GC-time finalizers).
void LeaseTable::TokenFinalized(node_api_basic_env /*env*/, void* /*data*/, void* hint) {
  auto* token = static_cast<LeaseToken*>(hint);
  LeaseTable& table = *token->table;
  const uint32_t index = token->index;
  if (table.homes_[index] == token) table.homes_[index] = nullptr;
  Entry& e = table.entries_[index];
  if (e.slot && e.token == token) {
    if (!e.abandoned) table.pool_->count_leak();
    e.abandoned = false;
    table.Release(index);
  }
  delete token;
}

Napi::Value LeaseTable::CreateHome(Napi::Env env, uint32_t index, bool* refused) {
  Entry& e = entries_[index];
  Slot* slot = e.slot.get();
  LeaseToken* token = NewToken(index);
  napi_value result;
  napi_status status = napi_create_external_arraybuffer(env, slot->data, slot->capacity, TokenFinalized, token, &result);
  *refused = status == napi_no_external_buffers_allowed;
  if (status != napi_ok) {
    delete token;
    return Napi::Value();
  }
  homes_[index] = token;
  e.token = token;
  return Napi::Value(env, result);
}

Napi::Value LeaseTable::CreateView(Napi::Env env, uint32_t index, size_t start, size_t length, bool* refused) {
  Entry& e = entries_[index];
  LeaseToken* token = NewToken(index);
  napi_value result;
  napi_status status = napi_create_external_buffer(env, length, e.slot.get()->data + start, TokenFinalized, token, &result);
  *refused = status == napi_no_external_buffers_allowed;
  if (status != napi_ok) {
    delete token;
    return Napi::Value();
  }
  e.token = token;
  return Napi::Value(env, result);
}

}  // namespace tunio
