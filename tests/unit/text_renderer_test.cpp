// Unit tests for render::TextRenderer: the aligned timeline. Outputs are
// compared whole, byte for byte.
#include <catch2/catch.hpp>

#include <cstdint>
#include <sstream>
#include <string>

#include "event_builder.hpp"
#include "fixed_clock.hpp"
#include "render/text_renderer.hpp"

using sockscope::events::Event;
using sockscope::render::LossCounts;
using sockscope::render::Summary;
using sockscope::render::TextRenderer;
using sockscope::render::TimeColumn;
using sockscope::render::TimeStyle;
using sockscope::test::kFixedClock;
using sockscope::test::RawEvent;

namespace {

// A receiver binds and listens on :10000, a sender's SYN arrives on lo and
// the handshake completes in softirq while the receiver is stopped in
// accept(); then a second receiver fails to bind the same port.
Event bind_ok() {
  return RawEvent()
      .kind(SK_SYS_BIND)
      .ts(1000000000)
      .dur(54100)
      .ret(0)
      .fd(3)
      .pid(4242)
      .tid(4242)
      .cpu(1)
      .comm("receiver")
      .v4("0.0.0.0", 10000, "0.0.0.0", 0)
      .event();
}

Event kernel_listen() {
  return RawEvent()
      .kind(SK_K_LISTEN)
      .ts(1000120000)
      .pid(4242)
      .tid(4242)
      .cpu(1)
      .comm("receiver")
      .v4("0.0.0.0", 10000, "0.0.0.0", 0)
      .states(7, 10)
      .backlog(128)
      .queue(0, 128)
      .event();
}

Event syn_in() {
  return RawEvent()
      .kind(SK_PKT_TCP)
      .ts(1002503000)
      .pid(4243)
      .tid(4244)
      .cpu(3)
      .comm("sender")
      .ctx(SK_CTX_SOFTIRQ)
      .dir(SK_DIR_RX)
      .ifname("lo")
      .ifindex(1)
      .v4("127.0.0.1", 51946, "127.0.0.1", 10000)
      .flags(0x02)
      .seq(3528373741u)
      .window(65495)
      .event();
}

Event established() {
  return RawEvent()
      .kind(SK_K_ESTABLISHED)
      .ts(1002561000)
      .pid(4243)
      .tid(4244)
      .cpu(3)
      .comm("sender")
      .ctx(SK_CTX_SOFTIRQ)
      .v4("127.0.0.1", 10000, "127.0.0.1", 51946)
      .states(3, 1)
      .queue(1, 128)
      .owner(4242, 0x104, SK_OWNER_KNOWN | SK_OWNER_IN_ACCEPT)
      .event();
}

Event bind_in_use() {
  return RawEvent()
      .kind(SK_SYS_BIND)
      .ts(6210000000)
      .dur(12300)
      .ret(-98)
      .fd(3)
      .pid(4250)
      .tid(4250)
      .cpu(0)
      .comm("receiver")
      .v4("0.0.0.0", 10000, "0.0.0.0", 0)
      .event();
}

const std::string kHeader = "   TIME(s) CPU CTX         PID     TID COMM            LAYER   EVENT       DETAILS\n";

}  // namespace

TEST_CASE("text: a short real sequence, colour off", "[text]") {
  std::ostringstream os;
  TextRenderer r(os, false);
  r.event(bind_ok());
  r.event(kernel_listen());
  r.event(syn_in());
  r.event(established());
  r.event(bind_in_use());
  r.summary(Summary{5, {}});

  const std::string expected =
      kHeader +
      "  0.000000   1 process    4242    4242 receiver        syscall bind        "
      "fd=3 0.0.0.0:10000 = 0 (54.1us)\n"
      "  0.000120   1 process    4242    4242 receiver        kernel  listen      "
      "0.0.0.0:10000 LISTEN backlog=128\n"
      "  0.002503   3 softirq    4243    4244 sender          packet  tcp         "
      "rx lo 127.0.0.1:51946 > 127.0.0.1:10000 [S] seq 3528373741 ack 0 win 65495 len 0\n"
      "  0.002561   3 softirq    4243    4244 sender          kernel  established "
      "127.0.0.1:10000 <- 127.0.0.1:51946 final ACK in: child ESTABLISHED and queued, queue 1/128; "
      "listener pid 4242 stopped in accept()\n"
      "  5.210000   0 process    4250    4250 receiver        syscall bind        "
      "fd=3 0.0.0.0:10000 = -98 EADDRINUSE (12.3us)\n"
      "-- 5 events, 0 lost\n";
  CHECK(os.str() == expected);
}

