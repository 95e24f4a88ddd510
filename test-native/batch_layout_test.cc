// batch.bytes()'s layout: packets grouped into runs of contiguous slot memory, the table
// published per field, and start/length moved by JavaScript checked against each packet's room.
#include <doctest.h>

#include <cstdint>
#include <vector>

#include "batch_layout.h"
#include "buffer_pool.h"
#include "slot_packer.h"

using namespace tunio;

namespace {

// `count` packets of `len` bytes packed with headroom/tailroom, as a TUN read or leaseBatch lays them out.
std::vector<Packet> packed(BufferPool& pool, size_t count, size_t len, uint32_t head, uint32_t tail) {
  std::vector<Packet> out;
  SlotPacker packer(pool, out, head, tail);
  for (size_t i = 0; i < count; i++) {
    REQUIRE(packer.reserve(len) != nullptr);
    packer.commit(len);
  }
  return out;
}

int32_t field(const std::vector<int32_t>& table, size_t count, BatchLayoutField f, size_t i) { return table[f * count + i]; }

}  // namespace

TEST_CASE("packets packed back to back are one run; the table gives each packet's place and room") {
  BufferPool pool;
  std::vector<Packet> pkts = packed(pool, 4, 100, 16, 24);
  BatchLayout layout;
  layout.plan(pkts.data(), pkts.size());
  REQUIRE(layout.runs().size() == 1);
  CHECK(layout.runs()[0].begin == 0);
  CHECK(layout.runs()[0].end == 4 * (16 + 100 + 24));
  std::vector<int32_t> table(kLayoutFields * 4, 7);
  layout.publish(pkts.data(), pkts.size(), 4, table.data());
  for (size_t i = 0; i < 4; i++) {
    const int32_t base = static_cast<int32_t>(i * 140);
    CHECK(field(table, 4, kLayoutRun, i) == 0);
    CHECK(field(table, 4, kLayoutStart, i) == base + 16);
    CHECK(field(table, 4, kLayoutLength, i) == 100);
    CHECK(field(table, 4, kLayoutMinStart, i) == base);
    CHECK(field(table, 4, kLayoutMaxEnd, i) == base + 140);
  }
  CHECK(layout.check(pkts.data(), 4, 4, table.data()) == 4);
}

namespace {

// Three 50-byte packets packed with 8 bytes of headroom and tailroom each, planned and their
// table published: the batch in which the room tests move starts and lengths, through named
// fields of the table as JavaScript writes them.
struct ThreeInTheirRoom {
  static constexpr size_t kCount = 3;
  BufferPool pool;
  std::vector<Packet> pkts = packed(pool, kCount, 50, 8, 8);
  BatchLayout layout;
  std::vector<int32_t> table = std::vector<int32_t>(kLayoutFields * kCount);
  ThreeInTheirRoom() {
    layout.plan(pkts.data(), pkts.size());
    publish();
  }
  void publish() { layout.publish(pkts.data(), kCount, kCount, table.data()); }
  int32_t& at(BatchLayoutField f, size_t i) { return table[f * kCount + i]; }
  int32_t& start(size_t i) { return at(kLayoutStart, i); }
  int32_t& length(size_t i) { return at(kLayoutLength, i); }
  size_t check() { return layout.check(pkts.data(), kCount, kCount, table.data()); }
  void apply() { layout.apply(pkts.data(), kCount, kCount, table.data()); }
};

}  // namespace

TEST_CASE("a header prepended and a trailer appended within the room become the packet's extent") {
  ThreeInTheirRoom b;
  b.start(1) -= 8;    // an 8-byte header in front of packet 1
  b.length(1) += 16;  // and 8 bytes behind it
  REQUIRE(b.check() == 3);
  const uint32_t old_offset = b.pkts[1].offset;
  b.apply();
  CHECK(b.pkts[1].offset == old_offset - 8);
  CHECK(b.pkts[1].length == 66);
  CHECK(b.pkts[1].headroom == 0);
  CHECK(b.pkts[1].tailroom == 0);
  CHECK(b.pkts[0].length == 50);  // the others as they were
  CHECK(b.pkts[2].headroom == 8);
  // Stripping it again gives the room back.
  b.start(1) += 12;
  b.length(1) = 40;
  REQUIRE(b.check() == 3);
  b.apply();
  CHECK(b.pkts[1].headroom == 12);
  CHECK(b.pkts[1].tailroom == 66 - 12 - 40);
}

