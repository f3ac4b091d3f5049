// Unit tests for the `explain` renderers: the text ladder, JSON Lines and
// Mermaid. The stories are built by hand; ladders and diagrams are compared
// whole, byte for byte, and every JSON record is parsed back and compared
// whole, so a missing, extra or mistyped field fails. The steps are facts
// (a kind and its numbers), as the tracker makes them; their texts, the
// verdict and the one-sentence descriptions are render/story_words', tested
// whole in story_words_test.cpp, so the verdicts are computed here rather
// than written out.
#include <arpa/inet.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "fixed_clock.hpp"
#include "render/explain_json_renderer.hpp"
#include "render/ladder_renderer.hpp"
#include "render/mermaid_renderer.hpp"
#include "render/story_words.hpp"
#include "track/story.hpp"

using nlohmann::json;
using sockscope::events::Backend;
using sockscope::events::ExecCtx;
using sockscope::render::describe;
using sockscope::render::ExplainJsonRenderer;
using sockscope::render::ExplainRenderer;
using sockscope::render::ExplainSummary;
using sockscope::render::LadderRenderer;
using sockscope::render::MermaidRenderer;
using sockscope::render::TimeColumn;
using sockscope::render::TimeStyle;
using sockscope::render::verdict;
using sockscope::test::kFixedClock;
using sockscope::test::kWallOffsetNs;
using namespace sockscope::track;

namespace {

constexpr uint32_t kNetns = 4026531840u;

Endpoint v4(const char* ip, uint16_t port) {
  Endpoint e;
  e.family = AF_INET;
  REQUIRE(inet_pton(AF_INET, ip, e.addr.data()) == 1);
  e.port = port;
  return e;
}

Step step(uint64_t ts, Lane lane, StepKind kind, ExecCtx ctx, uint32_t cpu, Task task,
          Step::Arrow arrow = Step::Arrow::None) {
  Step s;
  s.ts_ns = ts;
  s.kind = kind;
  s.lane = lane;
  s.arrow = arrow;
  s.ctx = ctx;
  s.cpu = cpu;
  s.task = std::move(task);
  return s;
}
Step packet(uint64_t ts, uint8_t flags, uint32_t cpu, Task task, Step::Arrow arrow) {
  Step s = step(ts, Lane::Kernel, StepKind::Packet, ExecCtx::Softirq, cpu, std::move(task), arrow);
  s.tcp_flags = flags;
  return s;
}
Step with_queue(Step s, uint32_t len, uint32_t max) {
  s.queue_len = len;
  s.queue_max = max;
  return s;
}
Step with_ret(Step s, int64_t ret) {
  s.ret = ret;
  return s;
}
Step with_backend(Step s, Backend b) {
  s.backend = b;
  return s;
}

const Task kSender{5151, "sender"};
const Task kReceiver{4242, "receiver"};

Listener listener() {
  Listener l;
  l.netns = kNetns;
  l.local = v4("127.0.0.1", 10000);
  l.owner = kReceiver;
  l.backlog = 128;
  l.listen_ns = 1000000000;
  l.sock = 0xffff888012345678ULL;
  l.ino = 91234;
  l.backend = Backend::Fentry;
  l.pids = {4242, 4250};  // forked after listen()
  return l;
}

// The receiver listens, is stopped (SIGSTOP); the sender connects: the kernel
// completes the handshake in softirq on the sender's CPU, connect() returns,
// and 5.2 s later the resumed receiver accepts.
Connection paused() {
  Connection c;
  c.netns = kNetns;
  c.client_netns = kNetns;
  c.server = v4("127.0.0.1", 10000);
  c.client = v4("127.0.0.1", 51946);
  c.outcome = Outcome::Accepted;
  c.listener = listener();
  c.client_task = kSender;
  c.connect_ret = 0;
  c.first_syn_ns = 2000010000;
  c.syns = 1;
  c.established = true;
  c.established_ns = 2000062000;
  c.ctx = ExecCtx::Softirq;
  c.cpu = 1;
  c.borrowed = kSender;
  c.listener_state = OwnerState::Stopped;
  c.queue_len = 1;
  c.queue_max = 128;
  c.accepted = true;
  c.accept_ns = 7210123456;
  c.acceptor = Task{4242, "receiver", 4242};
  c.accept_via = AcceptVia::Accept;
  c.accept_fd = 4;
  c.listener_ino = 91234;
  c.listener_pids = {4242, 4250};
  c.queue_len_after_accept = 0;
  c.bytes_before_accept = 5;
  c.rx_ifname = "lo";
  c.last_ns = c.accept_ns;
  c.backends = {Backend::SockOps, Backend::Fentry, Backend::Kprobe};
  const auto P = ExecCtx::Process;
  const auto S = ExecCtx::Softirq;
  using K = StepKind;
  using A = Step::Arrow;
  c.steps = {
      step(2000000000, Lane::Client, K::ConnectEnter, P, 1, kSender),
      packet(2000010000, 0x02, 1, kSender, A::ToServer),
      with_backend(with_queue(step(2000025000, Lane::Kernel, K::SynRecv, S, 1, kSender), 0, 128), Backend::SockOps),
      packet(2000031000, 0x12, 1, kSender, A::ToClient),
      packet(2000048000, 0x10, 1, kSender, A::ToServer),
      with_backend(with_queue(step(2000062000, Lane::Kernel, K::Established, S, 1, kSender), 1, 128), Backend::Fentry),
      with_ret(step(2000080000, Lane::Client, K::ConnectExit, P, 1, kSender), 0),
      with_ret(step(7210123456, Lane::Server, K::AcceptExit, P, 0, kReceiver), 4),
  };
  return c;
}

// Nobody listens on :10001: the kernel answers the SYN with a RST from the
// idle task's softirq, and connect() fails.
Connection refused() {
  Connection c;
  c.netns = kNetns;
  c.client_netns = kNetns;
  c.server = v4("127.0.0.1", 10001);
  c.client = v4("127.0.0.1", 40000);
  c.outcome = Outcome::Refused;
  c.client_task = Task{6000, "sender"};
  c.connect_ret = -111;
  c.first_syn_ns = 3000010000;
  c.syns = 1;
  c.rst_ns = 3000015000;
  c.last_ns = 3000041000;
  const Task client{6000, "sender"};
  const Task idle{0, "swapper/0"};
  const auto P = ExecCtx::Process;
  using K = StepKind;
  using A = Step::Arrow;
  Step closed = step(3000030000, Lane::Client, K::ClientState, P, 0, client);
  closed.old_state = 2;  // SYN_SENT
  closed.new_state = 7;  // CLOSE
  c.steps = {
      step(3000000000, Lane::Client, K::ConnectEnter, P, 0, client),
      packet(3000010000, 0x02, 0, client, A::ToServer),
      packet(3000020000, 0x14, 0, idle, A::ToClient),
      closed,
      with_ret(step(3000041000, Lane::Client, K::ConnectExit, P, 0, client), -111),
  };
  return c;
}

BindConflict conflict(bool with_holder) {
  BindConflict b;
  b.ts_ns = 4000000000;
  b.netns = kNetns;
  b.wanted = v4("0.0.0.0", 10000);
  b.caller = Task{7000, "receiver2"};
  b.err = 98;  // EADDRINUSE
  if (with_holder) {
    b.holder = kReceiver;
    b.holder_listening = true;
    b.holder_bound_ns = 999000000;
  }
  return b;
}

// `args`: the renderer's own, after its stream (the clock, the time column).
template <class R, class F, class... Args>
std::string render_with(F&& f, const Args&... args) {
  std::ostringstream os;
  R r(os, args...);
  f(static_cast<ExplainRenderer&>(r));
  r.flush();  // as the tool does every poll tick
  return os.str();
}

json json_of(const std::function<void(ExplainRenderer&)>& f) {
  const std::string out = render_with<ExplainJsonRenderer>(f, kFixedClock);
  REQUIRE(!out.empty());
  REQUIRE(out.back() == '\n');
  REQUIRE(out.find('\n') == out.size() - 1);  // one record, one line
  return json::parse(out);
}

}  // namespace

