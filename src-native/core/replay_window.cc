#include "replay_window.h"

namespace tunio {

ReplayWindow::ReplayWindow(uint32_t bits) {
  if (bits < kMinBits) bits = kMinBits;
  if (bits > kMaxBits) bits = kMaxBits;
  bits_ = (bits + 63) / 64 * 64;
  ring_.assign(bits_ / 64, 0);
}

bool ReplayWindow::accept(uint64_t counter) {
  const uint64_t blocks = ring_.size();
  const uint64_t block = counter >> 6;
  if (!any_ || counter > greatest_) {
    // Blocks between the old greatest and the new one start empty (at most the whole ring).
    const uint64_t top = any_ ? greatest_ >> 6 : block;
    uint64_t clear = any_ ? block - top : 1;
    if (clear > blocks) clear = blocks;
    for (uint64_t i = 1; i <= clear; i++) ring_[(top + i) % blocks] = 0;
    if (!any_) ring_[block % blocks] = 0;
    greatest_ = counter;
    any_ = true;
  } else if (greatest_ - counter >= span()) {
    return false;  // too old to tell
  }
  uint64_t& word = ring_[block % blocks];
  const uint64_t bit = uint64_t{1} << (counter & 63);
  if (word & bit) return false;
  word |= bit;
  return true;
}

}  // namespace tunio
