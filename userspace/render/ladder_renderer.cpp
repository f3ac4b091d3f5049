#include "render/ladder_renderer.hpp"

#include <fmt/format.h>

#include <string>
#include <string_view>

#include "events/names.hpp"

namespace sockscope::render {

using track::Connection;
using track::Lane;
using track::Step;

namespace {

// Fixed widths keep every ladder aligned the same way whatever its texts; a
// text wider than its column pushes the rest of its row right rather than
// being cut, since a truncated errno or address would mislead.
constexpr std::size_t kTimeWidth = 11;  // "+5210.123ms"
constexpr std::size_t kClientWidth = 30;
constexpr std::size_t kKernelWidth = 56;
// Packets are arrows across the client and kernel columns, two spaces short
// so that an arrowhead never touches the server column.
constexpr std::size_t kArrowWidth = kClientWidth + kKernelWidth - 2;

// `text` padded to `width`, always followed by at least two spaces.
std::string cell(std::string_view text, std::size_t width) {
  std::string s(text);
  s.append(text.size() + 2 > width ? 2 : width - text.size(), ' ');
  return s;
}

// Milliseconds since the first step, rounded to the microsecond in integers
// so the same story always prints the same digits. Steps come sorted; a step
// before the first would be a tracker bug, shown as +0.000 rather than wrapped.
std::string rel_ms(uint64_t ts, uint64_t t0) {
  const uint64_t us = ts > t0 ? (ts - t0 + 500) / 1000 : 0;
  return fmt::format("+{}.{:03}ms", us / 1000, us % 1000);
}

std::string task_title(std::string_view who, const track::Task& t) {
  return fmt::format("{} pid {} {}", who, t.pid, t.comm);
}

// Whose context a kernel step borrowed; pid 0 is the CPU's idle task.
std::string borrowed(const track::Task& t) {
  if (t.pid == 0) return "idle";
  if (t.comm.empty()) return fmt::format("pid {}", t.pid);
  return t.comm;
}

std::string arrow(const Step& s) {
  std::string a = s.arrow == Step::Arrow::ToServer ? "--- " : "<-- ";
  a += s.text;
  a += ' ';
  const std::size_t head = s.arrow == Step::Arrow::ToServer ? 1 : 0;
  if (a.size() + head < kArrowWidth) a.append(kArrowWidth - a.size() - head, '-');
  if (head) a += '>';
  return a;
}

// The columns after the time for one step.
std::string columns(const Step& s) {
  if (s.arrow != Step::Arrow::None) return arrow(s);
  switch (s.lane) {
    case Lane::Client: return s.text;
    case Lane::Kernel:
      return cell("", kClientWidth) +
             fmt::format("{} [{} cpu{} {}]", s.text, events::ctx_name(s.ctx), s.cpu, borrowed(s.task));
    case Lane::Server: return cell("", kClientWidth) + cell("", kKernelWidth) + s.text;
  }
  return s.text;
}

// Padding is only there to align what follows; nothing follows at the end.
void put_line(std::ostream& os, std::string line) {
  line.erase(line.find_last_not_of(' ') + 1);
  line += '\n';
  os << line;
}

}  // namespace

void LadderRenderer::listener(const track::Listener& l) { os_ << "listen  " << track::describe(l) << '\n'; }

void LadderRenderer::bind_conflict(const track::BindConflict& b) { os_ << "bind    " << track::describe(b) << '\n'; }

void LadderRenderer::connection(const Connection& c) {
  os_ << "connection " << c.client.str() << " -> " << c.server.str() << " (" << track::outcome_name(c.outcome) << ")\n";
  const std::string client = c.client_task ? task_title("client", *c.client_task) : "client";
  const std::string server = c.listener ? task_title("server", c.listener->owner) : "server";
  put_line(os_, cell(fmt::format("{:>{}}", "time", kTimeWidth), kTimeWidth + 2) + cell(client, kClientWidth) +
                    cell("kernel (server host)", kKernelWidth) + server);
  const uint64_t t0 = c.steps.empty() ? 0 : c.steps.front().ts_ns;
  for (const Step& s : c.steps) {
    put_line(os_, cell(fmt::format("{:>{}}", rel_ms(s.ts_ns, t0), kTimeWidth), kTimeWidth + 2) + columns(s));
  }
  os_ << "verdict: " << track::verdict(c) << "\n\n";
}

}  // namespace sockscope::render