TEST_CASE("ladder: the paused receiver's connection, exact", "[explain][ladder]") {
  const Connection c = paused();
  const std::string out = render_with<LadderRenderer>([&](ExplainRenderer& r) { r.connection(c); });
  // clang-format off
  const std::string ladder = R"(connection 127.0.0.1:51946 -> 127.0.0.1:10000 (accepted)
       time  client pid 5151 sender        kernel (server host)                                    server pid 4242 receiver
   +0.000ms  connect() begins
   +0.010ms  --- SYN --------------------------------------------------------------------------->
   +0.025ms                                SYN_RECV: request socket made [softirq cpu1 sender]
   +0.031ms  <-- SYN-ACK ------------------------------------------------------------------------
   +0.048ms  --- ACK --------------------------------------------------------------------------->
   +0.062ms                                ESTABLISHED: child queued (1 of 128) [softirq cpu1 sender]
   +0.080ms  connect() = 0
+5210.123ms                                                                                        accept() = 4
)";
  // clang-format on
  CHECK(out == ladder + "verdict: " + verdict(c) + "\n\n");
}

TEST_CASE("ladder: a refused connection, the RST from the idle task", "[explain][ladder]") {
  const Connection c = refused();
  const std::string out = render_with<LadderRenderer>([&](ExplainRenderer& r) { r.connection(c); });
  // clang-format off
  const std::string ladder = R"(connection 127.0.0.1:40000 -> 127.0.0.1:10001 (refused)
       time  client pid 6000 sender        kernel (server host)                                    server
   +0.000ms  connect() begins
   +0.010ms  --- SYN --------------------------------------------------------------------------->
   +0.020ms  <-- RST ----------------------------------------------------------------------------
   +0.030ms  SYN_SENT -> CLOSE
   +0.041ms  connect() = -1 ECONNREFUSED
)";
  // clang-format on
  CHECK(out == ladder + "verdict: " + verdict(c) + "\n\n");
}

TEST_CASE("ladder: a kernel step names the task it borrowed: the idle task, or a pid without a name",
          "[explain][ladder]") {
  Connection c = refused();
  c.outcome = Outcome::Pending;
  c.connect_ret.reset();
  Step retransmit = step(3000000000, Lane::Kernel, StepKind::SynackRetransmit, ExecCtx::Softirq, 0, {0, "swapper/0"});
  Step child = step(3001000000, Lane::Kernel, StepKind::ChildState, ExecCtx::Irq, 2, {77, ""});
  child.old_state = 1;
  child.new_state = 7;
  c.steps = {retransmit, child};
  const std::string out = render_with<LadderRenderer>([&](ExplainRenderer& r) { r.connection(c); });
  // clang-format off
  const std::string ladder = R"(connection 127.0.0.1:40000 -> 127.0.0.1:10001 (pending)
       time  client pid 6000 sender        kernel (server host)                                    server
   +0.000ms                                SYN-ACK timer: retransmit [softirq cpu0 idle]
   +1.000ms                                child ESTABLISHED -> CLOSE [irq cpu2 pid 77]
)";
  // clang-format on
  CHECK(out == ladder + "verdict: " + verdict(c) + "\n\n");
}

