// The C++ side of bpf/sockscope.h: one typed value per ring-buffer record.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "sockscope.h"

namespace sockscope::events {

// Every value below is bpf/sockscope.h's: the C++ names are the only thing
// added here.
enum class Kind : uint32_t {
  SysSocket = SK_SYS_SOCKET,
  SysBind = SK_SYS_BIND,
  SysListen = SK_SYS_LISTEN,
  SysConnect = SK_SYS_CONNECT,
  SysAccept = SK_SYS_ACCEPT,
  SysClose = SK_SYS_CLOSE,
  SysGetsockopt = SK_SYS_GETSOCKOPT,
  Bind = SK_K_BIND,
  Listen = SK_K_LISTEN,
  SynRecv = SK_K_SYN_RECV,
  Established = SK_K_ESTABLISHED,
  Accept = SK_K_ACCEPT,
  State = SK_K_STATE,
  SynackRetransmit = SK_K_SYNACK_RETRANS,
  Tcp = SK_PKT_TCP,
};

enum class Layer : uint8_t { Syscall, Kernel, Packet };  // ours: from the kind's range
enum class ExecCtx : uint8_t { Process = SK_CTX_PROCESS, Softirq = SK_CTX_SOFTIRQ, Irq = SK_CTX_IRQ };
enum class Phase : uint8_t { Exit = SK_PHASE_EXIT, Enter = SK_PHASE_ENTER };
enum class Dir : uint8_t { None = SK_DIR_NONE, Rx = SK_DIR_RX, Tx = SK_DIR_TX };
enum class Backend : uint8_t {
  Tracepoint = SK_BACKEND_TRACEPOINT,
  SockOps = SK_BACKEND_SOCK_OPS,
  Fentry = SK_BACKEND_FENTRY,
  Kprobe = SK_BACKEND_KPROBE,
};

inline constexpr uint8_t kOwnerInAccept = SK_OWNER_IN_ACCEPT;
inline constexpr uint8_t kOwnerKnown = SK_OWNER_KNOWN;
inline constexpr uint8_t kListenerFound = SK_LISTENER_FOUND;
inline constexpr uint8_t kWaitersRead = SK_WAITERS_READ;
inline constexpr uint8_t kNonblock = SK_NONBLOCK;

// How a task waited on a socket (bpf/sockscope.h, enum sk_wait_via).
enum class WaitVia : uint8_t {
  Unknown = SK_WAIT_UNKNOWN,
  Task = SK_WAIT_TASK,
  Epoll = SK_WAIT_EPOLL,
  Poll = SK_WAIT_POLL,
  IoUring = SK_WAIT_IO_URING,
};

// A task waiting on a socket when the kernel woke it (struct sk_waiter).
struct Waiter {
  uint32_t pid = 0;  // tgid
  uint32_t tid = 0;
  int32_t syscall = -1;  // the syscall it was in (this architecture's number), -1: none
  uint32_t state = 0;    // its __state: SK_TASK_*
  WaitVia via = WaitVia::Unknown;
  bool exclusive = false;
  std::array<char, SK_COMM_LEN> comm{};
  std::string_view comm_view() const;
  bool operator==(const Waiter&) const = default;
};

// Who waited on a record's socket (struct sk_waiters), when read.
struct Waiters {
  bool read = false;  // the record carried them (SK_WAITERS_READ)
  uint8_t flags = 0;  // SK_WAITERS_*
  uint16_t entries = 0;
  uint8_t count = 0;
  std::array<Waiter, SK_MAX_WAITERS> list{};
  std::span<const Waiter> tasks() const { return {list.data(), count}; }
  bool truncated() const { return flags & SK_WAITERS_TRUNCATED; }
  bool unknown_entries() const { return flags & SK_WAITERS_UNKNOWN; }
  bool idle_epoll() const { return flags & SK_WAITERS_IDLE_EPOLL; }
  bool operator==(const Waiters&) const = default;
};

// What the owner's task __state (Event::owner_state, SK_TASK_* bits) says,
// decided in one place so that every word and verdict about it agrees.
enum class TaskState : uint8_t { Running, Sleeping, DiskSleep, Stopped, Traced, Dead, Other };
TaskState classify_task_state(uint32_t state);

// The dequeue an accept() made, folded into its exit record (explain:
// struct sk_dequeue, SK_DEQUEUE_FOLDED).
struct Dequeue {
  uint64_t ts_ns = 0;
  uint64_t sock = 0;  // the child
  uint32_t queue_len = 0, queue_max = 0, rx_queued = 0;
  Backend backend = Backend::Tracepoint;
  WaitVia via = WaitVia::Unknown;
  bool operator==(const Dequeue&) const = default;
};

struct Event {
  uint64_t ts_ns = 0;
  uint64_t dur_ns = 0;
  uint64_t sock = 0;
  int64_t ret = 0;
  Kind kind = Kind::State;
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint32_t cpu = 0;
  uint32_t netns = 0;
  int32_t fd = -1;
  uint32_t backlog = 0;
  uint32_t queue_len = 0;
  uint32_t queue_max = 0;
  uint32_t ifindex = 0;
  uint32_t seq = 0;
  uint32_t ack_seq = 0;
  uint32_t owner_pid = 0;
  uint32_t owner_state = 0;
  uint32_t rx_queued = 0;
  uint32_t sock_ino = 0;           // listen, a listener's children: the listener's socket inode
  int32_t value = 0;               // getsockopt(SO_ERROR): the error read; SysAccept: the syscall's number
  uint64_t lsk = 0;                // a listener's children: the listening socket (0: unknown)
  WaitVia via = WaitVia::Unknown;  // Accept: how the acceptor took it
  uint16_t family = 0;
  uint16_t sport = 0;
  uint16_t dport = 0;
  uint16_t payload_len = 0;
  uint16_t window = 0;
  ExecCtx ctx = ExecCtx::Process;
  Phase phase = Phase::Exit;
  uint8_t old_state = 0;
  uint8_t new_state = 0;
  uint8_t tcp_flags = 0;
  Dir dir = Dir::None;
  Backend backend = Backend::Tracepoint;
  uint8_t owner_flags = 0;
  std::array<uint8_t, 16> saddr{};
  std::array<uint8_t, 16> daddr{};
  std::array<char, SK_COMM_LEN> comm{};
  std::array<char, SK_IFNAME_LEN> ifname{};
  Waiters waiters;     // Established, and a client's SYN_SENT -> ESTABLISHED
  uint8_t folded = 0;  // packets the kernel folded into this record (decode_folded), which came before it
  Dequeue dequeue;     // with SK_DEQUEUE_FOLDED (an accept exit, explain): dequeue_of

  Layer layer() const;
  std::string_view comm_view() const;
  std::string_view ifname_view() const;
  bool owner_known() const { return owner_flags & kOwnerKnown; }
  bool listener_found() const { return owner_flags & kListenerFound; }
  bool nonblocking() const { return owner_flags & kNonblock; }
  bool enter_folded() const { return owner_flags & SK_ENTER_FOLDED; }
  bool dequeue_folded() const { return owner_flags & SK_DEQUEUE_FOLDED; }
};

// What an explain record folds in besides packets, as the records it stands
// for: the entry of an accept or connect exit (enter_folded: the exit's
// fields, begun dur_ns before it), and an accept exit's dequeue
// (dequeue_folded: an Accept record in the exit's task, for its fd).
Event entry_of(const Event& exit);
Event dequeue_of(const Event& exit);

// Size of the kernel's record (struct sk_event), and of one with its socket's
// waiters (struct sk_event_waiters); decode() rejects any other.
std::size_t raw_event_size();
std::size_t raw_event_waiters_size();

// Checked copy of one ring-buffer record: nullopt when the size is wrong or
// the kind is unknown. Never reinterprets the (possibly unaligned) input.
std::optional<Event> decode(std::span<const std::byte> raw);

}  // namespace sockscope::events
