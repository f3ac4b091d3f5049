// The `explain` text output: per connection, a ladder diagram of its steps in
// three columns (client, the server host's kernel, server) and the verdict;
// listeners and failed binds as one sentence each. The time column is the
// offset from the story's first step, or --time's monotonic or wall-clock
// time.
#pragma once

#include <ostream>

#include "render/clock.hpp"
#include "render/explain_renderer.hpp"

namespace sockscope::render {

class LadderRenderer final : public ExplainRenderer {
 public:
  explicit LadderRenderer(std::ostream& os, TimeColumn time = {}) : os_(os), time_(time) {}
  void listener(const track::Listener& l) override;
  void bind_conflict(const track::BindConflict& b) override;
  void connection(const track::Connection& c) override;
  // Nothing: the CLI prints the count on stderr, so stdout stays the stories.
  void summary(const ExplainSummary&) override {}

 private:
  std::ostream& os_;
  TimeColumn time_;
};

}  // namespace sockscope::render