TEST_CASE("ladder: unknown client, no steps", "[explain][ladder]") {
  Connection c = paused();
  c.client_task.reset();
  c.steps.clear();
  const std::string out = render_with<LadderRenderer>([&](ExplainRenderer& r) { r.connection(c); });
  CHECK(out ==
        "connection 127.0.0.1:51946 -> 127.0.0.1:10000 (accepted)\n"
        "       time  client                        kernel (server host)                                    "
        "server pid 4242 receiver\n"
        "verdict: " +
            verdict(c) + "\n\n");
}

TEST_CASE("ladder: listeners and failed binds are one line, and there is no summary", "[explain][ladder]") {
  const Listener l = listener();
  const BindConflict held = conflict(true), unheld = conflict(false);
  const std::string out = render_with<LadderRenderer>([&](ExplainRenderer& r) {
    r.listener(l);
    r.bind_conflict(held);
    r.bind_conflict(unheld);
    r.summary(ExplainSummary{{10, {}}, 2, 0});
  });
  CHECK(out == "listen  " + describe(l) + "\nbind    " + describe(held) + "\nbind    " + describe(unheld) + "\n");
}

TEST_CASE("ladder: --time rel is the default: offsets within the story", "[explain][ladder][time]") {
  const Connection c = paused();
  const auto draw = [&](ExplainRenderer& r) { r.connection(c); };
  CHECK(render_with<LadderRenderer>(draw, TimeColumn(TimeStyle::Rel, kFixedClock)) ==
        render_with<LadderRenderer>(draw));
  CHECK(render_with<LadderRenderer>(draw, TimeColumn()) == render_with<LadderRenderer>(draw));
}

TEST_CASE("ladder: --time mono, CLOCK_MONOTONIC seconds to the nanosecond, the column as wide as they are",
          "[explain][ladder][time]") {
  Connection c = paused();
  for (Step& s : c.steps) s.ts_ns += 12'345'000'000'000;  // an uptime of hours: five digits of seconds
  const std::string out = render_with<LadderRenderer>([&](ExplainRenderer& r) { r.connection(c); },
                                                      TimeColumn(TimeStyle::Mono, kFixedClock));
  // clang-format off
  const std::string ladder = R"(connection 127.0.0.1:51946 -> 127.0.0.1:10000 (accepted)
           time  client pid 5151 sender        kernel (server host)                                    server pid 4242 receiver
12347.000000000  connect() begins
12347.000010000  --- SYN --------------------------------------------------------------------------->
12347.000025000                                SYN_RECV: request socket made [softirq cpu1 sender]
12347.000031000  <-- SYN-ACK ------------------------------------------------------------------------
12347.000048000  --- ACK --------------------------------------------------------------------------->
12347.000062000                                ESTABLISHED: child queued (1 of 128) [softirq cpu1 sender]
12347.000080000  connect() = 0
12352.210123456                                                                                        accept() = 4
)";
  // clang-format on
  CHECK(out == ladder + "verdict: " + verdict(c) + "\n\n");
}

TEST_CASE("ladder: --time wall, the local time of day to the microsecond", "[explain][ladder][time]") {
  const Connection c = paused();
  const std::string out = render_with<LadderRenderer>([&](ExplainRenderer& r) { r.connection(c); },
                                                      TimeColumn(TimeStyle::Wall, kFixedClock));
  // 2000000000 ns on the fixed clock: 2026-03-01 00:00:02 UTC, 01:00:02 local.
  // The accept at 7210123456 ns: 01:00:07.210123 (cut, not rounded up).
  // clang-format off
  const std::string ladder = R"(connection 127.0.0.1:51946 -> 127.0.0.1:10000 (accepted)
           time  client pid 5151 sender        kernel (server host)                                    server pid 4242 receiver
01:00:02.000000  connect() begins
01:00:02.000010  --- SYN --------------------------------------------------------------------------->
01:00:02.000025                                SYN_RECV: request socket made [softirq cpu1 sender]
01:00:02.000031  <-- SYN-ACK ------------------------------------------------------------------------
01:00:02.000048  --- ACK --------------------------------------------------------------------------->
01:00:02.000062                                ESTABLISHED: child queued (1 of 128) [softirq cpu1 sender]
01:00:02.000080  connect() = 0
01:00:07.210123                                                                                        accept() = 4
)";
  // clang-format on
  CHECK(out == ladder + "verdict: " + verdict(c) + "\n\n");
  // A story without steps has the column all the same, at its least width.
  Connection empty = paused();
  empty.steps.clear();
  CHECK(render_with<LadderRenderer>([&](ExplainRenderer& r) { r.connection(empty); },
                                    TimeColumn(TimeStyle::Wall, kFixedClock)) ==
        render_with<LadderRenderer>([&](ExplainRenderer& r) { r.connection(empty); }));
}

