#include "render/renderer.hpp"

#include <fmt/format.h>

namespace sockscope::render {

std::string describe(const Summary& s) {
  std::string out = fmt::format("{} events, {} lost", s.events, s.lost.total());
  if (s.lost.total())
    out += fmt::format(" (ring buffer full: {}, syscall table full: {}, socket table full: {}, undecodable: {})",
                       s.lost.ringbuf_full, s.lost.inflight_full, s.lost.tracked_full, s.lost.undecodable);
  return out;
}

}  // namespace sockscope::render
