// The real servers the issue #11 tests trace, without the tracer: each starts,
// is found waiting in its wait call, serves real clients and exits 0. These
// prove the harness (tests/support/real_servers.hpp, tests/servers/); the
// tracer's assertions live with the tests that trace them.
#include <sys/syscall.h>

#include <catch2/catch.hpp>

#include "../support/real_servers.hpp"

using namespace sockscope::testing;

namespace {

struct ServerCase {
  const char* name;
  ServerKind kind;
  std::vector<std::string> extra;
  size_t waiters;  // how many tasks wait on the listener
  size_t holders;  // how many processes hold it
};

const std::vector<ServerCase>& server_cases() {
  static const std::vector<ServerCase> cases = {
      {"poll", kPollServer, {}, 1, 1},
      {"select", kSelectServer, {}, 1, 1},
      {"epoll, 2 workers", kEpollServer, {"--workers", "2"}, 2, 3},
      {"epoll, 2 workers, EPOLLEXCLUSIVE", kEpollServer, {"--workers", "2", "--exclusive"}, 2, 3},
      {"thread pool of 3", kThreadpoolServer, {"--threads", "3"}, 3, 1},
      {"SCM_RIGHTS", kScmRightsServer, {}, 1, 2},
      {"io_uring", kUringServer, {}, 1, 1},
  };
  return cases;
}

// nb_client against host:port; its stdout lines in order.
std::vector<std::string> run_nb_client(const std::string& target, int expect_rc) {
  Process client({NB_CLIENT_BIN, "--connect", target});
  std::vector<std::string> lines;
  while (auto line = client.wait_stdout("=", 10s)) lines.push_back(*line);
  INFO("nb_client stderr: " << client.stderr_text());
  REQUIRE(client.wait(10s) == expect_rc);
  return lines;
}

}  // namespace

TEST_CASE("each test server serves --count clients and exits 0", "[servers]") {
  const ServerCase& c = GENERATE(from_range(server_cases()));
  const bool v6 = GENERATE(false, true);
  const std::string host = v6 ? "::1" : "127.0.0.1";
  const int port = server_port();
  INFO(c.name << " on " << host << " port " << port);

  std::vector<std::string> extra = c.extra;
  if (v6) extra.push_back("--ipv6");
  TestServer server(c.kind, port, 2, extra);
  CHECK(server.waiters().size() == c.waiters);
  const auto listeners = loopback_listeners(port, v6);
  REQUIRE(listeners.size() == 1);
  const auto holders = socket_holders(listeners[0]);
  CHECK(holders.size() == c.holders);
  CHECK(std::find(holders.begin(), holders.end(), server.pid()) != holders.end());

  CHECK(run_nb_client((v6 ? "[::1]:" : "127.0.0.1:") + std::to_string(port), 0) ==
        std::vector<std::string>{"connect=EINPROGRESS", "so_error=0"});
  server.wait_waiting();
  CHECK(connect_and_finish(host, port).value_or("(failed)") == "ok\n");

  const auto rc = server.wait(10s);
  INFO("server stderr: " << server.stderr_text());
  CHECK(rc == 0);
}

TEST_CASE("nb_client reports a refused connection through SO_ERROR", "[servers]") {
  const int port = server_port();  // nothing listens there
  REQUIRE(loopback_listeners(port, false).empty());
  CHECK(run_nb_client("127.0.0.1:" + std::to_string(port), 3) ==
        std::vector<std::string>{"connect=EINPROGRESS", "so_error=111"});
}

TEST_CASE("nginx: a master and 2 workers in epoll_wait answer curl on IPv4 and IPv6", "[servers]") {
  const bool reuseport = GENERATE(false, true);
  INFO("reuseport " << reuseport);
  NginxOptions opt;
  opt.reuseport = reuseport;
  Nginx nginx(server_port(), opt);
  REQUIRE(nginx.workers().size() == 2);
  for (pid_t w : nginx.workers()) CHECK(Process::parent_of(w) == nginx.master());
  // Each address has one listener, or with reuseport one per worker; every
  // listener is held by the master and both workers (nginx 1.22 keeps the
  // other worker's reuseport socket open, though only its own is in its
  // epoll set).
  for (const bool v6 : {false, true}) {
    const auto listeners = loopback_listeners(nginx.port(), v6);
    CHECK(listeners.size() == (reuseport ? 2u : 1u));
    std::vector<pid_t> expected = nginx.workers();
    expected.push_back(nginx.master());
    std::sort(expected.begin(), expected.end());
    for (uint64_t ino : listeners) {
      INFO("listener inode " << ino << (v6 ? " (IPv6)" : ""));
      CHECK(socket_holders(ino) == expected);
    }
  }
  for (const std::string host : {"127.0.0.1", "[::1]"}) {
    for (int i = 0; i < 2; i++) {
      wait_until_waiting(nginx.workers(), SYS_epoll_wait);
      Process curl(
          {"curl", "-sS", "-g", "--max-time", "10", "http://" + host + ":" + std::to_string(nginx.port()) + "/"});
      const auto body = curl.wait_stdout("ok", 10s);
      INFO("curl stderr: " << curl.stderr_text() << "\nerror.log:\n" << nginx.error_log());
      CHECK(body.value_or("(none)") == "ok");
      CHECK(curl.wait(10s) == 0);
    }
  }
  CHECK(nginx.stop() == 0);
}

TEST_CASE("redis-server answers redis-cli and stops on SIGTERM", "[servers]") {
  Redis redis(server_port());
  Process cli({"redis-cli", "-p", std::to_string(redis.port()), "ping"});
  CHECK(cli.wait_stdout("PONG", 10s).value_or("(none)") == "PONG");
  CHECK(cli.wait(10s) == 0);
  CHECK(redis.stop() == 0);
}
