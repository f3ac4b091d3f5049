// Bounds under attack (issue #13): a flood of half-open connections, SYNs
// that nothing ever completes, against a listener in its own namespace.
// explain holds at most 8,192 open stories: the table reaches its bound and
// stays there, memory stays flat, the stale stories are told as "evicted"
// (and, at the end, "pending"), and nothing is lost.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <set>

#include "../support/trace_run.hpp"

using namespace sockscope::testing;

namespace {

constexpr const char* kRxNs = "sockscope-b-rx";
constexpr const char* kTxNs = "sockscope-b-tx";

void sh(const std::string& cmd) {
  INFO(cmd);
  REQUIRE(std::system(cmd.c_str()) == 0);
}

struct Hosts {
  Hosts() {
    sh(std::string("SOCKSCOPE_RX_NS=") + kRxNs + " SOCKSCOPE_TX_NS=" + kTxNs + " bash " + SOCKSCOPE_SOURCE_DIR +
       "/demos/netns.sh up");
    // Half-open for good: no SYN cookies (a SYN is a request or nothing),
    // and no SYN-ACK retransmission (no record after the SYN's own).
    sh(std::string("ip netns exec ") + kRxNs + " sysctl -qw net.ipv4.tcp_syncookies=0 net.ipv4.tcp_synack_retries=0");
  }
  ~Hosts() {
    std::system((std::string("SOCKSCOPE_RX_NS=") + kRxNs + " SOCKSCOPE_TX_NS=" + kTxNs + " bash " +
                 SOCKSCOPE_SOURCE_DIR + "/demos/netns.sh down")
                    .c_str());
  }
};

long rss_kib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  FAIL("no VmRSS for " << pid);
  return -1;
}

// Connection stories written so far (the tracer writes whole lines at least
// every 100 ms; a last line still being written is not counted).
std::size_t stories_in(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::size_t n = 0;
  while (std::getline(f, line))
    if (f.good() && line.find(R"("type":"connection")") != std::string::npos) ++n;
  return n;
}

}  // namespace

TEST_CASE("a flood of half-open connections: explain's stories stay at their bound, memory flat, nothing lost",
          "[bounds]") {
  Hosts hosts;
  const int port = 14900 + getpid() % 50;
  constexpr std::size_t kBatch = 6000, kBatches = 3, kBound = 8192;  // explain's max open stories
  const std::string ready = ready_path(), out = temp_path("flood");
  // Under ASan (build-asan), freed memory is held in quarantine and RSS
  // grows with every free: none, so that what is measured is sockscope's.
  std::vector<std::string> argv = {"env",
                                   "ASAN_OPTIONS=quarantine_size_mb=0:thread_local_quarantine_size_kb=0",
                                   SOCKSCOPE_BIN,
                                   "explain",
                                   "--json",
                                   "--port",
                                   std::to_string(port),
                                   "--timeout",
                                   "600",
                                   "--ready-file",
                                   ready};
  if (const char* b = forced_backend()) argv.insert(argv.end(), {"--backend", b});
  Process explain(argv, out);
  REQUIRE(wait_ready(explain, ready, 20s));
  Process receiver({"ip", "netns", "exec", kRxNs, RECEIVER_BIN, "--host", "10.77.0.1", "--port", std::to_string(port),
                    "--backlog", "1"});
  REQUIRE(receiver.wait_stdout("listen backlog"));
  long rss_full = 0, rss_end = 0;
  for (std::size_t b = 0; b < kBatches; ++b) {
    // From 10.77.0.99, which no host answers for: the SYN-ACKs go nowhere.
    Process flood({"ip", "netns", "exec", kTxNs, SYN_FLOOD_BIN, "--from", "10.77.0.99", "--to", "10.77.0.1", "--port",
                   std::to_string(port), "--count", std::to_string(kBatch), "--first-port",
                   std::to_string(20000 + b * kBatch)});
    REQUIRE(flood.wait() == 0);
    // Each SYN beyond the bound has the oldest open story told as evicted.
    const std::size_t sent = (b + 1) * kBatch;
    if (sent > kBound) {
      INFO("after " << sent << " SYNs");
      REQUIRE(wait_until([&] { return stories_in(out) >= sent - kBound; }, 20s));
      (b + 1 < kBatches ? rss_full : rss_end) = rss_kib(explain.pid());
    }
  }
  explain.signal(SIGINT);
  REQUIRE(explain.wait(30s) == 0);
  receiver.signal(SIGKILL);
  Records rs = read_records(out);
  const json summary = rs.back();
  INFO(summary.dump());
  const std::size_t total = kBatch * kBatches;
  std::size_t evicted = 0, pending = 0;
  std::set<std::string> clients;
  for (const json& c : of_type(rs, "connection")) {
    clients.insert(c["client"].get<std::string>());
    evicted += c["outcome"] == "evicted";
    pending += c["outcome"] == "pending";
    CHECK(c["completed_by"] == "none");
    CHECK(c["records_lost"] == false);
  }
  // One story per SYN, never more than 8,192 open: the oldest told as
  // evicted as new ones came, the rest as pending when tracing stopped.
  // (A SYN is seen twice, sent by the flood's host and received by the
  // listener's: the two halves are one story, and while the second joins
  // the first the table may hold one more for an instant, so one story
  // more than the bound strictly asks can go early.)
  CHECK(clients.size() == total);
  CHECK(summary["connections"] == total);
  CHECK(summary["open_peak"] == kBound);
  CHECK(summary["evicted"] == evicted);
  CHECK(evicted + pending == total);
  CHECK(evicted >= total - kBound);
  CHECK(pending <= kBound);
  CHECK(summary["lost_total"] == 0);
  CHECK(summary["records_received"] == summary["records_sent"]);
  // Memory: the third batch, with the table full, took none.
  INFO("RSS with the table full: " << rss_full << " KiB, after 6,000 more SYNs: " << rss_end << " KiB");
  CHECK(rss_end <= rss_full + 1024);
  unlink(out.c_str());
  unlink(ready.c_str());
}
