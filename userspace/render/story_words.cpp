#include "render/story_words.hpp"

#include <cerrno>

#include <fmt/format.h>

#include "events/names.hpp"
#include "render/client_words.hpp"
#include "render/duration.hpp"

namespace sockscope::render {

using track::BorrowedRole;
using track::Connection;
using track::Outcome;
using track::OwnerState;
using track::Step;
using track::StepKind;
using track::Task;

namespace {

std::string duration(uint64_t ns) { return format_duration(ns, DurationStyle::Prose); }

std::string call_result(std::string_view call, int64_t ret) {
  if (ret >= 0) return fmt::format("{}() = {}", call, ret);
  return fmt::format("{}() = -1 {}", call, events::errno_name(static_cast<int>(-ret)));
}

// The flag bits are the record's tcp_flags (SK_TCP_*, bpf/sockscope.h).
std::string packet_name(uint8_t flags, uint16_t payload) {
  if (flags & SK_TCP_RST) return "RST";
  if ((flags & (SK_TCP_SYN | SK_TCP_ACK)) == (SK_TCP_SYN | SK_TCP_ACK)) return "SYN-ACK";
  if (flags & SK_TCP_SYN) return "SYN";
  if (flags & SK_TCP_FIN) return "FIN";
  if (payload > 0) return fmt::format("ACK + {} bytes", payload);
  return "ACK";
}

// "receiver (pid 4242)"; the idle task has no process: "the idle task (CPU 1)".
std::string task_phrase(const Task& t, uint32_t cpu) {
  if (t.pid == 0) return fmt::format("the idle task (CPU {})", cpu);
  if (t.comm.empty()) return fmt::format("pid {}", t.pid);
  return fmt::format("{} (pid {})", t.comm, t.pid);
}

// Whose context the kernel borrowed, and what that task was to this connection.
std::string borrowed_phrase(const Connection& c) {
  const std::string ctx(events::ctx_name(c.ctx));
  if (c.ctx == events::ExecCtx::Process)
    return fmt::format("process context on CPU {}, in {}, which held the listening socket's lock", c.cpu,
                       task_phrase(c.borrowed, c.cpu));
  std::string_view role;
  switch (c.borrowed_role()) {
    case BorrowedRole::IdleTask: break;
    case BorrowedRole::Client: role = "the connecting client"; break;
    case BorrowedRole::SoftirqThread: role = "the kernel's softirq thread"; break;
    case BorrowedRole::ListenerOwner: role = "the listener's own process"; break;
    case BorrowedRole::Other: role = "which happened to be on that CPU"; break;
  }
  const std::string who = role.empty() ? std::string("the idle task")
                                       : fmt::format("{} (pid {}), {}", c.borrowed.comm, c.borrowed.pid, role);
  // Across a veth pair the receiving side's softirq often runs in the
  // sending task: the interface says whose network stack did the work.
  const std::string where = c.rx_ifname.empty() ? "" : fmt::format(", receiving on {}", c.rx_ifname);
  return fmt::format("{} on CPU {}{}, borrowing the context of {}", ctx, c.cpu, where, who);
}

std::string owner_sentence(const Connection& c) {
  if (!c.listener)
    return fmt::format("The listener on {} is not known to this trace (it began listening before tracing started).",
                       c.server.str());
  const std::string owner = task_phrase(c.listener->owner, 0);
  const char* accept_note = c.accepted ? "" : " It had not called accept().";
  switch (c.listener_state) {
    // A stop signal or a ptrace interrupt takes a task out of accept()
    // (which restarts once it runs again), so a stopped owner is never in it.
    case OwnerState::Stopped:
      return fmt::format("The listening process, {}, was stopped (SIGSTOP or job control), so not in accept().", owner);
    case OwnerState::Traced:
      return fmt::format("The listening process, {}, was stopped under ptrace (a debugger), so not in accept().",
                         owner);
    case OwnerState::BlockedInAccept:
      return fmt::format("The listening process, {}, was blocked in accept(); the kernel's work woke it.", owner);
    case OwnerState::Running:
      return fmt::format("The listening process, {}, was running, busy elsewhere.{}", owner, accept_note);
    case OwnerState::Sleeping:
      return fmt::format("The listening process, {}, was asleep elsewhere, not in accept() on this socket.{}", owner,
                         accept_note);
    case OwnerState::Dead: return fmt::format("The listening process, {}, was exiting.", owner);
    case OwnerState::Unknown: break;
  }
  return fmt::format("The listening process, {}, was in a state this trace could not read.", owner);
}

std::string queue_phrase(const Connection& c) { return queue_words(c.queue_len, c.queue_max); }

std::string fate_sentence(const Connection& c) {
  switch (c.outcome) {
    case Outcome::Accepted: {
      std::string s = fmt::format(
          "The connection waited in the accept queue ({}) for {}, until accept() in {} returned it as fd {}",
          queue_phrase(c), duration(c.queued_ns()), task_phrase(c.acceptor, 0), c.accept_fd);
      if (c.bytes_before_accept > 0)
        s += fmt::format("; {} had already arrived", plural(c.bytes_before_accept, "byte", "bytes"));
      return s + ".";
    }
    case Outcome::ListenerClosed:
      return fmt::format(
          "The listener closed with the connection still in its accept queue ({}): the kernel reset it, and no "
          "accept() ever returned it.",
          queue_phrase(c));
    case Outcome::Reset:
      return fmt::format("It was reset {} later, before any accept() took it.", duration(c.queued_ns()));
    case Outcome::Closed:
      return fmt::format("It was closed {} later, before any accept() took it.", duration(c.queued_ns()));
    case Outcome::Pending:
    case Outcome::Evicted:
    case Outcome::Refused:
    case Outcome::Connected:
    case Outcome::TimedOut: break;
  }
  return fmt::format("It has waited in the accept queue ({}) for {}, not yet accepted.", queue_phrase(c),
                     duration(c.queued_ns()));
}

std::string drops_sentence(const Connection& c) {
  std::string s;
  if (c.syns_dropped > 0)
    s += fmt::format(
        " The kernel dropped {} from the client because the accept queue was full ({} queued, backlog {}); the "
        "client {}.",
        plural(c.syns_dropped, "SYN", "SYNs"), c.queue_len_at_drop, c.queue_max_at_drop,
        c.syns_dropped == 1 ? "retransmitted it" : "kept retransmitting it");
  if (c.synack_retransmits > 0)
    s += fmt::format(" The kernel retransmitted the SYN-ACK {}.", plural(c.synack_retransmits, "time", "times"));
  return s;
}

}  // namespace

std::string plural(uint64_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string queue_words(uint32_t len, uint32_t max) {
  if (len > max) return fmt::format("{} queued, backlog {}", len, max);
  return fmt::format("{} of {}", len, max);
}

std::string step_text(const Step& s) {
  switch (s.kind) {
    case StepKind::ListenerClosed: return "listener closed";
    case StepKind::ChildState:
      return fmt::format("child {} -> {}", events::tcp_state_name(s.old_state), events::tcp_state_name(s.new_state));
    case StepKind::ClientState:
      return fmt::format("{} -> {}", events::tcp_state_name(s.old_state), events::tcp_state_name(s.new_state));
    case StepKind::SynRecv: return "SYN_RECV: request socket made";
    case StepKind::Established:
      return fmt::format("ESTABLISHED: child queued ({})", queue_words(s.queue_len, s.queue_max));
    case StepKind::SynackRetransmit: return "SYN-ACK timer: retransmit";
    case StepKind::ConnectEnter: return "connect() begins";
    case StepKind::ConnectExit: return call_result("connect", s.ret);
    case StepKind::AcceptEnter: return "accept() begins";
    case StepKind::AcceptExit: return call_result("accept", s.ret);
    case StepKind::Dequeued: return fmt::format("dequeued ({} left), {} bytes waiting", s.queue_len, s.bytes_waiting);
    case StepKind::Packet: {
      std::string text = packet_name(s.tcp_flags, s.payload_len);
      if (s.syn_dropped)
        text += fmt::format(", dropped: accept queue full ({} queued, backlog {})", s.queue_len, s.queue_max);
      return text;
    }
    case StepKind::ClientEstablished:
    case StepKind::Getsockopt: return client_step_text(s);
  }
  return "?";
}

std::string verdict(const Connection& c) {
  if (c.client_only) return client_only_verdict(c);
  return server_verdict(c) + client_side_sentence(c);
}

std::string server_verdict(const Connection& c) {
  const std::string flow = fmt::format("{} → {}", c.client.str(), c.server.str());
  if (c.established) {
    std::string s = fmt::format("The handshake for {} was completed by the kernel ({})", flow, borrowed_phrase(c));
    if (c.handshake_ns() > 0) s += fmt::format(" {} after the first SYN", duration(c.handshake_ns()));
    s += ", and the kernel queued the connection for accept().";
    s += drops_sentence(c);
    return s + " " + owner_sentence(c) + " " + fate_sentence(c);
  }
  if (c.outcome == Outcome::Refused) {
    std::string s = fmt::format(
        "Nobody listened on {}: the kernel answered the SYN with a RST, so the handshake was never completed",
        c.server.str());
    if (c.connect_ret && *c.connect_ret < 0 && *c.connect_ret != -EINPROGRESS)
      s += fmt::format(", and connect() failed with {}", events::errno_name(static_cast<int>(-*c.connect_ret)));
    return s + ".";
  }
  if (c.accepted)
    return fmt::format(
        "accept() returned {} as fd {}, but its handshake happened before this trace could see it, so who completed "
        "it is unknown.",
        flow, c.accept_fd);
  std::string s = fmt::format("The handshake for {} was not completed", flow);
  switch (c.outcome) {
    case Outcome::Reset: s += ": it was reset"; break;
    case Outcome::Closed: s += ": it was closed"; break;
    default: s += c.syns > 0 ? " by the time this story was told" : ": no SYN reached a traced listener"; break;
  }
  s += ".";
  s += drops_sentence(c);
  if (c.syns_dropped > 0 && c.client_task && !c.connect_ret)
    s += fmt::format(" Its client, {}, is still in connect(), in SYN_SENT.", task_phrase(*c.client_task, 0));
  return s;
}

std::string describe(const track::Listener& l) {
  return fmt::format(
      "{} listens on {}: the socket moved from CLOSE to LISTEN, with backlog {} (the accept queue is full once more "
      "than {} finished connections wait in it).",
      task_phrase(l.owner, 0), l.local.str(), l.backlog, l.backlog);
}

std::string describe(const track::BindConflict& b) {
  std::string s = fmt::format("bind() of {} by {} failed with {}", b.wanted.str(), task_phrase(b.caller, 0),
                              events::errno_name(b.err));
  if (b.holder)
    return s + fmt::format(": the port is held by {}, which bound it{}.", task_phrase(*b.holder, 0),
                           b.holder_listening ? " and listens on it" : " (bound, not listening)");
  return s + ": the holder bound it before this trace began.";
}

}  // namespace sockscope::render
