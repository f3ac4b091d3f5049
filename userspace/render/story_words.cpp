#include "render/story_words.hpp"

#include <cerrno>

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "events/names.hpp"
#include "render/client_words.hpp"
#include "render/duration.hpp"

namespace sockscope::render {

using track::AcceptVia;
using track::BorrowedRole;
using track::Connection;
using track::Outcome;
using track::OwnerState;
using track::Step;
using track::StepKind;
using track::Task;
using track::WaiterFact;

namespace {

std::string duration(uint64_t ns) { return format_duration(ns, DurationStyle::Prose); }

// "connect() = 0", "accept4() (nonblocking) = 7", "connect() = -1 ECONNREFUSED".
std::string call_result(std::string_view call, int64_t ret, std::string_view note = "") {
  if (ret >= 0) return fmt::format("{}(){} = {}", call, note, ret);
  return fmt::format("{}(){} = -1 {}", call, note, events::errno_name(events::errno_of(ret)));
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
    // Decided from the waiters, which waiters_sentence() words instead.
    case OwnerState::WaitingInEpoll:
      return fmt::format("The listener, of {}, was watched by a task in epoll_wait().", owner);
    case OwnerState::WaitingInPoll:
      return fmt::format("The listener, of {}, was watched by a task in poll() or select().", owner);
    case OwnerState::WaitingInIoUring:
      return fmt::format("The listener, of {}, had an io_uring request armed on it.", owner);
    case OwnerState::Unknown: break;
  }
  return fmt::format("The listening process, {}, was in a state this trace could not read.", owner);
}

std::string queue_phrase(const Connection& c) { return queue_words(c.queue_len, c.queue_max); }

// "accept", "accept4": the call that took the connection ("accept" when
// the syscall's number was not seen).
std::string_view accept_call(AcceptVia via) {
  const std::string_view name = track::accept_via_name(via);
  return name.empty() || via == AcceptVia::IoUring ? std::string_view("accept") : name;
}

// How the acceptor took the connection, for the fate sentence.
std::string taken_phrase(const Connection& c) {
  const std::string who = task_phrase(c.acceptor, 0);
  if (c.accept_via == AcceptVia::IoUring) {
    if (c.accept_fd < 0) return fmt::format("{} took it via io_uring", who);
    return fmt::format("{} took it via io_uring as fd {}", who, c.accept_fd);
  }
  return fmt::format("{}{}() in {} returned it as fd {}", c.accept_nonblocking ? "a nonblocking " : "",
                     accept_call(c.accept_via), who, c.accept_fd);
}

// "a", "a and b", "a, b and c".
std::string join_words(const std::vector<std::string>& words) {
  std::string s;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) s += i + 1 == words.size() ? " and " : ", ";
    s += words[i];
  }
  return s;
}

// A waiter alone: "nginx (pid 123)"; a thread other than the main one:
// "server (pid 100, thread 102)".
std::string waiter_phrase(const Task& t) {
  if (t.tid != 0 && t.tid != t.pid) return fmt::format("{} (pid {}, thread {})", t.comm, t.pid, t.tid);
  return task_phrase(t, 0);
}

// Several waiters that waited the same way: "nginx workers 123 and 124"
// (processes of one program), "server threads 101 and 102 of pid 100" (one
// process's threads), else each named.
std::string waiters_subject(const std::vector<const WaiterFact*>& ws) {
  if (ws.size() == 1) return waiter_phrase(ws.front()->task);
  bool same_comm = true, same_pid = true, distinct_pids = true;
  for (std::size_t i = 0; i < ws.size(); ++i) {
    same_comm = same_comm && ws[i]->task.comm == ws[0]->task.comm;
    same_pid = same_pid && ws[i]->task.pid == ws[0]->task.pid;
    for (std::size_t j = 0; j < i; ++j) distinct_pids = distinct_pids && ws[i]->task.pid != ws[j]->task.pid;
  }
  std::vector<std::string> names;
  if (same_comm && distinct_pids) {
    for (const WaiterFact* w : ws) names.push_back(std::to_string(w->task.pid));
    return fmt::format("{} workers {}", ws[0]->task.comm, join_words(names));
  }
  if (same_comm && same_pid) {
    for (const WaiterFact* w : ws) names.push_back(std::to_string(w->task.tid));
    return fmt::format("{} threads {} of pid {}", ws[0]->task.comm, join_words(names), ws[0]->task.pid);
  }
  for (const WaiterFact* w : ws) names.push_back(waiter_phrase(w->task));
  return join_words(names);
}

// "blocked in accept4()", "waiting in epoll_wait()", ...: how a group waited.
std::string waiting_phrase(const events::Waiter& how) {
  const std::string_view name = events::wait_how_name(how);
  switch (events::wait_kind(how)) {
    case events::WaitKind::Accept: return fmt::format("blocked in {}() on the listener", name);
    case events::WaitKind::Epoll:
    case events::WaitKind::Poll: return fmt::format("waiting in {}() on the listener", name);
    case events::WaitKind::IoUring: return "waiting on the listener via io_uring";
    case events::WaitKind::Connect:
    case events::WaitKind::Unknown: break;
  }
  return "waiting on the listener in a way sockscope cannot name";
}

