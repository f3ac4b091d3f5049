#include "render/text_renderer.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "events/names.hpp"
#include "render/duration.hpp"

namespace sockscope::render {

using events::Event;
using events::Kind;
using events::Layer;
using events::Phase;

namespace {

constexpr const char* kReset = "\033[0m";
constexpr const char* kDim = "\033[2m";
constexpr const char* kRed = "\033[31m";

const char* layer_colour(Layer l) {
  switch (l) {
    case Layer::Syscall: return "\033[36m";  // cyan
    case Layer::Kernel: return "\033[33m";   // yellow
    case Layer::Packet: return "\033[35m";   // magenta
  }
  return "";
}

std::string local(const Event& e) { return events::format_endpoint(e.family, e.saddr, e.sport); }
std::string remote(const Event& e) { return events::format_endpoint(e.family, e.daddr, e.dport); }

std::string result(const Event& e) {
  std::string s = fmt::format(" = {}", e.ret);
  // fmt rather than " " + string: GCC 12 at -O3 warns (-Wrestrict) about the latter, wrongly.
  if (e.ret < 0) s += fmt::format(" {}", events::errno_name(events::errno_of(e.ret)));
  if (e.dur_ns) s += fmt::format(" ({})", format_duration(e.dur_ns, DurationStyle::Terse));
  return s;
}

std::string queue(const Event& e) { return fmt::format("queue {}/{}", e.queue_len, e.queue_max); }

std::string owner(const Event& e) {
  if (!e.owner_known()) return "";
  std::string s = fmt::format("; listener pid {} {}", e.owner_pid, events::task_state_name(e.owner_state));
  if (e.owner_flags & events::kOwnerInAccept) s += " in accept()";
  return s;
}

// "; waiting: nginx/123 epoll_wait, nginx/124 epoll_wait", "; waiting:
// nobody"; nothing when the wait queue was not read.
std::string waiting(const Event& e) {
  if (!e.waiters.read) return "";
  std::string s = "; waiting:";
  if (e.waiters.count == 0) s += " nobody";
  for (uint8_t i = 0; i < e.waiters.count; ++i) {
    const events::Waiter& w = e.waiters.list[i];
    s += fmt::format("{} {}/{} {}", i ? "," : "", w.comm_view(), w.pid, events::wait_how_name(w));
  }
  if (e.waiters.truncated() || e.waiters.unknown_entries()) s += " (incomplete)";
  if (e.waiters.idle_epoll()) s += "; an idle epoll watches it";
  return s;
}

}  // namespace

std::string TextRenderer::details(const Event& e) {
  switch (e.kind) {
    case Kind::SysSocket: return fmt::format("{}{}", events::family_name(e.family), result(e));
    case Kind::SysBind: return fmt::format("fd={} {}{}", e.fd, local(e), result(e));
    case Kind::SysListen: return fmt::format("fd={} {} backlog={}{}", e.fd, local(e), e.backlog, result(e));
    case Kind::SysConnect:
      if (e.phase == Phase::Enter) return fmt::format("fd={} to {} ...", e.fd, remote(e));
      return fmt::format("fd={} {} -> {}{}", e.fd, local(e), remote(e), result(e));
    case Kind::SysAccept:
      // A nonblocking accept returns at once, with a connection or EAGAIN.
      if (e.phase == Phase::Enter && e.nonblocking()) return fmt::format("fd={} on {} nonblocking", e.fd, local(e));
      if (e.phase == Phase::Enter) return fmt::format("fd={} on {} waiting ...", e.fd, local(e));
      if (e.ret < 0 && e.nonblocking()) return fmt::format("fd={} on {} nonblocking{}", e.fd, local(e), result(e));
      if (e.fd < 0 && e.ret >= 0)
        return fmt::format("{} <- {}{} (began before tracing)", local(e), remote(e), result(e));
      return fmt::format("fd={} {} <- {}{}", e.fd, local(e), remote(e), result(e));
    case Kind::SysClose: return fmt::format("fd={} {} {}{}", e.fd, local(e), remote(e), result(e));
    case Kind::SysGetsockopt:
      return fmt::format("fd={} {} -> {} SO_ERROR={}{}", e.fd, local(e), remote(e),
                         e.value ? events::errno_name(e.value) : std::string("0"), result(e));
    case Kind::Bind: return fmt::format("{} bound", local(e));
    case Kind::Listen: return fmt::format("{} LISTEN backlog={}", local(e), e.backlog);
    case Kind::SynRecv:
      return fmt::format("{} <- {} SYN in: request socket, SYN-ACK follows; {}{}", local(e), remote(e), queue(e),
                         owner(e));
    case Kind::Established:
      return fmt::format("{} <- {} final ACK in: child ESTABLISHED and queued, {}{}{}", local(e), remote(e), queue(e),
                         owner(e), waiting(e));
    case Kind::Accept:
      return fmt::format("{} <- {} child taken off the accept queue, {}, {} bytes already received", local(e),
                         remote(e), queue(e), e.rx_queued);
    case Kind::SynackRetransmit:
      return fmt::format("{} -> {} SYN-ACK retransmitted (final ACK late or dropped); {}{}", local(e), remote(e),
                         queue(e), owner(e));
    case Kind::State:
      return fmt::format("{} -> {}  local {} remote {}", events::tcp_state_name(e.old_state),
                         events::tcp_state_name(e.new_state), local(e), remote(e));
    case Kind::Tcp:
      return fmt::format("{} {} {} > {} [{}] seq {} ack {} win {} len {}", events::dir_name(e.dir), e.ifname_view(),
                         local(e), remote(e), events::tcp_flags_string(e.tcp_flags), e.seq, e.ack_seq, e.window,
                         e.payload_len);
  }
  return "";
}

void TextRenderer::event(const Event& e) {
  if (!t0_) t0_ = e.ts_ns;
  std::string time;
  if (time_.style() == TimeStyle::Rel) {
    const double rel =
        e.ts_ns >= *t0_ ? static_cast<double>(e.ts_ns - *t0_) / 1e9 : -static_cast<double>(*t0_ - e.ts_ns) / 1e9;
    time = fmt::format("{:.6f}", rel);
  } else {
    time = time_.absolute(e.ts_ns);
  }
  if (!header_done_) {
    header_done_ = true;
    // Seconds where the column's numbers have no unit; a time of day is one.
    const char* label = time_.style() == TimeStyle::Wall ? "TIME" : "TIME(s)";
    time_width_ = std::max<std::size_t>(10, time.size());
    std::string h = fmt::format("{:>{}} {:>3} {:<7} {:>7} {:>7} {:<15} {:<7} {:<11} {}\n", label, time_width_, "CPU",
                                "CTX", "PID", "TID", "COMM", "LAYER", "EVENT", "DETAILS");
    if (colour_) h = kDim + h.substr(0, h.size() - 1) + kReset + "\n";
    os_ << h;
  }
  std::string comm(e.comm_view());
  std::string name(events::event_name(e.kind));
  if (e.layer() == Layer::Syscall && e.phase == Phase::Enter) name += ">";
  std::string line = fmt::format("{:>{}} {:>3} {:<7} {:>7} {:>7} {:<15} ", time, time_width_, e.cpu,
                                 events::ctx_name(e.ctx), e.pid, e.tid, comm);
  std::string layer = fmt::format("{:<7} {:<11}", events::layer_name(e.layer()), name);
  std::string det = details(e);
  if (colour_) {
    bool failed = e.layer() == Layer::Syscall && e.phase == Phase::Exit && e.ret < 0;
    layer = std::string(layer_colour(e.layer())) + layer + kReset;
    if (failed) det = std::string(kRed) + det + kReset;
  }
  os_ << line << layer << ' ' << det << '\n';
}

void TextRenderer::summary(const Summary& s) { os_ << "-- " << describe(s) << '\n'; }

}  // namespace sockscope::render
