// Sliding replay window over 64-bit message counters (the bitmap ring of RFC 6479, as
// WireGuard uses it): a counter is accepted once, and only if it is not too far behind the
// greatest one seen. Check a counter only after its packet authenticated, or a forger could
// move the window.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tunio {

class ReplayWindow {
 public:
  static constexpr uint32_t kMinBits = 128;
  static constexpr uint32_t kMaxBits = 1u << 16;
  // `bits` is rounded up to a multiple of 64; one block of it is the ring's slack, so counters
  // up to bits - 64 behind the greatest are still judged exactly.
  explicit ReplayWindow(uint32_t bits = 2048);

  // True (and recorded) the first time `counter` is seen within the window; false for a
  // repeat or a counter too far behind.
  bool accept(uint64_t counter);
  uint32_t span() const { return bits_ - 64; }

 private:
  uint32_t bits_;
  std::vector<uint64_t> ring_;
  uint64_t greatest_ = 0;
  bool any_ = false;
};

}  // namespace tunio