TEST_CASE("mermaid: the paused receiver's connection, exact", "[explain][mermaid]") {
  const Connection c = paused();
  const std::string out = render_with<MermaidRenderer>([&](ExplainRenderer& r) { r.connection(c); });
  // clang-format off
  const std::string diagram = R"(sequenceDiagram
participant C as client 127.0.0.1:51946 (pid 5151 sender)
participant K as kernel (server host)
participant S as server 127.0.0.1:10000 (pid 4242 receiver)
Note over C: +0.000 ms connect() begins
C->>K: SYN
Note over K: +0.025 ms SYN_RECV: request socket made [softirq cpu1]
K->>C: SYN-ACK
C->>K: ACK
Note over K: +0.062 ms ESTABLISHED: child queued (1 of 128)<br/>[softirq cpu1]
Note over C: +0.080 ms connect() = 0
Note over S: +5210.123 ms accept() = 4
Note over C,S: The handshake for 127.0.0.1:51946 → 127.0.0.1:10000 was<br/>completed by the kernel (softirq on CPU 1, receiving on<br/>lo, borrowing the context of sender (pid 5151), the<br/>connecting client) 52 us after the first SYN, and the<br/>kernel queued the connection for accept(). The listening<br/>process, receiver (pid 4242), was stopped (SIGSTOP or<br/>job control), so not in accept(). The connection waited<br/>in the accept queue (1 of 128) for 5.21 s, until<br/>accept() in receiver (pid 4242) returned it as fd 4, 5<br/>bytes had already arrived.

)";
  // clang-format on
  CHECK(out == diagram);
  // The verdict's ';' would end the statement; its lines are its words.
  CHECK(verdict(c).find("; 5 bytes had already arrived.") != std::string::npos);
  CHECK(out.find("fd 4, 5<br/>bytes had already arrived.") != std::string::npos);
  CHECK(out.find(';') == std::string::npos);
  CHECK(out.find("Note over C,S: " +
                 MermaidRenderer::wrap(MermaidRenderer::sanitize(verdict(c)), MermaidRenderer::kNoteWidth) + "\n") !=
        std::string::npos);
}

TEST_CASE("mermaid: refused, no listener, unsafe characters", "[explain][mermaid]") {
  Connection c = refused();
  c.client_task = Task{6000, "odd;comm#1"};
  const std::string out = render_with<MermaidRenderer>([&](ExplainRenderer& r) { r.connection(c); });
  // clang-format off
  const std::string diagram = R"(sequenceDiagram
participant C as client 127.0.0.1:40000 (pid 6000 odd,comm 1)
participant K as kernel (server host)
participant S as server 127.0.0.1:10001
Note over C: +0.000 ms connect() begins
C->>K: SYN
K->>C: RST
Note over C: +0.030 ms SYN_SENT -> CLOSE
Note over C: +0.041 ms connect() = -1 ECONNREFUSED
Note over C,S: Nobody listened on 127.0.0.1:10001: the kernel answered<br/>the SYN with a RST, so the handshake was never<br/>completed, and connect() failed with ECONNREFUSED.

)";
  // clang-format on
  CHECK(out == diagram);
}

// A SYN dropped at a full queue (as in E5) is a long label; a long IPv6
// address and comm wrap the participants before their "(pid N comm)"; a
// kernel note keeps "[softirq cpu1]" whole.
TEST_CASE("mermaid: long labels, notes and participants are wrapped", "[explain][mermaid]") {
  Connection c = paused();
  c.client.family = AF_INET6;
  REQUIRE(inet_pton(AF_INET6, "2001:db8:85a3::8a2e:370:7334", c.client.addr.data()) == 1);
  c.server.family = AF_INET6;
  REQUIRE(inet_pton(AF_INET6, "2001:db8:85a3::8a2e:370:1", c.server.addr.data()) == 1);
  c.client_task = Task{4194304, "a-fifteen-chars"};
  Step dropped = packet(2000005000, 0x02, 1, kSender, Step::Arrow::ToServer);
  dropped.syn_dropped = true;
  dropped.queue_len = 129;
  dropped.queue_max = 128;
  Step queued = c.steps[5];
  queued.queue_len = 129;
  c.steps = {c.steps[0], dropped, c.steps[2], queued};
  const std::string out = render_with<MermaidRenderer>([&](ExplainRenderer& r) { r.connection(c); });
  // clang-format off
  CHECK(out.substr(0, out.find("Note over C,S: ")) == R"(sequenceDiagram
participant C as client [2001:db8:85a3::8a2e:370:7334]:51946<br/>(pid 4194304 a-fifteen-chars)
participant K as kernel (server host)
participant S as server [2001:db8:85a3::8a2e:370:1]:10000<br/>(pid 4242 receiver)
Note over C: +0.000 ms connect() begins
C->>K: SYN, dropped: accept queue full<br/>(129 queued, backlog 128)
Note over K: +0.025 ms SYN_RECV: request socket made [softirq cpu1]
Note over K: +0.062 ms ESTABLISHED: child queued (129 queued, backlog<br/>128) [softirq cpu1]
)");
  // clang-format on
}

TEST_CASE("mermaid: wrap breaks at spaces only, each line as full as it can be", "[explain][mermaid]") {
  struct Case {
    const char* text;
    std::size_t width;
    const char* wrapped;
  };
  const Case k = GENERATE(Case{"", 8, ""},                                            //
                          Case{"short", 8, "short"},                                  //
                          Case{"aaaa bbb", 8, "aaaa bbb"},                            // exactly the width: one line
                          Case{"aaaa bbbb", 8, "aaaa<br/>bbbb"},                      // one more: two
                          Case{"a b c d e f", 3, "a b<br/>c d<br/>e f"},              //
                          Case{"a unbreakable b", 4, "a<br/>unbreakable<br/>b"},      // a long word stays whole
                          Case{"unbreakable", 4, "unbreakable"},                      //
                          Case{"x &quot;y&quot; z", 4, "x<br/>&quot;y&quot;<br/>z"},  // nor is an entity cut
                          Case{"→ 1.2.3.4:5 → 6", 11, "→ 1.2.3.4:5<br/>→ 6"},         // "→" is one character
                          Case{"a  b c", 4, "a  b<br/>c"});                           // spaces are kept
  CAPTURE(k.text, k.width);
  CHECK(MermaidRenderer::wrap(k.text, k.width) == k.wrapped);
}

