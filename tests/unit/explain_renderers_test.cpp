// Unit tests for the `explain` renderers: the text ladder, JSON Lines and
// Mermaid. The stories are built by hand; ladders and diagrams are compared
// whole, byte for byte, and every JSON record is parsed back and compared
// whole, so a missing, extra or mistyped field fails. The verdict and the
// one-sentence descriptions are the tracker's wording, not the renderers',
// so they are computed here rather than written out.
#include <arpa/inet.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "render/explain_json_renderer.hpp"
#include "render/ladder_renderer.hpp"
#include "render/mermaid_renderer.hpp"
#include "track/story.hpp"

using nlohmann::json;
using sockscope::events::ExecCtx;
using sockscope::render::ExplainJsonRenderer;
using sockscope::render::ExplainRenderer;
using sockscope::render::ExplainSummary;
using sockscope::render::LadderRenderer;
using sockscope::render::MermaidRenderer;
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

Step step(uint64_t ts, Lane lane, std::string text, ExecCtx ctx, uint32_t cpu, Task task,
          Step::Arrow arrow = Step::Arrow::None) {
  Step s;
  s.ts_ns = ts;
  s.lane = lane;
  s.arrow = arrow;
  s.text = std::move(text);
  s.ctx = ctx;
  s.cpu = cpu;
  s.task = std::move(task);
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
  c.acceptor = kReceiver;
  c.accept_fd = 4;
  c.queue_len_after_accept = 0;
  c.bytes_before_accept = 5;
  c.rx_ifname = "lo";
  c.last_ns = c.accept_ns;
  const auto P = ExecCtx::Process;
  const auto S = ExecCtx::Softirq;
  c.steps = {
      step(2000000000, Lane::Client, "connect() to 127.0.0.1:10000", P, 1, kSender),
      step(2000010000, Lane::Kernel, "SYN", S, 1, kSender, Step::Arrow::ToServer),
      step(2000025000, Lane::Kernel, "request socket (SYN_RECV), queue 0/128", S, 1, kSender),
      step(2000031000, Lane::Kernel, "SYN-ACK", S, 1, kSender, Step::Arrow::ToClient),
      step(2000048000, Lane::Kernel, "ACK", S, 1, kSender, Step::Arrow::ToServer),
      step(2000062000, Lane::Kernel, "child ESTABLISHED, queued 1/128", S, 1, kSender),
      step(2000080000, Lane::Client, "connect() = 0", P, 1, kSender),
      step(7210123456, Lane::Server, "accept() = 4", P, 0, kReceiver),
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
  const auto S = ExecCtx::Softirq;
  c.steps = {
      step(3000000000, Lane::Client, "connect() to 127.0.0.1:10001", P, 0, client),
      step(3000010000, Lane::Kernel, "SYN", S, 0, client, Step::Arrow::ToServer),
      step(3000015000, Lane::Kernel, "no listener: RST", S, 0, idle),
      step(3000020000, Lane::Kernel, "RST-ACK", S, 0, idle, Step::Arrow::ToClient),
      step(3000041000, Lane::Client, "connect() = -111 ECONNREFUSED", P, 0, client),
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

template <class R, class F>
std::string render_with(F&& f) {
  std::ostringstream os;
  R r(os);
  f(static_cast<ExplainRenderer&>(r));
  return os.str();
}

json json_of(const std::function<void(ExplainRenderer&)>& f) {
  const std::string out = render_with<ExplainJsonRenderer>(f);
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
   +0.000ms  connect() to 127.0.0.1:10000
   +0.010ms  --- SYN --------------------------------------------------------------------------->
   +0.025ms                                request socket (SYN_RECV), queue 0/128 [softirq cpu1 sender]
   +0.031ms  <-- SYN-ACK ------------------------------------------------------------------------
   +0.048ms  --- ACK --------------------------------------------------------------------------->
   +0.062ms                                child ESTABLISHED, queued 1/128 [softirq cpu1 sender]
   +0.080ms  connect() = 0
+5210.123ms                                                                                        accept() = 4
)";
  // clang-format on
  CHECK(out == ladder + "verdict: " + verdict(c) + "\n\n");
}

TEST_CASE("ladder: a refused connection, kernel work in the idle task", "[explain][ladder]") {
  const Connection c = refused();
  const std::string out = render_with<LadderRenderer>([&](ExplainRenderer& r) { r.connection(c); });
  // clang-format off
  const std::string ladder = R"(connection 127.0.0.1:40000 -> 127.0.0.1:10001 (refused)
       time  client pid 6000 sender        kernel (server host)                                    server
   +0.000ms  connect() to 127.0.0.1:10001
   +0.010ms  --- SYN --------------------------------------------------------------------------->
   +0.015ms                                no listener: RST [softirq cpu0 idle]
   +0.020ms  <-- RST-ACK ------------------------------------------------------------------------
   +0.041ms  connect() = -111 ECONNREFUSED
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

TEST_CASE("mermaid: the paused receiver's connection, exact", "[explain][mermaid]") {
  const Connection c = paused();
  const std::string out = render_with<MermaidRenderer>([&](ExplainRenderer& r) { r.connection(c); });
  const std::string diagram = R"(sequenceDiagram
participant C as client 127.0.0.1:51946 (pid 5151 sender)
participant K as kernel (server host)
participant S as server 127.0.0.1:10000 (pid 4242 receiver)
Note over C: +0.000 ms connect() to 127.0.0.1:10000
C->>K: SYN
Note over K: +0.025 ms request socket (SYN_RECV), queue 0/128 [softirq cpu1]
K->>C: SYN-ACK
C->>K: ACK
Note over K: +0.062 ms child ESTABLISHED, queued 1/128 [softirq cpu1]
Note over C: +0.080 ms connect() = 0
Note over S: +5210.123 ms accept() = 4
)";
  CHECK(out == diagram + "Note over C,S: " + MermaidRenderer::sanitize(verdict(c)) + "\n\n");
}

TEST_CASE("mermaid: refused, no listener, unsafe characters", "[explain][mermaid]") {
  Connection c = refused();
  c.client_task = Task{6000, "odd;comm#1"};
  c.steps[2].text = "no listener;\nRST #1";
  const std::string out = render_with<MermaidRenderer>([&](ExplainRenderer& r) { r.connection(c); });
  const std::string diagram = R"(sequenceDiagram
participant C as client 127.0.0.1:40000 (pid 6000 odd,comm 1)
participant K as kernel (server host)
participant S as server 127.0.0.1:10001
Note over C: +0.000 ms connect() to 127.0.0.1:10001
C->>K: SYN
Note over K: +0.015 ms no listener, RST  1 [softirq cpu0]
K->>C: RST-ACK
Note over C: +0.041 ms connect() = -111 ECONNREFUSED
)";
  CHECK(out == diagram + "Note over C,S: " + MermaidRenderer::sanitize(verdict(c)) + "\n\n");
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
  CHECK(out ==
        "%% " + MermaidRenderer::sanitize(describe(l)) + "\n%% " + MermaidRenderer::sanitize(describe(held)) + "\n");
}

TEST_CASE("explain json: listen", "[explain][json]") {
  const Listener l = listener();
  const json j = json_of([&](ExplainRenderer& r) { r.listener(l); });
  CHECK(j == json{{"type", "listen"},
                  {"ts_ns", 1000000000u},
                  {"netns", kNetns},
                  {"family", "ipv4"},
                  {"local", "127.0.0.1:10000"},
                  {"pid", 4242},
                  {"comm", "receiver"},
                  {"backlog", 128},
                  {"explanation", describe(l)}});
}

TEST_CASE("explain json: bind conflicts, with and without a known holder", "[explain][json]") {
  json expected{{"type", "bind_conflict"},  {"ts_ns", 4000000000u}, {"netns", kNetns},     {"family", "ipv4"},
                {"local", "0.0.0.0:10000"}, {"pid", 7000},          {"comm", "receiver2"}, {"errno", "EADDRINUSE"}};
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
  const auto st = [](uint64_t ts, const char* lane, const char* text, const char* ctx, uint32_t cpu, uint32_t pid,
                     const char* comm) {
    json packet = nullptr;
    if (std::string_view(text) == "SYN" || std::string_view(text) == "ACK") packet = "to_server";
    if (std::string_view(text) == "SYN-ACK") packet = "to_client";
    return json{{"ts_ns", ts}, {"lane", lane}, {"packet", packet}, {"text", text},
                {"ctx", ctx},  {"cpu", cpu},   {"pid", pid},       {"comm", comm}};
  };
  const json expected{
      {"type", "connection"},
      {"netns", kNetns},
      {"client_netns", kNetns},
      {"family", "ipv4"},
      {"client", "127.0.0.1:51946"},
      {"server", "127.0.0.1:10000"},
      {"outcome", "accepted"},
      {"completed_by", "kernel"},
      {"ctx", "softirq"},
      {"cpu", 1},
      {"borrowed_pid", 5151},
      {"borrowed_comm", "sender"},
      {"rx_ifname", "lo"},
      {"listener_pid", 4242},
      {"listener_comm", "receiver"},
      {"listener_state", "stopped"},
      {"client_pid", 5151},
      {"client_comm", "sender"},
      {"connect_ret", 0},
      {"syns", 1},
      {"syns_dropped", 0},
      {"synack_retransmits", 0},
      {"first_syn_ts_ns", 2000010000u},
      {"established_ts_ns", 2000062000u},
      {"accept_ts_ns", 7210123456u},
      {"handshake_ns", 52000},
      {"accept_delay_ns", 5210061456u},
      {"queue_len", 1},
      {"queue_max", 128},
      {"queue_len_after_accept", 0},
      {"bytes_before_accept", 5},
      {"accept_fd", 4},
      {"verdict", verdict(c)},
      {"steps", json::array({
                    st(2000000000, "client", "connect() to 127.0.0.1:10000", "process", 1, 5151, "sender"),
                    st(2000010000, "kernel", "SYN", "softirq", 1, 5151, "sender"),
                    st(2000025000, "kernel", "request socket (SYN_RECV), queue 0/128", "softirq", 1, 5151, "sender"),
                    st(2000031000, "kernel", "SYN-ACK", "softirq", 1, 5151, "sender"),
                    st(2000048000, "kernel", "ACK", "softirq", 1, 5151, "sender"),
                    st(2000062000, "kernel", "child ESTABLISHED, queued 1/128", "softirq", 1, 5151, "sender"),
                    st(2000080000, "client", "connect() = 0", "process", 1, 5151, "sender"),
                    st(7210123456, "server", "accept() = 4", "process", 0, 4242, "receiver"),
                })},
  };
  CHECK(j == expected);
  // Equality above does not tell numbers from strings' look-alikes; spot-check types.
  CHECK(j.at("cpu").is_number_integer());
  CHECK(j.at("connect_ret").is_number_integer());
  CHECK(j.at("steps").is_array());
  CHECK(j.at("verdict").is_string());
}

TEST_CASE("explain json: a refused connection's unknowns are null", "[explain][json]") {
  const Connection c = refused();
  const json j = json_of([&](ExplainRenderer& r) { r.connection(c); });
  for (const char* k : {"ctx", "cpu", "borrowed_pid", "borrowed_comm", "listener_pid", "listener_comm",
                        "established_ts_ns", "accept_ts_ns", "handshake_ns", "accept_delay_ns",
                        "queue_len_after_accept", "bytes_before_accept", "accept_fd"}) {
    INFO(k);
    CHECK(j.at(k).is_null());
  }
  CHECK(j.at("outcome") == "refused");
  CHECK(j.at("completed_by") == "none");
  CHECK(j.at("listener_state") == "unknown");
  CHECK(j.at("client_pid") == 6000);
  CHECK(j.at("client_comm") == "sender");
  CHECK(j.at("connect_ret") == -111);
  CHECK(j.at("first_syn_ts_ns") == 3000010000u);
  CHECK(j.at("syns") == 1);
  CHECK(j.at("queue_len") == 0);
  CHECK(j.at("queue_max") == 0);
  CHECK(j.at("verdict") == verdict(c));
  REQUIRE(j.at("steps").size() == 5);
  CHECK(j.at("steps")[1].at("packet") == "to_server");
  CHECK(j.at("steps")[3].at("packet") == "to_client");
  CHECK(j.at("steps")[2] == json{{"ts_ns", 3000015000u},
                                 {"lane", "kernel"},
                                 {"packet", nullptr},
                                 {"text", "no listener: RST"},
                                 {"ctx", "softirq"},
                                 {"cpu", 0},
                                 {"pid", 0},
                                 {"comm", "swapper/0"}});
  CHECK(j.size() == 34);  // the same keys as an accepted connection's record
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
  for (const char* k : {"client_pid", "client_comm", "connect_ret", "first_syn_ts_ns", "accept_ts_ns", "handshake_ns",
                        "accept_delay_ns", "queue_len_after_accept", "bytes_before_accept", "accept_fd"}) {
    INFO(k);
    CHECK(j.at(k).is_null());
  }
  CHECK(j.at("outcome") == "pending");
  CHECK(j.at("established_ts_ns") == 2000062000u);
  CHECK(j.at("ctx") == "softirq");
  CHECK(j.at("cpu") == 1);
  CHECK(j.at("borrowed_pid") == 5151);
  CHECK(j.at("steps") == json::array());
  CHECK(j.size() == 34);
}

TEST_CASE("explain json: summary", "[explain][json]") {
  ExplainSummary s;
  s.trace.events = 36;
  s.trace.lost = {1, 2, 3, 4};
  s.connections = 5;
  s.evicted = 1;
  const json j = json_of([&](ExplainRenderer& r) { r.summary(s); });
  CHECK(j == json{{"type", "summary"},
                  {"events", 36},
                  {"lost_total", 10},
                  {"lost", {{"ringbuf_full", 1}, {"inflight_full", 2}, {"tracked_full", 3}, {"undecodable", 4}}},
                  {"connections", 5},
                  {"evicted", 1}});
}

TEST_CASE("explain json: one line per record, buffer reused", "[explain][json]") {
  const Connection a = paused(), b = refused();
  const Listener l = listener();
  const std::string out = render_with<ExplainJsonRenderer>([&](ExplainRenderer& r) {
    r.connection(a);
    r.listener(l);
    r.connection(b);
  });
  std::istringstream in(out);
  std::vector<std::string> types;
  for (std::string line; std::getline(in, line);) types.push_back(json::parse(line).at("type"));
  CHECK(types == std::vector<std::string>{"connection", "listen", "connection"});
}
