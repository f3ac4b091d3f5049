// JSON Lines: one object per event, the documented, stable interface
// (README "JSON schema"). Field names never change meaning.
#pragma once

#include <ostream>
#include <string>

#include "render/renderer.hpp"

namespace sockscope::render {

// Lines are held in one buffer and written 64 KiB at a time, on flush(),
// with the summary, and on destruction: one write per batch, not per event.
class JsonRenderer final : public Renderer {
 public:
  static constexpr std::size_t kBatchBytes = 64 * 1024;
  explicit JsonRenderer(std::ostream& os) : os_(os) { buf_.reserve(kBatchBytes + 4096); }
  ~JsonRenderer() override { flush(); }
  JsonRenderer(const JsonRenderer&) = delete;
  JsonRenderer& operator=(const JsonRenderer&) = delete;

  void event(const events::Event& e) override;
  void summary(const Summary& s) override;
  void flush() override;

 private:
  std::ostream& os_;
  std::string buf_;  // reused: no allocation per event once warm
};

}  // namespace sockscope::render
