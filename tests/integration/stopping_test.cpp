// How sockscope ends (issue #13): by a signal, by its output closing, by its
// command's exit or death, and what becomes of a command it spawned when it
// stops or dies. Real tracers, real signals, real pipes.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "../support/trace_run.hpp"

using namespace sockscope::testing;

namespace {

int next_port() {
  static int port = 12600 + (getpid() % 50) * 20;
  return port++;
}

// argv for sockscope SUBCOMMAND with the suite's backend and a ready file.
std::vector<std::string> sockscope_argv(const std::string& sub, const std::string& ready,
                                        const std::vector<std::string>& extra) {
  std::vector<std::string> v = {SOCKSCOPE_BIN, sub, "--ready-file", ready};
  if (const char* b = forced_backend()) v.insert(v.end(), {"--backend", b});
  v.insert(v.end(), extra.begin(), extra.end());
  return v;
}

// The pid of the spawned command, from sockscope's "Running CMD as pid N".
pid_t spawned_pid(Process& tracer) {
  auto line = tracer.wait_stderr("as pid ");
  REQUIRE(line);
  return static_cast<pid_t>(std::stol(line->substr(line->find("as pid ") + 7)));
}

bool gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string all;
  if (!std::getline(stat, all)) return true;
  return all.substr(all.rfind(')') + 2, 1) == "Z";  // ended, not yet reaped by its new parent
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

TEST_CASE(
    "SIGINT, SIGTERM and SIGHUP each stop cleanly: exit 0, valid JSON ending in its summary, the summary on stderr",
    "[stop]") {
  const int sig = GENERATE(SIGINT, SIGTERM, SIGHUP);
  const std::string sub = GENERATE("trace", "explain");
  INFO(sub << " signal " << sig);
  const int port = next_port();
  const std::string ready = ready_path(), out = temp_path("stop");
  Process tracer(sockscope_argv(sub, ready, {"--json", "--port", std::to_string(port)}), out);
  REQUIRE(wait_ready(tracer, ready, 20s));
  one_loopback_connection(port);
  tracer.signal(sig);
  REQUIRE(tracer.wait(10s) == 0);
  const std::string err = tracer.stderr_text();
  INFO(err);
  Records rs = read_records(out);  // every line parses
  REQUIRE(!rs.empty());
  const json& last = rs.back();
  if (sub == "trace") {
    CHECK(last["event"] == "summary");
    CHECK(rs.size() > 10);  // the connection's records came before it
  } else {
    CHECK(last["type"] == "summary");
    CHECK(last["connections"] == 1);
  }
  CHECK(last["lost_total"] == 0);
  CHECK(err.find(sub == "trace" ? "sockscope: " + std::to_string(rs.size() - 1) + " events, 0 lost"
                                : "explained 1 listen, 0 failed binds, 1 connection") != std::string::npos);
  unlink(out.c_str());
  unlink(ready.c_str());
}

TEST_CASE("trace | head -1: sockscope ends within a second of head, with its summary on stderr", "[stop]") {
  const std::string sub = GENERATE("trace", "explain");
  INFO(sub);
  const int port = next_port();
  const std::string ready = ready_path(), first = temp_path("head"), err = temp_path("head-err");
  std::string line;
  for (const auto& a : sockscope_argv(sub, ready, {"--json", "--port", std::to_string(port)})) line += a + " ";
  // pipefail: the pipeline's status is sockscope's, not head's.
  Process pipeline({"bash", "-c", "set -o pipefail; " + line + "2>" + err + " | head -1 >" + first});
  REQUIRE(wait_ready(pipeline, ready, 20s));
  one_loopback_connection(port);  // records flow: head takes the first line and exits
  REQUIRE(wait_until([&] { return read_file(first).find('\n') != std::string::npos; }, 10s));
  const uint64_t head_done = monotonic_ns();
  const auto code = pipeline.wait(10s);
  const double seconds = static_cast<double>(monotonic_ns() - head_done) / 1e9;
  const std::string said = read_file(err);
  INFO(said << "ended " << seconds << " s after head's line");
  REQUIRE(code == 0);
  CHECK(seconds < 1.0);
  CHECK(json::parse(read_file(first)).is_object());
  CHECK(said.find("sockscope: stopping: the output was closed\n") != std::string::npos);
  CHECK(said.find(sub == "trace" ? " events, 0 lost" : "explained 1 listen") != std::string::npos);
  for (const auto& f : {first, err, ready}) unlink(f.c_str());
}

TEST_CASE("stopping by --duration: sockscope stops by itself after that long, as on Ctrl-C", "[stop]") {
  const std::string sub = GENERATE("trace", "explain");
  INFO(sub);
  const int port = next_port();
  const std::string ready = ready_path(), out = temp_path("duration");
  const uint64_t started = monotonic_ns();
  Process tracer(sockscope_argv(sub, ready, {"--json", "--port", std::to_string(port), "--duration", "2"}), out);
  REQUIRE(wait_ready(tracer, ready, 20s));
  const uint64_t attached = monotonic_ns();
  one_loopback_connection(port);
  REQUIRE(tracer.wait(20s) == 0);
  const double ran = static_cast<double>(monotonic_ns() - attached) / 1e9;
  const std::string err = tracer.stderr_text();
  INFO(err << "ran " << ran << " s after attaching, " << (monotonic_ns() - started) / 1e6 << " ms in all");
  // Two seconds from the start of tracing, give or take a poll tick and the
  // detach's RCU waits.
  CHECK(ran >= 1.9);
  CHECK(ran < 4.0);
  CHECK(err.find("sockscope: stopping: --duration 2 s is over\n") != std::string::npos);
  Records rs = read_records(out);
  REQUIRE(!rs.empty());
  if (sub == "trace") {
    CHECK(rs.back()["event"] == "summary");
    CHECK(rs.size() > 10);
  } else {
    CHECK(rs.back()["type"] == "summary");
    CHECK(rs.back()["connections"] == 1);
  }
  unlink(out.c_str());
  unlink(ready.c_str());
}

TEST_CASE("stopping by --count: trace shows exactly N events, explain tells exactly N connections, then each stops",
          "[stop]") {
  const std::string sub = GENERATE("trace", "explain");
  INFO(sub);
  const int port = next_port();
  const std::string ready = ready_path(), out = temp_path("count");
  const int n = sub == "trace" ? 5 : 2;
  Process tracer(sockscope_argv(sub, ready, {"--json", "--port", std::to_string(port), "--count", std::to_string(n)}),
                 out);
  REQUIRE(wait_ready(tracer, ready, 20s));
  // trace: one connection makes far more than 5 events, in one poll's
  // batch: the count cuts it; explain: two connections, and nothing more.
  one_loopback_connection(port);
  if (sub == "explain") one_loopback_connection(port);
  REQUIRE(tracer.wait(20s) == 0);
  const std::string err = tracer.stderr_text();
  INFO(err);
  Records rs = read_records(out);
  REQUIRE(!rs.empty());
  if (sub == "trace") {
    REQUIRE(rs.size() == static_cast<std::size_t>(n) + 1);
    CHECK(rs.back()["event"] == "summary");
    CHECK(rs.back()["events"] == n);
    CHECK(err.find("sockscope: 5 events, 0 lost") != std::string::npos);
  } else {
    int told = 0;
    for (const auto& r : rs) told += r.value("type", "") == "connection";
    CHECK(told == n);
    CHECK(rs.back()["type"] == "summary");
    CHECK(rs.back()["connections"] == n);
    CHECK(err.find("2 connections") != std::string::npos);
  }
  unlink(out.c_str());
  unlink(ready.c_str());
}

TEST_CASE("spawned CMD with --user nobody: the command runs as nobody, with nobody's groups", "[spawn]") {
  const std::string ready = ready_path();
  Process tracer(sockscope_argv("trace", ready,
                                {"--json", "--user", "nobody", "--", "sh", "-c",
                                 "echo \"uid=$(id -ur) euid=$(id -u) gid=$(id -g) groups=$(id -G)\" >&2"}),
                 "/dev/null");
  REQUIRE(tracer.wait(20s) == 0);
  const std::string err = tracer.stderr_text();
  INFO(err);
  CHECK(err.find("uid=65534 euid=65534 gid=65534 groups=65534\n") != std::string::npos);
  CHECK(err.find(", user nobody.") != std::string::npos);
  unlink(ready.c_str());
}

TEST_CASE("spawned CMD that cannot be exec'd: sockscope's own error, exit 127, and no ready file left", "[spawn]") {
  // Executable, but no format the kernel knows: found, then refused by execve().
  const std::string bad = temp_path("not-a-program");
  {
    std::ofstream(bad) << "\x7f"
                       << "ELF but not really\n";
  }
  REQUIRE(chmod(bad.c_str(), 0755) == 0);
  const std::string ready = ready_path();
  Process tracer(sockscope_argv("trace", ready, {"--json", "--", bad}), "/dev/null");
  REQUIRE(tracer.wait(20s) == 127);
  const std::string err = tracer.stderr_text();
  INFO(err);
  CHECK(err == "sockscope: error: cannot run " + bad + ": Exec format error\n");
  CHECK(access(ready.c_str(), F_OK) != 0);
  unlink(bad.c_str());
}

TEST_CASE("spawned CMD: sockscope killed with SIGKILL takes its command with it", "[spawn]") {
  const std::string ready = ready_path();
  Process tracer(sockscope_argv("trace", ready, {"--json", "--", "sleep", "600"}), "/dev/null");
  const pid_t child = spawned_pid(tracer);
  REQUIRE(wait_ready(tracer, ready, 20s));
  REQUIRE_FALSE(gone(child));
  tracer.signal(SIGKILL);
  REQUIRE(tracer.wait(10s) == 128 + SIGKILL);
  CHECK(wait_until([&] { return gone(child); }, 5s));
  unlink(ready.c_str());
}

TEST_CASE("spawned CMD: a signal sent to sockscope is passed on, and tracing goes on until the command exits",
          "[spawn]") {
  const int sig = GENERATE(SIGINT, SIGTERM, SIGHUP);
  INFO("signal " << sig);
  const std::string ready = ready_path();
  // The command says which signal reached it and exits with its own code.
  Process tracer(sockscope_argv("trace", ready,
                                {"--json", "--", "sh", "-c",
                                 "trap 'echo got INT >&2; exit 5' INT; trap 'echo got TERM >&2; exit 6' TERM; "
                                 "trap 'echo got HUP >&2; exit 7' HUP; echo ready >&2; "
                                 "while :; do sleep 0.05; done"}),
                 "/dev/null");
  REQUIRE(tracer.wait_stderr("ready"));
  tracer.signal(sig);
  const int want = sig == SIGINT ? 5 : sig == SIGTERM ? 6 : 7;
  REQUIRE(tracer.wait(10s) == want);  // the command's own exit code
  const std::string err = tracer.stderr_text();
  INFO(err);
  CHECK(err.find(sig == SIGINT ? "got INT" : sig == SIGTERM ? "got TERM" : "got HUP") != std::string::npos);
  unlink(ready.c_str());
}

TEST_CASE("spawned CMD: a second signal stops sockscope at once and ends a command that ignores the first", "[spawn]") {
  const std::string ready = ready_path();
  Process tracer(sockscope_argv("trace", ready, {"--json", "--", "sh", "-c", "trap '' TERM; exec sleep 600"}),
                 "/dev/null");
  const pid_t child = spawned_pid(tracer);
  REQUIRE(wait_ready(tracer, ready, 20s));
  // sh has exec'd sleep, which keeps the ignored SIGTERM.
  REQUIRE(wait_until([&] { return read_file("/proc/" + std::to_string(child) + "/comm") == "sleep\n"; }, 5s));
  tracer.signal(SIGTERM);
  // Passed on and ignored: sockscope goes on tracing, past the grace period
  // it would have given the command had it stopped at this signal.
  REQUIRE_FALSE(tracer.wait(2500ms));
  tracer.signal(SIGTERM);
  // Ended: SIGTERM (ignored), then SIGKILL after the grace period.
  REQUIRE(tracer.wait(10s) == 128 + SIGKILL);
  CHECK(gone(child));
  unlink(ready.c_str());
}
