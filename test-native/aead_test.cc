// AEAD core: known-answer vectors (RFC 8439 2.8.2, the GCM specification's test cases), a
// cross-check of every layout against OpenSSL called directly, in-place sealing with slot
// headroom/tailroom, and each way a packet is refused.
#include <doctest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <cstddef>

#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "aead.h"
#include "packet_builders.h"
#include "slot_packer.h"

using namespace tunio;
using Bytes = std::vector<uint8_t>;

// evp_api.h declares the EVP prototypes itself (it is resolved with dlsym); they must be
// OpenSSL's exactly.
#define TUNIO_EVP_PROTOTYPE_MATCHES(member, Fn, symbol) \
  static_assert(std::is_same<decltype(EvpApi::member), decltype(&symbol)>::value, #symbol);
TUNIO_EVP_FUNCTIONS(TUNIO_EVP_PROTOTYPE_MATCHES)
#undef TUNIO_EVP_PROTOTYPE_MATCHES
static_assert(EvpApi::kCtrlAeadSetIvLen == EVP_CTRL_AEAD_SET_IVLEN, "EVP_CTRL_AEAD_SET_IVLEN");
static_assert(EvpApi::kCtrlAeadGetTag == EVP_CTRL_AEAD_GET_TAG, "EVP_CTRL_AEAD_GET_TAG");
static_assert(EvpApi::kCtrlAeadSetTag == EVP_CTRL_AEAD_SET_TAG, "EVP_CTRL_AEAD_SET_TAG");
static_assert(EvpApi::kParamOctetString == OSSL_PARAM_OCTET_STRING, "OSSL_PARAM_OCTET_STRING");
static_assert(sizeof(EvpParam) == sizeof(OSSL_PARAM), "OSSL_PARAM layout");
static_assert(offsetof(EvpParam, key) == offsetof(OSSL_PARAM, key), "OSSL_PARAM::key");
static_assert(offsetof(EvpParam, data_type) == offsetof(OSSL_PARAM, data_type), "OSSL_PARAM::data_type");
static_assert(offsetof(EvpParam, data) == offsetof(OSSL_PARAM, data), "OSSL_PARAM::data");
static_assert(offsetof(EvpParam, data_size) == offsetof(OSSL_PARAM, data_size), "OSSL_PARAM::data_size");
static_assert(offsetof(EvpParam, return_size) == offsetof(OSSL_PARAM, return_size), "OSSL_PARAM::return_size");

namespace {

Bytes hex(const std::string& s) {
  Bytes out;
  std::string digits;
  for (char c : s) {
    if (std::isxdigit(static_cast<unsigned char>(c))) digits += c;
  }
  for (size_t i = 0; i + 1 < digits.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  return out;
}

uint64_t be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

// The reference: one-shot OpenSSL calls on separate buffers, written here from OpenSSL's
// documentation, sharing nothing with aead.cc but the library.
Bytes reference_seal(const EVP_CIPHER* cipher, const Bytes& key, const Bytes& nonce, const Bytes& aad,
                     const Bytes& plain, Bytes* tag) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  Bytes out(plain.size() + 16);
  int n = 0, m = 0;
  REQUIRE(EVP_EncryptInit_ex(ctx, cipher, nullptr, nullptr, nullptr) == 1);
  REQUIRE(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, nullptr) == 1);
  REQUIRE(EVP_EncryptInit_ex(ctx, nullptr, nullptr, key.data(), nonce.data()) == 1);
  if (!aad.empty()) REQUIRE(EVP_EncryptUpdate(ctx, nullptr, &n, aad.data(), static_cast<int>(aad.size())) == 1);
  REQUIRE(EVP_EncryptUpdate(ctx, out.data(), &n, plain.data(), static_cast<int>(plain.size())) == 1);
  REQUIRE(EVP_EncryptFinal_ex(ctx, out.data() + n, &m) == 1);
  out.resize(static_cast<size_t>(n + m));
  tag->resize(16);
  REQUIRE(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag->data()) == 1);
  EVP_CIPHER_CTX_free(ctx);
  return out;
}

