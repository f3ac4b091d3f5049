// Issue #11 on real programs: for each connection, who was waiting on the
// listener when the kernel queued it (and how), who held the listener, who
// accepted it, on every backend. The servers are real: nginx-light (master +
// 2 epoll workers, plain and reuseport), redis-server, and our own in
// tests/servers (poll, select, an epoll process pool with and without
// EPOLLEXCLUSIVE, a thread pool in accept(), a listener passed over
// SCM_RIGHTS, io_uring). Every one of them listens on its own port under
// one tracer: a tracer start costs seconds in the qemu guests, a server none.
#include <sys/syscall.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "../support/real_servers.hpp"
#include "../support/trace_run.hpp"

using namespace sockscope::testing;

namespace {

using WaiterRow = std::tuple<int, int, std::string, std::string>;  // pid, tid, comm, how

std::vector<WaiterRow> waiter_rows(const json& c) {
  std::vector<WaiterRow> rows;
  for (const auto& w : c["waiters"]) rows.emplace_back(w["pid"], w["tid"], w["comm"], w["how"]);
  std::sort(rows.begin(), rows.end());
  return rows;
}

std::vector<int> sorted_pids(std::vector<pid_t> v) {
  std::sort(v.begin(), v.end());
  return {v.begin(), v.end()};
}

std::vector<int> json_ints(const json& a) {
  std::vector<int> out;
  for (const auto& v : a) out.push_back(v.get<int>());
  return out;
}

// The story of the connection to `server` ("127.0.0.1:P", "[::1]:P").
json story_of(TraceRun& explain, const std::string& server) {
  return explain.wait_for(
      [&](const json& r) { return r.value("type", "") == "connection" && r.value("server", "") == server; },
      "the connection story to " + server, 20s);
}

// One expected reading of the listener when the connection was queued.
struct Expect {
  std::string state;               // listener_state
  std::vector<WaiterRow> waiters;  // exactly these, sorted
  std::vector<pid_t> may_accept;   // accept_tid is one of these
  pid_t accept_pid = 0;            // 0: the accepting task's own tgid (a process pool)
  std::string accept_comm;
  std::string accept_via;
  std::vector<pid_t> holders;  // listener_pids
};

void check_story(const json& c, const Expect& x, uint64_t listener_ino) {
  INFO(c.dump());
  CHECK(c["outcome"] == "accepted");
  CHECK(c["completed_by"] == "kernel");
  CHECK(c["queue_len"] == 1);
  CHECK(c["listener_ino"] == listener_ino);
  CHECK(c["listener_state"] == x.state);
  REQUIRE(c["waiters"].is_array());
  CHECK(waiter_rows(c) == x.waiters);
  CHECK(c["waiters_complete"] == true);
  REQUIRE(c["accept_tid"].is_number());
  const pid_t tid = c["accept_tid"];
  CHECK(std::find(x.may_accept.begin(), x.may_accept.end(), tid) != x.may_accept.end());
  CHECK(c["accept_pid"] == (x.accept_pid ? x.accept_pid : tid));
  CHECK(c["accept_comm"] == x.accept_comm);
  CHECK(c["accept_via"] == x.accept_via);
  CHECK(json_ints(c["listener_pids"]) == sorted_pids(x.holders));
}

std::vector<WaiterRow> rows(const std::vector<pid_t>& tids, pid_t pid, const std::string& comm,
                            const std::string& how) {
  std::vector<WaiterRow> out;
  for (pid_t t : tids) out.emplace_back(pid ? pid : t, t, comm, how);
  std::sort(out.begin(), out.end());
  return out;
}

struct OwnServer {
  const char* name;
  ServerKind kind;
  std::vector<std::string> extra;
  std::string comm;  // as the kernel truncates it (15 characters)
  std::string how;
  std::string state;
  std::string accept_via;
  bool pool = false;     // the waiters are processes (their own pids), not threads of the server
  bool threads = false;  // the waiters are threads of the server
  bool passed = false;   // the waiter is a process that received the listener over SCM_RIGHTS
};

const std::vector<OwnServer>& own_servers() {
  static const std::vector<OwnServer> s = {
      {"poll", kPollServer, {}, "poll_server", "poll", "waiting_in_poll", "accept"},
      {"select", kSelectServer, {}, "select_server", "pselect6", "waiting_in_poll", "accept"},
      {"epoll pool",
       kEpollServer,
       {"--workers", "2"},
       "epoll_server",
       "epoll_wait",
       "waiting_in_epoll",
       "accept4",
       true},
      {"epoll pool, EPOLLEXCLUSIVE",
       kEpollServer,
       {"--workers", "2", "--exclusive"},
       "epoll_server",
       "epoll_wait",
       "waiting_in_epoll",
       "accept4",
       true},
      {"thread pool",
       kThreadpoolServer,
       {"--threads", "3"},
       "threadpool_serv",
       "accept",
       "blocked_in_accept",
       "accept",
       false,
       true},
      {"SCM_RIGHTS",
       kScmRightsServer,
       {},
       "scm_rights_serv",
       "accept",
       "blocked_in_accept",
       "accept",
       false,
       false,
       true},
      {"io_uring", kUringServer, {}, "uring_server", "io_uring", "waiting_in_io_uring", "io_uring"},
  };
  return s;
}

}  // namespace

