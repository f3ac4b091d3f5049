// What the tracker hands to the explain renderers: one story per listener
// event, per failed bind, and per connection, with the handshake verdict.
// Plain values, no pointers into the tracker: a story outlives it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/event.hpp"

namespace sockscope::track {

struct Endpoint {
  uint16_t family = 0;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> addr{};
  uint16_t port = 0;

  auto operator<=>(const Endpoint&) const = default;
  std::string str() const;  // "127.0.0.1:10000", "[::1]:10000"
};

// A task as an event saw it. pid 0 is the CPU's idle task ("swapper/N").
struct Task {
  uint32_t pid = 0;
  std::string comm;
  bool operator==(const Task&) const = default;
};

// The listener owner's state at the moment the handshake completed, read by
// the BPF program from the owner's task_struct (not from /proc afterwards).
enum class OwnerState : uint8_t {
  Unknown,          // owner not known (listening began before tracing)
  Stopped,          // __TASK_STOPPED: SIGSTOP, SIGTSTP, job control
  Traced,           // __TASK_TRACED: stopped under ptrace (a debugger)
  BlockedInAccept,  // a thread of the owner was blocked in accept() on this listener
  Running,          // on a CPU or runnable
  Sleeping,         // blocked elsewhere (not in accept() on this listener)
  Dead,             // exiting
};
std::string_view owner_state_name(OwnerState s);  // "stopped", "blocked_in_accept", ...
// From the BPF record's owner_state (task __state) and owner_flags.
OwnerState classify_owner(uint32_t task_state, uint8_t owner_flags);

// Which column of the ladder a step belongs to.
enum class Lane : uint8_t { Client, Kernel, Server };

// One row of the ladder: a syscall, a kernel step or a packet.
struct Step {
  uint64_t ts_ns = 0;
  Lane lane = Lane::Kernel;
  // Packets are arrows between the client and the server host's kernel.
  enum class Arrow : uint8_t { None, ToServer, ToClient } arrow = Arrow::None;
  std::string text;  // "SYN", "connect() = 0", "request socket (SYN_RECV)", ...
  events::ExecCtx ctx = events::ExecCtx::Process;
  uint32_t cpu = 0;
  Task task;  // whose context the step ran in
};

// How a connection's story ended, when it was told.
enum class Outcome : uint8_t {
  Accepted,        // accept() returned it
  Refused,         // nobody listened: RST answered the SYN
  Reset,           // reset before it was accepted
  Closed,          // closed before it was accepted
  ListenerClosed,  // the listener closed with the connection still queued
  Pending,         // waited past the timeout, or tracing ended, without accept()
  Evicted,         // dropped to keep the tracker's memory bounded
};
std::string_view outcome_name(Outcome o);  // "accepted", "refused", ...

enum class CompletedBy : uint8_t { Kernel, None, Unknown };
std::string_view completed_by_name(CompletedBy c);  // "kernel", "none", "unknown"

struct Listener {
  uint32_t netns = 0;
  Endpoint local;
  Task owner;            // who called listen()
  uint32_t backlog = 0;  // effective (sk_max_ack_backlog)
  uint64_t listen_ns = 0;
  uint64_t sock = 0;
};

// A bind() that failed because another socket held the address.
struct BindConflict {
  uint64_t ts_ns = 0;
  uint32_t netns = 0;
  Endpoint wanted;
  Task caller;
  int err = 0;                 // positive errno (EADDRINUSE, ...)
  std::optional<Task> holder;  // who bound it, when that bind was seen
  bool holder_listening = false;
  uint64_t holder_bound_ns = 0;
};

struct Connection {
  uint32_t netns = 0;         // the server side's network namespace
  uint32_t client_netns = 0;  // differs across a veth pair; 0 when unseen
  Endpoint server, client;
  Outcome outcome = Outcome::Pending;

  std::optional<Listener> listener;
  std::optional<Task> client_task;  // who called connect(), when seen
  std::optional<int64_t> connect_ret;

  // The handshake, as the server's kernel saw it.
  uint64_t first_syn_ns = 0;  // first SYN seen (0: none)
  uint32_t syns = 0;          // SYNs that reached the server
  uint32_t syns_dropped = 0;  // SYNs that arrived while the accept queue was full
  uint32_t synack_retransmits = 0;
  uint32_t queue_len_at_drop = 0, queue_max_at_drop = 0;

  // The final ACK processed: the child is established and queued.
  bool established = false;
  uint64_t established_ns = 0;
  events::ExecCtx ctx = events::ExecCtx::Process;
  uint32_t cpu = 0;
  Task borrowed;          // the task whose context that ran in
  std::string rx_ifname;  // where the server host received the client's packets ("lo", "veth-rx")
  OwnerState listener_state = OwnerState::Unknown;
  uint32_t queue_len = 0;  // accept queue length with this connection in it
  uint32_t queue_max = 0;

  // accept() took it off the queue.
  bool accepted = false;
  uint64_t accept_ns = 0;
  Task acceptor;
  int32_t accept_fd = -1;
  uint32_t queue_len_after_accept = 0;
  uint32_t bytes_before_accept = 0;  // already in the receive queue at accept()

  uint64_t rst_ns = 0;
  uint64_t last_ns = 0;  // last event seen for it
  uint64_t told_ns = 0;  // when the story was told (tracker clock)
  std::vector<Step> steps;
  uint32_t steps_omitted = 0;  // beyond the tracker's max_steps

  CompletedBy completed_by() const;
  uint64_t handshake_ns() const;     // established - first SYN, 0 when either is unseen
  uint64_t accept_delay_ns() const;  // accept - established, 0 when either is unseen
  bool is_ipv6() const { return server.family == 10; }
};

// The one-paragraph explanation of a connection (the verdict).
std::string verdict(const Connection& c);
// One sentence for a listener and for a failed bind.
std::string describe(const Listener& l);
std::string describe(const BindConflict& b);

// "1 SYN", "2 SYNs": a count and its noun.
std::string plural(uint64_t n, std::string_view one, std::string_view many);

// An accept queue's length and maximum: "1 of 128"; "2 queued, backlog 1"
// when over the backlog, which the kernel allows by one (full is len > max).
std::string queue_words(uint32_t len, uint32_t max);

// "0.08 ms", "5.21 s", "734 us": durations in the verdicts and the ladder.
std::string format_duration(uint64_t ns);

}  // namespace sockscope::track
