#include "buffer_pool.h"

#include <cassert>

namespace tunio {

namespace {
// Memory is taken from the system one 256 KiB chunk at a time: 4 large slots or 128 small
// ones. Small enough that a small cap is honoured closely, large enough that growth is rare.
constexpr size_t kChunkBytes = 256 * 1024;
constexpr uint32_t kClassSize[2] = {BufferPool::kSmallSlotSize, BufferPool::kLargeSlotSize};
}  // namespace

BufferPool::BufferPool(size_t cap_bytes) : cap_(cap_bytes < kMinCapBytes ? kMinCapBytes : cap_bytes) {
  stats_.cap_bytes = cap_;
}

BufferPool::~BufferPool() = default;

bool BufferPool::can_acquire_count(size_t size, size_t count) {
  if (size > kLargeSlotSize) return false;
  const uint8_t cls = size <= kSmallSlotSize ? 0 : 1;
  if (free_count_[cls] < count && reclaim_) reclaim_(reclaim_context_);
  if (free_count_[cls] >= count) return true;
  const size_t per_chunk = kChunkBytes / kClassSize[cls];
  const size_t chunks_needed = (count - free_count_[cls] + per_chunk - 1) / per_chunk;
  return stats_.reserved_bytes + chunks_needed * kChunkBytes <= cap_;
}

bool BufferPool::grow(uint8_t size_class) {
  if (stats_.reserved_bytes + kChunkBytes > cap_) return false;
  const uint32_t slot_size = kClassSize[size_class];
  const size_t count = kChunkBytes / slot_size;
  Chunk chunk;
  // new[] without () leaves the bytes uninitialised: the kernel or the user fills them.
  chunk.memory.reset(new uint8_t[kChunkBytes]);
  chunk.slots.reset(new Slot[count]);
  for (size_t i = 0; i < count; i++) {
    Slot& s = chunk.slots[i];
    s.data = chunk.memory.get() + i * slot_size;
    s.capacity = slot_size;
    s.size_class = size_class;
    s.pool = this;
    s.index = static_cast<uint32_t>(slot_count_ + i);
    s.next_free = free_[size_class];
    free_[size_class] = &s;
  }
  free_count_[size_class] += count;
  slot_count_ += count;
  chunks_.push_back(std::move(chunk));
  stats_.reserved_bytes += kChunkBytes;
  return true;
}

Slot* BufferPool::acquire_slow(size_t size) {
  if (size > kLargeSlotSize) {
    ++stats_.lease_failures;
    return nullptr;
  }
  const uint8_t cls = size <= kSmallSlotSize ? 0 : 1;
  if (!free_[cls] && reclaim_) reclaim_(reclaim_context_);
  if (!free_[cls] && !grow(cls)) {
    ++stats_.lease_failures;
    return nullptr;
  }
  return take_free(free_[cls], cls);
}

void BufferPool::release_slot(Slot* s) {
  stats_.in_use_bytes -= s->capacity;
  stats_.slots_in_use--;
  s->next_free = free_[s->size_class];
  free_[s->size_class] = s;
  free_count_[s->size_class]++;
}

}  // namespace tunio
