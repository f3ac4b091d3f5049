#include "render/client_words.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "events/names.hpp"
#include "render/duration.hpp"
#include "render/story_words.hpp"

namespace sockscope::render {

using track::ClientSide;
using track::Connection;
using track::Outcome;
using track::Step;
using track::StepKind;
using track::Task;

namespace {

std::string duration(uint64_t ns) { return format_duration(ns, DurationStyle::Prose); }

std::string named(const Task& t) {
  if (t.comm.empty()) return fmt::format("pid {}", t.pid);
  return fmt::format("{} (pid {})", t.comm, t.pid);
}

// "curl's", or "the client's" when connect()'s task is unknown.
std::string program_s(const Connection& c) {
  if (!c.client_task) return "the client's";
  if (c.client_task->comm.empty()) return fmt::format("pid {}'s", c.client_task->pid);
  return c.client_task->comm + "'s";
}

// "in softirq on CPU 1 (borrowing swapper/1)": where the client's socket
// went ESTABLISHED.
std::string where_established(const ClientSide& cs) {
  if (cs.ctx == events::ExecCtx::Process)
    return fmt::format("in process context on CPU {}, in {}, which held the socket's lock", cs.cpu, named(cs.borrowed));
  std::string who;
  if (cs.borrowed.pid == 0)
    who = cs.borrowed.comm.empty() ? std::string("the idle task") : cs.borrowed.comm;
  else
    who = named(cs.borrowed);
  return fmt::format("in {} on CPU {} (borrowing {})", events::ctx_name(cs.ctx), cs.cpu, who);
}

std::string connect_clause(const Connection& c) {
  if (!c.connect_ret) return "";
  const ClientSide& cs = c.client_side;
  const std::string mode = cs.nonblocking ? "non-blocking " : "";
  if (*c.connect_ret == 0) return fmt::format("{} {}connect() returned 0", program_s(c), mode);
  return fmt::format("{} {}connect() returned {}", program_s(c), mode,
                     events::errno_name(events::errno_of(*c.connect_ret)));
}

std::string waiter_phrase(const events::Waiter& w) {
  const std::string who =
      w.comm_view().empty() ? fmt::format("pid {}", w.pid) : fmt::format("{} (pid {})", w.comm_view(), w.pid);
  const std::string_view how = events::wait_how_name(w);
  if (how == "io_uring") return who + " waiting through io_uring";
  if (how == "unknown") return who + " waiting (how, unknown)";
  return fmt::format("{} waiting in {}()", who, how);
}

std::string wakeup_clause(const ClientSide& cs) {
  if (!cs.waiters || cs.established_ns == 0) return "";
  if (cs.waiters->empty()) {
    if (cs.waiter_flags & SK_WAITERS_IDLE_EPOLL)
      return "the kernel's wakeup found an epoll instance watching the socket with nobody in epoll_wait()";
    return "the kernel's wakeup found nobody waiting on the socket";
  }
  std::string s = "the kernel's wakeup found ";
  for (std::size_t i = 0; i < cs.waiters->size(); ++i) {
    if (i > 0) s += i + 1 == cs.waiters->size() ? " and " : ", ";
    s += waiter_phrase((*cs.waiters)[i]);
  }
  if (cs.waiter_flags & SK_WAITERS_TRUNCATED) s += ", and more";
  return s;
}

std::string so_error_clause(const ClientSide& cs) {
  if (!cs.so_error) return "";
  const std::string value = *cs.so_error == 0 ? std::string("0") : events::errno_name(*cs.so_error);
  std::string s = fmt::format("getsockopt(SO_ERROR) = {}", value);
  if (cs.established_ns != 0 && cs.so_error_ns >= cs.established_ns)
    s += fmt::format(" {} later", duration(cs.so_error_ns - cs.established_ns));
  return s;
}

// The clauses that are there, joined with "; ".
std::string clauses(const std::vector<std::string>& parts) {
  std::string s;
  for (const std::string& p : parts) {
    if (p.empty()) continue;
    if (!s.empty()) s += "; ";
    s += p;
  }
  return s;
}

// Where the server's half happened, as far as this host can tell: a
// loopback server is on this host, just not traced (explain -- curl follows
// curl's sockets only); any other address may be another host's.
std::string server_half(const Connection& c) {
  const auto& a = c.server.addr;
  const bool v6_loopback = c.server.family == AF_INET6 &&
                           std::all_of(a.begin(), a.end() - 1, [](uint8_t b) { return b == 0; }) && a[15] == 1;
  if ((c.server.family == AF_INET && a[0] == 127) || v6_loopback)
    return "the server's half, on this host, was not traced";
  return "the server's half was the server host's work, not seen in this trace";
}

std::string client_clauses(const Connection& c) {
  return clauses({connect_clause(c), wakeup_clause(c.client_side), so_error_clause(c.client_side)});
}

}  // namespace

std::string client_only_verdict(const Connection& c) {
  const ClientSide& cs = c.client_side;
  const std::string flow = fmt::format("{} → {}", c.client.str(), c.server.str());
  const std::string rest = client_clauses(c);
  const std::string tail = rest.empty() ? "" : " " + rest + ".";
  if (cs.established_ns != 0) {
    std::string s = fmt::format("This host's kernel completed the client side of the handshake for {} {}", flow,
                                where_established(cs));
    if (cs.syn_tx_ns != 0 && cs.established_ns > cs.syn_tx_ns)
      s += fmt::format(", {} after its first SYN", duration(cs.established_ns - cs.syn_tx_ns));
    return s + "; " + server_half(c) + "." + tail;
  }
  if (c.outcome == Outcome::Refused)
    return fmt::format(
               "The server's host answered this host's SYN for {} with a RST: nothing listened on {}, so the "
               "handshake was never completed.",
               flow, c.server.str()) +
           tail;
  if (c.client_completed_by() == track::CompletedBy::Unknown)
    return fmt::format(
               "The client side of {} connected, but its socket's ESTABLISHED was not seen, so where this host's "
               "kernel completed it is unknown; {}.",
               flow, server_half(c)) +
           tail;
  std::string s = fmt::format("The client side of the handshake for {} was not completed", flow);
  switch (c.outcome) {
    case Outcome::TimedOut: s += ": no answer came, and the kernel gave up"; break;
    case Outcome::Closed: s += ": the client gave up"; break;
    default: s += " by the time this story was told"; break;
  }
  if (cs.syns_sent > 0)
    s += fmt::format(" (this host's kernel sent {}{})", plural(cs.syns_sent, "SYN", "SYNs"),
                     cs.synack_rx_ns == 0 ? ", and no SYN-ACK came back" : "");
  return s + "." + tail;
}

std::string client_side_sentence(const Connection& c) {
  const ClientSide& cs = c.client_side;
  if (!cs.seen || !(cs.nonblocking || cs.waiters || cs.so_error)) return "";
  const std::string rest = client_clauses(c);
  return rest.empty() ? "" : " On the client side, " + rest + ".";
}

std::string client_step_text(const Step& s) {
  switch (s.kind) {
    case StepKind::ClientEstablished: {
      std::string text = "client ESTABLISHED";
      if (s.waiters)
        text +=
            *s.waiters == 0 ? ", nobody waiting" : fmt::format(", woke {}", plural(*s.waiters, "waiter", "waiters"));
      return text;
    }
    case StepKind::Getsockopt:
      if (s.ret < 0) return fmt::format("getsockopt() = -1 {}", events::errno_name(events::errno_of(s.ret)));
      return fmt::format("getsockopt(SO_ERROR) = {}",
                         s.so_error == 0 ? std::string("0") : events::errno_name(s.so_error));
    default: break;
  }
  return "?";
}

}  // namespace sockscope::render
