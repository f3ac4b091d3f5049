#include "events/names.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

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
  // Values of the kernel's enum (include/net/tcp_states.h); stable ABI.
  static constexpr std::array<std::string_view, 14> names = {
      "",      "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",    "TIME_WAIT",
      "CLOSE", "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV", "BOUND_INACTIVE"};
  if (state >= 1 && state < names.size()) return std::string(names[state]);
  return fmt::format("UNKNOWN({})", state);
}

std::string errno_name(int err) {
  if (const char* n = strerrorname_np(err)) return n;
  return fmt::format("E{}", err);
}

std::string tcp_flags_string(uint8_t flags) {
  // tcpdump's order (print-tcp.c): F S R P . U E W
  static constexpr std::pair<uint8_t, char> letters[] = {{0x01, 'F'}, {0x02, 'S'}, {0x04, 'R'}, {0x08, 'P'},
                                                         {0x10, '.'}, {0x20, 'U'}, {0x40, 'E'}, {0x80, 'W'}};
  std::string s;
  for (auto [bit, c] : letters)
    if (flags & bit) s += c;
  return s.empty() ? "none" : s;
}

std::string task_state_name(uint32_t state) {
  // include/linux/sched.h: the low bits say what the task waits for.
  constexpr uint32_t kInterruptible = 0x1, kUninterruptible = 0x2, kStopped = 0x4, kTraced = 0x8, kDead = 0x80;
  if (state == 0) return "running";
  if (state & kTraced) return "traced";
  if (state & kStopped) return "stopped";
  if (state & kDead) return "dead";
  if (state & kUninterruptible) return "disk-sleep";
  if (state & kInterruptible) return "sleeping";
  return fmt::format("state({:#x})", state);
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

std::string format_ip(uint16_t family, const std::array<uint8_t, 16>& addr) {
  IpBuffer buf;
  return std::string(format_ip(family, addr, buf));
}

std::string format_endpoint(uint16_t family, const std::array<uint8_t, 16>& addr, uint16_t port) {
  if (family == AF_INET6) return fmt::format("[{}]:{}", format_ip(family, addr), port);
  return fmt::format("{}:{}", format_ip(family, addr), port);
}

}  // namespace sockscope::events
