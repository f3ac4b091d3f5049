#include "render/renderer.hpp"

#include <fmt/format.h>

#include "events/names.hpp"
#include "render/json_writer.hpp"

namespace sockscope::render {

std::string describe(const Summary& s) {
  std::string out = fmt::format("{} events, {} lost", s.events, s.lost.total());
  if (s.lost.total())
    out += fmt::format(" (ring buffer full: {}, syscall table full: {}, socket table full: {}, undecodable: {})",
                       s.lost.ringbuf_full, s.lost.inflight_full, s.lost.tracked_full, s.lost.undecodable);
  // Never seen: what the reader took and what the kernel gave disagree.
  if (s.lost.received != s.lost.sent)
    out += fmt::format("; the kernel sent {} records and {} were read", s.lost.sent, s.lost.received);
  return out;
}

void write_summary(JsonWriter& w, const Summary& s) {
  w.field("events", s.events);
  w.field("lost_total", s.lost.total());
  w.key("lost");
  w.begin_object_value();
  w.field("ringbuf_full", s.lost.ringbuf_full);
  w.field("inflight_full", s.lost.inflight_full);
  w.field("tracked_full", s.lost.tracked_full);
  w.field("undecodable", s.lost.undecodable);
  w.end_object();
  w.field("records_sent", s.lost.sent);
  w.field("records_received", s.lost.received);
}

void write_waiters(JsonWriter& w, std::span<const events::Waiter> waiters) {
  w.begin_array_value();
  for (const events::Waiter& t : waiters) {
    w.begin_object();
    w.field("pid", t.pid);
    w.field("tid", t.tid);
    w.field("comm", t.comm_view());
    w.field("how", events::wait_how_name(t));
    w.end_object();
  }
  w.end_array();
}

}  // namespace sockscope::render
