// What the tracker hands to the explain renderers: one story per listener
// event, per failed bind, and per connection, with the facts of its
// handshake verdict. Facts only: every word about them is render/'s
// (render/story_words.hpp). Plain values, no pointers into the tracker: a
// story outlives it.
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
  uint32_t tid = 0;  // the thread, when the record named it (0: unknown)
  bool operator==(const Task&) const = default;
};

// A task that was waiting on the listener when the kernel queued a
// connection: who, and how (the kernel's own entry: via, syscall, state;
// events::wait_how_name and events::wait_kind say what it was).
struct WaiterFact {
  Task task;
  events::Waiter how;
  bool operator==(const WaiterFact&) const = default;
};

// How the accepting task took the connection off the queue.
enum class AcceptVia : uint8_t {
  Unknown,  // the syscall's record was not seen, or named no syscall
  Accept,   // accept()
  Accept4,  // accept4()
  IoUring,  // an io_uring IORING_OP_ACCEPT: no accept syscall at all
};
std::string_view accept_via_name(AcceptVia v);  // "accept", "accept4", "io_uring"; "" when unknown
// From a SysAccept record's syscall number (Event::value).
AcceptVia accept_via_of_syscall(int32_t nr);

// The listener owner's state at the moment the handshake completed, read by
// the BPF program from the owner's task_struct (not from /proc afterwards).
enum class OwnerState : uint8_t {
  Unknown,          // owner not known (listening began before tracing)
  Stopped,          // __TASK_STOPPED: SIGSTOP, SIGTSTP, job control
  Traced,           // __TASK_TRACED: stopped under ptrace (a debugger)
  BlockedInAccept,  // a thread of the owner (or, waiters read, any task) was blocked in accept() on this listener
  Running,          // on a CPU or runnable
  Sleeping,         // blocked elsewhere (not in accept() on this listener)
  Dead,             // exiting
  // Decided from the listener's waiters (Connection::waiters), when read:
  WaitingInEpoll,    // no task in accept(); one waited in epoll_wait() on an epoll instance watching it
  WaitingInPoll,     // no task in accept() or epoll; one waited in poll()/ppoll()/select()/pselect6() on it
  WaitingInIoUring,  // only an io_uring request was armed on it
};
std::string_view owner_state_name(OwnerState s);  // "stopped", "blocked_in_accept", ...
// From the BPF record's owner_state (task __state) and owner_flags.
OwnerState classify_owner(uint32_t task_state, uint8_t owner_flags);
// From the listener's waiters, the strongest first: any in accept(), else
// epoll, else poll/select, else io_uring; nullopt when none of them says
// (no waiters, or only kinds sockscope cannot name).
std::optional<OwnerState> classify_waiters(const std::vector<WaiterFact>& waiters);

// Which column of the ladder a step belongs to.
enum class Lane : uint8_t { Client, Kernel, Server };

// What a step is. render/ words each kind; explain's JSON names it
// (step_kind_name) and writes the fields the kind fills in (below).
enum class StepKind : uint8_t {
  ListenerClosed,    // the listener closed while this connection was open
  ChildState,        // the server's child socket changed state: old_state, new_state
  ClientState,       // the client's socket changed state (SYN_SENT -> CLOSE): old_state, new_state
  SynRecv,           // a request socket made for the SYN: queue_len, queue_max (the listener's then)
  Established,       // the final ACK processed, the child queued: queue_len, queue_max (with it in)
  SynackRetransmit,  // the SYN-ACK timer fired: queue_len, queue_max (the listener's then)
  ConnectEnter,      // connect() called
  ConnectExit,       // connect() returned: ret
  AcceptEnter,       // accept() called (waiting on the listener unless nonblocking): accept_via, nonblocking
  AcceptExit,        // accept() returned: ret, accept_via, nonblocking
  Dequeued,          // the child taken off the accept queue: queue_len, queue_max (after), bytes_waiting
  Packet,            // a TCP segment at the server host: tcp_flags, payload_len, syn_dropped (+ queue then)
  // The client's half (track/tracker_client.cpp):
  ClientEstablished,  // the client's socket went SYN_SENT -> ESTABLISHED: waiters (its wait queue then)
  Getsockopt,         // getsockopt(SO_ERROR) returned: ret, so_error (the error read)
};
std::string_view step_kind_name(StepKind k);  // "listener_closed", "child_state", ..., "packet"

