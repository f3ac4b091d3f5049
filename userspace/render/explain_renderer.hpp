// An explain renderer writes the tracker's stories in one format: the text
// ladder with its verdict, JSON Lines, or Mermaid sequence diagrams.
#pragma once

#include <cstdint>

#include "render/renderer.hpp"
#include "track/story.hpp"

namespace sockscope::render {

struct ExplainSummary {
  Summary trace;             // records delivered and lost on the way from the kernel
  uint64_t connections = 0;  // connection stories told
  uint64_t evicted = 0;      // connections dropped to keep the tracker bounded (also told, as "evicted")
  uint64_t open_peak = 0;    // the most stories open at once
};

class ExplainRenderer {
 public:
  virtual ~ExplainRenderer() = default;
  virtual void listener(const track::Listener& l) = 0;
  virtual void bind_conflict(const track::BindConflict& b) = 0;
  virtual void connection(const track::Connection& c) = 0;
  virtual void summary(const ExplainSummary& s) = 0;
  // Write out whatever the renderer holds (called every poll tick).
  virtual void flush() {}
};

}  // namespace sockscope::render
