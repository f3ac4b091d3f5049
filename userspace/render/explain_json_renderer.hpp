// The `explain` JSON Lines output: one object per listener, failed bind,
// connection and end-of-run summary, told apart by "type". Absent facts are
// null rather than missing, so every record of a type has the same keys.
#pragma once

#include <ostream>
#include <string>

#include "render/explain_renderer.hpp"

namespace sockscope::render {

class ExplainJsonRenderer final : public ExplainRenderer {
 public:
  explicit ExplainJsonRenderer(std::ostream& os) : os_(os) { line_.reserve(4096); }
  void listener(const track::Listener& l) override;
  void bind_conflict(const track::BindConflict& b) override;
  void connection(const track::Connection& c) override;
  void summary(const ExplainSummary& s) override;

 private:
  void flush();

  std::ostream& os_;
  std::string line_;  // reused: no allocation per record once warm
};

}  // namespace sockscope::render
