// Unit tests for events/names: the words users see and script against.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

#include "event_builder.hpp"
#include "events/names.hpp"
#include "track/story.hpp"

using namespace sockscope::events;
using sockscope::test::RawEvent;
using sockscope::track::classify_owner;
using sockscope::track::owner_state_name;
using sockscope::track::OwnerState;
using namespace std::string_view_literals;

TEST_CASE("event_name for every kind", "[names]") {
  struct Row {
    Kind kind;
    std::string_view name;
  };
  const Row row = GENERATE(values<Row>({
      {Kind::SysSocket, "socket"},
      {Kind::SysBind, "bind"},
      {Kind::SysListen, "listen"},
      {Kind::SysConnect, "connect"},
      {Kind::SysAccept, "accept"},
      {Kind::SysClose, "close"},
      {Kind::Bind, "bind"},
      {Kind::Listen, "listen"},
      {Kind::SynRecv, "syn_recv"},
      {Kind::Established, "established"},
      {Kind::Accept, "accept"},
      {Kind::State, "state"},
      {Kind::SynackRetransmit, "synack_retransmit"},
      {Kind::Tcp, "tcp"},
  }));
  CAPTURE(static_cast<uint32_t>(row.kind));
  CHECK(event_name(row.kind) == row.name);
}

TEST_CASE("layer, context, direction, backend and family names", "[names]") {
  CHECK(layer_name(Layer::Syscall) == "syscall"sv);
  CHECK(layer_name(Layer::Kernel) == "kernel"sv);
  CHECK(layer_name(Layer::Packet) == "packet"sv);

  CHECK(ctx_name(ExecCtx::Process) == "process"sv);
  CHECK(ctx_name(ExecCtx::Softirq) == "softirq"sv);
  CHECK(ctx_name(ExecCtx::Irq) == "irq"sv);

  CHECK(dir_name(Dir::Rx) == "rx"sv);
  CHECK(dir_name(Dir::Tx) == "tx"sv);
  CHECK(dir_name(Dir::None) == ""sv);

  CHECK(backend_name(Backend::Tracepoint) == "tracepoint"sv);
  CHECK(backend_name(Backend::SockOps) == "sock_ops"sv);
  CHECK(backend_name(Backend::Fentry) == "fentry"sv);
  CHECK(backend_name(Backend::Kprobe) == "kprobe"sv);

  CHECK(family_name(AF_INET) == "ipv4"sv);
  CHECK(family_name(AF_INET6) == "ipv6"sv);
  CHECK(family_name(0) == "unknown"sv);
  CHECK(family_name(AF_UNIX) == "unknown"sv);
}

TEST_CASE("tcp_state_name", "[names]") {
  struct Row {
    uint8_t state;
    std::string_view name;
  };
  const Row row = GENERATE(values<Row>({
      {1, "ESTABLISHED"},
      {2, "SYN_SENT"},
      {3, "SYN_RECV"},
      {4, "FIN_WAIT1"},
      {5, "FIN_WAIT2"},
      {6, "TIME_WAIT"},
      {7, "CLOSE"},
      {8, "CLOSE_WAIT"},
      {9, "LAST_ACK"},
      {10, "LISTEN"},
      {11, "CLOSING"},
      {12, "NEW_SYN_RECV"},
      {13, "BOUND_INACTIVE"},
      {0, "UNKNOWN(0)"},
      {14, "UNKNOWN(14)"},
      {99, "UNKNOWN(99)"},
      {255, "UNKNOWN(255)"},
  }));
  CAPTURE(static_cast<int>(row.state));
  CHECK(tcp_state_name(row.state) == row.name);
}

TEST_CASE("errno_name", "[names]") {
  CHECK(errno_name(EADDRINUSE) == "EADDRINUSE");
  CHECK(errno_name(ECONNREFUSED) == "ECONNREFUSED");
  CHECK(errno_name(EAGAIN) == "EAGAIN");
  CHECK(errno_name(EINTR) == "EINTR");
  CHECK(errno_name(EBADF) == "EBADF");
  CHECK(errno_name(4000) == "E4000");
  CHECK(errno_name(-5) == "E-5");
}

TEST_CASE("tcp_flags_string uses tcpdump's letters and order", "[names]") {
  struct Row {
    uint8_t flags;
    std::string_view text;
  };
  const Row row = GENERATE(values<Row>({
      {0x02, "S"},
      {0x12, "S."},
      {0x10, "."},
      {0x18, "P."},
      {0x11, "F."},
      {0x19, "FP."},
      {0x04, "R"},
      {0x14, "R."},
      {0x00, "none"},
      {0x01, "F"},
      {0x08, "P"},
      {0x20, "U"},
      {0x40, "E"},
      {0x80, "W"},
      {0xc2, "SEW"},
      {0xff, "FSRP.UEW"},
  }));
  CAPTURE(static_cast<int>(row.flags));
  CHECK(tcp_flags_string(row.flags) == row.text);
}

TEST_CASE("task_state_name", "[names]") {
  struct Row {
    uint32_t state;
    std::string_view name;
  };
  const Row row = GENERATE(values<Row>({
      {0x0, "running"},
      {0x1, "sleeping"},
      {0x2, "disk-sleep"},
      {0x102, "disk-sleep"},  // TASK_KILLABLE
      {0x4, "stopped"},
      {0x104, "stopped"},  // TASK_STOPPED
      {0x8, "traced"},
      {0x108, "traced"},  // TASK_TRACED before 5.15
      {0x80, "dead"},
      {0x200, "state(0x200)"},
  }));
  CAPTURE(row.state);
  CHECK(task_state_name(row.state) == row.name);
}

