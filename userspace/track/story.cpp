#include "track/story.hpp"

#include <cerrno>

#include <fmt/format.h>

#include "events/names.hpp"

namespace sockscope::track {

namespace {

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
  std::string who;
  if (c.borrowed.pid == 0)
    who = "the idle task";
  else if (c.client_task && c.borrowed.pid == c.client_task->pid)
    who = fmt::format("{} (pid {}), the connecting client", c.borrowed.comm, c.borrowed.pid);
  else if (c.borrowed.comm.rfind("ksoftirqd/", 0) == 0)
    who = fmt::format("{} (pid {}), the kernel's softirq thread", c.borrowed.comm, c.borrowed.pid);
  else if (c.listener && c.borrowed.pid == c.listener->owner.pid)
    who = fmt::format("{} (pid {}), the listener's own process", c.borrowed.comm, c.borrowed.pid);
  else
    who = fmt::format("{} (pid {}), which happened to be on that CPU", c.borrowed.comm, c.borrowed.pid);
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
          queue_phrase(c), format_duration(c.accept_delay_ns()), task_phrase(c.acceptor, 0), c.accept_fd);
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
      return fmt::format("It was reset {} later, before any accept() took it.",
                         format_duration(c.rst_ns > c.established_ns ? c.rst_ns - c.established_ns : 0));
    case Outcome::Closed:
      return fmt::format("It was closed {} later, before any accept() took it.",
                         format_duration(c.last_ns > c.established_ns ? c.last_ns - c.established_ns : 0));
    case Outcome::Pending:
    case Outcome::Evicted:
    case Outcome::Refused: break;
  }
  const uint64_t waited = c.told_ns > c.established_ns ? c.told_ns - c.established_ns : 0;
  return fmt::format("It has waited in the accept queue ({}) for {}, not yet accepted.", queue_phrase(c),
                     format_duration(waited));
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

std::string Endpoint::str() const { return events::format_endpoint(family, addr, port); }

std::string_view owner_state_name(OwnerState s) {
  switch (s) {
    case OwnerState::Unknown: return "unknown";
    case OwnerState::Stopped: return "stopped";
    case OwnerState::Traced: return "traced";
    case OwnerState::BlockedInAccept: return "blocked_in_accept";
    case OwnerState::Running: return "running";
    case OwnerState::Sleeping: return "sleeping";
    case OwnerState::Dead: return "dead";
  }
  return "unknown";
}

OwnerState classify_owner(uint32_t state, uint8_t owner_flags) {
  if (!(owner_flags & events::kOwnerKnown)) return OwnerState::Unknown;
  const bool in_accept = owner_flags & events::kOwnerInAccept;
  switch (events::classify_task_state(state)) {
    case events::TaskState::Traced: return OwnerState::Traced;
    case events::TaskState::Stopped: return OwnerState::Stopped;
    case events::TaskState::Dead: return OwnerState::Dead;
    case events::TaskState::Running: return in_accept ? OwnerState::BlockedInAccept : OwnerState::Running;
    case events::TaskState::Sleeping:
    case events::TaskState::DiskSleep:
    case events::TaskState::Other: break;
  }
  return in_accept ? OwnerState::BlockedInAccept : OwnerState::Sleeping;
}

std::string_view outcome_name(Outcome o) {
  switch (o) {
    case Outcome::Accepted: return "accepted";
    case Outcome::Refused: return "refused";
    case Outcome::Reset: return "reset";
    case Outcome::Closed: return "closed";
    case Outcome::ListenerClosed: return "listener_closed";
    case Outcome::Pending: return "pending";
    case Outcome::Evicted: return "evicted";
  }
  return "pending";
}

std::string_view completed_by_name(CompletedBy c) {
  switch (c) {
    case CompletedBy::Kernel: return "kernel";
    case CompletedBy::None: return "none";
    case CompletedBy::Unknown: return "unknown";
  }
  return "unknown";
}

CompletedBy Connection::completed_by() const {
  if (established) return CompletedBy::Kernel;
  // Accepted, but the final ACK's processing was not seen (tracing began mid-handshake).
  if (accepted) return CompletedBy::Unknown;
  return CompletedBy::None;
}

uint64_t Connection::handshake_ns() const {
  if (!established || first_syn_ns == 0 || established_ns < first_syn_ns) return 0;
  return established_ns - first_syn_ns;
}

uint64_t Connection::accept_delay_ns() const {
  if (!established || !accepted || accept_ns < established_ns) return 0;
  return accept_ns - established_ns;
}

std::string format_duration(uint64_t ns) {
  if (ns < 1000) return fmt::format("{} ns", ns);
  if (ns < 1000000) return fmt::format("{} us", ns / 1000);
  if (ns < 1000000000) return fmt::format("{:.2f} ms", static_cast<double>(ns) / 1e6);
  return fmt::format("{:.2f} s", static_cast<double>(ns) / 1e9);
}

std::string verdict(const Connection& c) {
  const std::string flow = fmt::format("{} → {}", c.client.str(), c.server.str());
  if (c.established) {
    std::string s = fmt::format("The handshake for {} was completed by the kernel ({})", flow, borrowed_phrase(c));
    if (c.handshake_ns() > 0) s += fmt::format(" {} after the first SYN", format_duration(c.handshake_ns()));
    s += ", and the kernel queued the connection for accept().";
    s += drops_sentence(c);
    return s + " " + owner_sentence(c) + " " + fate_sentence(c);
  }
  if (c.outcome == Outcome::Refused) {
    std::string s = fmt::format(
        "Nobody listened on {}: the kernel answered the SYN with a RST, so the handshake was never completed",
        c.server.str());
    if (c.connect_ret && *c.connect_ret < 0)
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

std::string describe(const Listener& l) {
  return fmt::format(
      "{} listens on {}: the socket moved from CLOSE to LISTEN, with backlog {} (the accept queue is full once more "
      "than {} finished connections wait in it).",
      task_phrase(l.owner, 0), l.local.str(), l.backlog, l.backlog);
}

std::string describe(const BindConflict& b) {
  std::string s = fmt::format("bind() of {} by {} failed with {}", b.wanted.str(), task_phrase(b.caller, 0),
                              events::errno_name(b.err));
  if (b.holder)
    return s + fmt::format(": the port is held by {}, which bound it{}.", task_phrase(*b.holder, 0),
                           b.holder_listening ? " and listens on it" : " (bound, not listening)");
  return s + ": the holder bound it before this trace began.";
}

}  // namespace sockscope::track