struct Sealed {
  Bytes bytes;
  AeadResult result;
};

Sealed seal_one(AeadCipher& c, const Bytes& plain, uint64_t counter, size_t extra_room = 64) {
  Bytes buf(c.header_len() + plain.size() + extra_room + 16 + kAeadMaxPadTo);
  if (!plain.empty()) std::memcpy(buf.data() + c.header_len(), plain.data(), plain.size());
  size_t out_len = 0;
  AeadResult r = c.seal_bytes(buf.data(), plain.size(), buf.size(), counter, &out_len);
  buf.resize(r == AeadResult::kOk ? out_len : 0);
  return {buf, r};
}

AeadSpec rfc8439_spec() {
  // RFC 8439 2.8.2: nonce 07000000 4041424344454647, AAD 50515253 c0c1c2c3c4c5c6c7. Laid out
  // as a 12-byte header (the AAD) whose last 8 bytes are a big-endian counter
  // 0xc0c1c2c3c4c5c6c7, with IV = nonce XOR (0^4 || counter): the vector then exercises the
  // header template, the counter's placement, the IV-XOR nonce and header authentication.
  AeadSpec s;
  s.algorithm = AeadAlgorithm::kChaCha20Poly1305;
  s.nonce = NonceLayout::kIvXorCounterBe;
  s.header = hex("50515253 0000000000000000");
  s.counter_offset = 4;
  s.counter_big_endian = true;
  s.aad = AeadAad::kHeader;
  const Bytes nonce = hex("07000000 4041424344454647");
  const Bytes counter = hex("c0c1c2c3c4c5c6c7");
  for (size_t i = 0; i < 12; i++) s.iv[i] = static_cast<uint8_t>(nonce[i] ^ (i < 4 ? 0 : counter[i - 4]));
  return s;
}

const char* kRfcPlain =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
    "sunscreen would be it.";

// Appends `count` packets of `len` bytes, each filled with its index, packed back to back
// with `headroom` and `tailroom` around each, as a TUN read lays them out.
void pack(BufferPool& pool, std::vector<Packet>& pkts, size_t count, size_t len, uint32_t headroom,
          uint32_t tailroom) {
  SlotPacker packer(pool, pkts, headroom, tailroom);
  for (size_t i = 0; i < count; i++) {
    uint8_t* d = packer.reserve(len);
    REQUIRE(d != nullptr);
    std::memset(d, static_cast<int>(i), len);
    packer.commit(len);
  }
}

}  // namespace

TEST_CASE("aead: OpenSSL is found through dlsym and a runtime without it is reported") {
  REQUIRE(evp_api().available());
  EvpApi none = load_evp_api([](const char*) -> void* { return nullptr; });
  CHECK_FALSE(none.available());
  CHECK(std::string(none.missing) == "EVP_chacha20_poly1305");
  AeadCipher c(none, AeadSpec{});
  const Bytes key(32, 1);
  CHECK(c.init(key.data(), key.size()) == AeadSpecError::kUnavailable);
  // Unusable, never a crash: every packet is a crypto error.
  Bytes buf(64);
  size_t out_len = 0;
  CHECK(c.seal_bytes(buf.data(), 8, buf.size(), 0, &out_len) == AeadResult::kCryptoError);
}

