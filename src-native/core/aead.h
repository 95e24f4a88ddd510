// Batch AEAD over packets in pool slots: seal (header + ciphertext + tag, in place) and open
// (verify, decrypt, strip, report the counter), ChaCha20-Poly1305 (RFC 8439) and AES-256-GCM.
//
// Why here: a tunnel seals every packet it sends and opens every packet it receives. Done per
// packet from JavaScript (a cipher object and a Buffer per packet) it ran at a tenth of the
// plain tunnel's speed; done here, one call covers a batch and the per-packet work is the
// OpenSSL calls themselves. The primitives are OpenSSL's (evp_api.h), never ours.
//
// The wire layout is the caller's protocol, described by an AeadSpec:
//
//   [ header (header.size() bytes, the counter at counter_offset) ][ ciphertext ][ tag (16) ]
//
// The header is a template copied in front of every sealed packet with the packet's 64-bit
// counter written into it; the nonce is derived from the same counter (NonceLayout). With
// AeadAad::kHeader the header bytes are authenticated as associated data. WireGuard's data
// message is header {4,0,0,0, receiver index LE, counter LE} (16 bytes, counter at 8),
// NonceLayout::kZeroCounterLe, AeadAad::kNone, pad_to 16.
//
// Sealing needs `header.size()` bytes of headroom and `16 + padding` bytes of tailroom in the
// packet's slot (Packet::headroom/tailroom, reserved by SlotPacker when the packet was laid
// out): the result stays one contiguous run of bytes per packet, and packets laid out back to
// back stay back to back, which keeps a run of equal-size sealed packets one UDP_SEGMENT iovec.
//
// Threading: an AeadCipher belongs to one thread (its EVP contexts are not shared). No Node
// headers: unit-tested and fuzzed on its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "evp_api.h"
#include "packet.h"
#include "replay_window.h"

