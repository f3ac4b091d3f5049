// The `explain` JSON Lines output: one object per listener, failed bind,
// connection and end-of-run summary, told apart by "type". Absent facts are
// null rather than missing, so every record of a type has the same keys.
// Every CLOCK_MONOTONIC time, a key ending in "ts_ns", has its wall-clock
// twin right after it, the same key ending in "ts_wall_ns" ("ts_ns",
// "ts_wall_ns"; "first_syn_ts_ns", "first_syn_ts_wall_ns"), null with it.
#pragma once

#include <ostream>
#include <string>

#include "render/clock.hpp"
#include "render/explain_renderer.hpp"

namespace sockscope::render {

class ExplainJsonRenderer final : public ExplainRenderer {
 public:
  // The wall-clock times are the monotonic ones on `clock`.
  ExplainJsonRenderer(std::ostream& os, const WallClock& clock) : os_(os), clock_(clock) {
    line_.reserve(kBatchBytes + 8192);
  }
  void listener(const track::Listener& l) override;
  void bind_conflict(const track::BindConflict& b) override;
  void connection(const track::Connection& c) override;
  void summary(const ExplainSummary& s) override;
  void flush() override;

 private:
  // Records are held and written 64 KiB at a time (one write, not one per
  // story), and whenever the caller flushes (every poll tick) or the
  // summary ends the run.
  static constexpr std::size_t kBatchBytes = 64 * 1024;
  void end_record();

  std::ostream& os_;
  WallClock clock_;
  std::string line_;  // the held records; reused: no allocation once warm
};

}  // namespace sockscope::render
