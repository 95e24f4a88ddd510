#include "aead.h"

#include <cstring>

#include "ip_headers.h"

namespace tunio {

namespace {

// `v` in little- / big-endian byte order as one 8-byte store (the byte-by-byte loops these
// replace cost about 145 instructions per nonce: 2% of sealing a 1,400-byte packet with GCM).
uint64_t to_le64(uint64_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  return __builtin_bswap64(v);
#else
  return v;
#endif
}
uint64_t to_be64(uint64_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  return v;
#else
  return __builtin_bswap64(v);
#endif
}
void store_le64(uint8_t* p, uint64_t v) {
  const uint64_t x = to_le64(v);
  std::memcpy(p, &x, 8);
}
void store_be64(uint8_t* p, uint64_t v) {
  const uint64_t x = to_be64(v);
  std::memcpy(p, &x, 8);
}
uint64_t load_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}
uint64_t load_be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

// The length an IP packet's own header gives, if `p` starts with a plausible one that fits.
bool ip_packet_length(const uint8_t* p, size_t len, size_t* out) {
  if (len == 0) return false;
  const int version = p[0] >> 4;
  if (version == 4 && len >= kIpv4MinHeaderLen) {
    const size_t total = load_be16(p + 2);
    if (total < kIpv4MinHeaderLen || total > len) return false;
    *out = total;
    return true;
  }
  if (version == 6 && len >= kIpv6HeaderLen) {
    const size_t total = kIpv6HeaderLen + load_be16(p + 4);
    if (total > len) return false;
    *out = total;
    return true;
  }
  return false;
}

}  // namespace

const char* aead_spec_error_name(AeadSpecError e) {
  switch (e) {
    case AeadSpecError::kOk: return "ok";
    case AeadSpecError::kUnavailable: return "unavailable";
    case AeadSpecError::kKeyLength: return "key length";
    case AeadSpecError::kHeaderLength: return "header length";
    case AeadSpecError::kCounterOffset: return "counter offset";
    case AeadSpecError::kPadding: return "padding";
    case AeadSpecError::kCipherInit: return "cipher init";
  }
  return "?";
}

void AeadStats::count(AeadResult r) {
  switch (r) {
    case AeadResult::kOk: break;
    case AeadResult::kNoRoom: drop_no_room++; break;
    case AeadResult::kTooShort: drop_too_short++; break;
    case AeadResult::kHeaderMismatch: drop_header_mismatch++; break;
    case AeadResult::kCounterLimit: drop_counter_limit++; break;
    case AeadResult::kAuthFailed: drop_auth_failed++; break;
    case AeadResult::kReplayed: drop_replayed++; break;
    case AeadResult::kNotIp: drop_not_ip++; break;
    case AeadResult::kCryptoError: drop_crypto_error++; break;
  }
}

AeadSpecError AeadCipher::check_spec(const AeadSpec& spec) {
  if (spec.header.size() > kAeadMaxHeaderLen) return AeadSpecError::kHeaderLength;
  if (spec.header.size() < kAeadCounterLen || spec.counter_offset > spec.header.size() - kAeadCounterLen) {
    return AeadSpecError::kCounterOffset;
  }
  if (spec.pad_to > kAeadMaxPadTo) return AeadSpecError::kPadding;
  return AeadSpecError::kOk;
}

AeadCipher::AeadCipher(const EvpApi& api, const AeadSpec& spec) : api_(api), spec_(spec) {
  if (spec_.replay_window != 0) replay_ = std::make_unique<ReplayWindow>(spec_.replay_window);
}

AeadCipher::~AeadCipher() {
  if (enc_) api_.ctx_free(enc_);
  if (dec_) api_.ctx_free(dec_);
}