TEST_CASE("aead: the OpenSSL 3 parameter calls and the EVP_CIPHER_CTX_ctrl fallback seal and open alike") {
  CHECK(std::string(EvpApi::kParamAeadTag) == OSSL_CIPHER_PARAM_AEAD_TAG);
  const EvpApi& with_params = evp_api();
  REQUIRE(static_cast<bool>(with_params.ctx_get_params));  // OpenSSL 3: what Node 20 and later ship
  REQUIRE(static_cast<bool>(with_params.ctx_set_params));
  EvpApi ctrl_only = with_params;
  ctrl_only.ctx_get_params = nullptr;
  ctrl_only.ctx_set_params = nullptr;
  std::mt19937 rng(13);
  for (AeadAlgorithm alg : {AeadAlgorithm::kChaCha20Poly1305, AeadAlgorithm::kAes256Gcm}) {
    AeadSpec spec;
    spec.algorithm = alg;
    spec.aad = AeadAad::kHeader;
    Bytes key(32);
    for (auto& b : key) b = static_cast<uint8_t>(rng());
    AeadCipher a(with_params, spec), b(ctrl_only, spec);
    REQUIRE(a.init(key.data(), key.size()) == AeadSpecError::kOk);
    REQUIRE(b.init(key.data(), key.size()) == AeadSpecError::kOk);
    for (uint64_t counter = 0; counter < 20; counter++) {
      Bytes plain(rng() % 1500);
      for (auto& x : plain) x = static_cast<uint8_t>(rng());
      Sealed sa = seal_one(a, plain, counter), sb = seal_one(b, plain, counter);
      REQUIRE(sa.result == AeadResult::kOk);
      REQUIRE(sb.result == AeadResult::kOk);
      CHECK(sa.bytes == sb.bytes);
      // Each opens what the other sealed; a flipped tag bit is refused by both.
      for (AeadCipher* opener : {&a, &b}) {
        Bytes msg = counter % 2 ? sa.bytes : sb.bytes;
        uint64_t got = 0;
        size_t plain_len = 0;
        REQUIRE(opener->open_bytes(msg.data(), msg.size(), &got, &plain_len) == AeadResult::kOk);
        CHECK(got == counter);
        CHECK(Bytes(msg.begin() + 8, msg.begin() + 8 + static_cast<std::ptrdiff_t>(plain_len)) == plain);
        Bytes bad = sa.bytes;
        bad.back() ^= 1;
        CHECK(opener->open_bytes(bad.data(), bad.size(), &got, &plain_len) == AeadResult::kAuthFailed);
      }
    }
  }
}

TEST_CASE("aead: ChaCha20-Poly1305 known answer (RFC 8439 section 2.8.2)") {
  AeadCipher c(evp_api(), rfc8439_spec());
  const Bytes key = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  REQUIRE(c.init(key.data(), key.size()) == AeadSpecError::kOk);
  const Bytes plain(kRfcPlain, kRfcPlain + std::strlen(kRfcPlain));
  REQUIRE(plain.size() == 114);
  const uint64_t counter = 0xc0c1c2c3c4c5c6c7ULL;
  Sealed s = seal_one(c, plain, counter);
  REQUIRE(s.result == AeadResult::kOk);
  const Bytes expect_ct = hex(
      "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b"
      "1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
      "3ff4def08e4b7a9de576d26586cec64b6116");
  const Bytes expect_tag = hex("1ae10b594f09e26a7e902ecbd0600691");
  REQUIRE(s.bytes.size() == 12 + 114 + 16);
  CHECK(Bytes(s.bytes.begin(), s.bytes.begin() + 12) == hex("50515253c0c1c2c3c4c5c6c7"));
  CHECK(Bytes(s.bytes.begin() + 12, s.bytes.begin() + 12 + 114) == expect_ct);
  CHECK(Bytes(s.bytes.end() - 16, s.bytes.end()) == expect_tag);

  uint64_t got = 0;
  size_t plain_len = 0;
  REQUIRE(c.open_bytes(s.bytes.data(), s.bytes.size(), &got, &plain_len) == AeadResult::kOk);
  CHECK(got == counter);
  CHECK(Bytes(s.bytes.begin() + 12, s.bytes.begin() + 12 + static_cast<long>(plain_len)) == plain);
}

