// The layout of a batch's packets as batch.bytes() shows it to JavaScript: one buffer per run
// of contiguous memory instead of one per packet, and a table of where each packet lies in it.
//
// Why: a protocol whose per-packet work must be done in JavaScript (its own header, a
// transform no native code knows) needs the bytes of every packet, and a Buffer per packet
// costs about a microsecond of Node's external-buffer bookkeeping, the whole budget of a packet
// at 10 Gbit/s. Packets of one read lie back to back in 64 KiB slots ([headroom][packet]
// [tailroom], slot_packer.h), so a whole TUN read or UDP GRO read is one or two runs.
//
// Each held packet has a room: its bytes plus its headroom and tailroom, which belong to it
// alone. JavaScript may move the packet's start and change its length anywhere inside its room
// (add a header in front, a trailer behind, strip either); check() refuses anything outside it
// and apply() makes it the packet's extent for whatever comes next (send, write, seal).
//
// The table is a struct of arrays of int32: field f of packet i is table[f * count + i], so
// JavaScript takes one Int32Array view per field. The field numbers are exported by the addon
// (batchLayout), never copied into JavaScript. No Node headers: unit-tested on its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "packet.h"

namespace tunio {

enum BatchLayoutField : uint32_t {
  kLayoutRun = 0,       // which run (JS: buffers[run]) holds the packet; -1 once not held
  kLayoutStart = 1,     // first byte of the packet in its run (JavaScript may change it)
  kLayoutLength = 2,    // the packet's length (JavaScript may change it); -1 once not held
  kLayoutMinStart = 3,  // where its headroom begins: the lowest start
  kLayoutMaxEnd = 4,    // where its tailroom ends: start + length may not pass it
  kLayoutFields = 5,
};
constexpr int32_t kLayoutNotHeld = -1;

// A contiguous byte range of one slot that holds the rooms of one or more packets.
struct LayoutRun {
  Slot* slot = nullptr;
  uint32_t begin = 0;  // offsets within slot->data
  uint32_t end = 0;
};

class BatchLayout {
 public:
  // Groups the rooms of the held packets of pkts[0..n) into runs (rooms that touch or overlap
  // in one slot share a run), numbered in the order their first packet appears.
  void plan(const Packet* pkts, size_t n);
  const std::vector<LayoutRun>& runs() const { return runs_; }

  // Writes every field of `count` entries (count >= n; entries past n, and packets no longer
  // held, read as not held).
  void publish(const Packet* pkts, size_t n, size_t count, int32_t* table) const;
  // The first held packet whose start/length in `table` lie outside its room, or n if none.
  size_t check(const Packet* pkts, size_t n, size_t count, const int32_t* table) const;
  // Makes each held packet's start/length in `table` its extent (check() first): offset,
  // length, headroom and tailroom change, the room stays.
  void apply(Packet* pkts, size_t n, size_t count, const int32_t* table) const;

 private:
  struct Room {
    int32_t run = -1;
    uint32_t begin = 0;  // offsets within the slot
    uint32_t end = 0;
  };
  std::vector<LayoutRun> runs_;
  std::vector<Room> rooms_;
};

}  // namespace tunio
