#include "render/mermaid_renderer.hpp"

#include <fmt/format.h>

#include <optional>
#include <string>
#include <vector>

#include "events/names.hpp"
#include "render/duration.hpp"
#include "render/story_words.hpp"

namespace sockscope::render {

using track::Connection;
using track::Lane;
using track::Step;

namespace {

// Code points, not bytes: "→" is one character wide on the page.
std::size_t width_of(std::string_view s) {
  std::size_t n = 0;
  for (const char ch : s) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  return n;
}

// The words of `text`, split at each space (two spaces make an empty word,
// so that joining them back with spaces gives `text`).
std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> words;
  for (std::size_t at = 0;;) {
    const std::size_t space = text.find(' ', at);
    words.emplace_back(text.substr(at, space - at));
    if (space == std::string_view::npos) return words;
    at = space + 1;
  }
}

// `words` joined by spaces, a "<br/>" instead of the space before each word
// that would take its line past `width`.
std::string wrap_words(const std::vector<std::string>& words, std::size_t width) {
  std::string out;
  std::size_t line = 0;  // the current line's width
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::size_t w = width_of(words[i]);
    if (i > 0) {
      const bool fits = line + 1 + w <= width;
      out += fits ? " " : "<br/>";
      line = fits ? line + 1 : 0;
    }
    out += words[i];
    line += w;
  }
  return out;
}

std::string who(const std::optional<track::Task>& t) {
  return t ? fmt::format("(pid {} {})", t->pid, t->comm) : std::string();
}

// "client 127.0.0.1:51946 (pid 5151 sender)": "(pid N comm)" is kept whole,
// on a line of its own when the whole is too long.
std::string participant(std::string_view role, const track::Endpoint& e, const std::string& tail) {
  std::vector<std::string> words = words_of(MermaidRenderer::sanitize(fmt::format("{} {}", role, e.str())));
  if (!tail.empty()) words.push_back(MermaidRenderer::sanitize(tail));
  return wrap_words(words, MermaidRenderer::kParticipantWidth);
}

std::string note(std::string_view text) {
  return MermaidRenderer::wrap(MermaidRenderer::sanitize(text), MermaidRenderer::kNoteWidth);
}

std::string line(const Step& s, uint64_t t0) {
  using A = Step::Arrow;
  const std::string text = step_text(s);
  const auto label = [&] {
    return MermaidRenderer::wrap(MermaidRenderer::sanitize(text), MermaidRenderer::kLabelWidth);
  };
  if (s.arrow == A::ToServer) return "C->>K: " + label();
  if (s.arrow == A::ToClient) return "K->>C: " + label();
  const std::string when = offset(s.ts_ns, t0, DurationStyle::MillisSpaced) + " ";
  switch (s.lane) {
    case Lane::Client: return "Note over C: " + note(when + text);
    case Lane::Kernel: {
      // "[softirq cpu1]" is kept whole.
      std::vector<std::string> words = words_of(MermaidRenderer::sanitize(when + text));
      words.push_back(MermaidRenderer::sanitize(fmt::format("[{} cpu{}]", events::ctx_name(s.ctx), s.cpu)));
      return "Note over K: " + wrap_words(words, MermaidRenderer::kNoteWidth);
    }
    case Lane::Server: return "Note over S: " + note(when + text);
  }
  return "";
}

}  // namespace

std::string MermaidRenderer::sanitize(std::string_view text) {
  std::string s(text);
  for (char& ch : s) {
    if (ch == ';') ch = ',';
    if (ch == '#' || ch == '\n' || ch == '\r') ch = ' ';
  }
  return s;
}

std::string MermaidRenderer::wrap(std::string_view text, std::size_t width) {
  return wrap_words(words_of(text), width);
}

void MermaidRenderer::listener(const track::Listener& l) { os_ << "%% " << sanitize(describe(l)) << '\n'; }

void MermaidRenderer::bind_conflict(const track::BindConflict& b) { os_ << "%% " << sanitize(describe(b)) << '\n'; }

void MermaidRenderer::connection(const Connection& c) {
  // The accepting process, else the one that called listen().
  const std::optional<track::Task> server = c.accepted && c.acceptor.pid ? std::optional(c.acceptor)
                                            : c.listener                 ? std::optional(c.listener->owner)
                                                                         : std::nullopt;
  std::string out = "sequenceDiagram\n";
  out += "participant C as " + participant("client", c.client, who(c.client_task)) + '\n';
  if (c.client_only) {  // the client host's story: its kernel, and a server this trace did not see
    out += "participant K as kernel (client host)\n";
    out += "participant S as " + participant("server", c.server, "(not seen here)") + '\n';
  } else {
    out += "participant K as kernel (server host)\n";
    out += "participant S as " + participant("server", c.server, who(server)) + '\n';
  }
  const uint64_t t0 = c.steps.empty() ? 0 : c.steps.front().ts_ns;
  for (const Step& s : c.steps) out += line(s, t0) + '\n';
  out += "Note over C,S: " + note(verdict(c)) + "\n";
  if (c.records_lost) out += "%% records were lost while this connection was traced: this story may lack steps\n";
  out += "\n";
  os_ << out;
}

}  // namespace sockscope::render