TEST_CASE("who waits, who holds, who accepts: every kind of server, on one tracer", "[waiters][vm]") {
  const bool v6 = GENERATE(false, true);
  const std::string host = v6 ? "::1" : "127.0.0.1";
  auto endpoint = [&](int port) { return v6 ? "[::1]:" + std::to_string(port) : "127.0.0.1:" + std::to_string(port); };
  const int base = server_port();
  const auto& servers = own_servers();

  std::vector<std::unique_ptr<TestServer>> running;
  for (std::size_t i = 0; i < servers.size(); ++i) {
    std::vector<std::string> extra = servers[i].extra;
    if (v6) extra.push_back("--ipv6");
    // Two connections each: the second, after the first's story is read,
    // ends the server. Its holders are read from /proc while the records
    // come in, and a server gone by then would have none to show.
    running.push_back(std::make_unique<TestServer>(servers[i].kind, base + static_cast<int>(i), 2, extra));
  }
  std::vector<std::string> ports;
  for (std::size_t i = 0; i < servers.size(); ++i) ports.insert(ports.end(), {"--port", std::to_string(base + i)});
  TraceRun explain(ports, "explain", Twin::AllRecords);

  for (std::size_t i = 0; i < servers.size(); ++i) {
    const OwnServer& s = servers[i];
    TestServer& srv = *running[i];
    const int port = base + static_cast<int>(i);
    INFO(s.name << " on " << endpoint(port));
    const auto listeners = loopback_listeners(port, v6);
    REQUIRE(listeners.size() == 1);
    const auto holders = socket_holders(listeners.front());

    REQUIRE(connect_and_finish(host, port).value_or("(failed)") == "ok\n");
    const json c = story_of(explain, endpoint(port));
    srv.wait_waiting();
    REQUIRE(connect_and_finish(host, port).value_or("(failed)") == "ok\n");
    REQUIRE(srv.wait() == 0);

    Expect x;
    x.state = s.state;
    x.accept_comm = s.comm;
    x.accept_via = s.accept_via;
    x.holders = holders;
    x.may_accept = srv.waiters();
    if (s.pool || s.passed) {
      x.waiters = rows(srv.waiters(), 0, s.comm, s.how);
    } else {
      x.waiters = rows(srv.waiters(), srv.pid(), s.comm, s.how);
      x.accept_pid = srv.pid();
    }
    check_story(c, x, listeners.front());
  }
}