// Who was woken and who took it: "nginx workers 123 and 124 were waiting in
// epoll_wait() on the listener; the kernel's wakeup led 123 to accept4() it
// 0.4 ms later."
std::string waiters_sentence(const Connection& c) {
  const std::vector<WaiterFact>& all = *c.waiters;
  // Grouped by how they waited, in the order the wait queue listed them.
  std::vector<std::vector<const WaiterFact*>> groups;
  for (const WaiterFact& w : all) {
    auto same = [&](const std::vector<const WaiterFact*>& g) {
      return events::wait_how_name(g[0]->how) == events::wait_how_name(w.how);
    };
    auto it = std::find_if(groups.begin(), groups.end(), same);
    if (it == groups.end())
      groups.push_back({&w});
    else
      it->push_back(&w);
  }
  std::vector<std::string> clauses;
  for (const auto& g : groups)
    clauses.push_back(
        fmt::format("{} {} {}", waiters_subject(g), g.size() == 1 ? "was" : "were", waiting_phrase(g[0]->how)));
  std::string s = join_words(clauses);

  if (c.accepted) {
    const Task& a = c.acceptor;
    const auto is_acceptor = [&](const WaiterFact& w) {
      return w.task.pid == a.pid && (a.tid == 0 || w.task.tid == 0 || w.task.tid == a.tid);
    };
    const auto woken = std::find_if(all.begin(), all.end(), is_acceptor);
    const std::string later = duration(c.accept_delay_ns());
    const bool io_uring = c.accept_via == AcceptVia::IoUring;
    if (woken != all.end()) {
      const bool one_pid = std::count_if(all.begin(), all.end(),
                                         [&](const WaiterFact& w) { return w.task.pid == woken->task.pid; }) == 1;
      if (all.size() == 1)
        s += io_uring ? fmt::format("; the kernel's wakeup led it to take the connection via io_uring {} later", later)
                      : fmt::format("; the kernel's wakeup led it to {}() the connection {} later",
                                    accept_call(c.accept_via), later);
      else {
        const std::string who = one_pid || woken->task.tid == 0 ? std::to_string(woken->task.pid)
                                                                : fmt::format("thread {}", woken->task.tid);
        s += io_uring ? fmt::format("; the kernel's wakeup led {} to take it via io_uring {} later", who, later)
                      : fmt::format("; the kernel's wakeup led {} to {}() it {} later", who, accept_call(c.accept_via),
                                    later);
      }
    } else if (io_uring) {
      s += fmt::format("; {}, not among them, took it via io_uring {} later", task_phrase(a, 0), later);
    } else {
      s += fmt::format("; {}() in {}, not among them, took it {} later", accept_call(c.accept_via), task_phrase(a, 0),
                       later);
    }
  }
  return s + ".";
}

// What was on the listener's wait queue when the kernel queued the
// connection, or what the owner was doing when that was not read.
std::string listener_sentence(const Connection& c) {
  // Not read (an older kernel, a backend that cannot): the owner's state is
  // all there is; explain's JSON says `waiters: null`.
  if (!c.waiters) return owner_sentence(c);
  std::string s = c.waiters->empty() ? "Nobody was waiting on the listener. " + owner_sentence(c) : waiters_sentence(c);
  if (!c.waiters_complete)
    s += " The list is incomplete: the listener had more waiters than sockscope reads, or some it cannot name.";
  if (c.idle_epoll) s += " An epoll instance watched the listener too, with nobody in epoll_wait() on it.";
  return s;
}

std::string fate_sentence(const Connection& c) {
  switch (c.outcome) {
    case Outcome::Accepted: {
      std::string s = fmt::format("The connection waited in the accept queue ({}) for {}, until {}", queue_phrase(c),
                                  duration(c.queued_ns()), taken_phrase(c));
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
    case StepKind::AcceptEnter:
      // A nonblocking accept never waits: it returns at once, with a
      // connection or EAGAIN.
      if (s.nonblocking) return fmt::format("{}() (nonblocking): returns at once", accept_call(s.accept_via));
      return fmt::format("{}() begins", accept_call(s.accept_via));
    case StepKind::AcceptExit:
      return call_result(accept_call(s.accept_via), s.ret, s.nonblocking ? " (nonblocking)" : "");
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
    return s + " " + listener_sentence(c) + " " + fate_sentence(c);
  }
  if (c.outcome == Outcome::Refused) {
    std::string s = fmt::format(
        "Nobody listened on {}: the kernel answered the SYN with a RST, so the handshake was never completed",
        c.server.str());
    if (c.connect_ret && *c.connect_ret < 0 && *c.connect_ret != -EINPROGRESS)
      s += fmt::format(", and connect() failed with {}", events::errno_name(events::errno_of(*c.connect_ret)));
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
