#include "render/mermaid_renderer.hpp"

#include <fmt/format.h>

#include <optional>
#include <string>

#include "events/names.hpp"
#include "render/duration.hpp"
#include "render/story_words.hpp"

namespace sockscope::render {

using track::Connection;
using track::Lane;
using track::Step;

namespace {

std::string who(const std::optional<track::Task>& t) {
  return t ? fmt::format(" (pid {} {})", t->pid, t->comm) : std::string();
}

std::string line(const Step& s, uint64_t t0) {
  using A = Step::Arrow;
  const std::string text = step_text(s);
  if (s.arrow == A::ToServer) return "C->>K: " + MermaidRenderer::sanitize(text);
  if (s.arrow == A::ToClient) return "K->>C: " + MermaidRenderer::sanitize(text);
  const std::string when = offset(s.ts_ns, t0, DurationStyle::MillisSpaced) + " ";
  switch (s.lane) {
    case Lane::Client: return "Note over C: " + MermaidRenderer::sanitize(when + text);
    case Lane::Kernel:
      return "Note over K: " +
             MermaidRenderer::sanitize(fmt::format("{}{} [{} cpu{}]", when, text, events::ctx_name(s.ctx), s.cpu));
    case Lane::Server: return "Note over S: " + MermaidRenderer::sanitize(when + text);
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

void MermaidRenderer::listener(const track::Listener& l) { os_ << "%% " << sanitize(describe(l)) << '\n'; }

void MermaidRenderer::bind_conflict(const track::BindConflict& b) { os_ << "%% " << sanitize(describe(b)) << '\n'; }

void MermaidRenderer::connection(const Connection& c) {
  // The accepting process, else the one that called listen().
  const std::optional<track::Task> server = c.accepted && c.acceptor.pid ? std::optional(c.acceptor)
                                            : c.listener                 ? std::optional(c.listener->owner)
                                                                         : std::nullopt;
  std::string out = "sequenceDiagram\n";
  out += "participant C as " + sanitize(fmt::format("client {}{}", c.client.str(), who(c.client_task))) + '\n';
  if (c.client_only) {  // the client host's story: its kernel, and a server this trace did not see
    out += "participant K as kernel (client host)\n";
    out += "participant S as " + sanitize(fmt::format("server {} (not seen here)", c.server.str())) + '\n';
  } else {
    out += "participant K as kernel (server host)\n";
    out += "participant S as " + sanitize(fmt::format("server {}{}", c.server.str(), who(server))) + '\n';
  }
  const uint64_t t0 = c.steps.empty() ? 0 : c.steps.front().ts_ns;
  for (const Step& s : c.steps) out += line(s, t0) + '\n';
  out += "Note over C,S: " + sanitize(verdict(c)) + "\n";
  if (c.records_lost) out += "%% records were lost while this connection was traced: this story may lack steps\n";
  out += "\n";
  os_ << out;
}

}  // namespace sockscope::render
