// C reference for bench/crypto.js: the loop tunio's Aead.seal runs per packet, written
// directly against OpenSSL's EVP API with nothing around it (no batch, no pool, no Node):
// per packet EVP_EncryptInit_ex(nonce), EVP_EncryptUpdate(AAD: the 8-byte counter header),
// EVP_EncryptUpdate(payload, in place), EVP_EncryptFinal_ex, then the tag: with `params` (the
// default, what tunio does since it stopped calling ctrl per packet) EVP_CIPHER_CTX_get_params
// on an OSSL_PARAM array, with `ctrl` EVP_CIPHER_CTX_ctrl(GET_TAG) (what tunio did before).
//   crypto_reference <chacha20-poly1305|aes-256-gcm> <packets> <bytes> <rounds> [timings] [params|ctrl]
// Prints one JSON line: CPU nanoseconds per packet (CLOCK_PROCESS_CPUTIME_ID, median of
// `timings` timings of `rounds` batches; bench/crypto.js runs it once per timing, interleaved).
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  if (argc < 5 || argc > 7) {
    fprintf(stderr, "usage: crypto_reference ALG PACKETS BYTES ROUNDS [TIMINGS] [params|ctrl]\n");
    return 2;
  }
  const EVP_CIPHER* cipher = strcmp(argv[1], "aes-256-gcm") == 0 ? EVP_aes_256_gcm() : EVP_chacha20_poly1305();
  const int packets = atoi(argv[2]), bytes = atoi(argv[3]), rounds = atoi(argv[4]);
  const int timings = argc >= 6 ? atoi(argv[5]) : 9;
  const int use_ctrl = argc == 7 && strcmp(argv[6], "ctrl") == 0;
  if (timings < 1 || timings > 99) return 2;
  // One buffer laid out as tunio's packed slot: [8-byte header][payload][16-byte tag] per packet.
  const int stride = 8 + bytes + 16;
  uint8_t* slot = calloc((size_t)packets, (size_t)stride);
  uint8_t key[32];
  for (int i = 0; i < 32; i++) key[i] = (uint8_t)i;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (EVP_EncryptInit_ex(ctx, cipher, NULL, NULL, NULL) != 1 || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1 ||
      EVP_EncryptInit_ex(ctx, NULL, NULL, key, NULL) != 1) {
    fprintf(stderr, "cipher init failed\n");
    return 1;
  }
  uint64_t counter = 0;
  double t[99];
  for (int k = 0; k < timings; k++) {
    const double start = now_ns();
    for (int r = 0; r < rounds; r++) {
      for (int p = 0; p < packets; p++) {
        uint8_t* hdr = slot + (size_t)p * stride;
        uint8_t nonce[12] = {0};
        int n = 0;
        for (int i = 0; i < 8; i++) hdr[i] = (uint8_t)(counter >> (8 * i));
        for (int i = 0; i < 8; i++) nonce[4 + i] = (uint8_t)(counter >> (56 - 8 * i));
        counter++;
        OSSL_PARAM tag[2] = {OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, hdr + 8 + bytes, 16), OSSL_PARAM_END};
        if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 || EVP_EncryptUpdate(ctx, NULL, &n, hdr, 8) != 1 ||
            EVP_EncryptUpdate(ctx, hdr + 8, &n, hdr + 8, bytes) != 1 || EVP_EncryptFinal_ex(ctx, hdr + 8 + bytes, &n) != 1 ||
            (use_ctrl ? EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, hdr + 8 + bytes) : EVP_CIPHER_CTX_get_params(ctx, tag)) != 1) {
          fprintf(stderr, "seal failed\n");
          return 1;
        }
      }
    }
    t[k] = (now_ns() - start) / ((double)rounds * packets);
  }
  qsort(t, (size_t)timings, sizeof t[0], cmp);
  printf("{\"algorithm\":\"%s\",\"tag\":\"%s\",\"nsPerPacket\":%.1f,\"openssl\":\"%s\"}\n", argv[1], use_ctrl ? "ctrl" : "params",
         t[timings / 2], OPENSSL_VERSION_TEXT);
  EVP_CIPHER_CTX_free(ctx);
  free(slot);
  return 0;
}