AeadSpecError AeadCipher::init(const uint8_t* key, size_t key_len) {
  ready_ = false;
  if (!api_.available()) return AeadSpecError::kUnavailable;
  AeadSpecError e = check_spec(spec_);
  if (e != AeadSpecError::kOk) return e;
  if (key_len != kAeadKeyLen) return AeadSpecError::kKeyLength;
  const EVP_CIPHER* cipher =
      spec_.algorithm == AeadAlgorithm::kAes256Gcm ? api_.aes_256_gcm() : api_.chacha20_poly1305();
  if (!enc_) enc_ = api_.ctx_new();
  if (!dec_) dec_ = api_.ctx_new();
  if (!cipher || !enc_ || !dec_) return AeadSpecError::kCipherInit;
  // Cipher and key once; every packet then sets only its nonce (Init with a null cipher and key
  // keeps both), which is what keeps the per-packet cost at the arithmetic.
  if (api_.encrypt_init(enc_, cipher, nullptr, nullptr, nullptr) != 1 ||
      api_.ctx_ctrl(enc_, EvpApi::kCtrlAeadSetIvLen, static_cast<int>(kAeadNonceLen), nullptr) != 1 ||
      api_.encrypt_init(enc_, nullptr, nullptr, key, nullptr) != 1) {
    return AeadSpecError::kCipherInit;
  }
  if (api_.decrypt_init(dec_, cipher, nullptr, nullptr, nullptr) != 1 ||
      api_.ctx_ctrl(dec_, EvpApi::kCtrlAeadSetIvLen, static_cast<int>(kAeadNonceLen), nullptr) != 1 ||
      api_.decrypt_init(dec_, nullptr, nullptr, key, nullptr) != 1) {
    return AeadSpecError::kCipherInit;
  }
  ready_ = true;
  return AeadSpecError::kOk;
}

size_t AeadCipher::padded_len(size_t plain_len) const {
  if (spec_.pad_to <= 1) return plain_len;
  size_t padded = (plain_len + spec_.pad_to - 1) / spec_.pad_to * spec_.pad_to;
  if (spec_.pad_limit != 0 && padded > spec_.pad_limit) padded = plain_len > spec_.pad_limit ? plain_len : spec_.pad_limit;
  return padded;
}

void AeadCipher::make_nonce(uint64_t counter, uint8_t out[kAeadNonceLen]) const {
  if (spec_.nonce == NonceLayout::kZeroCounterLe) {
    std::memset(out, 0, 4);
    store_le64(out + 4, counter);
    return;
  }
  // IV XOR (4 zero bytes || counter big-endian): the first 4 bytes are the IV's.
  uint64_t tail;
  std::memcpy(out, spec_.iv, 4);
  std::memcpy(&tail, spec_.iv + 4, 8);
  tail ^= to_be64(counter);
  std::memcpy(out + 4, &tail, 8);
}

uint64_t AeadCipher::read_counter(const uint8_t* header) const {
  const uint8_t* c = header + spec_.counter_offset;
  return spec_.counter_big_endian ? load_be64(c) : load_le64(c);
}

void AeadCipher::write_header(uint8_t* header, uint64_t counter) const {
  std::memcpy(header, spec_.header.data(), spec_.header.size());
  uint8_t* c = header + spec_.counter_offset;
  if (spec_.counter_big_endian) store_be64(c, counter);
  else store_le64(c, counter);
}

bool AeadCipher::header_matches(const uint8_t* header) const {
  const size_t co = spec_.counter_offset;
  const size_t n = spec_.header.size();
  return std::memcmp(header, spec_.header.data(), co) == 0 &&
         std::memcmp(header + co + kAeadCounterLen, spec_.header.data() + co + kAeadCounterLen,
                     n - co - kAeadCounterLen) == 0;
}

// The steps of sealing and opening a packet, on the direction's context and with its EVP
// functions. Both ciphers are stream modes: update writes exactly `len` bytes, final none.
// Inline: they run per packet, and as calls they cost 40-47 more instructions per packet
// (node bench/aead-instructions.js).

// The packet's nonce into the context (init() keyed it once).
inline bool AeadCipher::set_nonce(EVP_CIPHER_CTX* ctx, EvpApi::InitExFn init, uint64_t counter) const {
  uint8_t nonce[kAeadNonceLen];
  make_nonce(counter, nonce);
  return init(ctx, nullptr, nullptr, nullptr, nonce) == 1;
}

// The associated data (if any), then the data in place.
inline bool AeadCipher::update(EVP_CIPHER_CTX* ctx, EvpApi::UpdateFn fn, const uint8_t* aad, size_t aad_len,
                               uint8_t* data, size_t len) {
  int out = 0;
  return (aad_len == 0 || fn(ctx, nullptr, &out, aad, static_cast<int>(aad_len)) == 1) &&
         (len == 0 || fn(ctx, data, &out, data, static_cast<int>(len)) == 1);
}