namespace tunio {

constexpr size_t kAeadKeyLen = 32;
constexpr size_t kAeadNonceLen = 12;
constexpr size_t kAeadTagLen = 16;
constexpr size_t kAeadCounterLen = 8;
// Largest protocol header placed in front of a ciphertext (WireGuard's is 16, QUIC short
// headers are at most 25 before their packet number).
constexpr size_t kAeadMaxHeaderLen = 64;
// Largest padding multiple (WireGuard pads to 16).
constexpr uint32_t kAeadMaxPadTo = 256;

enum class AeadAlgorithm : uint8_t { kChaCha20Poly1305, kAes256Gcm };

enum class NonceLayout : uint8_t {
  // 4 zero bytes, then the counter as u64 little-endian (WireGuard). The IV is not used.
  kZeroCounterLe,
  // The 12-byte IV XOR (4 zero bytes || counter as u64 big-endian): TLS 1.3 (RFC 8446 5.3),
  // QUIC (RFC 9001 5.3).
  kIvXorCounterBe,
};

enum class AeadAad : uint8_t {
  kNone,    // nothing but the ciphertext is authenticated (WireGuard data messages)
  kHeader,  // the whole header, counter included, is the associated data
};

struct AeadSpec {
  AeadAlgorithm algorithm = AeadAlgorithm::kChaCha20Poly1305;
  NonceLayout nonce = NonceLayout::kZeroCounterLe;
  uint8_t iv[kAeadNonceLen] = {};
  // Written in front of every ciphertext; must hold the 8-byte counter at counter_offset.
  std::vector<uint8_t> header = std::vector<uint8_t>(kAeadCounterLen, 0);
  uint32_t counter_offset = 0;
  bool counter_big_endian = false;  // how the counter is written into the header
  AeadAad aad = AeadAad::kNone;
  // open: every header byte outside the counter must equal the template (e.g. a message type
  // and receiver index), else the packet is dropped as malformed.
  bool verify_header = false;
  // seal: the plaintext is zero-padded to a multiple of pad_to (0 or 1: none), but never past
  // pad_limit bytes (0: no limit) unless already longer: WireGuard's min(align16(len), MTU).
  // open: with pad_to > 1 the plaintext is trimmed to the length its IP header gives (an
  // empty plaintext stays empty: a WireGuard keepalive), and dropped if it is not IP.
  uint32_t pad_to = 0;
  uint32_t pad_limit = 0;
  // Counters at or above this are never used: seal refuses them, open drops them (WireGuard:
  // REJECT_AFTER_MESSAGES = 2^64 - 2^13 - 1).
  uint64_t counter_limit = UINT64_MAX;
  // open: bits of a sliding replay window (ReplayWindow); 0 = none, the caller checks the
  // counters itself. Counters are recorded only once their packet authenticated.
  uint32_t replay_window = 0;
};

// What went wrong with a spec or a key, for a coded error in the glue.
enum class AeadSpecError : uint8_t {
  kOk,
  kUnavailable,     // no OpenSSL in this process (evp_api().missing names the symbol)
  kKeyLength,       // key is not 32 bytes
  kHeaderLength,    // header longer than kAeadMaxHeaderLen
  kCounterOffset,   // the 8-byte counter does not fit inside the header
  kPadding,         // pad_to above kAeadMaxPadTo
  kCipherInit,      // OpenSSL refused the key/cipher (EVP_*Init_ex or ctrl failed)
};
const char* aead_spec_error_name(AeadSpecError e);

// Outcome of one packet.
enum class AeadResult : uint8_t {
  kOk,
  kNoRoom,        // seal: not enough headroom/tailroom in the packet's slot
  kTooShort,      // open: shorter than header + tag
  kHeaderMismatch,  // open: verify_header and a byte outside the counter differs
  kCounterLimit,  // the counter is at or past counter_limit
  kAuthFailed,    // open: the tag did not verify (forged, corrupted, wrong key)
  kReplayed,      // open: authentic, but its counter was seen before or is behind the window
  kNotIp,         // open with padding: the plaintext has no valid IP header to trim by
  kCryptoError,   // an OpenSSL call failed for another reason
};

// The one definition of AeadStats (aead.stats()): X(member, group, "jsName") as in
// tun_stats.h; lib/aead.ts's AeadStats is held to it by test/shared-facts.test.ts.
#define TUNIO_AEAD_STATS(X)                              \
  X(sealed, top, "sealed")                               \
  X(opened, top, "opened")                               \
  X(bytes_sealed, top, "bytesSealed") /* plaintext bytes */ \
  X(bytes_opened, top, "bytesOpened")                    \
  X(drop_no_room, drops, "noRoom")                       \
  X(drop_too_short, drops, "tooShort")                   \
  X(drop_header_mismatch, drops, "headerMismatch")       \
  X(drop_counter_limit, drops, "counterLimit")           \
  X(drop_auth_failed, drops, "authFailed")               \
  X(drop_replayed, drops, "replayed")                    \
  X(drop_not_ip, drops, "notIp")                         \
  X(drop_crypto_error, drops, "cryptoError")

struct AeadStats {
#define TUNIO_AEAD_STATS_MEMBER(member, group, js) uint64_t member = 0;
  TUNIO_AEAD_STATS(TUNIO_AEAD_STATS_MEMBER)
#undef TUNIO_AEAD_STATS_MEMBER
  void count(AeadResult r);
};

// One key, one wire layout. Holds an encrypting and a decrypting EVP context, keyed once;
// per packet only the nonce changes.
class AeadCipher {
 public:
  // `api` is normally evp_api(); tests pass one without symbols.
  static AeadSpecError check_spec(const AeadSpec& spec);
  AeadCipher(const EvpApi& api, const AeadSpec& spec);
  ~AeadCipher();
  AeadCipher(const AeadCipher&) = delete;
  AeadCipher& operator=(const AeadCipher&) = delete;

  // Keys both contexts. Anything but kOk leaves the cipher unusable (seal/open return
  // kCryptoError).
  AeadSpecError init(const uint8_t* key, size_t key_len);

  const AeadSpec& spec() const { return spec_; }
  // Bytes a sealed packet grows by in front and, for `plain_len` bytes of plaintext, behind.
  size_t header_len() const { return spec_.header.size(); }
  size_t sealed_tail(size_t plain_len) const { return padded_len(plain_len) - plain_len + kAeadTagLen; }
  size_t padded_len(size_t plain_len) const;

