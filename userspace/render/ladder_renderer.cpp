#include "render/ladder_renderer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "events/names.hpp"
#include "render/duration.hpp"
#include "render/story_words.hpp"

namespace sockscope::render {

using track::Connection;
using track::Lane;
using track::Step;

namespace {

// Fixed widths keep every ladder aligned the same way whatever its texts; a
// text wider than its column pushes the rest of its row right rather than
// being cut, since a truncated errno or address would mislead.
constexpr std::size_t kTimeWidth = 11;  // "+5210.123ms"; at least this with --time mono or wall
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
  a += step_text(s);
  a += ' ';
  const std::size_t head = s.arrow == Step::Arrow::ToServer ? 1 : 0;
  if (a.size() + head < kArrowWidth) a.append(kArrowWidth - a.size() - head, '-');
  if (head) a += '>';
  return a;
}

// The columns after the time for one step.
std::string columns(const Step& s) {
  if (s.arrow != Step::Arrow::None) return arrow(s);
  const std::string text = step_text(s);
  switch (s.lane) {
    case Lane::Client: return text;
    case Lane::Kernel:
      return cell("", kClientWidth) +
             fmt::format("{} [{} cpu{} {}]", text, events::ctx_name(s.ctx), s.cpu, borrowed(s.task));
    case Lane::Server: return cell("", kClientWidth) + cell("", kKernelWidth) + text;
  }
  return text;
}

// Padding is only there to align what follows; nothing follows at the end.
void put_line(std::ostream& os, std::string line) {
  line.erase(line.find_last_not_of(' ') + 1);
  line += '\n';
  os << line;
}

}  // namespace

void LadderRenderer::listener(const track::Listener& l) { os_ << "listen  " << describe(l) << '\n'; }

void LadderRenderer::bind_conflict(const track::BindConflict& b) { os_ << "bind    " << describe(b) << '\n'; }

void LadderRenderer::connection(const Connection& c) {
  os_ << "connection " << c.client.str() << " -> " << c.server.str() << " (" << track::outcome_name(c.outcome) << ")\n";
  const std::string client = c.client_task ? task_title("client", *c.client_task) : "client";
  // A client-only story is the client host's: its kernel's column, and a
  // server this trace did not see. Otherwise the server is the process that
  // accepted the connection, which may not be the one that called listen()
  // (nginx's workers, a forked pool).
  const std::string server = c.client_only                  ? "server (not seen here)"
                             : c.accepted && c.acceptor.pid ? task_title("server", c.acceptor)
                             : c.listener                   ? task_title("server", c.listener->owner)
                                                            : "server";
  const char* kernel = c.client_only ? "kernel (client host)" : "kernel (server host)";
  const uint64_t t0 = c.steps.empty() ? 0 : c.steps.front().ts_ns;
  std::vector<std::string> times;
  times.reserve(c.steps.size());
  // An offset wider than the column pushes its row, as any text does; a
  // monotonic time (as many digits as the uptime's seconds) or a time of day
  // widens the column for the whole story instead.
  std::size_t width = kTimeWidth;
  for (const Step& s : c.steps) {
    if (time_.style() == TimeStyle::Rel) {
      times.push_back(offset(s.ts_ns, t0, DurationStyle::Millis));
    } else {
      times.push_back(time_.absolute(s.ts_ns));
      width = std::max(width, times.back().size());
    }
  }
  put_line(os_, cell(fmt::format("{:>{}}", "time", width), width + 2) + cell(client, kClientWidth) +
                    cell(kernel, kKernelWidth) + server);
  for (std::size_t i = 0; i < c.steps.size(); ++i)
    put_line(os_, cell(fmt::format("{:>{}}", times[i], width), width + 2) + columns(c.steps[i]));
  os_ << "verdict: " << verdict(c) << "\n";
  if (c.records_lost)
    os_ << "note: records were lost while this connection was traced (the ring buffer was full): this story may "
           "lack steps; see the summary's count\n";
  os_ << "\n";
}

}  // namespace sockscope::render