TEST_CASE("start or length outside the room is refused, whatever the table's own bounds say") {
  ThreeInTheirRoom b;
  b.start(2) -= 9;  // one byte into packet 1's tailroom
  CHECK(b.check() == 2);
  b.publish();
  b.length(0) = 59;  // one byte past packet 0's tailroom
  CHECK(b.check() == 0);
  b.publish();
  b.length(1) = -1;
  CHECK(b.check() == 1);
  b.publish();
  b.at(kLayoutMinStart, 1) = -1000;  // widening the published bounds changes nothing
  b.at(kLayoutMaxEnd, 1) = 100000;
  b.start(1) = -4;
  CHECK(b.check() == 1);
  b.publish();
  b.start(0) = INT32_MAX;  // no overflow into a pass
  b.length(0) = INT32_MAX;
  CHECK(b.check() == 0);
}

TEST_CASE("runs: one per slot in packet order, split at a gap; packets not held read as -1") {
  BufferPool pool;
  // 40 packets of 2,000 bytes fill more than one 64 KiB slot.
  std::vector<Packet> pkts = packed(pool, 40, 2000, 0, 0);
  REQUIRE(pkts.front().slot.get() != pkts.back().slot.get());
  pkts[5].slot.reset();  // released: its bytes no longer belong to the batch, the run splits there
  BatchLayout layout;
  layout.plan(pkts.data(), pkts.size());
  REQUIRE(layout.runs().size() == 3);
  CHECK(layout.runs()[0].end == 5 * 2000);
  CHECK(layout.runs()[1].begin == 6 * 2000);
  CHECK(layout.runs()[2].slot == pkts.back().slot.get());
  const size_t count = 42;  // entries past the packets (a batch whose storage was freed) too
  std::vector<int32_t> table(kLayoutFields * count, 7);
  layout.publish(pkts.data(), pkts.size(), count, table.data());
  CHECK(field(table, count, kLayoutRun, 4) == 0);
  CHECK(field(table, count, kLayoutRun, 5) == kLayoutNotHeld);
  CHECK(field(table, count, kLayoutLength, 5) == kLayoutNotHeld);
  CHECK(field(table, count, kLayoutRun, 6) == 1);
  CHECK(field(table, count, kLayoutStart, 6) == 0);
  CHECK(field(table, count, kLayoutRun, 39) == 2);
  CHECK(field(table, count, kLayoutLength, 41) == kLayoutNotHeld);
  // A packet dropped after the plan is skipped by check/apply and published as not held.
  pkts[7].slot.reset();
  table[kLayoutLength * count + 7] = 1 << 30;
  CHECK(layout.check(pkts.data(), pkts.size(), count, table.data()) == pkts.size());
  layout.apply(pkts.data(), pkts.size(), count, table.data());
  layout.publish(pkts.data(), pkts.size(), count, table.data());
  CHECK(field(table, count, kLayoutLength, 7) == kLayoutNotHeld);
}

TEST_CASE("packets of separate slots are separate runs even when their memory happens to touch") {
  BufferPool pool;
  std::vector<Packet> pkts;
  for (int i = 0; i < 3; i++) {
    Packet p;
    p.slot = SlotRef(pool.acquire(100));
    p.offset = 0;
    p.length = 100;
    p.tailroom = p.slot.get()->capacity - 100;  // the whole slot is the packet's (leaseBatch)
    pkts.push_back(std::move(p));
  }
  BatchLayout layout;
  layout.plan(pkts.data(), pkts.size());
  CHECK(layout.runs().size() == 3);
  for (size_t r = 0; r < 3; r++) CHECK(layout.runs()[r].slot == pkts[r].slot.get());
}

TEST_CASE("SlotPacker: each committed packet is a fresh view of its slot, appended after what the vector held") {
  BufferPool pool;
  std::vector<Packet> out(1);
  out[0].length = 9;
  out[0].ecn = 3;
  out[0].remote.family = 4;
  out[0].gso.gso_size = 1400;
  {
    SlotPacker packer(pool, out, 16, 24);
    for (size_t i = 0; i < 3; i++) {
      REQUIRE(packer.reserve(100) != nullptr);
      packer.commit(100);
    }
    REQUIRE(out.size() == 4);
    CHECK(out[0].length == 9);  // the packet that was there is untouched
    CHECK(out[0].ecn == 3);
    Slot* slot = out[1].slot.get();
    REQUIRE(slot != nullptr);
    CHECK(slot->refs == 4);  // three views and the packer's own reference
    for (size_t i = 1; i < 4; i++) {
      const Packet& p = out[i];
      CHECK(p.slot.get() == slot);
      CHECK(p.offset == (i - 1) * 140 + 16);
      CHECK(p.length == 100);
      CHECK(p.headroom == 16);
      CHECK(p.tailroom == 24);
      CHECK(p.remote.empty());
      CHECK(p.local.empty());
      CHECK(p.ecn == 0);
      CHECK(p.gso.gso_type == 0);
      CHECK(p.gso.gso_size == 0);
    }
  }
  CHECK(out[1].slot.get()->refs == 3);  // the packer let go of its reference
}