  // Seals one packet in place with `counter`: the header goes into its headroom, padding and
  // tag into its tailroom, and offset/length/headroom/tailroom are updated.
  AeadResult seal(Packet& p, uint64_t counter);
  // Opens one packet in place: verifies, decrypts, strips header and tag (and padding, see
  // AeadSpec::pad_to). *counter is the header's counter whenever the header could be read.
  AeadResult open(Packet& p, uint64_t* counter);

  // The same on raw bytes (fuzzing, known-answer tests): `buf` holds header + plaintext with
  // `room` bytes of capacity; returns the sealed length through *out_len.
  AeadResult seal_bytes(uint8_t* buf, size_t plain_len, size_t room, uint64_t counter, size_t* out_len);
  // `buf` holds `len` bytes of a sealed message; on kOk the plaintext starts at
  // buf + header_len() and is *plain_len bytes long.
  AeadResult open_bytes(uint8_t* buf, size_t len, uint64_t* counter, size_t* plain_len);

 private:
  void make_nonce(uint64_t counter, uint8_t out[kAeadNonceLen]) const;
  uint64_t read_counter(const uint8_t* header) const;
  void write_header(uint8_t* header, uint64_t counter) const;
  bool header_matches(const uint8_t* header) const;
  // The steps of encrypt and decrypt (aead.cc).
  bool set_nonce(EVP_CIPHER_CTX* ctx, EvpApi::InitExFn init, uint64_t counter) const;
  static bool update(EVP_CIPHER_CTX* ctx, EvpApi::UpdateFn fn, const uint8_t* aad, size_t aad_len, uint8_t* data,
                     size_t len);
  bool get_tag(uint8_t* tag) const;
  bool set_tag(uint8_t* tag) const;
  AeadResult encrypt(uint64_t counter, const uint8_t* aad, size_t aad_len, uint8_t* data, size_t len,
                     uint8_t* tag);
  AeadResult decrypt(uint64_t counter, const uint8_t* aad, size_t aad_len, uint8_t* data, size_t len,
                     uint8_t* tag);

  const EvpApi& api_;
  AeadSpec spec_;
  EVP_CIPHER_CTX* enc_ = nullptr;
  EVP_CIPHER_CTX* dec_ = nullptr;
  bool ready_ = false;
  std::unique_ptr<ReplayWindow> replay_;
};

// Outcome of a batch: per-packet results are counted in `stats`.
struct AeadBatchResult {
  size_t done = 0;     // packets sealed or opened
  size_t dropped = 0;  // packets that failed (their Packet is reset: the slot reference dropped)
};

// Seals every valid packet of `pkts` in order with counters next_counter, next_counter + 1,
// ...; advances *next_counter by the packets sealed. A packet that fails is dropped (reset)
// and counted. The caller checks the counter limit for the whole batch first
// (aead_counters_left).
AeadBatchResult aead_seal_batch(AeadCipher& c, Packet* pkts, size_t n, uint64_t* next_counter, AeadStats& stats);
// Opens every valid packet of `pkts`; counters[i] receives packet i's counter, or
// kAeadNoCounter where the packet was dropped (or was not held). Failures are dropped (reset)
// and counted; the rest of the batch is delivered.
constexpr uint64_t kAeadNoCounter = UINT64_MAX;
AeadBatchResult aead_open_batch(AeadCipher& c, Packet* pkts, size_t n, uint64_t* counters, AeadStats& stats);

// The same over packets that are not one array: an array of leases from several batches and
// single leases (aead_wrap.cc gathers them). pkts[i] may not be null; counters as above.
AeadBatchResult aead_seal_packets(AeadCipher& c, Packet* const* pkts, size_t n, uint64_t* next_counter, AeadStats& stats);
AeadBatchResult aead_open_packets(AeadCipher& c, Packet* const* pkts, size_t n, uint64_t* counters, AeadStats& stats);

// How many more counters may be used from `next` before the limit.
inline uint64_t aead_counters_left(const AeadSpec& spec, uint64_t next) {
  return next >= spec.counter_limit ? 0 : spec.counter_limit - next;
}

}  // namespace tunio