TEST_CASE("mermaid: sanitize, comments, no summary", "[explain][mermaid]") {
  CHECK(MermaidRenderer::sanitize("a;b#c\nd\re") == "a,b c d e");
  CHECK(MermaidRenderer::sanitize("→ 127.0.0.1:10000 (x)") == "→ 127.0.0.1:10000 (x)");
  const Listener l = listener();
  const BindConflict held = conflict(true);
  const std::string out = render_with<MermaidRenderer>([&](ExplainRenderer& r) {
    r.listener(l);
    r.bind_conflict(held);
    r.summary(ExplainSummary{});
  });
  // Comments are never drawn: not wrapped.
  CHECK(out ==
        "%% " + MermaidRenderer::sanitize(describe(l)) + "\n%% " + MermaidRenderer::sanitize(describe(held)) + "\n");
}

TEST_CASE("explain json: listen", "[explain][json]") {
  const Listener l = listener();
  const json j = json_of([&](ExplainRenderer& r) { r.listener(l); });
  CHECK(j == json{{"type", "listen"},
                  {"ts_ns", 1000000000u},
                  {"ts_wall_ns", 1772323201000000000u},
                  {"netns", kNetns},
                  {"family", "ipv4"},
                  {"local", "127.0.0.1:10000"},
                  {"pid", 4242},
                  {"comm", "receiver"},
                  {"backlog", 128},
                  {"ino", 91234},
                  {"listener_pids", {4242, 4250}},
                  {"backend", "fentry"},
                  {"explanation", describe(l)}});
}

TEST_CASE("explain json: bind conflicts, with and without a known holder", "[explain][json]") {
  json expected{{"type", "bind_conflict"},
                {"ts_ns", 4000000000u},
                {"ts_wall_ns", 1772323204000000000u},
                {"netns", kNetns},
                {"family", "ipv4"},
                {"local", "0.0.0.0:10000"},
                {"pid", 7000},
                {"comm", "receiver2"},
                {"errno", "EADDRINUSE"}};
  SECTION("holder known and listening") {
    const BindConflict b = conflict(true);
    const json j = json_of([&](ExplainRenderer& r) { r.bind_conflict(b); });
    expected["holder_pid"] = 4242;
    expected["holder_comm"] = "receiver";
    expected["holder_listening"] = true;
    expected["explanation"] = describe(b);
    CHECK(j == expected);
    CHECK(j.at("holder_listening").is_boolean());
  }
  SECTION("holder bound before tracing") {
    const BindConflict b = conflict(false);
    const json j = json_of([&](ExplainRenderer& r) { r.bind_conflict(b); });
    expected["holder_pid"] = nullptr;
    expected["holder_comm"] = nullptr;
    expected["holder_listening"] = false;
    expected["explanation"] = describe(b);
    CHECK(j == expected);
    CHECK(j.at("holder_pid").is_null());
    CHECK(j.at("holder_comm").is_null());
  }
}