TEST_CASE("text: the header comes once, before the first event only", "[text]") {
  SECTION("summary alone prints no header") {
    std::ostringstream os;
    TextRenderer r(os, false);
    r.summary(Summary{});
    CHECK(os.str() == "-- 0 events, 0 lost\n");
  }
  SECTION("a second renderer has its own header and its own time origin") {
    std::ostringstream a, b;
    TextRenderer ra(a, false), rb(b, false);
    ra.event(bind_ok());
    rb.event(bind_in_use());
    const std::string line =
        "  0.000000   0 process    4250    4250 receiver        syscall bind        "
        "fd=3 0.0.0.0:10000 = -98 EADDRINUSE (12.3us)\n";
    CHECK(b.str() == kHeader + line);
    ra.event(bind_in_use());
    CHECK(a.str() == kHeader +
                         "  0.000000   1 process    4242    4242 receiver        syscall bind        "
                         "fd=3 0.0.0.0:10000 = 0 (54.1us)\n"
                         "  5.210000   0 process    4250    4250 receiver        syscall bind        "
                         "fd=3 0.0.0.0:10000 = -98 EADDRINUSE (12.3us)\n");
  }
}

TEST_CASE("text: an event older than the first has a negative time", "[text]") {
  std::ostringstream os;
  TextRenderer r(os, false);
  r.event(kernel_listen());  // t0 = 1000120000
  r.event(bind_ok());        // 120 us earlier
  CHECK(os.str() == kHeader +
                        "  0.000000   1 process    4242    4242 receiver        kernel  listen      "
                        "0.0.0.0:10000 LISTEN backlog=128\n"
                        " -0.000120   1 process    4242    4242 receiver        syscall bind        "
                        "fd=3 0.0.0.0:10000 = 0 (54.1us)\n");
}

TEST_CASE("text: a syscall entry is marked with '>'", "[text]") {
  std::ostringstream os;
  TextRenderer r(os, false);
  r.event(RawEvent()
              .kind(SK_SYS_ACCEPT)
              .phase(SK_PHASE_ENTER)
              .ts(5)
              .fd(3)
              .pid(4242)
              .tid(4242)
              .comm("receiver")
              .v4("0.0.0.0", 10000, "0.0.0.0", 0)
              .event());
  CHECK(os.str() == kHeader +
                        "  0.000000   0 process    4242    4242 receiver        syscall accept>     "
                        "fd=3 on 0.0.0.0:10000 waiting ...\n");
}

TEST_CASE("text: colour on", "[text]") {
  std::ostringstream os;
  TextRenderer r(os, true);
  r.event(bind_ok());
  r.event(kernel_listen());
  r.event(syn_in());
  r.event(bind_in_use());
  r.summary(Summary{4, {}});

  const std::string expected =
      "\033[2m   TIME(s) CPU CTX         PID     TID COMM            LAYER   EVENT       DETAILS\033[0m\n"
      "  0.000000   1 process    4242    4242 receiver        "
      "\033[36msyscall bind       \033[0m fd=3 0.0.0.0:10000 = 0 (54.1us)\n"
      "  0.000120   1 process    4242    4242 receiver        "
      "\033[33mkernel  listen     \033[0m 0.0.0.0:10000 LISTEN backlog=128\n"
      "  0.002503   3 softirq    4243    4244 sender          "
      "\033[35mpacket  tcp        \033[0m "
      "rx lo 127.0.0.1:51946 > 127.0.0.1:10000 [S] seq 3528373741 ack 0 win 65495 len 0\n"
      "  5.210000   0 process    4250    4250 receiver        "
      "\033[36msyscall bind       \033[0m \033[31mfd=3 0.0.0.0:10000 = -98 EADDRINUSE (12.3us)\033[0m\n"
      "-- 4 events, 0 lost\n";
  CHECK(os.str() == expected);
}

