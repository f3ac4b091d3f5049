// The default output: an aligned timeline, one line per event, times
// relative to the first event (or --time's monotonic or wall-clock times),
// colour only when asked (a terminal).
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "render/clock.hpp"
#include "render/renderer.hpp"

namespace sockscope::render {

class TextRenderer final : public Renderer {
 public:
  TextRenderer(std::ostream& os, bool colour, TimeColumn time = {}) : os_(os), colour_(colour), time_(time) {}
  void event(const events::Event& e) override;
  void summary(const Summary& s) override;

  // What the DETAILS column says for an event (no colour).
  static std::string details(const events::Event& e);

 private:
  std::ostream& os_;
  bool colour_;
  TimeColumn time_;
  bool header_done_ = false;
  // The TIME column's width: the first event's time, or more (a monotonic
  // time has as many digits as the uptime's seconds).
  std::size_t time_width_ = 0;
  std::optional<uint64_t> t0_;
};

}  // namespace sockscope::render
