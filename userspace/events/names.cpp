#include "events/names.hpp"

#include <sys/syscall.h>

#include <arpa/inet.h>
#include <linux/bpf.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>

#include <fmt/format.h>

namespace sockscope::events {

std::string_view event_name(Kind k) {
  switch (k) {
    case Kind::SysSocket: return "socket";
    case Kind::SysBind: return "bind";
    case Kind::SysListen: return "listen";
    case Kind::SysConnect: return "connect";
    case Kind::SysAccept: return "accept";
    case Kind::SysClose: return "close";
    case Kind::SysGetsockopt: return "getsockopt";
    case Kind::Bind: return "bind";
    case Kind::Listen: return "listen";
    case Kind::SynRecv: return "syn_recv";
    case Kind::Established: return "established";
    case Kind::Accept: return "accept";
    case Kind::State: return "state";
    case Kind::SynackRetransmit: return "synack_retransmit";
    case Kind::Tcp: return "tcp";
  }
  return "unknown";
}

std::string_view layer_name(Layer l) {
  switch (l) {
    case Layer::Syscall: return "syscall";
    case Layer::Kernel: return "kernel";
    case Layer::Packet: return "packet";
  }
  return "unknown";
}

std::string_view ctx_name(ExecCtx c) {
  switch (c) {
    case ExecCtx::Process: return "process";
    case ExecCtx::Softirq: return "softirq";
    case ExecCtx::Irq: return "irq";
  }
  return "unknown";
}

std::string_view dir_name(Dir d) {
  switch (d) {
    case Dir::Rx: return "rx";
    case Dir::Tx: return "tx";
    case Dir::None: return "";
  }
  return "";
}

std::string_view backend_name(Backend b) {
  switch (b) {
    case Backend::Tracepoint: return "tracepoint";
    case Backend::SockOps: return "sock_ops";
    case Backend::Fentry: return "fentry";
    case Backend::Kprobe: return "kprobe";
  }
  return "unknown";
}

std::string_view family_name(uint16_t family) {
  if (family == AF_INET) return "ipv4";
  if (family == AF_INET6) return "ipv6";
  return "unknown";
}

std::string tcp_state_name(uint8_t state) {
  if (const std::string_view name = known_tcp_state_name(state); !name.empty()) return std::string(name);
  return fmt::format("UNKNOWN({})", state);
}

std::string_view known_tcp_state_name(uint8_t state) {
  // The kernel's enum (include/net/tcp_states.h), a stable ABI. <netinet/tcp.h>
  // names it up to TCP_CLOSING. The two states after it are the kernel's own:
  // <linux/bpf.h> mirrors NEW_SYN_RECV (a request socket) as BPF_TCP_*, which
  // tcp_set_state() (net/ipv4/tcp.c) BUILD_BUG_ONs equal; BOUND_INACTIVE (a
  // bound socket for inet_diag, 6.8+) follows it, but Debian's 6.1 headers
  // stop before it.
  constexpr uint8_t kNewSynRecv = BPF_TCP_NEW_SYN_RECV, kBoundInactive = BPF_TCP_NEW_SYN_RECV + 1;
  static_assert(kNewSynRecv == TCP_CLOSING + 1);
  switch (state) {
    case TCP_ESTABLISHED: return "ESTABLISHED";
    case TCP_SYN_SENT: return "SYN_SENT";
    case TCP_SYN_RECV: return "SYN_RECV";
    case TCP_FIN_WAIT1: return "FIN_WAIT1";
    case TCP_FIN_WAIT2: return "FIN_WAIT2";
    case TCP_TIME_WAIT: return "TIME_WAIT";
    case TCP_CLOSE: return "CLOSE";
    case TCP_CLOSE_WAIT: return "CLOSE_WAIT";
    case TCP_LAST_ACK: return "LAST_ACK";
    case TCP_LISTEN: return "LISTEN";
    case TCP_CLOSING: return "CLOSING";
    case kNewSynRecv: return "NEW_SYN_RECV";
    case kBoundInactive: return "BOUND_INACTIVE";
  }
  return {};
}

std::string errno_name(int err) {
  if (const char* n = strerrorname_np(err)) return n;
  return fmt::format("E{}", err);
}

int errno_of(int64_t ret) {
  const uint64_t magnitude = 0 - static_cast<uint64_t>(ret);
  return static_cast<int>(std::min<uint64_t>(magnitude, std::numeric_limits<int>::max()));
}

std::string tcp_flags_string(uint8_t flags) {
  FlagsBuffer buf;
  return std::string(tcp_flags_string(flags, buf));
}

std::string_view tcp_flags_string(uint8_t flags, FlagsBuffer& buf) {
  // tcpdump's order (print-tcp.c): F S R P . U E W
  static constexpr std::pair<uint8_t, char> letters[] = {{SK_TCP_FIN, 'F'}, {SK_TCP_SYN, 'S'}, {SK_TCP_RST, 'R'},
                                                         {SK_TCP_PSH, 'P'}, {SK_TCP_ACK, '.'}, {SK_TCP_URG, 'U'},
                                                         {SK_TCP_ECE, 'E'}, {SK_TCP_CWR, 'W'}};
  static_assert(std::size(letters) <= std::tuple_size_v<FlagsBuffer>);
  std::size_t n = 0;
  for (auto [bit, c] : letters)
    if (flags & bit) buf[n++] = c;
  return n ? std::string_view(buf.data(), n) : "none";
}

std::string task_state_name(uint32_t state) {
  if (const std::string_view name = known_task_state_name(state); !name.empty()) return std::string(name);
  return fmt::format("state({:#x})", state);
}

std::string_view known_task_state_name(uint32_t state) {
  switch (classify_task_state(state)) {
    case TaskState::Running: return "running";
    case TaskState::Sleeping: return "sleeping";
    case TaskState::DiskSleep: return "disk-sleep";
    case TaskState::Stopped: return "stopped";
    case TaskState::Traced: return "traced";
    case TaskState::Dead: return "dead";
    case TaskState::Other: break;
  }
  return {};
}

std::string_view format_ip(uint16_t family, const std::array<uint8_t, 16>& addr, IpBuffer& buf) {
  if (family == AF_INET) {  // by hand: inet_ntop goes through sprintf
    // At most "255.255.255.255": 15 characters, so every index below is in
    // bounds by construction (to_chars's unchecked error path, which returns
    // the buffer's end, is what GCC 12 at -O3 rightly flagged).
    static_assert(std::tuple_size_v<IpBuffer> >= 15);
    std::size_t n = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      if (i) buf[n++] = '.';
      const unsigned octet = addr[i];
      if (octet >= 100) buf[n++] = static_cast<char>('0' + octet / 100);
      if (octet >= 10) buf[n++] = static_cast<char>('0' + octet / 10 % 10);
      buf[n++] = static_cast<char>('0' + octet % 10);
    }
    return {buf.data(), n};
  }
  if (family == AF_INET6 && inet_ntop(AF_INET6, addr.data(), buf.data(), buf.size())) return buf.data();
  return "?";
}