TEST_CASE("text: only a failed syscall exit is red", "[text]") {
  // A kernel record never carries a syscall result: ret is not looked at.
  std::ostringstream os;
  TextRenderer r(os, true);
  r.event(RawEvent().kind(SK_K_BIND).ret(-98).pid(1).tid(1).comm("x").v4("0.0.0.0", 80, "0.0.0.0", 0).event());
  // Nor is a syscall entry, whatever its ret holds.
  r.event(RawEvent()
              .kind(SK_SYS_CONNECT)
              .phase(SK_PHASE_ENTER)
              .ret(-115)
              .fd(5)
              .pid(1)
              .tid(1)
              .comm("x")
              .v4("0.0.0.0", 80, "0.0.0.0", 0)
              .event());
  CHECK(os.str() ==
        "\033[2m   TIME(s) CPU CTX         PID     TID COMM            LAYER   EVENT       DETAILS\033[0m\n"
        "  0.000000   0 process       1       1 x               "
        "\033[33mkernel  bind       \033[0m 0.0.0.0:80 bound\n"
        "  0.000000   0 process       1       1 x               "
        "\033[36msyscall connect>   \033[0m fd=5 to 0.0.0.0:0 ...\n");
}

TEST_CASE("text: --time rel is the default: seconds after the first event", "[text][time]") {
  std::ostringstream asked, by_default;
  TextRenderer a(asked, false, TimeColumn(TimeStyle::Rel, kFixedClock)), d(by_default, false);
  for (const Event& e : {bind_ok(), kernel_listen(), syn_in(), bind_in_use()}) {
    a.event(e);
    d.event(e);
  }
  CHECK(asked.str() == by_default.str());
  CHECK(asked.str().rfind(kHeader + "  0.000000   1 process", 0) == 0);
}

TEST_CASE("text: --time mono, CLOCK_MONOTONIC seconds to the nanosecond, the column as wide as the first",
          "[text][time]") {
  std::ostringstream os;
  TextRenderer r(os, false, TimeColumn(TimeStyle::Mono, kFixedClock));
  // An uptime of hours: five digits of seconds.
  for (Event e : {bind_ok(), kernel_listen(), bind_in_use()}) {
    e.ts_ns += 12'344'678'901'234;
    r.event(e);
  }
  CHECK(os.str() ==
        "        TIME(s) CPU CTX         PID     TID COMM            LAYER   EVENT       DETAILS\n"
        "12345.678901234   1 process    4242    4242 receiver        syscall bind        "
        "fd=3 0.0.0.0:10000 = 0 (54.1us)\n"
        "12345.679021234   1 process    4242    4242 receiver        kernel  listen      "
        "0.0.0.0:10000 LISTEN backlog=128\n"
        "12350.888901234   0 process    4250    4250 receiver        syscall bind        "
        "fd=3 0.0.0.0:10000 = -98 EADDRINUSE (12.3us)\n");
}

TEST_CASE("text: --time mono, an event earlier than the first has its own time, not a negative one", "[text][time]") {
  std::ostringstream os;
  TextRenderer r(os, false, TimeColumn(TimeStyle::Mono, kFixedClock));
  r.event(kernel_listen());
  r.event(bind_ok());
  CHECK(os.str() ==
        "    TIME(s) CPU CTX         PID     TID COMM            LAYER   EVENT       DETAILS\n"
        "1.000120000   1 process    4242    4242 receiver        kernel  listen      "
        "0.0.0.0:10000 LISTEN backlog=128\n"
        "1.000000000   1 process    4242    4242 receiver        syscall bind        "
        "fd=3 0.0.0.0:10000 = 0 (54.1us)\n");
}

