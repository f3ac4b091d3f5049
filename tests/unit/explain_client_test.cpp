// The client's half in explain's formats: a client-only story (curl's
// non-blocking connect to a server elsewhere) as JSON, ladder, Mermaid and
// verdict, exact; the client-side sentence a both-sides verdict gains; the
// client steps' words.
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <utility>

#include "fixed_clock.hpp"
#include "render/explain_json_renderer.hpp"
#include "render/ladder_renderer.hpp"
#include "render/mermaid_renderer.hpp"
#include "render/story_words.hpp"
#include "track/story.hpp"

using nlohmann::json;
using sockscope::events::ExecCtx;
using sockscope::events::Waiter;
using sockscope::events::WaitVia;
using sockscope::render::ExplainJsonRenderer;
using sockscope::render::LadderRenderer;
using sockscope::render::MermaidRenderer;
using sockscope::render::step_text;
using sockscope::render::verdict;
using sockscope::test::kFixedClock;
using namespace sockscope::track;

namespace {

#ifdef SYS_poll
constexpr int32_t kPollNr = SYS_poll;
#else
constexpr int32_t kPollNr = -1;
#endif

constexpr uint32_t kNetns = 4026531840u;
const Task kCurl{300, "curl"};
const Task kSwapper{0, "swapper/1"};

Endpoint v4(const char* ip, uint16_t port) {
  Endpoint e;
  e.family = AF_INET;
  REQUIRE(inet_pton(AF_INET, ip, e.addr.data()) == 1);
  e.port = port;
  return e;
}

Waiter waiter(uint32_t pid, int32_t nr, WaitVia via, const char* comm) {
  Waiter w;
  w.pid = pid;
  w.tid = pid;
  w.syscall = nr;
  w.state = SK_TASK_INTERRUPTIBLE;
  w.via = via;
  std::memcpy(w.comm.data(), comm, std::strlen(comm));
  return w;
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

// curl connects without blocking to a server elsewhere: the SYN-ACK comes
// back 30 ms later in softirq on CPU 1, the wakeup finds curl in poll(),
// and curl reads SO_ERROR 1.2 ms after that.
Connection curl() {
  Connection c;
  c.netns = kNetns;
  c.client_netns = kNetns;
  c.client = v4("10.0.0.1", 40000);
  c.server = v4("93.184.216.34", 80);
  c.outcome = Outcome::Connected;
  c.client_only = true;
  c.client_task = kCurl;
  c.connect_ret = -EINPROGRESS;
  ClientSide& cs = c.client_side;
  cs.seen = true;
  cs.syn_tx_ns = 1'000'010'000;
  cs.syn_task = kCurl;
  cs.syn_ctx = ExecCtx::Process;
  cs.syns_sent = 1;
  cs.synack_rx_ns = 1'030'000'000;
  cs.established_ns = 1'030'005'000;
  cs.ctx = ExecCtx::Softirq;
  cs.cpu = 1;
  cs.borrowed = kSwapper;
  cs.ack_tx_ns = 1'030'010'000;
  cs.nonblocking = true;
  cs.connect_exit_ns = 1'000'020'000;
  cs.waiters = std::vector<Waiter>{waiter(300, kPollNr, WaitVia::Poll, "curl")};
  cs.so_error = 0;
  cs.so_error_ns = 1'031'205'000;
  c.last_ns = cs.so_error_ns;
  using K = StepKind;
  using A = Step::Arrow;
  const auto P = ExecCtx::Process;
  const auto S = ExecCtx::Softirq;
  Step syn = step(1'000'010'000, Lane::Kernel, K::Packet, P, 0, kCurl, A::ToServer);
  syn.tcp_flags = SK_TCP_SYN;
  Step exit = step(1'000'020'000, Lane::Client, K::ConnectExit, P, 0, kCurl);
  exit.ret = -EINPROGRESS;
  Step synack = step(1'030'000'000, Lane::Kernel, K::Packet, S, 1, kSwapper, A::ToClient);
  synack.tcp_flags = SK_TCP_SYN | SK_TCP_ACK;
  Step est = step(1'030'005'000, Lane::Kernel, K::ClientEstablished, S, 1, kSwapper);
  est.old_state = 2;
  est.new_state = 1;
  est.waiters = 1;
  Step ack = step(1'030'010'000, Lane::Kernel, K::Packet, S, 1, kSwapper, A::ToServer);
  ack.tcp_flags = SK_TCP_ACK;
  Step so = step(1'031'205'000, Lane::Client, K::Getsockopt, P, 0, kCurl);
  c.steps = {step(1'000'000'000, Lane::Client, K::ConnectEnter, P, 0, kCurl), syn, exit, synack, est, ack, so};
  return c;
}

// `args`: the renderer's own, after its stream (the JSON one's clock).
template <class R, class... Args>
std::string render(const Connection& c, const Args&... args) {
  std::ostringstream os;
  R r(os, args...);
  r.connection(c);
  r.flush();
  return os.str();
}

}  // namespace

TEST_CASE("client words: the client-only verdict of curl's non-blocking connect", "[explain][client]") {
  CHECK(verdict(curl()) ==
        "This host's kernel completed the client side of the handshake for 10.0.0.1:40000 → 93.184.216.34:80 in "
        "softirq on CPU 1 (borrowing swapper/1), 30.00 ms after its first SYN; the server's half was the server "
        "host's work, not seen in this trace. curl's non-blocking connect() returned EINPROGRESS; the kernel's "
        "wakeup found curl (pid 300) waiting in poll(); getsockopt(SO_ERROR) = 0 1.20 ms later.");
}

TEST_CASE("explain json: a client-only story, every field", "[explain][json][client]") {
  const Connection c = curl();
  const json j = json::parse(render<ExplainJsonRenderer>(c, kFixedClock));
  json expected = json::parse(R"({
 "type": "connection",
 "netns": 4026531840,
 "client_netns": 4026531840,
 "family": "ipv4",
 "client": "10.0.0.1:40000",
 "server": "93.184.216.34:80",
 "outcome": "connected",
 "side": "client",
 "completed_by": "unknown",
 "ctx": null,
 "cpu": null,
 "borrowed_pid": null,
 "borrowed_comm": null,
 "borrowed_role": null,
 "rx_ifname": null,
 "listener_pid": null,
 "listener_comm": null,
 "listener_state": "unknown",
 "listener_ino": null,
 "listener_pids": [],
 "waiters": null,
 "waiters_complete": null,
 "idle_epoll": null,
 "client_pid": 300,
 "client_comm": "curl",
 "connect_ret": -115,
 "syns": 0,
 "syns_dropped": 0,
 "synack_retransmits": 0,
 "first_syn_ts_ns": null,
 "first_syn_ts_wall_ns": null,
 "established_ts_ns": null,
 "established_ts_wall_ns": null,
 "accept_ts_ns": null,
 "accept_ts_wall_ns": null,
 "handshake_ns": null,
 "accept_delay_ns": null,
 "queue_len": 0,
 "queue_max": 0,
 "queue_len_after_accept": null,
 "bytes_before_accept": null,
 "accept_fd": null,
 "accept_pid": null,
 "accept_tid": null,
 "accept_comm": null,
 "accept_via": null,
 "accept_nonblocking": null,
 "backends": {
  "syn_recv": null,
  "established": null,
  "accept": null
 },
 "client_side": {
  "completed_by": "kernel",
  "ctx": "softirq",
  "cpu": 1,
  "borrowed_pid": 0,
  "borrowed_comm": "swapper/1",
  "syn_pid": 300,
  "syn_comm": "curl",
  "syn_ctx": "process",
  "syns_sent": 1,
  "syn_tx_ts_ns": 1000010000,
  "syn_tx_ts_wall_ns": 1772323201000010000,
  "synack_rx_ts_ns": 1030000000,
  "synack_rx_ts_wall_ns": 1772323201030000000,
  "ack_tx_ts_ns": 1030010000,
  "ack_tx_ts_wall_ns": 1772323201030010000,
  "established_ts_ns": 1030005000,
  "established_ts_wall_ns": 1772323201030005000,
  "rst_rx_ts_ns": null,
  "rst_rx_ts_wall_ns": null,
  "connect_ret": -115,
  "connect_errno": "EINPROGRESS",
  "connect_exit_ts_ns": 1000020000,
  "connect_exit_ts_wall_ns": 1772323201000020000,
  "nonblocking": true,
  "waiters": [
   {
    "pid": 300,
    "tid": 300,
    "comm": "curl",
    "how": "poll"
   }
  ],
  "waiters_truncated": false,
  "so_error": 0,
  "so_errno": null,
  "so_error_ts_ns": 1031205000,
  "so_error_ts_wall_ns": 1772323201031205000
 },
 "records_lost": false,
 "verdict": "VERDICT",
 "steps": [
  {
   "ts_ns": 1000000000,
   "ts_wall_ns": 1772323201000000000,
   "kind": "connect_enter",
   "lane": "client",
   "packet": null,
   "text": "connect() begins",
   "ctx": "process",
   "cpu": 0,
   "pid": 300,
   "comm": "curl",
   "backend": "tracepoint"
  },
  {
   "ts_ns": 1000010000,
   "ts_wall_ns": 1772323201000010000,
   "kind": "packet",
   "lane": "kernel",
   "packet": "to_server",
   "text": "SYN",
   "ctx": "process",
   "cpu": 0,
   "pid": 300,
   "comm": "curl",
   "backend": "tracepoint",
   "flags": "S",
   "len": 0,
   "dropped": false,
   "queue_len": null,
   "queue_max": null
  },
  {
   "ts_ns": 1000020000,
   "ts_wall_ns": 1772323201000020000,
   "kind": "connect_exit",
   "lane": "client",
   "packet": null,
   "text": "connect() = -1 EINPROGRESS",
   "ctx": "process",
   "cpu": 0,
   "pid": 300,
   "comm": "curl",
   "backend": "tracepoint",
   "ret": -115,
   "errno": "EINPROGRESS"
  },
  {
   "ts_ns": 1030000000,
   "ts_wall_ns": 1772323201030000000,
   "kind": "packet",
   "lane": "kernel",
   "packet": "to_client",
   "text": "SYN-ACK",
   "ctx": "softirq",
   "cpu": 1,
   "pid": 0,
   "comm": "swapper/1",
   "backend": "tracepoint",
   "flags": "S.",
   "len": 0,
   "dropped": false,
   "queue_len": null,
   "queue_max": null
  },
  {
   "ts_ns": 1030005000,
   "ts_wall_ns": 1772323201030005000,
   "kind": "client_established",
   "lane": "kernel",
   "packet": null,
   "text": "client ESTABLISHED, woke 1 waiter",
   "ctx": "softirq",
   "cpu": 1,
   "pid": 0,
   "comm": "swapper/1",
   "backend": "tracepoint",
   "old_state": "SYN_SENT",
   "new_state": "ESTABLISHED",
   "waiters": 1
  },
  {
   "ts_ns": 1030010000,
   "ts_wall_ns": 1772323201030010000,
   "kind": "packet",
   "lane": "kernel",
   "packet": "to_server",
   "text": "ACK",
   "ctx": "softirq",
   "cpu": 1,
   "pid": 0,
   "comm": "swapper/1",
   "backend": "tracepoint",
   "flags": ".",
   "len": 0,
   "dropped": false,
   "queue_len": null,
   "queue_max": null
  },
  {
   "ts_ns": 1031205000,
   "ts_wall_ns": 1772323201031205000,
   "kind": "getsockopt",
   "lane": "client",
   "packet": null,
   "text": "getsockopt(SO_ERROR) = 0",
   "ctx": "process",
   "cpu": 0,
   "pid": 300,
   "comm": "curl",
   "backend": "tracepoint",
   "ret": 0,
   "errno": null,
   "so_error": 0,
   "so_errno": null
  }
 ]
})");
  expected["verdict"] = verdict(c);
  CHECK(j == expected);
  CHECK(j.at("client_side").at("waiters").at(0).at("pid").is_number_integer());
  CHECK(j.at("client_side").at("so_error").is_number_integer());
}

TEST_CASE("explain json: client_side is null, side server, when the client is not on this host",
          "[explain][json][client]") {
  Connection c = curl();
  c.client_only = false;
  c.client_side = ClientSide{};
  const json j = json::parse(render<ExplainJsonRenderer>(c, kFixedClock));
  CHECK(j.at("side") == "server");
  CHECK(j.at("client_side").is_null());
  c.client_side.seen = true;  // both halves: the client's facts, unseen ones null
  const json both = json::parse(render<ExplainJsonRenderer>(c, kFixedClock));
  CHECK(both.at("side") == "both");
  const json& cs = both.at("client_side");
  CHECK(cs.at("completed_by") == "none");
  for (const char* k : {"ctx",
                        "cpu",
                        "borrowed_pid",
                        "borrowed_comm",
                        "syn_pid",
                        "syn_comm",
                        "syn_ctx",
                        "syn_tx_ts_ns",
                        "syn_tx_ts_wall_ns",
                        "synack_rx_ts_ns",
                        "synack_rx_ts_wall_ns",
                        "ack_tx_ts_ns",
                        "ack_tx_ts_wall_ns",
                        "established_ts_ns",
                        "established_ts_wall_ns",
                        "rst_rx_ts_ns",
                        "rst_rx_ts_wall_ns",
                        "connect_exit_ts_ns",
                        "connect_exit_ts_wall_ns",
                        "waiters",
                        "waiters_truncated",
                        "so_error",
                        "so_errno",
                        "so_error_ts_ns",
                        "so_error_ts_wall_ns"}) {
    INFO(k);
    CHECK(cs.at(k).is_null());
  }
  CHECK(cs.at("connect_ret") == -EINPROGRESS);
  CHECK(cs.at("connect_errno") == "EINPROGRESS");
  CHECK(cs.at("nonblocking") == false);
  CHECK(cs.size() == 30);  // 23, and the wall-clock twins of its 7 times
}

TEST_CASE("ladder: a client-only story is the client host's", "[explain][ladder][client]") {
  const Connection c = curl();
  CHECK(render<LadderRenderer>(c) == R"(connection 10.0.0.1:40000 -> 93.184.216.34:80 (connected)
       time  client pid 300 curl           kernel (client host)                                    server (not seen here)
   +0.000ms  connect() begins
   +0.010ms  --- SYN --------------------------------------------------------------------------->
   +0.020ms  connect() = -1 EINPROGRESS
  +30.000ms  <-- SYN-ACK ------------------------------------------------------------------------
  +30.005ms                                client ESTABLISHED, woke 1 waiter [softirq cpu1 idle]
  +30.010ms  --- ACK --------------------------------------------------------------------------->
  +31.205ms  getsockopt(SO_ERROR) = 0
verdict: )" + verdict(c) + "\n\n");
}

TEST_CASE("mermaid: a client-only story is the client host's", "[explain][mermaid][client]") {
  const Connection c = curl();
  CHECK(render<MermaidRenderer>(c) == R"(sequenceDiagram
participant C as client 10.0.0.1:40000 (pid 300 curl)
participant K as kernel (client host)
participant S as server 93.184.216.34:80 (not seen here)
Note over C: +0.000 ms connect() begins
C->>K: SYN
Note over C: +0.020 ms connect() = -1 EINPROGRESS
K->>C: SYN-ACK
Note over K: +30.005 ms client ESTABLISHED, woke 1 waiter<br/>[softirq cpu1]
C->>K: ACK
Note over C: +31.205 ms getsockopt(SO_ERROR) = 0
Note over C,S: This host's kernel completed the client side of the<br/>handshake for 10.0.0.1:40000 → 93.184.216.34:80 in<br/>softirq on CPU 1 (borrowing swapper/1), 30.00 ms after<br/>its first SYN, the server's half was the server host's<br/>work, not seen in this trace. curl's non-blocking<br/>connect() returned EINPROGRESS, the kernel's wakeup<br/>found curl (pid 300) waiting in poll(),<br/>getsockopt(SO_ERROR) = 0 1.20 ms later.

)");
}

TEST_CASE("client words: refused, timed out, not completed, connected unseen", "[explain][client]") {
  Connection c = curl();
  c.client_side.synack_rx_ns = 0;
  c.client_side.established_ns = 0;
  c.client_side.ack_tx_ns = 0;
  c.client_side.waiters.reset();
  c.client_side.rst_rx_ns = 1'020'000'000;
  c.client_side.so_error = ECONNREFUSED;
  c.client_side.so_error_ns = 1'020'500'000;
  c.outcome = Outcome::Refused;
  CHECK(verdict(c) ==
        "The server's host answered this host's SYN for 10.0.0.1:40000 → 93.184.216.34:80 with a RST: nothing "
        "listened on 93.184.216.34:80, so the handshake was never completed. curl's non-blocking connect() returned "
        "EINPROGRESS; getsockopt(SO_ERROR) = ECONNREFUSED.");
  c.client_side = ClientSide{};
  c.client_side.seen = true;
  c.client_side.syns_sent = 3;
  c.connect_ret = -ETIMEDOUT;
  c.outcome = Outcome::TimedOut;
  CHECK(verdict(c) ==
        "The client side of the handshake for 10.0.0.1:40000 → 93.184.216.34:80 was not completed: no answer came, "
        "and the kernel gave up (this host's kernel sent 3 SYNs, and no SYN-ACK came back). curl's connect() "
        "returned ETIMEDOUT.");
  c.connect_ret.reset();
  c.outcome = Outcome::Pending;
  CHECK(verdict(c) ==
        "The client side of the handshake for 10.0.0.1:40000 → 93.184.216.34:80 was not completed by the time this "
        "story was told (this host's kernel sent 3 SYNs, and no SYN-ACK came back).");
  c.connect_ret = 0;
  c.outcome = Outcome::Connected;
  CHECK(c.client_completed_by() == CompletedBy::Unknown);
  CHECK(verdict(c) ==
        "The client side of 10.0.0.1:40000 → 93.184.216.34:80 connected, but its socket's ESTABLISHED was not seen, "
        "so where this host's kernel completed it is unknown; the server's half was the server host's work, not seen "
        "in this trace. curl's connect() returned 0.");
}

TEST_CASE("client words: a both-sides verdict gains the client's half only for what the server's does not tell",
          "[explain][client]") {
  Connection c = curl();
  c.client_only = false;
  const std::string server = sockscope::render::server_verdict(c);
  CHECK(verdict(c) == server +
                          " On the client side, curl's non-blocking connect() returned EINPROGRESS; the kernel's "
                          "wakeup found curl (pid 300) waiting in poll(); getsockopt(SO_ERROR) = 0 1.20 ms later.");
  // A blocking connect whose wakeup was not read adds nothing (the recordings before waiters were read).
  c.client_side.nonblocking = false;
  c.client_side.waiters.reset();
  c.client_side.so_error.reset();
  c.connect_ret = 0;
  CHECK(verdict(c) == server);
  // Several waiters, one of them in epoll_wait(), and more than were read.
  c.client_side.waiters =
      std::vector<Waiter>{waiter(300, SYS_connect, WaitVia::Task, "curl"), waiter(301, -1, WaitVia::Epoll, "loop"),
                          waiter(302, -1, WaitVia::IoUring, "ring")};
  c.client_side.waiter_flags = SK_WAITERS_TRUNCATED;
  CHECK(verdict(c) == server +
                          " On the client side, curl's connect() returned 0; the kernel's wakeup found curl (pid 300) "
                          "waiting in connect(), loop (pid 301) waiting in epoll_wait() and ring (pid 302) waiting "
                          "through io_uring, and more.");
  c.client_side.waiters = std::vector<Waiter>{};
  c.client_side.waiter_flags = 0;
  CHECK(verdict(c) == server +
                          " On the client side, curl's connect() returned 0; the kernel's wakeup found nobody "
                          "waiting on the socket.");
}

TEST_CASE("client words: the client steps' texts", "[explain][client]") {
  Step s;
  s.kind = StepKind::ClientEstablished;
  s.old_state = 2;
  s.new_state = 1;
  CHECK(step_text(s) == "client ESTABLISHED");
  s.waiters = 0;
  CHECK(step_text(s) == "client ESTABLISHED, nobody waiting");
  s.waiters = 2;
  CHECK(step_text(s) == "client ESTABLISHED, woke 2 waiters");
  s = Step{};
  s.kind = StepKind::Getsockopt;
  CHECK(step_text(s) == "getsockopt(SO_ERROR) = 0");
  s.so_error = ECONNREFUSED;
  CHECK(step_text(s) == "getsockopt(SO_ERROR) = ECONNREFUSED");
  s.ret = -EBADF;
  CHECK(step_text(s) == "getsockopt() = -1 EBADF");
}

TEST_CASE("client words: a loopback server not traced is on this host", "[explain][client]") {
  Connection c = curl();
  c.server = v4("127.0.0.1", 18080);
  c.client = v4("127.0.0.1", 41600);
  CHECK(verdict(c) ==
        "This host's kernel completed the client side of the handshake for 127.0.0.1:41600 → 127.0.0.1:18080 in "
        "softirq on CPU 1 (borrowing swapper/1), 30.00 ms after its first SYN; the server's half, on this host, was "
        "not traced. curl's non-blocking connect() returned EINPROGRESS; the kernel's wakeup found curl (pid 300) "
        "waiting in poll(); getsockopt(SO_ERROR) = 0 1.20 ms later.");
}