// One row of the ladder: a syscall, a kernel step or a packet, as facts.
// Fields a kind does not use stay zero.
struct Step {
  uint64_t ts_ns = 0;
  StepKind kind = StepKind::Packet;
  Lane lane = Lane::Kernel;
  // Packets are arrows between the client and the server host's kernel.
  enum class Arrow : uint8_t { None, ToServer, ToClient } arrow = Arrow::None;
  events::ExecCtx ctx = events::ExecCtx::Process;
  uint32_t cpu = 0;
  Task task;                                              // whose context the step ran in
  events::Backend backend = events::Backend::Tracepoint;  // of the record that made the step

  uint8_t old_state = 0, new_state = 0;       // ChildState, ClientState: TCP states (TCP_ESTABLISHED, ...)
  uint8_t tcp_flags = 0;                      // Packet
  uint16_t payload_len = 0;                   // Packet
  bool syn_dropped = false;                   // Packet: a SYN the kernel dropped because the accept queue was full
  uint32_t queue_len = 0, queue_max = 0;      // the accept queue, for the kinds above; a dropped SYN's at the drop
  int64_t ret = 0;                            // ConnectExit, AcceptExit: the return value (-errno on failure)
  uint32_t bytes_waiting = 0;                 // Dequeued: bytes already received, unread
  bool nonblocking = false;                   // AcceptEnter, AcceptExit: the listener's file was O_NONBLOCK
  AcceptVia accept_via = AcceptVia::Unknown;  // AcceptEnter, AcceptExit: accept() or accept4()
  std::optional<uint32_t> waiters;            // ClientEstablished: tasks waiting on the socket (nullopt: not read)
  int32_t so_error = 0;                       // Getsockopt: the error read (0: connected)

  bool operator==(const Step&) const = default;
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
  // A story whose server side this host did not see (Connection::client_only):
  Connected,  // the client's socket went ESTABLISHED
  TimedOut,   // connect() or SO_ERROR: ETIMEDOUT, no answer to the SYNs
};
std::string_view outcome_name(Outcome o);  // "accepted", "refused", ...

enum class CompletedBy : uint8_t { Kernel, None, Unknown };
std::string_view completed_by_name(CompletedBy c);  // "kernel", "none", "unknown"

// What the task whose context the kernel's handshake work ran in (borrowed,
// in softirq) was to the connection: the work is the kernel's whoever it was.
enum class BorrowedRole : uint8_t {
  IdleTask,       // pid 0: the CPU was idle
  Client,         // the task that called connect()
  SoftirqThread,  // ksoftirqd/N, the kernel's softirq thread
  ListenerOwner,  // the listener's own process
  Other,          // whichever task happened to be on that CPU
};
std::string_view borrowed_role_name(BorrowedRole r);  // "idle_task", "client", "ksoftirqd", "listener_owner", "other"

// Which backend's records supplied the kernel's facts about a connection
// (nullopt: no such record seen).
struct KernelBackends {
  std::optional<events::Backend> syn_recv, established, accept;
};