TEST_CASE("text: --time wall, the local time of day to the microsecond, as tcpdump", "[text][time]") {
  std::ostringstream os;
  TextRenderer r(os, true, TimeColumn(TimeStyle::Wall, kFixedClock));
  r.event(bind_ok());
  r.event(kernel_listen());
  r.event(syn_in());
  Event late = bind_in_use();
  late.ts_ns = 3'599'999'999'999;  // cut to the microsecond, never rounded up into the next hour
  r.event(late);
  r.summary(Summary{4, {}});
  // 1 s on the fixed clock: 2026-03-01 00:00:01 UTC, 01:00:01 local.
  CHECK(os.str() ==
        "\033[2m           TIME CPU CTX         PID     TID COMM            LAYER   EVENT       DETAILS\033[0m\n"
        "01:00:01.000000   1 process    4242    4242 receiver        "
        "\033[36msyscall bind       \033[0m fd=3 0.0.0.0:10000 = 0 (54.1us)\n"
        "01:00:01.000120   1 process    4242    4242 receiver        "
        "\033[33mkernel  listen     \033[0m 0.0.0.0:10000 LISTEN backlog=128\n"
        "01:00:01.002503   3 softirq    4243    4244 sender          "
        "\033[35mpacket  tcp        \033[0m "
        "rx lo 127.0.0.1:51946 > 127.0.0.1:10000 [S] seq 3528373741 ack 0 win 65495 len 0\n"
        "01:59:59.999999   0 process    4250    4250 receiver        "
        "\033[36msyscall bind       \033[0m \033[31mfd=3 0.0.0.0:10000 = -98 EADDRINUSE (12.3us)\033[0m\n"
        "-- 4 events, 0 lost\n");
}

