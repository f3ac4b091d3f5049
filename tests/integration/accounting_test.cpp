// Exact accounting under overflow (issue #13): a 1 MiB ring buffer whose
// reader is stopped (SIGSTOP) while a storm runs, so that the kernel must
// drop records. The kernel counts what it sent, the reader what it read:
// the two agree exactly, and every other record is counted as lost.
#include <catch2/catch.hpp>

#include "../support/trace_run.hpp"

using namespace sockscope::testing;

namespace {

int next_port() {
  static int port = 14600 + (getpid() % 50) * 20;
  return port++;
}

bool has_step(const json& story, const std::string& kind) {
  for (const json& s : story["steps"])
    if (s["kind"] == kind) return true;
  return false;
}

}  // namespace

TEST_CASE("a ring buffer overflowed on purpose: every record the kernel sent is read, every other counted",
          "[accounting]") {
  const std::string sub = GENERATE("trace", "explain");
  INFO(sub);
  const int port = next_port();
  constexpr int kConnections = 3000;
  const std::string ready = ready_path(), out = temp_path("overflow");
  std::vector<std::string> argv = {
      SOCKSCOPE_BIN, sub, "--json", "--ringbuf-size", "1", "--port", std::to_string(port), "--ready-file", ready};
  if (const char* b = forced_backend()) argv.insert(argv.end(), {"--backend", b});
  Process tracer(argv, out);
  REQUIRE(wait_ready(tracer, ready, 20s));
  tracer.signal(SIGSTOP);  // the reader stops; the kernel goes on sending
  REQUIRE(wait_until([&] { return tracer.state() == 'T'; }));
  Process storm({"unshare", "--net", "sh", "-c",
                 std::string("ip link set lo up && ") + STORM_BIN + " --clients 2 --workload connect-close --port " +
                     std::to_string(port) + " --connections " + std::to_string(kConnections)});
  REQUIRE(storm.wait(60s) == 0);
  tracer.signal(SIGCONT);
  tracer.signal(SIGINT);
  REQUIRE(tracer.wait(20s) == 0);
  const std::string err = tracer.stderr_text();
  INFO(err);
  Records rs = read_records(out);
  REQUIRE(!rs.empty());
  const json summary = rs.back();
  INFO(summary.dump());
  // What the kernel sent is what was read, exactly; the rest is counted.
  CHECK(summary["records_received"] == summary["records_sent"]);
  CHECK(summary["records_sent"].get<uint64_t>() > 0);
  CHECK(summary["lost"]["ringbuf_full"].get<uint64_t>() > 0);
  CHECK(summary["lost"]["undecodable"] == 0);
  CHECK(err.find("the kernel sent") == std::string::npos);
  if (sub == "trace") {
    // A trace record is one event: every one read was written.
    CHECK(summary["events"] == summary["records_received"]);
    CHECK(rs.size() - 1 == summary["events"].get<std::size_t>());
    // A 1 MiB buffer holds a few thousand of the storm's 29 records a
    // connection: most were lost.
    CHECK(summary["lost"]["ringbuf_full"].get<uint64_t>() > summary["records_sent"].get<uint64_t>());
  } else {
    // A story that was open while records were lost says so; one that does
    // not is whole: its handshake and its accept are all there.
    int marked = 0, whole = 0;
    for (const json& c : of_type(rs, "connection")) {
      if (c["records_lost"] == true) {
        ++marked;
        continue;
      }
      ++whole;
      INFO(c.dump());
      CHECK(c["completed_by"] == "kernel");
      CHECK(!c["accept_ts_ns"].is_null());
      CHECK(has_step(c, "syn_recv"));
      CHECK(has_step(c, "established"));
      CHECK(has_step(c, "dequeued"));
    }
    CHECK(marked > 0);
    // Every connection has a story still: the packets the kernel held for
    // its flow (in a map, not the ring buffer) were taken out at the end.
    CHECK(marked + whole == kConnections);
    CHECK(summary["lost_total"].get<uint64_t>() > 0);
  }
  unlink(out.c_str());
  unlink(ready.c_str());
}