struct Listener {
  uint32_t netns = 0;
  Endpoint local;
  Task owner;            // who called listen()
  uint32_t backlog = 0;  // effective (sk_max_ack_backlog)
  uint64_t listen_ns = 0;
  uint64_t sock = 0;
  uint32_t ino = 0;                                       // the listening socket's inode (0: unknown)
  events::Backend backend = events::Backend::Tracepoint;  // of the listen record, when listen() was seen
  // Processes holding the listening socket when the story was told: the
  // caller and whatever TrackerConfig::holders found (sorted, unique).
  std::vector<uint32_t> pids;
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

// Where a connection story's halves were seen: which host's work it tells.
enum class Side : uint8_t { Both, Server, Client };
std::string_view side_name(Side s);  // "both", "server", "client"

// The client host's part of a handshake, when the client runs on the traced
// host (loopback, another namespace, or a connection to a server elsewhere).
// Times are 0 when unseen.
struct ClientSide {
  bool seen = false;       // a client-side record joined the story
  uint64_t syn_tx_ns = 0;  // the first SYN sent
  Task syn_task;           // whose context sent it (connect()'s task, in process context)
  events::ExecCtx syn_ctx = events::ExecCtx::Process;
  uint32_t syns_sent = 0;     // SYNs sent (retransmissions included)
  uint64_t synack_rx_ns = 0;  // the SYN-ACK received
  // Where the client's socket went SYN_SENT -> ESTABLISHED (established_ns
  // != 0): the softirq that took the SYN-ACK, or connect()'s task when it
  // held the socket's lock and ran the backlog itself.
  uint64_t established_ns = 0;
  events::ExecCtx ctx = events::ExecCtx::Process;
  uint32_t cpu = 0;
  Task borrowed;
  uint64_t ack_tx_ns = 0;    // the handshake's final ACK sent
  uint64_t rst_rx_ns = 0;    // a RST received (the server refused)
  bool nonblocking = false;  // connect() on an O_NONBLOCK file
  uint64_t connect_exit_ns = 0;
  // The tasks waiting on the client's socket when it went ESTABLISHED, before
  // the kernel woke them (nullopt: not read); waiter_flags: SK_WAITERS_*.
  std::optional<std::vector<events::Waiter>> waiters;
  uint8_t waiter_flags = 0;
  std::optional<int> so_error;  // getsockopt(SO_ERROR): the error read (0: connected)
  uint64_t so_error_ns = 0;
};

struct Connection {
  uint32_t netns = 0;         // the server side's network namespace (client_only: the client's)
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
  // Every task waiting on the listener's wait queue at that moment
  // (nullopt: not read, so unknown; empty: nobody waited).
  std::optional<std::vector<WaiterFact>> waiters;
  bool waiters_complete = false;  // read, and neither truncated nor holding entries sockscope cannot name
  bool idle_epoll = false;        // an epoll instance watched the listener with nobody in epoll_wait()
  uint32_t listener_ino = 0;      // the listening socket's inode (0: unknown)
  // Processes holding the listener: the listen() caller, every waiter, the
  // acceptor, and what TrackerConfig::holders found (sorted, unique tgids).
  std::vector<uint32_t> listener_pids;
  uint32_t queue_len = 0;  // accept queue length with this connection in it
  uint32_t queue_max = 0;
  KernelBackends backends;

  // accept() took it off the queue.
  bool accepted = false;
  uint64_t accept_ns = 0;
  Task acceptor;  // with its thread when seen
  AcceptVia accept_via = AcceptVia::Unknown;
  bool accept_nonblocking = false;  // the accept() that returned it was on an O_NONBLOCK file
  int32_t accept_fd = -1;
  uint32_t queue_len_after_accept = 0;
  uint32_t bytes_before_accept = 0;  // already in the receive queue at accept()

  uint64_t rst_ns = 0;
  uint64_t last_ns = 0;  // last event seen for it
  uint64_t told_ns = 0;  // when the story was told (tracker clock)
  std::vector<Step> steps;
  uint32_t steps_omitted = 0;  // beyond the tracker's max_steps
  // Records were lost (the kernel could not send them) while this story was
  // open, or before its first record arrived: it may lack steps and facts.
  bool records_lost = false;

  // Only the client's half was seen on this host: the server runs elsewhere,
  // or was not traced. Its steps are then the client host's.
  bool client_only = false;
  ClientSide client_side;

  Side side() const;
  // The server side's completion (unknown to this host for a client-only story).
  CompletedBy completed_by() const;
  // The client side's: kernel once its socket went ESTABLISHED (always the
  // kernel's work, in softirq or on connect()'s behalf), unknown when
  // connect() or SO_ERROR said connected without that being seen, else none.
  CompletedBy client_completed_by() const;
  // Classified in this order: the idle task, the client, ksoftirqd, the
  // listener's owner, another task. Meaningful once established.
  BorrowedRole borrowed_role() const;
  uint64_t handshake_ns() const;     // established - first SYN, 0 when either is unseen
  uint64_t accept_delay_ns() const;  // accept - established, 0 when either is unseen
  // established -> what ended its wait in the accept queue: accept()
  // (accept_delay_ns), the reset (reset), the last record (closed,
  // listener_closed); else the story being told (told_ns). 0 when not
  // established or out of order.
  uint64_t queued_ns() const;
  bool is_ipv6() const { return server.family == 10; }
};

}  // namespace sockscope::track
