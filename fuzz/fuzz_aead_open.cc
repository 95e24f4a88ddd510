// libFuzzer target: AeadCipher::open on arbitrary bytes never reads or writes outside the
// message, and reports a plaintext inside it; a message sealed here opens to the same
// plaintext; the same message with one bit flipped in an authenticated byte is refused.
// Input: [config byte][flip position (2 bytes)][message or plaintext bytes].
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "aead.h"

namespace {

void require(bool ok) {
  if (!ok) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const uint8_t cfg = data[0];
  const size_t flip = static_cast<size_t>(data[1]) << 8 | data[2];
  data += 3;
  size -= 3;

  tunio::AeadSpec spec;
  spec.algorithm = cfg & 1 ? tunio::AeadAlgorithm::kAes256Gcm : tunio::AeadAlgorithm::kChaCha20Poly1305;
  spec.nonce = cfg & 2 ? tunio::NonceLayout::kIvXorCounterBe : tunio::NonceLayout::kZeroCounterLe;
  spec.aad = cfg & 4 ? tunio::AeadAad::kHeader : tunio::AeadAad::kNone;
  spec.verify_header = (cfg & 8) != 0;
  spec.pad_to = cfg & 16 ? 16 : 0;
  spec.replay_window = cfg & 32 ? 256 : 0;
  spec.header = cfg & 64 ? std::vector<uint8_t>{4, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0} : std::vector<uint8_t>(8, 0);
  spec.counter_offset = cfg & 64 ? 8 : 0;
  spec.counter_limit = cfg & 128 ? 1000 : UINT64_MAX;
  for (size_t i = 0; i < sizeof spec.iv; i++) spec.iv[i] = static_cast<uint8_t>(i * 7);
  static const uint8_t key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
  tunio::AeadCipher c(tunio::evp_api(), spec);
  require(c.init(key, sizeof key) == tunio::AeadSpecError::kOk);
  const size_t h = c.header_len();

  // 1. The input as a received message, in an exactly-sized buffer (ASan sees both ends).
  {
    std::vector<uint8_t> msg(data, data + size);
    uint64_t counter = 0;
    size_t plain = 0;
    if (c.open_bytes(msg.data(), msg.size(), &counter, &plain) == tunio::AeadResult::kOk) {
      require(plain + h + tunio::kAeadTagLen <= msg.size());
    }
  }

  // 2. The input as a plaintext sealed here: opens to itself, a flipped authenticated bit is refused.
  if (size > 4000) return 0;
  const uint64_t counter = size * 13;
  std::vector<uint8_t> buf(h + size + 15 + tunio::kAeadTagLen);
  std::memcpy(buf.data() + h, data, size);
  size_t sealed = 0;
  tunio::AeadResult r = c.seal_bytes(buf.data(), size, buf.size(), counter, &sealed);
  if (r == tunio::AeadResult::kCounterLimit) {
    require(counter >= spec.counter_limit);
    return 0;
  }
  require(r == tunio::AeadResult::kOk);
  buf.resize(sealed);
  std::vector<uint8_t> tampered = buf;
  uint64_t got = 0;
  size_t plain = 0;
  r = c.open_bytes(buf.data(), buf.size(), &got, &plain);
  if (spec.pad_to > 1 && r == tunio::AeadResult::kNotIp) return 0;  // the input was not an IP packet
  if (spec.replay_window != 0 && r == tunio::AeadResult::kReplayed) return 0;  // cipher state is per process
  require(r == tunio::AeadResult::kOk);
  require(got == counter);
  // With padding, the IP header decides the length: it may reach into the zero padding of a
  // plaintext that claimed more bytes than it had.
  require(plain <= c.padded_len(size));
  const size_t same = plain < size ? plain : size;
  require(std::memcmp(buf.data() + h, data, same) == 0);
  for (size_t i = same; i < plain; i++) require(buf[h + i] == 0);
  if (spec.pad_to <= 1) require(plain == size);

  // One bit flipped: authenticated unless it is a header byte outside the counter with
  // neither AAD nor header verification.
  const size_t pos = flip % tampered.size();
  const bool in_header = pos < h;
  const bool in_counter = pos >= spec.counter_offset && pos < spec.counter_offset + 8;
  const bool protected_byte = !in_header || in_counter || spec.aad == tunio::AeadAad::kHeader || spec.verify_header;
  tampered[pos] ^= static_cast<uint8_t>(1u << (flip % 8));
  r = c.open_bytes(tampered.data(), tampered.size(), &got, &plain);
  if (protected_byte) require(r != tunio::AeadResult::kOk);
  return 0;
}