TEST_CASE("task_state_name and classify_owner read owner_state alike", "[names]") {
  // One reading of the task __state bits (SK_TASK_* in bpf/sockscope.h) for
  // the words and for the verdict. The values are the kernel's.
  struct Row {
    uint32_t state;
    std::string_view name;   // task_state_name
    std::string_view owner;  // classify_owner, owner known, not in accept()
  };
  const Row row = GENERATE(values<Row>({
      {0x0, "running", "running"},
      {0x1, "sleeping", "sleeping"},
      {0x102, "disk-sleep", "sleeping"},  // TASK_KILLABLE
      {0x104, "stopped", "stopped"},      // TASK_STOPPED
      {0x8, "traced", "traced"},          // TASK_TRACED since 5.19
      {0x108, "traced", "traced"},        // TASK_TRACED before 5.19
      {0x80, "dead", "dead"},             // TASK_DEAD
      // EXIT_DEAD and EXIT_ZOMBIE are exit_state's values, never __state's:
      // classify_owner once read 0x10 as dead while task_state_name did not.
      {0x10, "state(0x10)", "sleeping"},
      {0x20, "state(0x20)", "sleeping"},
      {0x40, "state(0x40)", "sleeping"},  // TASK_PARKED (kernel threads)
  }));
  CAPTURE(row.state);
  CHECK(task_state_name(row.state) == row.name);
  CHECK(owner_state_name(classify_owner(row.state, SK_OWNER_KNOWN)) == row.owner);
}

TEST_CASE("classify_owner: blocked in accept() unless stopped, traced or dead", "[names]") {
  constexpr uint8_t in_accept = SK_OWNER_KNOWN | SK_OWNER_IN_ACCEPT;
  CHECK(classify_owner(0x1, in_accept) == OwnerState::BlockedInAccept);
  CHECK(classify_owner(0x0, in_accept) == OwnerState::BlockedInAccept);
  CHECK(classify_owner(0x10, in_accept) == OwnerState::BlockedInAccept);
  CHECK(classify_owner(0x104, in_accept) == OwnerState::Stopped);
  CHECK(classify_owner(0x8, in_accept) == OwnerState::Traced);
  CHECK(classify_owner(0x80, in_accept) == OwnerState::Dead);
  CHECK(classify_owner(0x80, SK_OWNER_IN_ACCEPT) == OwnerState::Unknown);  // owner not known
}

TEST_CASE("format_ip and format_endpoint", "[names]") {
  SECTION("IPv4") {
    const auto e = RawEvent().kind(SK_K_STATE).v4("127.0.0.1", 10000, "192.168.100.254", 65535).event();
    CHECK(format_ip(e.family, e.saddr) == "127.0.0.1");
    CHECK(format_ip(e.family, e.daddr) == "192.168.100.254");
    CHECK(format_endpoint(e.family, e.saddr, e.sport) == "127.0.0.1:10000");
    CHECK(format_endpoint(e.family, e.daddr, e.dport) == "192.168.100.254:65535");
  }
  SECTION("IPv4 any address, port 0") {
    const auto e = RawEvent().kind(SK_K_STATE).v4("0.0.0.0", 0, "0.0.0.0", 0).event();
    CHECK(format_endpoint(e.family, e.saddr, e.sport) == "0.0.0.0:0");
  }
  SECTION("IPv6") {
    const auto e = RawEvent().kind(SK_K_STATE).v6("::1", 10000, "fd00::2", 80).event();
    CHECK(format_ip(e.family, e.saddr) == "::1");
    CHECK(format_ip(e.family, e.daddr) == "fd00::2");
    CHECK(format_endpoint(e.family, e.saddr, e.sport) == "[::1]:10000");
    CHECK(format_endpoint(e.family, e.daddr, e.dport) == "[fd00::2]:80");
  }
  SECTION("IPv4-mapped IPv6 and a full address") {
    const auto e = RawEvent().kind(SK_K_STATE).v6("::ffff:127.0.0.1", 1, "2001:db8:1:2:3:4:5:6", 443).event();
    CHECK(format_endpoint(e.family, e.saddr, e.sport) == "[::ffff:127.0.0.1]:1");
    CHECK(format_endpoint(e.family, e.daddr, e.dport) == "[2001:db8:1:2:3:4:5:6]:443");
  }
  SECTION("IPv4 written by hand agrees with inet_ntop, every octet width") {
    for (const uint8_t a : {0, 1, 9, 10, 99, 100, 199, 255})
      for (const uint8_t b : {0, 7, 42, 254}) {
        const std::array<uint8_t, 16> addr{a, b, static_cast<uint8_t>(255 - a), static_cast<uint8_t>(a ^ b)};
        char want[INET_ADDRSTRLEN];
        REQUIRE(inet_ntop(AF_INET, addr.data(), want, sizeof want));
        sockscope::events::IpBuffer buf;
        CHECK(format_ip(AF_INET, addr, buf) == std::string_view(want));
      }
  }
  SECTION("unknown family") {
    const std::array<uint8_t, 16> addr{127, 0, 0, 1};
    CHECK(format_ip(0, addr) == "?");
    CHECK(format_endpoint(0, addr, 80) == "?:80");
  }
}
