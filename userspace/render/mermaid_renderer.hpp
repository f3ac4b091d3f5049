// The `explain --format mermaid` output: one Mermaid sequence diagram per
// connection (client, the server host's kernel, server), ready to paste into
// a Markdown ```mermaid block; listeners and failed binds as %% comments.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "render/explain_renderer.hpp"

namespace sockscope::render {

class MermaidRenderer final : public ExplainRenderer {
 public:
  explicit MermaidRenderer(std::ostream& os) : os_(os) {}
  void listener(const track::Listener& l) override;
  void bind_conflict(const track::BindConflict& b) override;
  void connection(const track::Connection& c) override;
  // Nothing: a summary is not part of any diagram; the CLI prints it on stderr.
  void summary(const ExplainSummary&) override {}

  // `text` made safe inside a Mermaid statement: ';' ends a statement and '#'
  // starts an entity code, so they become ',' and ' '; a newline would end
  // the statement too, so it becomes a space.
  static std::string sanitize(std::string_view text);

 private:
  std::ostream& os_;
};

}  // namespace sockscope::render
