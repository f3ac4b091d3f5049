#include "render/renderer.hpp"

#include <fmt/format.h>

#include "render/json_writer.hpp"

namespace sockscope::render {

std::string describe(const Summary& s) {
  std::string out = fmt::format("{} events, {} lost", s.events, s.lost.total());
  if (s.lost.total())
    out += fmt::format(" (ring buffer full: {}, syscall table full: {}, socket table full: {}, undecodable: {})",
                       s.lost.ringbuf_full, s.lost.inflight_full, s.lost.tracked_full, s.lost.undecodable);
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
}

}  // namespace sockscope::render