TEST_CASE("nginx: the workers waiting in epoll_wait, the worker that accepted, queue 1 of 511", "[waiters][vm]") {
  const bool reuseport = GENERATE(false, true);
  const int port = server_port() + 20;
  // The tracer first: nginx's master calls listen() under it.
  TraceRun explain({"--port", std::to_string(port)}, "explain", Twin::AllRecords);
  NginxOptions opt;
  opt.reuseport = reuseport;
  Nginx nginx(port, opt);
  INFO("nginx " << (reuseport ? "reuseport" : "plain") << " on port " << port);
  const std::vector<pid_t> workers = nginx.workers();
  REQUIRE(workers.size() == 2);

  for (const bool v6 : {false, true}) {
    const std::string server = v6 ? "[::1]:" + std::to_string(port) : "127.0.0.1:" + std::to_string(port);
    INFO("curl " << server);
    // Both workers back in epoll_wait() after the previous request: the
    // expectation below is that both are waiting.
    wait_until_waiting(workers, SYS_epoll_wait);
    Process curl({"curl", "-s", "--max-time", "10", "-g", "http://" + server + "/"});
    REQUIRE(curl.wait(15s) == 0);
    const json c = story_of(explain, server);
    INFO(c.dump());
    const auto listeners = loopback_listeners(port, v6);
    REQUIRE(listeners.size() == (reuseport ? 2u : 1u));
    const uint64_t ino = c["listener_ino"];
    REQUIRE(std::find(listeners.begin(), listeners.end(), ino) != listeners.end());

    Expect x;
    x.state = "waiting_in_epoll";
    x.accept_comm = "nginx";
    x.accept_via = "accept4";
    x.holders = socket_holders(ino);
    // Every worker holds every listener (the master too), but with reuseport
    // each worker's epoll set has only its own: one waiter, the acceptor.
    x.holders.push_back(nginx.master());
    std::sort(x.holders.begin(), x.holders.end());
    x.holders.erase(std::unique(x.holders.begin(), x.holders.end()), x.holders.end());
    if (reuseport) {
      REQUIRE(c["waiters"].size() == 1);
      const pid_t w = c["waiters"][0]["pid"];
      REQUIRE(std::find(workers.begin(), workers.end(), w) != workers.end());
      x.waiters = rows({w}, 0, "nginx", "epoll_wait");
      x.may_accept = {w};
    } else {
      x.waiters = rows(workers, 0, "nginx", "epoll_wait");
      x.may_accept = workers;
    }
    check_story(c, x, ino);
    CHECK(c["queue_max"] == 511);
    CHECK(c["listener_pid"] == nginx.master());
    // curl's side of it, on the same host: a non-blocking connect() whose
    // outcome getsockopt(SO_ERROR) read.
    CHECK(c["side"] == "both");
    CHECK(c["client_comm"] == "curl");
    CHECK(c["client_pid"] == curl.pid());
    const json& cs = c["client_side"];
    REQUIRE(cs.is_object());
    CHECK(cs["completed_by"] == "kernel");
    CHECK(cs["nonblocking"] == true);
    CHECK(cs["connect_errno"] == "EINPROGRESS");
    CHECK(cs["so_error"] == 0);
  }
}

TEST_CASE("redis-server: one thread waiting in epoll_wait accepts", "[waiters][vm]") {
  const int port = server_port() + 30;
  Redis redis(port);
  TraceRun explain({"--port", std::to_string(port)}, "explain", Twin::AllRecords);
  Process cli({"redis-cli", "-p", std::to_string(port), "ping"}, "");
  REQUIRE(cli.wait(15s) == 0);
  const json c = story_of(explain, "127.0.0.1:" + std::to_string(port));
  const auto listeners = loopback_listeners(port, false);
  REQUIRE(listeners.size() == 1);
  Expect x;
  x.state = "waiting_in_epoll";
  x.waiters = rows({redis.pid()}, redis.pid(), "redis-server", "epoll_wait");
  x.may_accept = {redis.pid()};
  x.accept_pid = redis.pid();
  x.accept_comm = "redis-server";
  x.accept_via = "accept4";
  x.holders = {redis.pid()};
  check_story(c, x, listeners.front());
}