TEST_CASE("explain json: the paused receiver's connection, every field", "[explain][json]") {
  const Connection c = paused();
  const json j = json_of([&](ExplainRenderer& r) { r.connection(c); });
  // A step's common keys; its kind's own are added by the caller.
  const auto st = [](uint64_t ts, const char* kind, const char* lane, json packet, const char* text, const char* ctx,
                     uint32_t cpu, uint32_t pid, const char* comm, const char* backend, json own = json::object()) {
    json s{{"ts_ns", ts},       {"ts_wall_ns", ts + kWallOffsetNs},
           {"kind", kind},      {"lane", lane},
           {"packet", packet},  {"text", text},
           {"ctx", ctx},        {"cpu", cpu},
           {"pid", pid},        {"comm", comm},
           {"backend", backend}};
    s.update(own);
    return s;
  };
  const json no_drop{{"len", 0}, {"dropped", false}, {"queue_len", nullptr}, {"queue_max", nullptr}};
  const auto pkt = [&](const char* flags) {
    json own = no_drop;
    own["flags"] = flags;
    return own;
  };
  const json expected{
      {"type", "connection"},
      {"netns", kNetns},
      {"client_netns", kNetns},
      {"family", "ipv4"},
      {"client", "127.0.0.1:51946"},
      {"server", "127.0.0.1:10000"},
      {"outcome", "accepted"},
      {"side", "server"},  // hand-built: the client host's facts (client_side) not filled in
      {"completed_by", "kernel"},
      {"ctx", "softirq"},
      {"cpu", 1},
      {"borrowed_pid", 5151},
      {"borrowed_comm", "sender"},
      {"borrowed_role", "client"},
      {"rx_ifname", "lo"},
      {"listener_pid", 4242},
      {"listener_comm", "receiver"},
      {"listener_state", "stopped"},
      {"listener_ino", 91234},
      {"listener_pids", {4242, 4250}},
      {"waiters", nullptr},  // not read: unknown
      {"waiters_complete", nullptr},
      {"idle_epoll", nullptr},
      {"client_pid", 5151},
      {"client_comm", "sender"},
      {"connect_ret", 0},
      {"syns", 1},
      {"syns_dropped", 0},
      {"synack_retransmits", 0},
      {"first_syn_ts_ns", 2000010000u},
      {"first_syn_ts_wall_ns", 1772323202000010000u},
      {"established_ts_ns", 2000062000u},
      {"established_ts_wall_ns", 1772323202000062000u},
      {"accept_ts_ns", 7210123456u},
      {"accept_ts_wall_ns", 1772323207210123456u},
      {"handshake_ns", 52000},
      {"accept_delay_ns", 5210061456u},
      {"queue_len", 1},
      {"queue_max", 128},
      {"queue_len_after_accept", 0},
      {"bytes_before_accept", 5},
      {"accept_fd", 4},
      {"accept_pid", 4242},
      {"accept_tid", 4242},
      {"accept_comm", "receiver"},
      {"accept_via", "accept"},
      {"accept_nonblocking", false},
      {"backends", {{"syn_recv", "sock_ops"}, {"established", "fentry"}, {"accept", "kprobe"}}},
      {"client_side", nullptr},
      {"records_lost", false},
      {"verdict", verdict(c)},
      {"steps",
       json::array({
           st(2000000000, "connect_enter", "client", nullptr, "connect() begins", "process", 1, 5151, "sender",
              "tracepoint"),
           st(2000010000, "packet", "kernel", "to_server", "SYN", "softirq", 1, 5151, "sender", "tracepoint", pkt("S")),
           st(2000025000, "syn_recv", "kernel", nullptr, "SYN_RECV: request socket made", "softirq", 1, 5151, "sender",
              "sock_ops", {{"queue_len", 0}, {"queue_max", 128}}),
           st(2000031000, "packet", "kernel", "to_client", "SYN-ACK", "softirq", 1, 5151, "sender", "tracepoint",
              pkt("S.")),
           st(2000048000, "packet", "kernel", "to_server", "ACK", "softirq", 1, 5151, "sender", "tracepoint", pkt(".")),
           st(2000062000, "established", "kernel", nullptr, "ESTABLISHED: child queued (1 of 128)", "softirq", 1, 5151,
              "sender", "fentry", {{"queue_len", 1}, {"queue_max", 128}}),
           st(2000080000, "connect_exit", "client", nullptr, "connect() = 0", "process", 1, 5151, "sender",
              "tracepoint", {{"ret", 0}, {"errno", nullptr}}),
           st(7210123456, "accept_exit", "server", nullptr, "accept() = 4", "process", 0, 4242, "receiver",
              "tracepoint", {{"ret", 4}, {"errno", nullptr}, {"nonblocking", false}}),
       })},
  };
  CHECK(j == expected);
  // Equality above does not tell numbers from strings' look-alikes; spot-check types.
  CHECK(j.at("cpu").is_number_integer());
  CHECK(j.at("connect_ret").is_number_integer());
  CHECK(j.at("steps").is_array());
  CHECK(j.at("verdict").is_string());
  CHECK(j.at("steps")[7].at("ret").is_number_integer());
  CHECK(j.at("steps")[1].at("len").is_number_integer());
  CHECK(j.at("steps")[1].at("dropped").is_boolean());
}

TEST_CASE("explain json: a refused connection's unknowns are null", "[explain][json]") {
  const Connection c = refused();
  const json j = json_of([&](ExplainRenderer& r) { r.connection(c); });
  for (const char* k : {"ctx",
                        "cpu",
                        "borrowed_pid",
                        "borrowed_comm",
                        "borrowed_role",
                        "listener_pid",
                        "listener_comm",
                        "established_ts_ns",
                        "established_ts_wall_ns",
                        "accept_ts_ns",
                        "accept_ts_wall_ns",
                        "handshake_ns",
                        "accept_delay_ns",
                        "queue_len_after_accept",
                        "bytes_before_accept",
                        "accept_fd",
                        "accept_pid",
                        "accept_tid",
                        "accept_comm",
                        "accept_via",
                        "accept_nonblocking",
                        "listener_ino",
                        "waiters",
                        "waiters_complete",
                        "idle_epoll"}) {
    INFO(k);
    CHECK(j.at(k).is_null());
  }
  CHECK(j.at("listener_pids") == json::array());
  CHECK(j.at("backends") == json{{"syn_recv", nullptr}, {"established", nullptr}, {"accept", nullptr}});
  CHECK(j.at("outcome") == "refused");
  CHECK(j.at("completed_by") == "none");
  CHECK(j.at("listener_state") == "unknown");
  CHECK(j.at("client_pid") == 6000);
  CHECK(j.at("client_comm") == "sender");
  CHECK(j.at("connect_ret") == -111);
  CHECK(j.at("first_syn_ts_ns") == 3000010000u);
  CHECK(j.at("first_syn_ts_wall_ns") == 1772323203000010000u);
  CHECK(j.at("syns") == 1);
  CHECK(j.at("queue_len") == 0);
  CHECK(j.at("queue_max") == 0);
  CHECK(j.at("verdict") == verdict(c));
  REQUIRE(j.at("steps").size() == 5);
  CHECK(j.at("steps")[1].at("packet") == "to_server");
  CHECK(j.at("steps")[2] == json{{"ts_ns", 3000020000u},
                                 {"ts_wall_ns", 1772323203000020000u},
                                 {"kind", "packet"},
                                 {"lane", "kernel"},
                                 {"packet", "to_client"},
                                 {"text", "RST"},
                                 {"ctx", "softirq"},
                                 {"cpu", 0},
                                 {"pid", 0},
                                 {"comm", "swapper/0"},
                                 {"backend", "tracepoint"},
                                 {"flags", "R."},
                                 {"len", 0},
                                 {"dropped", false},
                                 {"queue_len", nullptr},
                                 {"queue_max", nullptr}});
  CHECK(j.at("steps")[3] == json{{"ts_ns", 3000030000u},
                                 {"ts_wall_ns", 1772323203000030000u},
                                 {"kind", "client_state"},
                                 {"lane", "client"},
                                 {"packet", nullptr},
                                 {"text", "SYN_SENT -> CLOSE"},
                                 {"ctx", "process"},
                                 {"cpu", 0},
                                 {"pid", 6000},
                                 {"comm", "sender"},
                                 {"backend", "tracepoint"},
                                 {"old_state", "SYN_SENT"},
                                 {"new_state", "CLOSE"}});
  // A failed call: its return value and the errno's name.
  CHECK(j.at("steps")[4].at("kind") == "connect_exit");
  CHECK(j.at("steps")[4].at("text") == "connect() = -1 ECONNREFUSED");
  CHECK(j.at("steps")[4].at("ret") == -111);
  CHECK(j.at("steps")[4].at("errno") == "ECONNREFUSED");
  CHECK(j.size() == 52);  // the same keys as an accepted connection's record
}