// The tag: read once sealing is final, set before opening starts (OpenSSL 3's parameter calls
// where they exist, else EVP_CIPHER_CTX_ctrl).
inline bool AeadCipher::get_tag(uint8_t* tag) const {
  EvpParam params[2] = {{EvpApi::kParamAeadTag, EvpApi::kParamOctetString, tag, kAeadTagLen, 0}, {}};
  if (api_.ctx_get_params) return api_.ctx_get_params(enc_, reinterpret_cast<OSSL_PARAM*>(params)) == 1;
  return api_.ctx_ctrl(enc_, EvpApi::kCtrlAeadGetTag, static_cast<int>(kAeadTagLen), tag) == 1;
}
inline bool AeadCipher::set_tag(uint8_t* tag) const {
  EvpParam params[2] = {{EvpApi::kParamAeadTag, EvpApi::kParamOctetString, tag, kAeadTagLen, 0}, {}};
  if (api_.ctx_set_params) return api_.ctx_set_params(dec_, reinterpret_cast<const OSSL_PARAM*>(params)) == 1;
  return api_.ctx_ctrl(dec_, EvpApi::kCtrlAeadSetTag, static_cast<int>(kAeadTagLen), tag) == 1;
}

AeadResult AeadCipher::encrypt(uint64_t counter, const uint8_t* aad, size_t aad_len, uint8_t* data, size_t len,
                               uint8_t* tag) {
  int out = 0;
  if (!ready_ ||
      !set_nonce(enc_, api_.encrypt_init, counter) ||
      !update(enc_, api_.encrypt_update, aad, aad_len, data, len) ||
      api_.encrypt_final(enc_, data + len, &out) != 1 ||
      !get_tag(tag)) {
    return AeadResult::kCryptoError;
  }
  return AeadResult::kOk;
}

AeadResult AeadCipher::decrypt(uint64_t counter, const uint8_t* aad, size_t aad_len, uint8_t* data, size_t len,
                               uint8_t* tag) {
  if (!ready_ ||
      !set_nonce(dec_, api_.decrypt_init, counter) ||
      !set_tag(tag) ||
      !update(dec_, api_.decrypt_update, aad, aad_len, data, len)) {
    return AeadResult::kCryptoError;
  }
  // Final is where the tag is checked; the plaintext written above is garbage until it passes
  // and the caller drops the packet otherwise.
  int out = 0;
  return api_.decrypt_final(dec_, data + len, &out) == 1 ? AeadResult::kOk : AeadResult::kAuthFailed;
}

AeadResult AeadCipher::seal_bytes(uint8_t* buf, size_t plain_len, size_t room, uint64_t counter, size_t* out_len) {
  if (counter >= spec_.counter_limit) return AeadResult::kCounterLimit;
  const size_t h = header_len();
  const size_t padded = padded_len(plain_len);
  const size_t total = h + padded + kAeadTagLen;
  if (total > room) return AeadResult::kNoRoom;
  uint8_t* body = buf + h;
  if (padded > plain_len) std::memset(body + plain_len, 0, padded - plain_len);
  write_header(buf, counter);
  const bool with_aad = spec_.aad == AeadAad::kHeader;
  AeadResult r = encrypt(counter, with_aad ? buf : nullptr, with_aad ? h : 0, body, padded, body + padded);
  if (r == AeadResult::kOk) *out_len = total;
  return r;
}

AeadResult AeadCipher::open_bytes(uint8_t* buf, size_t len, uint64_t* counter, size_t* plain_len) {
  const size_t h = header_len();
  if (len < h + kAeadTagLen) return AeadResult::kTooShort;
  *counter = read_counter(buf);
  if (spec_.verify_header && !header_matches(buf)) return AeadResult::kHeaderMismatch;
  if (*counter >= spec_.counter_limit) return AeadResult::kCounterLimit;
  const size_t body_len = len - h - kAeadTagLen;
  uint8_t* body = buf + h;
  const bool with_aad = spec_.aad == AeadAad::kHeader;
  AeadResult r = decrypt(*counter, with_aad ? buf : nullptr, with_aad ? h : 0, body, body_len, body + body_len);
  if (r != AeadResult::kOk) return r;
  size_t plain = body_len;
  if (spec_.pad_to > 1 && body_len != 0 && !ip_packet_length(body, body_len, &plain)) return AeadResult::kNotIp;
  // Last: only an authentic, well-formed packet may move the window.
  if (replay_ && !replay_->accept(*counter)) return AeadResult::kReplayed;
  *plain_len = plain;
  return AeadResult::kOk;
}