TEST_CASE("aead: AES-256-GCM known answers (GCM specification test cases 13, 14 and 16)") {
  struct Case {
    const char* name;
    const char* key;
    const char* iv;
    const char* aad;  // "" for none
    const char* plain;
    const char* cipher;
    const char* tag;
  };
  const Case cases[] = {
      {"13", "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "", "",
       "", "530f8afbc74536b9a963b4f1c4cb738b"},
      {"14", "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "",
       "00000000000000000000000000000000", "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
      {"16", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
       "feedfacedeadbeeffeedfacedeadbeefabaddad2",
       "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
       "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
       "76fc6ece0f4e1768cddf8853bb2d551b"},
  };
  for (const Case& k : cases) {
    CAPTURE(k.name);
    const Bytes aad = hex(k.aad), iv = hex(k.iv), key = hex(k.key);
    AeadSpec s;
    s.algorithm = AeadAlgorithm::kAes256Gcm;
    s.nonce = NonceLayout::kIvXorCounterBe;
    s.counter_big_endian = true;
    uint64_t counter = 0;
    if (aad.empty()) {
      // No associated data: the header (counter only) is not authenticated.
      s.header = Bytes(8, 0);
      s.aad = AeadAad::kNone;
      std::memcpy(s.iv, iv.data(), 12);
    } else {
      // Test case 16's AAD is the header, bytes 8..15 of it the counter.
      s.header = aad;
      s.counter_offset = 8;
      s.aad = AeadAad::kHeader;
      counter = be64(aad.data() + 8);
      for (size_t i = 0; i < 12; i++) s.iv[i] = static_cast<uint8_t>(iv[i] ^ (i < 4 ? 0 : aad[8 + i - 4]));
    }
    AeadCipher c(evp_api(), s);
    REQUIRE(c.init(key.data(), key.size()) == AeadSpecError::kOk);
    Sealed out = seal_one(c, hex(k.plain), counter);
    REQUIRE(out.result == AeadResult::kOk);
    const size_t h = s.header.size();
    const Bytes ct(out.bytes.begin() + static_cast<long>(h), out.bytes.end() - 16);
    CHECK(ct == hex(k.cipher));
    CHECK(Bytes(out.bytes.end() - 16, out.bytes.end()) == hex(k.tag));
    if (!aad.empty()) CHECK(Bytes(out.bytes.begin(), out.bytes.begin() + static_cast<long>(h)) == aad);
  }
}

TEST_CASE("aead: every algorithm and nonce layout equals OpenSSL called directly, both ways") {
  std::mt19937 rng(13);
  for (AeadAlgorithm alg : {AeadAlgorithm::kChaCha20Poly1305, AeadAlgorithm::kAes256Gcm}) {
    for (NonceLayout layout : {NonceLayout::kZeroCounterLe, NonceLayout::kIvXorCounterBe}) {
      for (AeadAad aad : {AeadAad::kNone, AeadAad::kHeader}) {
        AeadSpec s;
        s.algorithm = alg;
        s.nonce = layout;
        s.aad = aad;
        s.header = Bytes(16, 0);
        for (auto& b : s.header) b = static_cast<uint8_t>(rng());
        s.counter_offset = 8;
        s.counter_big_endian = layout == NonceLayout::kIvXorCounterBe;
        for (auto& b : s.iv) b = static_cast<uint8_t>(rng());
        Bytes key(32);
        for (auto& b : key) b = static_cast<uint8_t>(rng());
        AeadCipher c(evp_api(), s);
        REQUIRE(c.init(key.data(), key.size()) == AeadSpecError::kOk);
        const EVP_CIPHER* cipher = alg == AeadAlgorithm::kAes256Gcm ? EVP_aes_256_gcm() : EVP_chacha20_poly1305();
        for (size_t len : {0, 1, 15, 16, 17, 1400, 9000}) {
          CAPTURE(len);
          Bytes plain(len);
          for (auto& b : plain) b = static_cast<uint8_t>(rng());
          const uint64_t counter = (static_cast<uint64_t>(rng()) << 32) | rng();
          Bytes nonce(12, 0);
          if (layout == NonceLayout::kZeroCounterLe) {
            for (int i = 0; i < 8; i++) nonce[4 + i] = static_cast<uint8_t>(counter >> (8 * i));
          } else {
            for (int i = 0; i < 12; i++) nonce[i] = s.iv[i];
            for (int i = 0; i < 8; i++) nonce[4 + i] ^= static_cast<uint8_t>(counter >> (56 - 8 * i));
          }
          Sealed out = seal_one(c, plain, counter);
          REQUIRE(out.result == AeadResult::kOk);
          const Bytes header(out.bytes.begin(), out.bytes.begin() + 16);
          Bytes tag;
          const Bytes ct = reference_seal(cipher, key, nonce, aad == AeadAad::kHeader ? header : Bytes{}, plain, &tag);
          CHECK(Bytes(out.bytes.begin() + 16, out.bytes.end() - 16) == ct);
          CHECK(Bytes(out.bytes.end() - 16, out.bytes.end()) == tag);
          // The reverse: a message sealed by the reference opens here.
          Bytes wire = header;
          wire.insert(wire.end(), ct.begin(), ct.end());
          wire.insert(wire.end(), tag.begin(), tag.end());
          uint64_t got = 0;
          size_t plain_len = 0;
          REQUIRE(c.open_bytes(wire.data(), wire.size(), &got, &plain_len) == AeadResult::kOk);
          CHECK(got == counter);
          CHECK(Bytes(wire.begin() + 16, wire.begin() + 16 + static_cast<long>(plain_len)) == plain);
        }
      }
    }
  }
}

TEST_CASE("aead: a batch sealed in place in packed slots stays back to back and opens again") {
  BufferPool pool(4 << 20);
  AeadSpec s;  // WireGuard's data message
  s.header = {4, 0, 0, 0, 0x78, 0x56, 0x34, 0x12, 0, 0, 0, 0, 0, 0, 0, 0};
  s.counter_offset = 8;
  s.verify_header = true;
  const Bytes key(32, 7);
  AeadCipher c(evp_api(), s);
  REQUIRE(c.init(key.data(), key.size()) == AeadSpecError::kOk);

  std::vector<Packet> pkts;
  pack(pool, pkts, 40, 1400, /*headroom=*/16, /*tailroom=*/16);
  uint64_t next = 5;
  AeadStats stats;
  AeadBatchResult r = aead_seal_batch(c, pkts.data(), pkts.size(), &next, stats);
  CHECK(r.done == 40);
  CHECK(next == 45);
  CHECK(stats.sealed == 40);
  for (size_t i = 0; i + 1 < pkts.size(); i++) {
    CHECK(pkts[i].length == 16 + 1400 + 16);
    if (pkts[i].slot.get() == pkts[i + 1].slot.get()) CHECK(pkts[i].offset + pkts[i].length == pkts[i + 1].offset);
  }
  CHECK(pkts[0].headroom == 0);
  CHECK(pkts[0].tailroom == 0);
  std::vector<uint64_t> counters(pkts.size());
  r = aead_open_batch(c, pkts.data(), pkts.size(), counters.data(), stats);
  CHECK(r.done == 40);
  for (size_t i = 0; i < pkts.size(); i++) {
    CHECK(counters[i] == 5 + i);
    REQUIRE(pkts[i].length == 1400);
    CHECK(pkts[i].data()[0] == static_cast<uint8_t>(i));
    CHECK(pkts[i].data()[1399] == static_cast<uint8_t>(i));
    CHECK(pkts[i].headroom == 16);
    CHECK(pkts[i].tailroom == 16);
  }
}

TEST_CASE("aead: packets without room are dropped and counted, the rest sealed") {
  BufferPool pool(1 << 20);
  AeadSpec s;
  const Bytes key(32, 9);
  AeadCipher c(evp_api(), s);
  REQUIRE(c.init(key.data(), key.size()) == AeadSpecError::kOk);
  std::vector<Packet> pkts;
  pack(pool, pkts, 2, 100, /*headroom=*/8, /*tailroom=*/16);
  pack(pool, pkts, 1, 100, /*headroom=*/8, /*tailroom=*/15);  // one byte short of a tag
  pack(pool, pkts, 1, 100, /*headroom=*/0, /*tailroom=*/0);
  uint64_t next = 0;
  AeadStats stats;
  AeadBatchResult r = aead_seal_batch(c, pkts.data(), pkts.size(), &next, stats);
  CHECK(r.done == 2);
  CHECK(r.dropped == 2);
  CHECK(stats.drop_no_room == 2);
  CHECK(next == 2);
  CHECK(pkts[0].valid());
  CHECK(pkts[1].valid());
  CHECK_FALSE(pkts[2].valid());
  CHECK_FALSE(pkts[3].valid());
}

TEST_CASE("aead: tampering, truncation, a wrong key, a foreign header and the counter limit are each refused") {
  AeadSpec s;
  s.header = {1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0};
  s.counter_offset = 4;
  s.aad = AeadAad::kHeader;
  s.verify_header = true;
  s.counter_limit = 1000;
  const Bytes key(32, 3), other_key(32, 4);
  for (AeadAlgorithm alg : {AeadAlgorithm::kChaCha20Poly1305, AeadAlgorithm::kAes256Gcm}) {
    s.algorithm = alg;
    AeadCipher c(evp_api(), s), wrong(evp_api(), s);
    REQUIRE(c.init(key.data(), key.size()) == AeadSpecError::kOk);
    REQUIRE(wrong.init(other_key.data(), other_key.size()) == AeadSpecError::kOk);
    const Bytes plain = tb::pattern(300, 1);
    const Sealed good = seal_one(c, plain, 77);
    REQUIRE(good.result == AeadResult::kOk);
    auto open = [&](AeadCipher& who, Bytes b) {
      uint64_t counter = 0;
      size_t n = 0;
      return who.open_bytes(b.data(), b.size(), &counter, &n);
    };
    CHECK(open(c, good.bytes) == AeadResult::kOk);
    Bytes t = good.bytes;
    t[5] ^= 1;  // counter: authenticated as AAD and part of the nonce
    CHECK(open(c, t) == AeadResult::kAuthFailed);
    t = good.bytes;
    t[0] ^= 1;  // header byte outside the counter
    CHECK(open(c, t) == AeadResult::kHeaderMismatch);
    t = good.bytes;
    t[12 + 150] ^= 0x80;  // ciphertext
    CHECK(open(c, t) == AeadResult::kAuthFailed);
    t = good.bytes;
    t.back() ^= 1;  // tag
    CHECK(open(c, t) == AeadResult::kAuthFailed);
    t = good.bytes;
    t.pop_back();  // truncated: the tag is now wrong
    CHECK(open(c, t) == AeadResult::kAuthFailed);
    t.resize(12 + 15);  // shorter than header + tag
    CHECK(open(c, t) == AeadResult::kTooShort);
    CHECK(open(wrong, good.bytes) == AeadResult::kAuthFailed);
    // The counter limit: refused on seal, dropped on open (even with a valid tag).
    CHECK(seal_one(c, plain, 1000).result == AeadResult::kCounterLimit);
    AeadSpec unlimited = s;
    unlimited.counter_limit = UINT64_MAX;
    AeadCipher past(evp_api(), unlimited);
    REQUIRE(past.init(key.data(), key.size()) == AeadSpecError::kOk);
    const Sealed late = seal_one(past, plain, 1000);
    REQUIRE(late.result == AeadResult::kOk);
    CHECK(open(past, late.bytes) == AeadResult::kOk);
    CHECK(open(c, late.bytes) == AeadResult::kCounterLimit);
  }
}

TEST_CASE("aead: with a replay window, a replayed packet is refused after it authenticated") {
  AeadSpec s;
  s.replay_window = 256;
  const Bytes key(32, 8);
  AeadCipher c(evp_api(), s);
  REQUIRE(c.init(key.data(), key.size()) == AeadSpecError::kOk);
  const Sealed a = seal_one(c, tb::pattern(100, 3), 500);
  const Sealed old = seal_one(c, tb::pattern(100, 4), 100);
  auto open = [&](Bytes b) {
    uint64_t counter = 0;
    size_t n = 0;
    return c.open_bytes(b.data(), b.size(), &counter, &n);
  };
  Bytes forged = a.bytes;
  forged.back() ^= 1;
  CHECK(open(forged) == AeadResult::kAuthFailed);  // a forgery does not take the counter
  CHECK(open(a.bytes) == AeadResult::kOk);
  CHECK(open(a.bytes) == AeadResult::kReplayed);
  CHECK(open(old.bytes) == AeadResult::kReplayed);  // 400 behind: outside a 192-counter span
}

TEST_CASE("aead: WireGuard padding: zero-padded to 16 within the limit, trimmed by the IP header on open") {
  AeadSpec s;
  s.header = Bytes(16, 0);
  s.header[0] = 4;
  s.counter_offset = 8;
  s.pad_to = 16;
  s.pad_limit = 1420;
  const Bytes key(32, 5);
  AeadCipher c(evp_api(), s);
  REQUIRE(c.init(key.data(), key.size()) == AeadSpecError::kOk);
  CHECK(c.padded_len(0) == 0);
  CHECK(c.padded_len(1) == 16);
  CHECK(c.padded_len(1409) == 1420);  // align16 would be 1424: capped at the MTU
  CHECK(c.padded_len(1420) == 1420);
  CHECK(c.padded_len(1500) == 1500);  // longer than the limit: never cut

  tb::Ip ip;
  const Bytes pkt = tb::build_udp(ip, 1000, 2000, tb::pattern(33, 2));  // 61 bytes
  Sealed out = seal_one(c, pkt, 1);
  REQUIRE(out.result == AeadResult::kOk);
  CHECK(out.bytes.size() == 16 + 64 + 16);
  uint64_t counter = 0;
  size_t n = 0;
  REQUIRE(c.open_bytes(out.bytes.data(), out.bytes.size(), &counter, &n) == AeadResult::kOk);
  CHECK(n == pkt.size());
  CHECK(Bytes(out.bytes.begin() + 16, out.bytes.begin() + 16 + static_cast<long>(n)) == pkt);

  // A keepalive (empty plaintext) opens as empty; a plaintext that is not IP is refused.
  out = seal_one(c, {}, 2);
  REQUIRE(out.result == AeadResult::kOk);
  CHECK(out.bytes.size() == 32);
  REQUIRE(c.open_bytes(out.bytes.data(), out.bytes.size(), &counter, &n) == AeadResult::kOk);
  CHECK(n == 0);
  out = seal_one(c, Bytes(40, 0x11), 3);
  REQUIRE(out.result == AeadResult::kOk);
  CHECK(c.open_bytes(out.bytes.data(), out.bytes.size(), &counter, &n) == AeadResult::kNotIp);
}

TEST_CASE("aead: bad specs are refused before any packet") {
  AeadSpec s;
  s.header = Bytes(7, 0);
  CHECK(AeadCipher::check_spec(s) == AeadSpecError::kCounterOffset);
  s.header = Bytes(16, 0);
  s.counter_offset = 9;
  CHECK(AeadCipher::check_spec(s) == AeadSpecError::kCounterOffset);
  s.counter_offset = 8;
  CHECK(AeadCipher::check_spec(s) == AeadSpecError::kOk);
  s.header = Bytes(kAeadMaxHeaderLen + 1, 0);
  CHECK(AeadCipher::check_spec(s) == AeadSpecError::kHeaderLength);
  s.header = Bytes(8, 0);
  s.counter_offset = 0;
  s.pad_to = kAeadMaxPadTo + 1;
  CHECK(AeadCipher::check_spec(s) == AeadSpecError::kPadding);
  s.pad_to = 0;
  AeadCipher c(evp_api(), s);
  const Bytes short_key(16, 0);
  CHECK(c.init(short_key.data(), short_key.size()) == AeadSpecError::kKeyLength);
}