TEST_CASE("explain json: each step kind's own fields", "[explain][json]") {
  // The kinds the two stories above do not have.
  Connection c = paused();
  using K = StepKind;
  const Task t{4242, "receiver"};
  Step closed = step(1, Lane::Server, K::ListenerClosed, ExecCtx::Process, 0, t);
  Step child = step(2, Lane::Kernel, K::ChildState, ExecCtx::Softirq, 0, t);
  child.old_state = 1;
  child.new_state = 8;
  Step retransmit = with_queue(step(3, Lane::Kernel, K::SynackRetransmit, ExecCtx::Softirq, 0, t), 2, 128);
  Step waiting = step(4, Lane::Server, K::AcceptEnter, ExecCtx::Process, 0, t);
  Step dequeued = step(5, Lane::Kernel, K::Dequeued, ExecCtx::Process, 0, t);
  dequeued.queue_len = 3;
  dequeued.queue_max = 128;
  dequeued.bytes_waiting = 13;
  Step dropped = packet(6, 0x02, 0, t, Step::Arrow::ToServer);
  dropped.syn_dropped = true;
  dropped.queue_len = 129;
  dropped.queue_max = 128;
  Step data = packet(7, 0x18, 0, t, Step::Arrow::ToServer);
  data.payload_len = 1448;
  c.steps = {closed, child, retransmit, waiting, dequeued, dropped, data};
  const json j = json_of([&](ExplainRenderer& r) { r.connection(c); });
  const json& steps = j.at("steps");
  REQUIRE(steps.size() == 7);
  const std::vector<std::string> common = {"ts_ns", "ts_wall_ns", "kind", "lane", "packet", "text",
                                           "ctx",   "cpu",        "pid",  "comm", "backend"};
  auto own = [&](const json& s) {
    json o = s;
    for (const auto& k : common) {
      INFO(k);
      CHECK(o.contains(k));
      o.erase(k);
    }
    return o;
  };
  CHECK(steps[0].at("kind") == "listener_closed");
  CHECK(own(steps[0]) == json::object());
  CHECK(steps[1].at("kind") == "child_state");
  CHECK(steps[1].at("text") == "child ESTABLISHED -> CLOSE_WAIT");
  CHECK(own(steps[1]) == json{{"old_state", "ESTABLISHED"}, {"new_state", "CLOSE_WAIT"}});
  CHECK(steps[2].at("kind") == "synack_retransmit");
  CHECK(own(steps[2]) == json{{"queue_len", 2}, {"queue_max", 128}});
  CHECK(steps[3].at("kind") == "accept_enter");
  CHECK(own(steps[3]) == json{{"nonblocking", false}});
  CHECK(steps[4].at("kind") == "dequeued");
  CHECK(steps[4].at("text") == "dequeued (3 left), 13 bytes waiting");
  CHECK(own(steps[4]) == json{{"queue_len", 3}, {"queue_max", 128}, {"bytes_waiting", 13}});
  CHECK(steps[5].at("text") == "SYN, dropped: accept queue full (129 queued, backlog 128)");
  CHECK(own(steps[5]) == json{{"flags", "S"}, {"len", 0}, {"dropped", true}, {"queue_len", 129}, {"queue_max", 128}});
  CHECK(steps[6].at("text") == "ACK + 1448 bytes");
  CHECK(own(steps[6]) ==
        json{{"flags", "P."}, {"len", 1448}, {"dropped", false}, {"queue_len", nullptr}, {"queue_max", nullptr}});
}

TEST_CASE("explain json: the borrowed task's role, by its name", "[explain][json]") {
  Connection c = paused();
  const std::pair<Task, const char*> rows[] = {
      {{5151, "sender"}, "client"},           {{0, "swapper/1"}, "idle_task"}, {{15, "ksoftirqd/1"}, "ksoftirqd"},
      {{4242, "receiver"}, "listener_owner"}, {{99, "make"}, "other"},
  };
  for (const auto& [task, role] : rows) {
    CAPTURE(role);
    c.borrowed = task;
    const json j = json_of([&](ExplainRenderer& r) { r.connection(c); });
    CHECK(j.at("borrowed_role") == role);
    CHECK(j.at("borrowed_pid") == task.pid);
  }
}

