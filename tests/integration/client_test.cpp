// Issue #11, the client side: a connection whose server is on another host
// (here: nginx in another network namespace, beyond a veth pair) still has a
// story on the client's host, told from the client host's kernel: the SYN
// sent, the SYN-ACK received, the ACK sent, connect()'s return and, for
// curl's non-blocking connect, the wakeup and getsockopt(SO_ERROR).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "../support/real_servers.hpp"
#include "../support/trace_run.hpp"

using namespace sockscope::testing;

namespace {

constexpr const char* kRxNs = "sockscope-c-rx";
constexpr const char* kTxNs = "sockscope-c-tx";

struct TwoHosts {
  TwoHosts() { run("up"); }
  ~TwoHosts() { run("down"); }
  static void run(const char* verb) {
    const std::string cmd = std::string("SOCKSCOPE_RX_NS=") + kRxNs + " SOCKSCOPE_TX_NS=" + kTxNs + " bash " +
                            SOCKSCOPE_SOURCE_DIR "/demos/netns.sh " + verb;
    REQUIRE(std::system(cmd.c_str()) == 0);
  }
};

json only_connection(const Records& rs) {
  return one(
      rs, [](const json& r) { return r.value("type", "") == "connection"; }, "the one connection story");
}

}  // namespace

TEST_CASE("client only: explain -- curl in one namespace, nginx in the other", "[client][vm]") {
  const bool v6 = GENERATE(false, true);
  TwoHosts hosts;
  const int port = server_port() + 35;
  NginxOptions opt;
  opt.v4 = "10.77.0.1";
  opt.v6 = "fd77::1";
  opt.netns = kRxNs;
  Nginx nginx(port, opt);
  const std::string server = v6 ? "[fd77::1]:" + std::to_string(port) : "10.77.0.1:" + std::to_string(port);
  INFO("curl " << server << " from " << kTxNs);

  TraceRun explain({"--", "ip", "netns", "exec", kTxNs, "curl", "-s", "-o", "/dev/null", "--max-time", "10", "-g",
                    "http://" + server + "/"},
                   "explain");
  REQUIRE(explain.process().wait(30s) == 0);  // curl's exit code, through explain
  const json c = only_connection(explain.records());
  INFO(c.dump());
  REQUIRE(c["client_pid"].is_number());
  const int curl_pid = c["client_pid"];

  CHECK(c["server"] == server);
  CHECK(c["side"] == "client");
  CHECK(c["client_comm"] == "curl");
  // The server's half was the other host's: none of it is this story's.
  CHECK(c["established_ts_ns"].is_null());
  CHECK(c["accept_pid"].is_null());

  const json& cs = c["client_side"];
  REQUIRE(cs.is_object());
  CHECK(cs["completed_by"] == "kernel");
  CHECK(cs["nonblocking"] == true);
  CHECK(cs["connect_ret"] == -115);
  CHECK(cs["connect_errno"] == "EINPROGRESS");
  CHECK(cs["so_error"] == 0);
  // The packets of the client's half, in the order the kernel handled them.
  REQUIRE(cs["syn_tx_ts_ns"].is_number());
  REQUIRE(cs["synack_rx_ts_ns"].is_number());
  REQUIRE(cs["established_ts_ns"].is_number());
  REQUIRE(cs["ack_tx_ts_ns"].is_number());
  REQUIRE(cs["so_error_ts_ns"].is_number());
  CHECK(cs["syn_tx_ts_ns"] < cs["synack_rx_ts_ns"]);
  CHECK(cs["synack_rx_ts_ns"] <= cs["established_ts_ns"]);
  CHECK(cs["established_ts_ns"] <= cs["ack_tx_ts_ns"]);
  CHECK(cs["established_ts_ns"] < cs["so_error_ts_ns"]);
  // The SYN-ACK is handled in softirq; while connect() holds the socket's
  // lock it waits in the backlog and connect()'s own task finishes it.
  const std::string ctx = cs["ctx"];
  CHECK((ctx == "softirq" || ctx == "process"));
  if (ctx == "process") CHECK(cs["borrowed_pid"] == curl_pid);
  REQUIRE(cs["waiters"].is_array());
  for (const auto& w : cs["waiters"]) {
    CHECK(w["pid"] == curl_pid);
    CHECK(w["comm"] == "curl");
    CHECK((w["how"] == "poll" || w["how"] == "ppoll"));
  }
}
