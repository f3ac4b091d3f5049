// What the probes layer counts on the way from the kernel to userspace:
// records delivered and records lost, by cause. Plain numbers; their words
// (text and JSON) are render/'s.
#pragma once

#include <cstdint>

namespace sockscope::events {

// Records lost between the kernel and the screen, by cause.
struct LossCounts {
  uint64_t ringbuf_full = 0;   // the ring buffer had no room (kernel side)
  uint64_t inflight_full = 0;  // a syscall's entry could not be remembered
  uint64_t tracked_full = 0;   // a filtered socket could not be remembered
  uint64_t undecodable = 0;    // a record of the wrong size or kind (userspace)
  // Not losses: the ring-buffer records the kernel sent, and those read. Once
  // the programs are detached and the buffer drained, the two are equal.
  uint64_t sent = 0;
  uint64_t received = 0;
  uint64_t total() const { return ringbuf_full + inflight_full + tracked_full + undecodable; }
};

// The end of a trace: records delivered and lost.
struct Summary {
  uint64_t events = 0;  // records delivered
  LossCounts lost;
};

}  // namespace sockscope::events