TEST_CASE("explain json: established, not accepted, first SYN and client unseen", "[explain][json]") {
  Connection c = paused();
  c.outcome = Outcome::Pending;
  c.accepted = false;
  c.first_syn_ns = 0;
  c.client_task.reset();
  c.connect_ret.reset();
  c.steps.clear();
  const json j = json_of([&](ExplainRenderer& r) { r.connection(c); });
  for (const char* k :
       {"client_pid", "client_comm", "connect_ret", "first_syn_ts_ns", "first_syn_ts_wall_ns", "accept_ts_ns",
        "accept_ts_wall_ns", "handshake_ns", "accept_delay_ns", "queue_len_after_accept", "bytes_before_accept",
        "accept_fd", "accept_pid", "accept_tid", "accept_comm", "accept_via", "accept_nonblocking"}) {
    INFO(k);
    CHECK(j.at(k).is_null());
  }
  CHECK(j.at("outcome") == "pending");
  CHECK(j.at("established_ts_ns") == 2000062000u);
  CHECK(j.at("established_ts_wall_ns") == 1772323202000062000u);
  CHECK(j.at("ctx") == "softirq");
  CHECK(j.at("cpu") == 1);
  CHECK(j.at("borrowed_pid") == 5151);
  CHECK(j.at("borrowed_role") == "other");  // the client unseen: the sender is not known to be it
  CHECK(j.at("steps") == json::array());
  CHECK(j.size() == 52);
}

TEST_CASE("explain json: summary", "[explain][json]") {
  ExplainSummary s;
  s.trace.events = 36;
  s.trace.lost = {1, 2, 3, 4, 30, 30};
  s.connections = 5;
  s.evicted = 1;
  s.open_peak = 4;
  const json j = json_of([&](ExplainRenderer& r) { r.summary(s); });
  CHECK(j == json{{"type", "summary"},
                  {"events", 36},
                  {"lost_total", 10},
                  {"lost", {{"ringbuf_full", 1}, {"inflight_full", 2}, {"tracked_full", 3}, {"undecodable", 4}}},
                  {"records_sent", 30},
                  {"records_received", 30},
                  {"connections", 5},
                  {"evicted", 1},
                  {"open_peak", 4}});
}

TEST_CASE("explain json: one line per record, buffer reused", "[explain][json]") {
  const Connection a = paused(), b = refused();
  const Listener l = listener();
  const std::string out = render_with<ExplainJsonRenderer>(
      [&](ExplainRenderer& r) {
        r.connection(a);
        r.listener(l);
        r.connection(b);
      },
      kFixedClock);
  std::istringstream in(out);
  std::vector<std::string> types;
  for (std::string line; std::getline(in, line);) types.push_back(json::parse(line).at("type"));
  CHECK(types == std::vector<std::string>{"connection", "listen", "connection"});
}

TEST_CASE("explain json: records are held until a flush, or until 64 KiB wait, then written whole", "[explain][json]") {
  const Connection a = paused();
  std::ostringstream os;
  ExplainJsonRenderer r(os, kFixedClock);
  r.connection(a);
  CHECK(os.str().empty());  // held: one write per poll tick, not one per story
  r.flush();
  const std::string one = os.str();
  REQUIRE(!one.empty());
  CHECK(one.find('\n') == one.size() - 1);
  r.flush();
  CHECK(os.str() == one);  // nothing held, nothing written twice
  // Enough stories to pass 64 KiB are written without a flush, each whole.
  const std::size_t n = 64 * 1024 / one.size() + 1;
  for (std::size_t i = 0; i < n; ++i) r.connection(a);
  const std::string out = os.str();
  CHECK(out.size() == one.size() * (n + 1));
  std::string expected;
  for (std::size_t i = 0; i < n + 1; ++i) expected += one;
  CHECK(out == expected);
  // The summary writes whatever is held, and itself.
  r.connection(a);
  r.summary(ExplainSummary{});
  CHECK(os.str().size() > out.size() + one.size());
  CHECK(os.str().compare(out.size(), one.size(), one) == 0);
}

TEST_CASE("a story told from incomplete records says so: JSON, ladder and Mermaid", "[explain][lost]") {
  Connection c = paused();
  CHECK(json_of([&](ExplainRenderer& r) { r.connection(c); }).at("records_lost") == false);
  const std::string whole = render_with<LadderRenderer>([&](ExplainRenderer& r) { r.connection(c); });
  CHECK(whole.find("records were lost") == std::string::npos);
  c.records_lost = true;
  CHECK(json_of([&](ExplainRenderer& r) { r.connection(c); }).at("records_lost") == true);
  const std::string ladder = render_with<LadderRenderer>([&](ExplainRenderer& r) { r.connection(c); });
  CHECK(ladder == whole.substr(0, whole.size() - 1) +
                      "note: records were lost while this connection was traced (the ring buffer was full): this "
                      "story may lack steps; see the summary's count\n\n");
  const std::string mermaid = render_with<MermaidRenderer>([&](ExplainRenderer& r) { r.connection(c); });
  CHECK(mermaid.find("%% records were lost while this connection was traced: this story may lack steps\n") !=
        std::string::npos);
}
