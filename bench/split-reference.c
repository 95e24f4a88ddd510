// The C reference's TSO split (bench/tunnel_reference.c's split(), the code the `C reference`
// row of `npm run bench` runs) as a function bench/split-instructions.cc can count with
// callgrind beside tunio's gso_split, on the same superpacket. The forwarder is included
// whole, its main renamed, so this is its split as compiled there (cc -O2), not a copy.
#define main tunnel_reference_main
#include "tunnel_reference.c"
#undef main

static uint8_t reference_arena[kSplitRoom];

// Splits one superpacket into the arena (from its start, as every batch of the forwarder
// starts); the segments made, or -1 when split() refused the packet.
int reference_split(const void* vnet_hdr, const uint8_t* pkt, size_t len) {
  struct virtio_net_hdr h;
  memcpy(&h, vnet_hdr, sizeof h);
  arena = reference_arena;
  arena_used = 0;
  out_n = 0;
  return split(&h, pkt, len) == 0 ? (int)out_n : -1;
}

// The bytes the last reference_split wrote (its segments back to back) and their length.
const uint8_t* reference_output(size_t* len) {
  *len = arena_used;
  return reference_arena;
}

// The forwarder's send planning for what the last reference_split made (send_all(): runs of
// equal-size datagrams into UDP_SEGMENT messages, one sendmmsg), on fd -1: the kernel refuses
// at once (EBADF, one call per message), so what callgrind counts is the planning and the
// system call stubs, not a send. The datagrams planned.
int reference_send(void) {
  const uint64_t before = st.datagrams_out;
  send_all(-1);
  return (int)(st.datagrams_out - before);
}