std::string_view packet_syscall_name(int32_t nr) {
  if (std::string_view w = wait_syscall_name(nr); !w.empty()) return w;
  switch (nr) {
#ifdef SYS_write
    case SYS_write: return "write";
#endif
    case SYS_writev: return "writev";
    case SYS_pwritev2: return "pwritev2";
    case SYS_sendto: return "sendto";
    case SYS_sendmsg: return "sendmsg";
    case SYS_sendmmsg: return "sendmmsg";
#ifdef SYS_sendfile
    case SYS_sendfile: return "sendfile";
#endif
    case SYS_splice: return "splice";
    case SYS_read: return "read";
    case SYS_readv: return "readv";
    case SYS_recvfrom: return "recvfrom";
    case SYS_recvmsg: return "recvmsg";
    case SYS_recvmmsg: return "recvmmsg";
    case SYS_close: return "close";
    case SYS_shutdown: return "shutdown";
    case SYS_setsockopt: return "setsockopt";
    case SYS_exit: return "exit";
    case SYS_exit_group: return "exit_group";
    default: return "";
  }
}

std::string_view wait_syscall_name(int32_t nr) {
  switch (nr) {
    case SYS_accept: return "accept";
    case SYS_accept4: return "accept4";
    case SYS_connect: return "connect";
#ifdef SYS_epoll_wait
    case SYS_epoll_wait: return "epoll_wait";
#endif
    case SYS_epoll_pwait: return "epoll_pwait";
#ifdef SYS_epoll_pwait2
    case SYS_epoll_pwait2: return "epoll_pwait2";
#endif
#ifdef SYS_poll
    case SYS_poll: return "poll";
#endif
    case SYS_ppoll: return "ppoll";
#ifdef SYS_select
    case SYS_select: return "select";
#endif
    case SYS_pselect6: return "pselect6";
#ifdef SYS_io_uring_enter
    case SYS_io_uring_enter: return "io_uring_enter";
#endif
    default: return "";
  }
}

WaitKind wait_kind(const Waiter& w) {
  const std::string_view sc = wait_syscall_name(w.syscall);
  switch (w.via) {
    case WaitVia::IoUring: return WaitKind::IoUring;
    case WaitVia::Epoll: return WaitKind::Epoll;
    case WaitVia::Poll: return WaitKind::Poll;
    case WaitVia::Task:
      if (sc == "accept" || sc == "accept4") return WaitKind::Accept;
      if (sc == "connect") return WaitKind::Connect;
      return WaitKind::Unknown;
    case WaitVia::Unknown: return WaitKind::Unknown;
  }
  return WaitKind::Unknown;
}

std::string_view wait_how_name(const Waiter& w) {
  const std::string_view sc = wait_syscall_name(w.syscall);
  switch (wait_kind(w)) {
    case WaitKind::IoUring: return "io_uring";
    case WaitKind::Accept:
    case WaitKind::Connect: return sc;
    case WaitKind::Epoll:
      // An epoll entry's task is in epoll_wait() (ep->wq holds only those).
      return sc.starts_with("epoll_") ? sc : std::string_view("epoll_wait");
    case WaitKind::Poll:
      // A poll table serves poll(), ppoll(), select() and pselect6(): the
      // syscall says which.
      return sc.empty() || sc.starts_with("epoll") || sc.starts_with("accept") ? std::string_view("poll") : sc;
    case WaitKind::Unknown: return "unknown";
  }
  return "unknown";
}

std::string format_ip(uint16_t family, const std::array<uint8_t, 16>& addr) {
  IpBuffer buf;
  return std::string(format_ip(family, addr, buf));
}

std::string format_endpoint(uint16_t family, const std::array<uint8_t, 16>& addr, uint16_t port) {
  if (family == AF_INET6) return fmt::format("[{}]:{}", format_ip(family, addr), port);
  return fmt::format("{}:{}", format_ip(family, addr), port);
}

}  // namespace sockscope::events
