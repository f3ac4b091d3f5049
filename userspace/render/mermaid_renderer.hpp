// The `explain --format mermaid` output: one Mermaid sequence diagram per
// connection (client, the server host's kernel, server), ready to paste into
// a Markdown ```mermaid block; listeners and failed binds as %% comments.
// Long notes, message labels and participant names are broken into lines
// with <br/> so that a story fits a page (widths below).
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>

#include "render/explain_renderer.hpp"

namespace sockscope::render {

class MermaidRenderer final : public ExplainRenderer {
 public:
  // Line widths, in characters (code points). Mermaid 11 draws each text on
  // one line however long, and makes room for it only by half: a note over
  // all three participants is as wide as their span whatever its text, so
  // the verdict ran past both edges of the diagram; a lane's note and an
  // arrow's label widen the gaps beside them. Measured in Chromium
  // (tests/mermaid/render.sh) on the recorded experiments in a 1000 px page:
  // with notes of up to 60 characters E3 keeps its least width (941 px: the
  // participants and mermaid's least gaps), from 64 it widens, at 80 it no
  // longer fits; an arrow's label between C and K widens the diagram once
  // past about 30 (E5's dropped SYN label, 52, made it 1095 px). 56 leaves a
  // margin for other fonts; 32 puts a dropped SYN's queue on its own line. A
  // participant is wrapped before its "(pid N comm)" once longer than 48 (an
  // IPv6 address, a long comm): wrapped always, its box would be narrower
  // than the notes over it.
  static constexpr std::size_t kNoteWidth = 56;
  static constexpr std::size_t kLabelWidth = 32;
  static constexpr std::size_t kParticipantWidth = 48;

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

  // `text` (already sanitized) with the spaces where its lines break replaced
  // by "<br/>": greedy, each line as many words as fit in `width` code points.
  // Only a space is ever a break, so a word, an address or an entity code is
  // never cut; a word longer than `width` is a line of its own.
  static std::string wrap(std::string_view text, std::size_t width);

 private:
  std::ostream& os_;
};

}  // namespace sockscope::render
