// --backend and `sockscope doctor` agree with the running kernel: a backend
// that doctor reports available for every hook can be forced, and one it
// reports missing is refused with one line naming the hook and the reason.
#include <algorithm>
#include <catch2/catch.hpp>
#include <sstream>

#include "../support/doctor.hpp"
#include "../support/trace_run.hpp"

using namespace sockscope::testing;

TEST_CASE("doctor lists every hook with a chosen backend", "[backend]") {
  std::string text;
  auto rows = doctor_rows(&text);
  INFO(text);
  std::vector<std::string> hooks;
  for (const auto& r : rows) {
    hooks.push_back(r.hook);
    CHECK(r.tracepoint == "yes");
    // auto takes the first available in fentry, kprobe, tracepoint order.
    const std::string expected = r.fentry == "yes" ? "fentry" : r.kprobe == "yes" ? "kprobe" : "tracepoint";
    CHECK(r.chosen == expected);
  }
  CHECK(hooks == std::vector<std::string>{"bind", "listen", "syn", "established", "accept"});
  CHECK(text.find("kernel ") == 0);
}

TEST_CASE("forced backends: available ones attach, missing ones are refused in one line", "[backend]") {
  const std::string backend = GENERATE("fentry", "kprobe", "tracepoint");
  auto rows = doctor_rows();
  std::string missing;
  for (const auto& r : rows) {
    const std::string& a = backend == "fentry" ? r.fentry : backend == "kprobe" ? r.kprobe : r.tracepoint;
    if (a != "yes" && missing.empty()) missing = r.hook;
  }
  INFO("backend " << backend << ", first hook without it: " << (missing.empty() ? "none" : missing));
  const std::string ready = ready_path();
  Process p({SOCKSCOPE_BIN, "trace", "--backend", backend, "--port", "9", "--ready-file", ready});
  if (missing.empty()) {
    const bool attached = wait_ready(p, ready, 30s);
    unlink(ready.c_str());
    INFO("stderr: " << p.stderr_text());
    REQUIRE(attached);
    p.signal(SIGINT);
    CHECK(p.wait() == 0);
  } else {
    CHECK(p.wait() == 1);
    const std::string err = p.stderr_text();
    CHECK(err.rfind("sockscope: error: --backend " + backend + ": not available for the " + missing + " hook", 0) == 0);
    CHECK(std::count(err.begin(), err.end(), '\n') == 1);
  }
}
