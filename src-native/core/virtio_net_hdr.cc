#include "virtio_net_hdr.h"

#include <cstring>

namespace tunio {

namespace {
// Host-order 16-bit fields (see the header comment); memcpy keeps it alignment-safe.
inline void put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline uint16_t get16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
}  // namespace

void encode_virtio_net_hdr(const VirtioNetHdr& h, uint8_t* out) {
  out[0] = h.flags;
  out[1] = h.gso_type;
  put16(out + 2, h.hdr_len);
  put16(out + 4, h.gso_size);
  put16(out + 6, h.csum_start);
  put16(out + 8, h.csum_offset);
}

bool decode_virtio_net_hdr(const uint8_t* in, size_t len, VirtioNetHdr* out) {
  *out = VirtioNetHdr{};
  if (len < kVirtioNetHdrLen) return false;
  out->flags = in[0];
  out->gso_type = in[1];
  out->hdr_len = get16(in + 2);
  out->gso_size = get16(in + 4);
  out->csum_start = get16(in + 6);
  out->csum_offset = get16(in + 8);
  return true;
}

}  // namespace tunio
