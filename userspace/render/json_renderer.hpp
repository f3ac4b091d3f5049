// JSON Lines: one object per event, the documented, stable interface
// (README "JSON schema"). Field names never change meaning.
#pragma once

#include <ostream>
#include <string>

#include "render/renderer.hpp"

namespace sockscope::render {

class JsonRenderer final : public Renderer {
 public:
  explicit JsonRenderer(std::ostream& os) : os_(os) { line_.reserve(1024); }
  void event(const events::Event& e) override;
  void summary(const Summary& s) override;

 private:
  std::ostream& os_;
  std::string line_;  // reused: no allocation per event once warm
};

}  // namespace sockscope::render
