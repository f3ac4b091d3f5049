#include "render/mermaid_renderer.hpp"

#include <fmt/format.h>

#include <optional>
#include <string>

#include "events/names.hpp"

namespace sockscope::render {

using track::Connection;
using track::Lane;
using track::Step;

namespace {

// Milliseconds since the first step, rounded to the microsecond in integers
// so the same story always prints the same digits.
std::string rel_ms(uint64_t ts, uint64_t t0) {
  const uint64_t us = ts > t0 ? (ts - t0 + 500) / 1000 : 0;
  return fmt::format("+{}.{:03} ms", us / 1000, us % 1000);
}

std::string who(const std::optional<track::Task>& t) {
  return t ? fmt::format(" (pid {} {})", t->pid, t->comm) : std::string();
}

std::string line(const Step& s, uint64_t t0) {
  using A = Step::Arrow;
  if (s.arrow == A::ToServer) return "C->>K: " + MermaidRenderer::sanitize(s.text);
  if (s.arrow == A::ToClient) return "K->>C: " + MermaidRenderer::sanitize(s.text);
  const std::string when = rel_ms(s.ts_ns, t0) + " ";
  switch (s.lane) {
    case Lane::Client: return "Note over C: " + MermaidRenderer::sanitize(when + s.text);
    case Lane::Kernel:
      return "Note over K: " +
             MermaidRenderer::sanitize(fmt::format("{}{} [{} cpu{}]", when, s.text, events::ctx_name(s.ctx), s.cpu));
    case Lane::Server: return "Note over S: " + MermaidRenderer::sanitize(when + s.text);
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

void MermaidRenderer::listener(const track::Listener& l) { os_ << "%% " << sanitize(track::describe(l)) << '\n'; }

void MermaidRenderer::bind_conflict(const track::BindConflict& b) {
  os_ << "%% " << sanitize(track::describe(b)) << '\n';
}

void MermaidRenderer::connection(const Connection& c) {
  const std::optional<track::Task> server = c.listener ? std::optional(c.listener->owner) : std::nullopt;
  std::string out = "sequenceDiagram\n";
  out += "participant C as " + sanitize(fmt::format("client {}{}", c.client.str(), who(c.client_task))) + '\n';
  out += "participant K as kernel (server host)\n";
  out += "participant S as " + sanitize(fmt::format("server {}{}", c.server.str(), who(server))) + '\n';
  const uint64_t t0 = c.steps.empty() ? 0 : c.steps.front().ts_ns;
  for (const Step& s : c.steps) out += line(s, t0) + '\n';
  out += "Note over C,S: " + sanitize(track::verdict(c)) + "\n\n";
  os_ << out;
}

}  // namespace sockscope::render
