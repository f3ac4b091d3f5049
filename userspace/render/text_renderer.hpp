// The default output: an aligned timeline, one line per event, times
// relative to the first event, colour only when asked (a terminal).
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "render/renderer.hpp"

namespace sockscope::render {

class TextRenderer final : public Renderer {
 public:
  TextRenderer(std::ostream& os, bool colour) : os_(os), colour_(colour) {}
  void event(const events::Event& e) override;
  void summary(const Summary& s) override;

  // What the DETAILS column says for an event (no colour).
  static std::string details(const events::Event& e);

 private:
  std::ostream& os_;
  bool colour_;
  bool header_done_ = false;
  std::optional<uint64_t> t0_;
};

}  // namespace sockscope::render