AeadResult AeadCipher::seal(Packet& p, uint64_t counter) {
  const size_t h = header_len();
  if (p.headroom < h) return AeadResult::kNoRoom;
  size_t out_len = 0;
  AeadResult r = seal_bytes(p.data() - h, p.length, h + p.length + p.tailroom, counter, &out_len);
  if (r != AeadResult::kOk) return r;
  const uint32_t grown_tail = static_cast<uint32_t>(out_len - h - p.length);
  p.offset -= static_cast<uint32_t>(h);
  p.headroom -= static_cast<uint32_t>(h);
  p.tailroom -= grown_tail;
  p.length = static_cast<uint32_t>(out_len);
  return AeadResult::kOk;
}

AeadResult AeadCipher::open(Packet& p, uint64_t* counter) {
  size_t plain = 0;
  AeadResult r = open_bytes(p.data(), p.length, counter, &plain);
  if (r != AeadResult::kOk) return r;
  const uint32_t h = static_cast<uint32_t>(header_len());
  const uint32_t cut_tail = p.length - h - static_cast<uint32_t>(plain);
  p.offset += h;
  p.headroom += h;
  p.tailroom += cut_tail;
  p.length = static_cast<uint32_t>(plain);
  return AeadResult::kOk;
}

namespace {

// One packet of a batch or list: sealed with the next counter, or dropped (reset) and counted.
void seal_one(AeadCipher& c, Packet& p, uint64_t* next_counter, AeadStats& stats, AeadBatchResult& res) {
  if (!p.valid()) return;
  const uint32_t plain = p.length;
  AeadResult r = c.seal(p, *next_counter);
  if (r == AeadResult::kOk) {
    ++*next_counter;
    res.done++;
    stats.sealed++;
    stats.bytes_sealed += plain;
  } else {
    stats.count(r);
    p.slot.reset();
    res.dropped++;
  }
}

void open_one(AeadCipher& c, Packet& p, uint64_t* counter_out, AeadStats& stats, AeadBatchResult& res) {
  *counter_out = kAeadNoCounter;
  if (!p.valid()) return;
  uint64_t counter = kAeadNoCounter;
  AeadResult r = c.open(p, &counter);
  if (r == AeadResult::kOk) {
    *counter_out = counter;
    res.done++;
    stats.opened++;
    stats.bytes_opened += p.length;
  } else {
    stats.count(r);
    p.slot.reset();
    res.dropped++;
  }
}

}  // namespace

AeadBatchResult aead_seal_batch(AeadCipher& c, Packet* pkts, size_t n, uint64_t* next_counter, AeadStats& stats) {
  AeadBatchResult res;
  for (size_t i = 0; i < n; i++) seal_one(c, pkts[i], next_counter, stats, res);
  return res;
}

AeadBatchResult aead_open_batch(AeadCipher& c, Packet* pkts, size_t n, uint64_t* counters, AeadStats& stats) {
  AeadBatchResult res;
  for (size_t i = 0; i < n; i++) open_one(c, pkts[i], &counters[i], stats, res);
  return res;
}

AeadBatchResult aead_seal_packets(AeadCipher& c, Packet* const* pkts, size_t n, uint64_t* next_counter, AeadStats& stats) {
  AeadBatchResult res;
  for (size_t i = 0; i < n; i++) seal_one(c, *pkts[i], next_counter, stats, res);
  return res;
}

AeadBatchResult aead_open_packets(AeadCipher& c, Packet* const* pkts, size_t n, uint64_t* counters, AeadStats& stats) {
  AeadBatchResult res;
  for (size_t i = 0; i < n; i++) open_one(c, *pkts[i], &counters[i], stats, res);
  return res;
}

}  // namespace tunio
