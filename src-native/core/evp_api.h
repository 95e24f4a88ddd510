// The OpenSSL EVP functions tunio's AEAD uses, resolved at first use with dlsym(RTLD_DEFAULT).
//
// Why dlsym and not a link-time dependency: Node ships OpenSSL inside its executable and
// exports its symbols to addons (Node 20-26 all export OpenSSL 3.x's EVP API), so the addon
// uses the very library `node:crypto` uses, with no second copy and no libssl on the target
// machine. A runtime without OpenSSL (Electron links BoringSSL and exports no EVP symbols)
// must still load the addon: a missing symbol here only makes the AEAD API report
// ERR_TUNIO_AEAD_UNAVAILABLE, where a link-time reference would fail dlopen() of the whole
// addon. Native tests and fuzzers link libcrypto, which puts the same symbols in the global
// scope. See docs/crypto.md.
//
// The opaque types are declared exactly as OpenSSL's <openssl/types.h> declares them, so a
// translation unit may include both; test-native/aead_test.cc checks every pointer type below
// against OpenSSL's own prototypes.
#pragma once

#include <cstddef>

extern "C" {
struct evp_cipher_st;
struct evp_cipher_ctx_st;
typedef struct evp_cipher_st EVP_CIPHER;
typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;
struct engine_st;
typedef struct engine_st ENGINE;
struct ossl_param_st;
typedef struct ossl_param_st OSSL_PARAM;
}

namespace tunio {

// OpenSSL 3's OSSL_PARAM (<openssl/core.h>), laid out as there; aead_test.cc checks the layout.
// Passed as OSSL_PARAM* (reinterpret_cast) to the two optional functions below.
struct EvpParam {
  const char* key = nullptr;  // nullptr ends an array
  unsigned int data_type = 0;
  void* data = nullptr;
  size_t data_size = 0;
  size_t return_size = 0;
};

// The EVP functions tunio resolves, X(member, Fn, symbol), in two lists: the required ones
// (a missing one makes the AEAD API unavailable; EvpApi::missing names it) and the optional
// ones. TUNIO_EVP_FUNCTIONS is both: it declares the EvpApi members and drives the prototype
// checks against OpenSSL's headers (test-native/aead_test.cc); load_evp_api (evp_api.cc) looks
// up each list with its own consequence.
#define TUNIO_EVP_REQUIRED_FUNCTIONS(X)                                              \
  /* the two ciphers */                                                              \
  X(chacha20_poly1305, CipherFn, EVP_chacha20_poly1305)                              \
  X(aes_256_gcm, CipherFn, EVP_aes_256_gcm)                                          \
  /* a context per direction; ctrl: the nonce length (the tag without OpenSSL 3) */  \
  X(ctx_new, CtxNewFn, EVP_CIPHER_CTX_new)                                           \
  X(ctx_free, CtxFreeFn, EVP_CIPHER_CTX_free)                                        \
  X(ctx_ctrl, CtxCtrlFn, EVP_CIPHER_CTX_ctrl)                                        \
  /* per packet, sealing and opening: init (the nonce), update (AAD, data), final */ \
  X(encrypt_init, InitExFn, EVP_EncryptInit_ex)                                      \
  X(encrypt_update, UpdateFn, EVP_EncryptUpdate)                                     \
  X(encrypt_final, FinalExFn, EVP_EncryptFinal_ex)                                   \
  X(decrypt_init, InitExFn, EVP_DecryptInit_ex)                                      \
  X(decrypt_update, UpdateFn, EVP_DecryptUpdate)                                     \
  X(decrypt_final, FinalExFn, EVP_DecryptFinal_ex)

// OpenSSL 3 only (nullptr: the EVP_CIPHER_CTX_ctrl path is used). Per packet they replace a
// ctrl call each (the tag read after sealing, set before opening): ctrl builds its own
// parameter array and goes through a switch on every call before it reaches the same provider
// function. (Setting the tag together with the nonce in one EVP_CipherInit_ex2 call was
// measured too: 30-45 more instructions per packet than init + ctrl, not fewer.)
#define TUNIO_EVP_OPTIONAL_FUNCTIONS(X)                                              \
  X(ctx_get_params, CtxParamsFn, EVP_CIPHER_CTX_get_params)                          \
  X(ctx_set_params, CtxSetParamsFn, EVP_CIPHER_CTX_set_params)

#define TUNIO_EVP_FUNCTIONS(X) TUNIO_EVP_REQUIRED_FUNCTIONS(X) TUNIO_EVP_OPTIONAL_FUNCTIONS(X)

struct EvpApi {
  // EVP_CIPHER_CTX_ctrl commands (include/openssl/evp.h; identical in OpenSSL 1.1 and 3.x).
  static constexpr int kCtrlAeadSetIvLen = 0x9;
  static constexpr int kCtrlAeadGetTag = 0x10;
  static constexpr int kCtrlAeadSetTag = 0x11;
  // OSSL_PARAM_OCTET_STRING and OSSL_CIPHER_PARAM_AEAD_TAG (<openssl/core.h>, core_names.h).
  static constexpr unsigned int kParamOctetString = 5;
  static constexpr const char* kParamAeadTag = "tag";

  using CipherFn = const EVP_CIPHER* (*)();
  using CtxNewFn = EVP_CIPHER_CTX* (*)();
  using CtxFreeFn = void (*)(EVP_CIPHER_CTX*);
  using CtxCtrlFn = int (*)(EVP_CIPHER_CTX*, int, int, void*);
  using InitExFn = int (*)(EVP_CIPHER_CTX*, const EVP_CIPHER*, ENGINE*, const unsigned char*, const unsigned char*);
  using UpdateFn = int (*)(EVP_CIPHER_CTX*, unsigned char*, int*, const unsigned char*, int);
  using FinalExFn = int (*)(EVP_CIPHER_CTX*, unsigned char*, int*);
  using CtxParamsFn = int (*)(EVP_CIPHER_CTX*, OSSL_PARAM*);
  using CtxSetParamsFn = int (*)(EVP_CIPHER_CTX*, const OSSL_PARAM*);

#define TUNIO_EVP_MEMBER(member, Fn, symbol) Fn member = nullptr;
  TUNIO_EVP_FUNCTIONS(TUNIO_EVP_MEMBER)
#undef TUNIO_EVP_MEMBER

  // Name of the first symbol that was not found; nullptr when all are there.
  const char* missing = nullptr;
  bool available() const { return missing == nullptr; }
};

// Looks each symbol up with `lookup` (dlsym(RTLD_DEFAULT, name) in production). A seam for
// tests: a lookup that finds nothing is a runtime without OpenSSL.
using SymbolLookup = void* (*)(const char* name);
EvpApi load_evp_api(SymbolLookup lookup);

// The process's EVP functions, resolved once (thread-safe static initialisation) with dlsym.
const EvpApi& evp_api();

}  // namespace tunio
