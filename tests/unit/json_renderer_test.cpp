// Unit tests for render::JsonRenderer: JSON Lines, one object per event.
// Each record is parsed back with nlohmann-json and compared whole against
// the expected object, so a field that should not be there fails the test
// as surely as a wrong value.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/syscall.h>

#include <cstdint>
#include <cstdio>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "event_builder.hpp"
#include "events/event.hpp"
#include "events/names.hpp"
#include "fixed_clock.hpp"
#include "render/json_renderer.hpp"
#include "render/json_writer.hpp"
#include "render/renderer.hpp"

using nlohmann::json;
using sockscope::events::Event;
using sockscope::render::JsonRenderer;
using sockscope::render::LossCounts;
using sockscope::render::Summary;
using sockscope::test::kFixedClock;
using sockscope::test::kWallOffsetNs;
using sockscope::test::RawEvent;

namespace {

// Split on '\n': every record must end with one.
std::vector<std::string> lines_of(const std::string& out) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < out.size()) {
    const auto nl = out.find('\n', start);
    REQUIRE(nl != std::string::npos);
    lines.push_back(out.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

std::string fmt_hex(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string render_line(const Event& e) {
  std::ostringstream os;
  JsonRenderer(os, kFixedClock).event(e);
  const auto lines = lines_of(os.str());
  REQUIRE(lines.size() == 1);
  return lines[0];
}

json render(const Event& e) { return json::parse(render_line(e)); }

// Fields every record carries, for a receiver on 127.0.0.1:10000 talking to
// 127.0.0.1:51946.
json common(const char* layer, const char* event) {
  return json{{"ts_ns", 1000120000u}, {"ts_wall_ns", 1772323201000120000u},
              {"layer", layer},       {"event", event},
              {"pid", 4242},          {"tid", 4243},
              {"comm", "receiver"},   {"cpu", 2},
              {"ctx", "process"},     {"netns", 4026531840u},
              {"family", "ipv4"},     {"saddr", "127.0.0.1"},
              {"sport", 10000},       {"daddr", "127.0.0.1"},
              {"dport", 51946},       {"backend", "tracepoint"}};
}

RawEvent base(uint32_t kind) {
  RawEvent b;
  b.kind(kind)
      .ts(1000120000)
      .pid(4242)
      .tid(4243)
      .comm("receiver")
      .cpu(2)
      .netns(4026531840u)
      .v4("127.0.0.1", 10000, "127.0.0.1", 51946);
  return b;
}

json with(json j, const json& extra) {
  for (const auto& [k, v] : extra.items()) j[k] = v;
  return j;
}

}  // namespace

TEST_CASE("json: syscall accept exit, exact line and fields", "[json]") {
  const auto e = base(SK_SYS_ACCEPT).sock(0xffff8880deadbeefULL).fd(3).ret(4).dur(5210000000).event();
  const auto line = render_line(e);
  CHECK(line ==
        R"({"ts_ns":1000120000,"ts_wall_ns":1772323201000120000,"layer":"syscall","event":"accept",)"
        R"("pid":4242,"tid":4243,"comm":"receiver","cpu":2,"ctx":"process","netns":4026531840,)"
        R"("family":"ipv4","saddr":"127.0.0.1","sport":10000,"daddr":"127.0.0.1","dport":51946,)"
        R"("backend":"tracepoint","sock":"0xffff8880deadbeef","phase":"exit","fd":3,"ret":4,"dur_ns":5210000000})");
  const auto j = json::parse(line);
  CHECK(j == with(common("syscall", "accept"),
                  {{"sock", "0xffff8880deadbeef"}, {"phase", "exit"}, {"fd", 3}, {"ret", 4}, {"dur_ns", 5210000000u}}));
  CHECK_FALSE(j.contains("errno"));
  CHECK_FALSE(j.contains("backlog"));
}

// Found by fuzz_decode (tests/fuzz): a return value no kernel gives, whose
// negation overflowed int64_t on its way to the errno name.
TEST_CASE("json: a failed call's errno from any return value, INT64_MIN included", "[json]") {
  const int64_t ret = GENERATE(int64_t{-98}, int64_t{-4095}, int64_t{-4096}, std::numeric_limits<int64_t>::min());
  const auto e = base(SK_SYS_CONNECT).fd(3).ret(ret).event();
  const json j = render(e);
  CHECK(j["ret"] == ret);
  // Built by appending: GCC 12 at -O3 warns (-Wrestrict, wrongly) on "E" + a string.
  std::string want = "E";
  want += std::to_string(ret == std::numeric_limits<int64_t>::min() ? std::numeric_limits<int>::max() : -ret);
  if (ret == -98) want = "EADDRINUSE";
  CHECK(j["errno"] == want);
}

TEST_CASE("json: syscall records", "[json]") {
  SECTION("accept enter: no result yet") {
    const auto j = render(base(SK_SYS_ACCEPT).phase(SK_PHASE_ENTER).fd(3).event());
    CHECK(j == with(common("syscall", "accept"), {{"phase", "enter"}, {"fd", 3}}));
    CHECK_FALSE(j.contains("ret"));
    CHECK_FALSE(j.contains("dur_ns"));
    CHECK_FALSE(j.contains("sock"));  // sock 0 is left out
  }
  SECTION("failed bind has errno") {
    const auto j = render(base(SK_SYS_BIND).fd(3).ret(-98).dur(12300).event());
    CHECK(j == with(common("syscall", "bind"),
                    {{"phase", "exit"}, {"fd", 3}, {"ret", -98}, {"errno", "EADDRINUSE"}, {"dur_ns", 12300}}));
  }
  SECTION("failed connect, unknown errno number") {
    const auto j = render(base(SK_SYS_CONNECT).fd(5).ret(-4000).event());
    CHECK(j == with(common("syscall", "connect"),
                    {{"phase", "exit"}, {"fd", 5}, {"ret", -4000}, {"errno", "E4000"}, {"dur_ns", 0}}));
  }
  SECTION("listen has backlog") {
    const auto j = render(base(SK_SYS_LISTEN).fd(3).backlog(4096).ret(0).dur(999).event());
    CHECK(j == with(common("syscall", "listen"),
                    {{"phase", "exit"}, {"fd", 3}, {"ret", 0}, {"dur_ns", 999}, {"backlog", 4096}}));
    CHECK_FALSE(j.contains("errno"));
  }
  SECTION("socket: negative fd") {
    const auto j = render(base(SK_SYS_SOCKET).fd(-1).ret(-97).event());
    CHECK(j.at("fd") == -1);
    CHECK(j.at("errno") == "EAFNOSUPPORT");
  }
}

TEST_CASE("json: kernel records", "[json]") {
  SECTION("established in softirq, owner stopped in accept()") {
    const auto j = render(base(SK_K_ESTABLISHED)
                              .ctx(SK_CTX_SOFTIRQ)
                              .backend(SK_BACKEND_SOCK_OPS)
                              .sock(0x1000)
                              .fd(7)  // not a kernel-layer field for this kind
                              .states(3, 1)
                              .queue(1, 128)
                              .owner(4242, 0x104, SK_OWNER_KNOWN | SK_OWNER_IN_ACCEPT)
                              .event());
    auto expected = with(common("kernel", "established"), {{"ctx", "softirq"},
                                                           {"backend", "sock_ops"},
                                                           {"sock", "0x1000"},
                                                           {"old_state", "SYN_RECV"},
                                                           {"new_state", "ESTABLISHED"},
                                                           {"queue_len", 1},
                                                           {"queue_max", 128},
                                                           {"owner_pid", 4242},
                                                           {"owner_state", "stopped"},
                                                           {"owner_in_accept", true}});
    CHECK(j == expected);
    CHECK_FALSE(j.contains("fd"));
    CHECK_FALSE(j.contains("phase"));
    CHECK_FALSE(j.contains("ret"));
  }
  SECTION("owner known, not in accept") {
    const auto j = render(base(SK_K_SYN_RECV).queue(0, 128).owner(4242, 0x1, SK_OWNER_KNOWN).event());
    CHECK(j == with(common("kernel", "syn_recv"), {{"queue_len", 0},
                                                   {"queue_max", 128},
                                                   {"owner_pid", 4242},
                                                   {"owner_state", "sleeping"},
                                                   {"owner_in_accept", false}}));
    CHECK_FALSE(j.contains("old_state"));
  }
  SECTION("owner unknown: no owner fields at all") {
    const auto j = render(base(SK_K_SYN_RECV).queue(0, 128).owner(99, 0x1, SK_OWNER_IN_ACCEPT).event());
    CHECK(j == with(common("kernel", "syn_recv"), {{"queue_len", 0}, {"queue_max", 128}}));
  }
  SECTION("state: states only") {
    const auto j = render(base(SK_K_STATE).fd(3).states(1, 8).queue(5, 6).backlog(7).event());
    CHECK(j == with(common("kernel", "state"), {{"old_state", "ESTABLISHED"}, {"new_state", "CLOSE_WAIT"}}));
    CHECK_FALSE(j.contains("fd"));
    CHECK_FALSE(j.contains("queue_len"));
    CHECK_FALSE(j.contains("backlog"));
  }
  SECTION("listen: states, backlog and queue") {
    const auto j = render(base(SK_K_LISTEN).states(7, 10).backlog(128).queue(0, 128).event());
    CHECK(
        j ==
        with(
            common("kernel", "listen"),
            {{"old_state", "CLOSE"}, {"new_state", "LISTEN"}, {"backlog", 128}, {"queue_len", 0}, {"queue_max", 128}}));
  }
  SECTION("bind: fd only") {
    const auto j = render(base(SK_K_BIND).fd(3).event());
    CHECK(j == with(common("kernel", "bind"), {{"fd", 3}}));
  }
  SECTION("accept: fd, queue and the bytes already received") {
    const auto j = render(base(SK_K_ACCEPT).fd(4).queue(0, 128).rx_queued(13).event());
    CHECK(j == with(common("kernel", "accept"), {{"fd", 4}, {"rx_queued", 13}, {"queue_len", 0}, {"queue_max", 128}}));
  }
  SECTION("synack_retransmit: queue and owner") {
    const auto j = render(base(SK_K_SYNACK_RETRANS).queue(2, 1).owner(4242, 0x104, 0x2 | 0x4).event());
    CHECK(j == with(common("kernel", "synack_retransmit"), {{"queue_len", 2},
                                                            {"queue_max", 1},
                                                            {"owner_pid", 4242},
                                                            {"owner_state", "stopped"},
                                                            {"owner_in_accept", false}}));
  }
}

TEST_CASE("json: a SYN arriving at a listener carries its accept queue", "[json]") {
  const auto j = render(base(SK_PKT_TCP).dir(SK_DIR_RX).flags(0x02).queue(2, 1).owner(0, 0, 0x4).event());
  CHECK(j.at("flags") == "S");
  CHECK(j.at("queue_len") == 2);
  CHECK(j.at("queue_max") == 1);
  // Without the listener found, no queue is claimed.
  const auto k = render(base(SK_PKT_TCP).dir(SK_DIR_RX).flags(0x02).queue(2, 1).event());
  CHECK_FALSE(k.contains("queue_len"));
}

TEST_CASE("json: packet record", "[json]") {
  const auto j = render(base(SK_PKT_TCP)
                            .v6("fd00::2", 51946, "fd00::1", 10000)
                            .ctx(SK_CTX_IRQ)
                            .backend(SK_BACKEND_TRACEPOINT)
                            .dir(SK_DIR_RX)
                            .ifname("eth0")
                            .ifindex(2)
                            .flags(0x12)
                            .seq(3528373741u)
                            .ack(1)
                            .window(65483)
                            .payload(0)
                            .fd(3)
                            .ret(-1)
                            .event());
  const json expected = with(common("packet", "tcp"), {{"ctx", "irq"},
                                                       {"family", "ipv6"},
                                                       {"saddr", "fd00::2"},
                                                       {"sport", 51946},
                                                       {"daddr", "fd00::1"},
                                                       {"dport", 10000},
                                                       {"dir", "rx"},
                                                       {"ifname", "eth0"},
                                                       {"ifindex", 2},
                                                       {"flags", "S."},
                                                       {"seq", 3528373741u},
                                                       {"ack", 1},
                                                       {"win", 65483},
                                                       {"len", 0}});
  CHECK(j == expected);
  CHECK_FALSE(j.contains("fd"));
  CHECK_FALSE(j.contains("ret"));
  CHECK_FALSE(j.contains("phase"));
  CHECK_FALSE(j.contains("queue_len"));
}

TEST_CASE("json: extreme numbers and an unknown family", "[json]") {
  RawEvent b = base(SK_SYS_CLOSE);
  b.ts(UINT64_MAX).sock(UINT64_MAX).dur(UINT64_MAX).ret(INT64_MAX).fd(INT32_MIN).pid(UINT32_MAX).family(0);
  const auto j = render(b.event());
  CHECK(j.at("ts_ns").get<uint64_t>() == UINT64_MAX);
  // The wall-clock time wraps as unsigned arithmetic does, defined for any ts_ns.
  CHECK(j.at("ts_wall_ns").get<uint64_t>() == static_cast<uint64_t>(kWallOffsetNs) - 1);
  CHECK(j.at("sock") == "0xffffffffffffffff");
  CHECK(j.at("dur_ns").get<uint64_t>() == UINT64_MAX);
  CHECK(j.at("ret").get<int64_t>() == INT64_MAX);
  CHECK(j.at("fd").get<int64_t>() == INT32_MIN);
  CHECK(j.at("pid").get<uint64_t>() == UINT32_MAX);
  CHECK(j.at("family") == "unknown");
  CHECK(j.at("saddr") == "?");
  CHECK(j.at("daddr") == "?");
}

TEST_CASE("json: a hostile comm stays valid JSON", "[json]") {
  // quote, backslash, control characters, an invalid UTF-8 byte, DEL, and
  // 16 bytes with no NUL.
  const std::string comm(
      "a\"b\\c\x01\n\xff\x7f"
      "d\xc3\xa9z123");
  REQUIRE(comm.size() == 16);
  const auto line = render_line(base(SK_SYS_SOCKET).comm(comm).event());
  CHECK(line.find(R"("comm":"a\"b\\c\u0001\n)"
                  "\xEF\xBF\xBD"
                  R"(\u007fd)"
                  "\xc3\xa9"
                  R"(z123",)") != std::string::npos);
  json j;
  REQUIRE_NOTHROW(j = json::parse(line));
  CHECK(j.at("comm").get<std::string>() ==
        "a\"b\\c\x01\n"
        "\xEF\xBF\xBD"  // U+FFFD for the 0xff
        "\x7f"
        "d\xc3\xa9z123");
}

TEST_CASE("json: lines are held until flush(), a full batch, the summary or destruction", "[json]") {
  std::ostringstream os;
  {
    JsonRenderer r(os, kFixedClock);
    r.event(base(SK_SYS_BIND).ts(1).fd(3).event());
    CHECK(os.str().empty());
    r.flush();
    CHECK(lines_of(os.str()).size() == 1);
    r.flush();  // nothing more to write
    CHECK(lines_of(os.str()).size() == 1);

    // A batch is written as soon as it reaches kBatchBytes, whole lines only.
    std::size_t n = 1;
    const std::size_t written = os.str().size();
    while (os.str().size() == written && n < 10000) r.event(base(SK_PKT_TCP).ts(++n).event());
    REQUIRE(os.str().size() != written);
    CHECK(os.str().size() >= JsonRenderer::kBatchBytes);
    CHECK(os.str().back() == '\n');
    CHECK(lines_of(os.str()).size() == n);
    r.event(base(SK_PKT_TCP).ts(n + 1).event());
    CHECK(lines_of(os.str()).size() == n);
  }
  const auto lines = lines_of(os.str());  // the destructor wrote the last one
  REQUIRE(!lines.empty());
  CHECK(json::parse(lines.back()).at("ts_ns") == lines.size());
}

TEST_CASE("json: one object per line, in order", "[json]") {
  std::ostringstream os;
  JsonRenderer r(os, kFixedClock);
  r.event(base(SK_SYS_BIND).ts(1).fd(3).event());
  r.event(base(SK_K_BIND).ts(2).fd(3).event());
  r.event(base(SK_PKT_TCP).ts(3).event());
  r.summary(Summary{3, {}});
  const auto lines = lines_of(os.str());
  REQUIRE(lines.size() == 4);
  CHECK(json::parse(lines[0]).at("ts_ns") == 1);
  CHECK(json::parse(lines[0]).at("layer") == "syscall");
  CHECK(json::parse(lines[1]).at("ts_ns") == 2);
  CHECK(json::parse(lines[1]).at("layer") == "kernel");
  CHECK(json::parse(lines[2]).at("ts_ns") == 3);
  CHECK(json::parse(lines[2]).at("layer") == "packet");
  CHECK(json::parse(lines[3]).at("layer") == "meta");
  // A longer record followed by a shorter one: the reused buffer is cleared.
  CHECK(lines[1].size() < lines[0].size());
}

TEST_CASE("json: ts_wall_ns is ts_ns on the run's one wall clock, right after it in every record", "[json][time]") {
  // Another clock than the fixture's: the offset is the clock's, whatever the
  // local time zone (which only the text outputs use).
  const sockscope::render::WallClock clock{1'700'000'000'123'456'789, -18000};
  std::ostringstream os;
  {
    JsonRenderer r(os, clock);
    r.event(base(SK_SYS_BIND).ts(1).fd(3).event());
    r.event(base(SK_K_ESTABLISHED).ts(5'000'000'000).event());
    r.event(base(SK_PKT_TCP).ts(987'654'321'012).event());
    r.summary(Summary{3, {}});
  }
  const auto lines = lines_of(os.str());
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].rfind(R"({"ts_ns":1,"ts_wall_ns":1700000000123456790,"layer":)", 0) == 0);
  CHECK(lines[1].rfind(R"({"ts_ns":5000000000,"ts_wall_ns":1700000005123456789,"layer":)", 0) == 0);
  CHECK(lines[2].rfind(R"({"ts_ns":987654321012,"ts_wall_ns":1700000987777777801,"layer":)", 0) == 0);
  for (std::size_t i = 0; i < 3; ++i) {
    const json j = json::parse(lines[i]);
    CHECK(j.at("ts_wall_ns").get<uint64_t>() - j.at("ts_ns").get<uint64_t>() == 1'700'000'000'123'456'789u);
  }
  // The summary is no moment: neither time.
  CHECK_FALSE(json::parse(lines[3]).contains("ts_ns"));
  CHECK_FALSE(json::parse(lines[3]).contains("ts_wall_ns"));
}

TEST_CASE("json: summary record", "[json]") {
  SECTION("no losses") {
    std::ostringstream os;
    JsonRenderer(os, kFixedClock).summary(Summary{42, {}});
    CHECK(os.str() == R"({"layer":"meta","event":"summary","events":42,"lost_total":0,)"
                      R"("lost":{"ringbuf_full":0,"inflight_full":0,"tracked_full":0,"undecodable":0},)"
                      R"("records_sent":0,"records_received":0})"
                      "\n");
  }
  SECTION("losses by cause") {
    std::ostringstream os;
    Summary s;
    s.events = 100;
    s.lost = LossCounts{1, 2, 3, 4, 90, 90};
    JsonRenderer(os, kFixedClock).summary(s);
    const auto lines = lines_of(os.str());
    REQUIRE(lines.size() == 1);
    const auto j = json::parse(lines[0]);
    CHECK(j == json{{"layer", "meta"},
                    {"event", "summary"},
                    {"events", 100},
                    {"lost_total", 10},
                    {"lost", {{"ringbuf_full", 1}, {"inflight_full", 2}, {"tracked_full", 3}, {"undecodable", 4}}},
                    {"records_sent", 90},
                    {"records_received", 90}});
  }
}

TEST_CASE("json: write_summary, the one writer of the counts, inside any object", "[json]") {
  // Trace's summary record and explain's both write their counts with it.
  std::string out;
  sockscope::render::JsonWriter w(out);
  w.begin_object();
  w.field("type", "summary");
  Summary s;
  s.events = 7;
  s.lost = LossCounts{1, 0, 20, 3, 5, 5};
  sockscope::render::write_summary(w, s);
  w.field("after", true);
  w.end_object();
  CHECK(out == R"({"type":"summary","events":7,"lost_total":24,)"
               R"("lost":{"ringbuf_full":1,"inflight_full":0,"tracked_full":20,"undecodable":3},)"
               R"("records_sent":5,"records_received":5,"after":true})");
}

namespace {

// The line as JsonWriter writes it, field by field: what JsonRenderer wrote
// before its raw-pointer fast path, kept here as the reference that path
// must match byte for byte.
std::string reference_line(const Event& e) {
  namespace events = sockscope::events;
  using events::Kind;
  using events::Layer;
  std::string buf;
  sockscope::render::JsonWriter w(buf);
  w.begin_object();
  w.field("ts_ns", e.ts_ns);
  w.field("ts_wall_ns", e.ts_ns + static_cast<uint64_t>(kWallOffsetNs));
  w.field("layer", events::layer_name(e.layer()));
  w.field("event", events::event_name(e.kind));
  w.field("pid", e.pid);
  w.field("tid", e.tid);
  w.field("comm", e.comm_view());
  w.field("cpu", e.cpu);
  w.field("ctx", events::ctx_name(e.ctx));
  w.field("netns", e.netns);
  w.field("family", events::family_name(e.family));
  w.field("saddr", events::format_ip(e.family, e.saddr));
  w.field("sport", e.sport);
  w.field("daddr", events::format_ip(e.family, e.daddr));
  w.field("dport", e.dport);
  w.field("backend", events::backend_name(e.backend));
  if (e.sock) w.field("sock", fmt_hex(e.sock));
  switch (e.layer()) {
    case Layer::Syscall:
      w.field("phase", e.phase == events::Phase::Enter ? "enter" : "exit");
      w.field("fd", e.fd);
      if (e.phase == events::Phase::Exit) {
        w.field("ret", e.ret);
        if (e.ret < 0) w.field("errno", events::errno_name(events::errno_of(e.ret)));
        w.field("dur_ns", e.dur_ns);
      }
      if (e.kind == Kind::SysListen) w.field("backlog", e.backlog);
      break;
    case Layer::Kernel:
      if (e.kind == Kind::State || e.kind == Kind::Listen || e.kind == Kind::Established) {
        w.field("old_state", events::tcp_state_name(e.old_state));
        w.field("new_state", events::tcp_state_name(e.new_state));
      }
      if (e.kind == Kind::Bind || e.kind == Kind::Accept) w.field("fd", e.fd);
      if (e.kind == Kind::Listen) w.field("backlog", e.backlog);
      if (e.kind == Kind::Accept) w.field("rx_queued", e.rx_queued);
      if (e.kind == Kind::SynRecv || e.kind == Kind::Established || e.kind == Kind::Accept || e.kind == Kind::Listen ||
          e.kind == Kind::SynackRetransmit) {
        w.field("queue_len", e.queue_len);
        w.field("queue_max", e.queue_max);
      }
      if (e.owner_known()) {
        w.field("owner_pid", e.owner_pid);
        w.field("owner_state", events::task_state_name(e.owner_state));
        w.field("owner_in_accept", static_cast<bool>(e.owner_flags & events::kOwnerInAccept));
      }
      if (e.waiters.read) {
        w.key("waiters");
        sockscope::render::write_waiters(w, e.waiters.tasks());
        w.field("waiters_complete", !e.waiters.truncated() && !e.waiters.unknown_entries());
      }
      break;
    case Layer::Packet:
      w.field("dir", events::dir_name(e.dir));
      w.field("ifname", e.ifname_view());
      w.field("ifindex", e.ifindex);
      w.field("flags", events::tcp_flags_string(e.tcp_flags));
      w.field("seq", e.seq);
      w.field("ack", e.ack_seq);
      w.field("win", e.window);
      w.field("len", e.payload_len);
      if (e.listener_found()) {
        w.field("queue_len", e.queue_len);
        w.field("queue_max", e.queue_max);
      }
      break;
  }
  w.end_object();
  buf += '\n';
  return buf;
}

}  // namespace

TEST_CASE("json: every line is byte for byte JsonWriter's", "[json]") {
  const std::string hostile(
      "a\"b\\c\x01\n\xff\x7f"
      "d\xc3\xa9z123");
  std::vector<Event> records;
  // Every kind, both phases, a failed call, and a syscall error without a name.
  for (uint32_t kind : {SK_SYS_SOCKET, SK_SYS_BIND, SK_SYS_LISTEN, SK_SYS_CONNECT, SK_SYS_ACCEPT, SK_SYS_CLOSE,
                        SK_SYS_GETSOCKOPT, SK_K_BIND, SK_K_LISTEN, SK_K_SYN_RECV, SK_K_ESTABLISHED, SK_K_ACCEPT,
                        SK_K_STATE, SK_K_SYNACK_RETRANS, SK_PKT_TCP}) {
    for (uint8_t phase : {SK_PHASE_ENTER, SK_PHASE_EXIT})
      for (int64_t ret : {int64_t{0}, int64_t{5}, int64_t{-98}, int64_t{-4000}})
        records.push_back(base(kind)
                              .phase(phase)
                              .ret(ret)
                              .dur(1234)
                              .fd(ret < 0 ? -1 : 3)
                              .backlog(511)
                              .states(10, 12)
                              .queue(3, 4096)
                              .rx_queued(7)
                              .dir(SK_DIR_TX)
                              .ifname("lo")
                              .ifindex(1)
                              .flags(0x19)
                              .seq(1)
                              .ack(2)
                              .window(3)
                              .payload(4)
                              .event());
  }
  // Extremes, the other families, contexts, backends, states and flags.
  records.push_back(base(SK_SYS_CLOSE)
                        .ts(UINT64_MAX)
                        .sock(UINT64_MAX)
                        .dur(UINT64_MAX)
                        .ret(INT64_MAX)
                        .fd(INT32_MIN)
                        .pid(UINT32_MAX)
                        .tid(UINT32_MAX)
                        .cpu(UINT32_MAX)
                        .netns(UINT32_MAX)
                        .family(0)
                        .event());
  records.push_back(base(SK_SYS_CONNECT).ret(INT64_MIN).event());
  records.push_back(base(SK_SYS_ACCEPT).comm("").v6("::", 0, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535).event());
  records.push_back(base(SK_SYS_ACCEPT).v6("::ffff:127.0.0.1", 1, "fe80::1", 2).ctx(SK_CTX_SOFTIRQ).event());
  records.push_back(base(SK_SYS_SOCKET).comm(hostile).v4("255.255.255.255", 65535, "0.0.0.0", 0).event());
  for (uint8_t backend : {SK_BACKEND_TRACEPOINT, SK_BACKEND_SOCK_OPS, SK_BACKEND_FENTRY, SK_BACKEND_KPROBE})
    for (uint8_t ctx : {SK_CTX_PROCESS, SK_CTX_SOFTIRQ, SK_CTX_IRQ})
      records.push_back(base(SK_K_STATE).backend(backend).ctx(ctx).event());
  for (uint8_t st = 0; st < 20; ++st)
    records.push_back(base(SK_K_STATE).states(st, static_cast<uint8_t>(st + 1)).event());
  for (uint32_t task_state : {0x0u, 0x1u, 0x2u, 0x4u, 0x8u, 0x10u, 0x20u, 0x104u, 0x400u, 0x80000u})
    for (uint8_t flags : {uint8_t{SK_OWNER_KNOWN}, uint8_t{SK_OWNER_KNOWN | SK_OWNER_IN_ACCEPT}})
      records.push_back(base(SK_K_SYN_RECV).owner(4242, task_state, flags).event());
  for (unsigned flags = 0; flags < 256; flags += 7)
    records.push_back(base(SK_PKT_TCP).dir(SK_DIR_RX).flags(static_cast<uint8_t>(flags)).event());
  records.push_back(base(SK_PKT_TCP).dir(SK_DIR_NONE).ifname(hostile).owner(0, 0, SK_LISTENER_FOUND).event());
  records.push_back(base(SK_PKT_TCP).ifname("0123456789abcdef").event());
  // Waiters: none, one, every slot with the longest escapes, and the flags.
  records.push_back(base(SK_K_ESTABLISHED).waiters_read().event());
  records.push_back(base(SK_K_ESTABLISHED)
                        .owner(4242, 0x1, SK_OWNER_KNOWN)
                        .waiter(4242, 4243, SYS_accept4, SK_WAIT_TASK, "receiver")
                        .event());
  {
    RawEvent b = base(SK_K_ESTABLISHED).waiters_read(SK_WAITERS_TRUNCATED | SK_WAITERS_UNKNOWN, 65535);
    for (uint32_t i = 0; i < SK_MAX_WAITERS; ++i)
      b.waiter(UINT32_MAX - i, UINT32_MAX, static_cast<int32_t>(i * 7), static_cast<uint8_t>(i % 5),
               i % 2 ? hostile : std::string(16, '\x01'));
    records.push_back(b.event());
  }
  for (uint8_t flags :
       {uint8_t{0}, uint8_t{SK_WAITERS_TRUNCATED}, uint8_t{SK_WAITERS_UNKNOWN}, uint8_t{SK_WAITERS_IDLE_EPOLL}})
    records.push_back(base(SK_K_STATE).states(2, 1).waiters_read(flags).waiter(1, 2, -1, SK_WAIT_EPOLL, "w").event());

  // One line each, and all of them through one renderer (its reused buffer
  // across batches), and each line parses.
  std::string expected;
  for (const Event& e : records) {
    const std::string ref = reference_line(e);
    CHECK(render_line(e) + "\n" == ref);
    REQUIRE_NOTHROW(json::parse(ref));
    expected += ref;
  }
  std::ostringstream os;
  {
    JsonRenderer r(os, kFixedClock);
    for (int round = 0; round < 200; ++round)
      for (const Event& e : records) r.event(e);
  }
  std::string all;
  for (int round = 0; round < 200; ++round) all += expected;
  CHECK(os.str() == all);
}

TEST_CASE("describe: the summary line, and what the kernel sent against what was read when they differ", "[json]") {
  Summary s{10, LossCounts{0, 0, 0, 0, 10, 10}};
  CHECK(sockscope::render::describe(s) == "10 events, 0 lost");
  s.lost.received = 9;
  CHECK(sockscope::render::describe(s) == "10 events, 0 lost; the kernel sent 10 records and 9 were read");
}
