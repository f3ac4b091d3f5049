#include "track/story.hpp"

#include "events/names.hpp"

namespace sockscope::track {

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
    case OwnerState::WaitingInEpoll: return "waiting_in_epoll";
    case OwnerState::WaitingInPoll: return "waiting_in_poll";
    case OwnerState::WaitingInIoUring: return "waiting_in_io_uring";
  }
  return "unknown";
}

std::optional<OwnerState> classify_waiters(const std::vector<WaiterFact>& waiters) {
  bool epoll = false, poll = false, io_uring = false;
  for (const WaiterFact& w : waiters) {
    switch (events::wait_kind(w.how)) {
      case events::WaitKind::Accept: return OwnerState::BlockedInAccept;
      case events::WaitKind::Epoll: epoll = true; break;
      case events::WaitKind::Poll: poll = true; break;
      case events::WaitKind::IoUring: io_uring = true; break;
      case events::WaitKind::Connect:
      case events::WaitKind::Unknown: break;
    }
  }
  if (epoll) return OwnerState::WaitingInEpoll;
  if (poll) return OwnerState::WaitingInPoll;
  if (io_uring) return OwnerState::WaitingInIoUring;
  return std::nullopt;
}

std::string_view accept_via_name(AcceptVia v) {
  switch (v) {
    case AcceptVia::Accept: return "accept";
    case AcceptVia::Accept4: return "accept4";
    case AcceptVia::IoUring: return "io_uring";
    case AcceptVia::Unknown: break;
  }
  return "";
}

AcceptVia accept_via_of_syscall(int32_t nr) {
  const std::string_view name = events::wait_syscall_name(nr);
  if (name == "accept") return AcceptVia::Accept;
  if (name == "accept4") return AcceptVia::Accept4;
  return AcceptVia::Unknown;
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
    case Outcome::Connected: return "connected";
    case Outcome::TimedOut: return "timed_out";
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

std::string_view side_name(Side s) {
  switch (s) {
    case Side::Both: return "both";
    case Side::Server: return "server";
    case Side::Client: return "client";
  }
  return "server";
}

Side Connection::side() const {
  if (client_only) return Side::Client;
  return client_side.seen ? Side::Both : Side::Server;
}

CompletedBy Connection::client_completed_by() const {
  if (client_side.established_ns != 0) return CompletedBy::Kernel;
  if ((connect_ret && *connect_ret == 0) || (client_side.so_error && *client_side.so_error == 0))
    return CompletedBy::Unknown;
  return CompletedBy::None;
}

CompletedBy Connection::completed_by() const {
  if (client_only) return CompletedBy::Unknown;
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

uint64_t Connection::queued_ns() const {
  if (!established) return 0;
  const auto since_established = [&](uint64_t t) { return t > established_ns ? t - established_ns : 0; };
  switch (outcome) {
    case Outcome::Accepted: return accept_delay_ns();
    case Outcome::Reset: return since_established(rst_ns);
    case Outcome::Closed:
    case Outcome::ListenerClosed: return since_established(last_ns);
    case Outcome::Pending:
    case Outcome::Evicted:
    case Outcome::Refused:
    case Outcome::Connected:
    case Outcome::TimedOut: break;
  }
  return since_established(told_ns);
}

BorrowedRole Connection::borrowed_role() const {
  if (borrowed.pid == 0) return BorrowedRole::IdleTask;
  if (client_task && borrowed.pid == client_task->pid) return BorrowedRole::Client;
  if (borrowed.comm.starts_with("ksoftirqd/")) return BorrowedRole::SoftirqThread;
  if (listener && borrowed.pid == listener->owner.pid) return BorrowedRole::ListenerOwner;
  return BorrowedRole::Other;
}

std::string_view borrowed_role_name(BorrowedRole r) {
  switch (r) {
    case BorrowedRole::IdleTask: return "idle_task";
    case BorrowedRole::Client: return "client";
    case BorrowedRole::SoftirqThread: return "ksoftirqd";
    case BorrowedRole::ListenerOwner: return "listener_owner";
    case BorrowedRole::Other: return "other";
  }
  return "other";
}

std::string_view step_kind_name(StepKind k) {
  switch (k) {
    case StepKind::ListenerClosed: return "listener_closed";
    case StepKind::ChildState: return "child_state";
    case StepKind::ClientState: return "client_state";
    case StepKind::SynRecv: return "syn_recv";
    case StepKind::Established: return "established";
    case StepKind::SynackRetransmit: return "synack_retransmit";
    case StepKind::ConnectEnter: return "connect_enter";
    case StepKind::ConnectExit: return "connect_exit";
    case StepKind::AcceptEnter: return "accept_enter";
    case StepKind::AcceptExit: return "accept_exit";
    case StepKind::Dequeued: return "dequeued";
    case StepKind::Packet: return "packet";
    case StepKind::ClientEstablished: return "client_established";
    case StepKind::Getsockopt: return "getsockopt";
  }
  return "unknown";
}

}  // namespace sockscope::track