TEST_CASE("text: details for every kind", "[text]") {
  struct Row {
    const char* what;
    Event event;
    std::string details;
  };
  const auto v4 = [](uint32_t kind) {
    RawEvent b;
    b.kind(kind).v4("127.0.0.1", 10000, "127.0.0.1", 51946);
    return b;
  };
  const Row rows[] = {
      {"socket", RawEvent().kind(SK_SYS_SOCKET).family(AF_INET6).ret(3).dur(2500).event(), "ipv6 = 3 (2.5us)"},
      {"socket, no duration", RawEvent().kind(SK_SYS_SOCKET).family(AF_INET).ret(-97).event(),
       "ipv4 = -97 EAFNOSUPPORT"},
      {"listen", v4(SK_SYS_LISTEN).fd(3).backlog(4096).ret(0).dur(999).event(),
       "fd=3 127.0.0.1:10000 backlog=4096 = 0 (999ns)"},
      {"connect enter", v4(SK_SYS_CONNECT).phase(SK_PHASE_ENTER).fd(5).event(), "fd=5 to 127.0.0.1:51946 ..."},
      {"connect exit", v4(SK_SYS_CONNECT).fd(5).ret(-111).dur(80100000).event(),
       "fd=5 127.0.0.1:10000 -> 127.0.0.1:51946 = -111 ECONNREFUSED (80.1ms)"},
      {"accept enter", v4(SK_SYS_ACCEPT).phase(SK_PHASE_ENTER).fd(3).event(), "fd=3 on 127.0.0.1:10000 waiting ..."},
      {"accept exit", v4(SK_SYS_ACCEPT).fd(3).ret(4).dur(5210000000).event(),
       "fd=3 127.0.0.1:10000 <- 127.0.0.1:51946 = 4 (5.21s)"},
      {"accept exit, began before tracing", v4(SK_SYS_ACCEPT).fd(-1).ret(4).event(),
       "127.0.0.1:10000 <- 127.0.0.1:51946 = 4 (began before tracing)"},
      {"accept exit, failed", v4(SK_SYS_ACCEPT).fd(3).ret(-4).dur(1500).event(),
       "fd=3 127.0.0.1:10000 <- 127.0.0.1:51946 = -4 EINTR (1.5us)"},
      {"accept exit, failed, no fd", v4(SK_SYS_ACCEPT).fd(-1).ret(-11).event(),
       "fd=-1 127.0.0.1:10000 <- 127.0.0.1:51946 = -11 EAGAIN"},
      {"close", v4(SK_SYS_CLOSE).fd(4).ret(0).dur(7000).event(), "fd=4 127.0.0.1:10000 127.0.0.1:51946 = 0 (7.0us)"},
      {"kernel bind", RawEvent().kind(SK_K_BIND).v6("::", 10000, "::", 0).event(), "[::]:10000 bound"},
      {"kernel listen", v4(SK_K_LISTEN).backlog(128).event(), "127.0.0.1:10000 LISTEN backlog=128"},
      {"syn_recv, owner unknown", v4(SK_K_SYN_RECV).queue(0, 128).event(),
       "127.0.0.1:10000 <- 127.0.0.1:51946 SYN in: request socket, SYN-ACK follows; queue 0/128"},
      {"syn_recv, owner sleeping, not in accept",
       v4(SK_K_SYN_RECV).queue(0, 128).owner(4242, 0x1, SK_OWNER_KNOWN).event(),
       "127.0.0.1:10000 <- 127.0.0.1:51946 SYN in: request socket, SYN-ACK follows; queue 0/128; "
       "listener pid 4242 sleeping"},
      {"established, in accept but owner unknown",
       v4(SK_K_ESTABLISHED).queue(1, 1).owner(4242, 0x1, SK_OWNER_IN_ACCEPT).event(),
       "127.0.0.1:10000 <- 127.0.0.1:51946 final ACK in: child ESTABLISHED and queued, queue 1/1"},
      {"kernel accept", v4(SK_K_ACCEPT).fd(4).queue(0, 128).rx_queued(13).event(),
       "127.0.0.1:10000 <- 127.0.0.1:51946 child taken off the accept queue, queue 0/128, 13 bytes already received"},
      {"synack_retransmit", v4(SK_K_SYNACK_RETRANS).queue(2, 1).event(),
       "127.0.0.1:10000 -> 127.0.0.1:51946 SYN-ACK retransmitted (final ACK late or dropped); queue 2/1"},
      {"state", v4(SK_K_STATE).states(1, 8).event(),
       "ESTABLISHED -> CLOSE_WAIT  local 127.0.0.1:10000 remote 127.0.0.1:51946"},
      {"state, unknown", v4(SK_K_STATE).states(0, 42).event(),
       "UNKNOWN(0) -> UNKNOWN(42)  local 127.0.0.1:10000 remote 127.0.0.1:51946"},
      {"packet tx, IPv6",
       RawEvent()
           .kind(SK_PKT_TCP)
           .dir(SK_DIR_TX)
           .ifname("eth0")
           .v6("fd00::1", 10000, "fd00::2", 51946)
           .flags(0x18)
           .seq(1)
           .ack(2)
           .window(512)
           .payload(1448)
           .event(),
       "tx eth0 [fd00::1]:10000 > [fd00::2]:51946 [P.] seq 1 ack 2 win 512 len 1448"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    CHECK(TextRenderer::details(row.event) == row.details);
  }
}

TEST_CASE("text: summary", "[text]") {
  SECTION("no losses") {
    std::ostringstream os;
    TextRenderer(os, false).summary(Summary{12345, {}});
    CHECK(os.str() == "-- 12345 events, 0 lost\n");
  }
  SECTION("losses by cause") {
    std::ostringstream os;
    Summary s;
    s.events = 100;
    s.lost = LossCounts{1, 2, 3, 4};
    TextRenderer(os, false).summary(s);
    CHECK(os.str() ==
          "-- 100 events, 10 lost (ring buffer full: 1, syscall table full: 2, socket table full: 3, "
          "undecodable: 4)\n");
  }
  SECTION("one cause only; colour does not change the summary") {
    std::ostringstream os;
    Summary s;
    s.events = 7;
    s.lost.undecodable = 1;
    TextRenderer(os, true).summary(s);
    CHECK(os.str() ==
          "-- 7 events, 1 lost (ring buffer full: 0, syscall table full: 0, socket table full: 0, "
          "undecodable: 1)\n");
  }
}
