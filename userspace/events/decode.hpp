// Decoding into a caller's Event, for the reader's hot path (one record per
// kernel event, a million a second in a storm): no Event built and copied
// per record. events::decode(raw) in event.hpp is the same check and copy.
#pragma once

#include <array>
#include <cstddef>
#include <span>

#include "events/event.hpp"

namespace sockscope::events {

// Overwrites `out` with the record in `raw` and returns true, leaving `out`
// equal to what decode(raw) returns; false (and `out` unspecified) where
// decode(raw) returns nullopt.
bool decode_into(std::span<const std::byte> raw, Event& out);

// The packets folded into a record (explain: struct sk_pkt, bpf/sockscope.h)
// as the packet records they stand for, in time order, into out; `rec` is
// the record decode_into made of `raw`. Returns how many: rec.folded, less
// any whose ports are not the record's flow (a held packet the kernel sent
// again by itself after a race: see fold_packet in bpf/packets.bpf.c).
std::size_t decode_folded(std::span<const std::byte> raw, const Event& rec, std::span<Event, SK_MAX_FOLDED> out);

// The packets the kernel holds for a flow (the map `folds`: key and slots)
// as packet records, in time order, into out; returns how many. For those
// of a flow that no record came for (probes::Tracer takes them out).
std::size_t decode_held(const sk_fold_key& key, const sk_fold& fold, std::span<Event, SK_FOLD_SLOTS> out);

// A packet's own bytes (--pcap: SK_PKT_RAW, struct sk_event_raw): the packet
// record's fields (as an SK_PKT_TCP Event), then what the pcapng file needs.
struct RawPacket {
  Event packet;
  uint32_t len = 0;      // the packet's length from its IP header on
  int32_t syscall = -1;  // process context: the syscall the task was in (-1: none)
  bool loopback = false;
  std::array<char, SK_COMM_LEN> owner_comm{};  // the listener owner's, with kOwnerKnown
  std::span<const std::byte> bytes;            // caplen bytes from the IP header on; valid during the callback
  std::string_view owner_comm_view() const;
};

// Whether `raw` is an SK_PKT_RAW record (by its kind alone).
bool is_raw_packet(std::span<const std::byte> raw);
// Decodes an SK_PKT_RAW record into `out` (its bytes point into `raw`);
// false when it is not one, or its sizes do not add up.
bool decode_raw(std::span<const std::byte> raw, RawPacket& out);

// One ring-buffer record as every event it stands for, in their order: the
// packets folded into it, a call's entry, the record, its dequeue. What the
// reader does with each record, and what the fuzzer (tests/fuzz) drives.
class Expander {
 public:
  // Hands each event to `sink` and returns how many; 0 (nothing handed) when
  // the record cannot be decoded. The events live until the next call.
  template <typename Sink>
  std::size_t expand(std::span<const std::byte> raw, Sink&& sink) {
    if (!decode_into(raw, record_)) return 0;
    std::size_t n = 0;
    if (record_.folded) {
      const std::size_t k = decode_folded(raw, record_, folded_);
      for (std::size_t i = 0; i < k; ++i, ++n) sink(folded_[i]);
    }
    if (record_.enter_folded()) {
      sink(entry_of(record_));
      ++n;
    }
    sink(record_);
    ++n;
    if (record_.dequeue_folded()) {
      sink(dequeue_of(record_));
      ++n;
    }
    return n;
  }

 private:
  Event record_;                             // each record is decoded into this one, in turn
  std::array<Event, SK_MAX_FOLDED> folded_;  // and the packets folded into it
};

}  // namespace sockscope::events
