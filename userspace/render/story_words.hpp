// The words of explain's stories: each step's text, the verdict paragraph,
// the one-sentence listener and failed-bind stories. track/ hands over facts
// (track/story.hpp); every sentence about them is written here, once, for
// the ladder, Mermaid and explain's JSON alike.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "track/story.hpp"

namespace sockscope::render {

// A step as the ladder shows it: "SYN", "connect() = 0",
// "ESTABLISHED: child queued (1 of 128)", ...
std::string step_text(const track::Step& s);

// The one-paragraph explanation of a connection (the verdict): a
// client-only story's is client_only_verdict's (client_words.hpp); a story
// with its server side is server_verdict's, with client_side_sentence's.
std::string verdict(const track::Connection& c);
std::string server_verdict(const track::Connection& c);

// One sentence for a listener and for a failed bind.
std::string describe(const track::Listener& l);
std::string describe(const track::BindConflict& b);

// "1 SYN", "2 SYNs": a count and its noun.
std::string plural(uint64_t n, std::string_view one, std::string_view many);

// An accept queue's length and maximum: "1 of 128"; "2 queued, backlog 1"
// when over the backlog, which the kernel allows by one (full is len > max).
std::string queue_words(uint32_t len, uint32_t max);

}  // namespace sockscope::render
