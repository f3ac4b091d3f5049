// Runs the real `sockscope trace --json` (or `explain --json`) beside a test
// and hands back its records, parsed, once it is stopped.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "process.hpp"

namespace sockscope::testing {

using json = nlohmann::json;
using Records = std::vector<json>;

inline std::string temp_path(const std::string& tag) {
  static int n = 0;
  return "/tmp/sockscope-test-" + std::to_string(getpid()) + "-" + tag + "-" + std::to_string(n++) + ".jsonl";
}

inline Records read_records(const std::string& path) {
  Records out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line[0] == '{') out.push_back(json::parse(line));  // throws on bad JSON
  return out;
}

// The backend the suite runs under (SOCKSCOPE_TEST_BACKEND: fentry, kprobe,
// tracepoint), or nullptr for the tracer's own choice.
inline const char* forced_backend() {
  const char* b = std::getenv("SOCKSCOPE_TEST_BACKEND");
  return b && *b && std::string_view(b) != "auto" ? b : nullptr;
}

// A fresh path for sockscope's --ready-file (nothing is there yet).
inline std::string ready_path() {
  static int n = 0;
  return "/tmp/sockscope-test-" + std::to_string(getpid()) + "-ready-" + std::to_string(n++);
}

// Waits until the tracer has created its --ready-file (every probe attached),
// or has exited, or the deadline passes; true only for the first.
inline bool wait_ready(Process& tracer, const std::string& ready_file, std::chrono::milliseconds timeout) {
  return wait_until([&] { return access(ready_file.c_str(), F_OK) == 0 || tracer.wait(0ms); }, timeout) &&
         access(ready_file.c_str(), F_OK) == 0;
}

class TraceRun {
 public:
  // Starts the tracer and waits until its probes are attached.
  explicit TraceRun(const std::vector<std::string>& extra_args, const std::string& subcommand = "trace")
      : path_(temp_path(subcommand)), ready_(ready_path()) {
    std::vector<std::string> argv = {SOCKSCOPE_BIN, subcommand, "--json", "--ready-file", ready_};
    // tests/vm runs the suite once per backend.
    if (const char* b = forced_backend()) argv.insert(argv.end(), {"--backend", b});
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    proc_ = std::make_unique<Process>(argv, path_);
    const bool ready = wait_ready(*proc_, ready_, 20s);
    INFO("tracer stderr: " << proc_->stderr_text());
    REQUIRE(ready);
  }
  ~TraceRun() {
    unlink(path_.c_str());
    unlink(ready_.c_str());
  }

  Process& process() { return *proc_; }

  // Ctrl-C, then every record (the final summary included).
  Records stop() {
    proc_->signal(SIGINT);
    auto rc = proc_->wait(20s);
    INFO("tracer stderr: " << proc_->stderr_text());
    REQUIRE(rc == 0);
    return read_records(path_);
  }

  // Wait until a record matching `pred` has been written (the tracer flushes
  // at least every 100 ms); fails the test at the deadline.
  json wait_for(const std::function<bool(const json&)>& pred, const std::string& what,
                std::chrono::milliseconds timeout = 10s) {
    auto end = Clock::now() + timeout;
    for (;;) {
      for (const auto& r : read_records_tolerant())
        if (pred(r)) return r;
      INFO("waiting for " << what);
      REQUIRE(Clock::now() < end);
      std::this_thread::sleep_for(20ms);
    }
  }

  // Records after the tracer ended by itself (spawned command).
  Records records() { return read_records(path_); }

 private:
  // While the tracer runs, the last line may be half-written: skip it.
  Records read_records_tolerant() const {
    Records out;
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] != '{') continue;
      auto j = json::parse(line, nullptr, false);
      if (!j.is_discarded()) out.push_back(std::move(j));
    }
    return out;
  }

  std::string path_;
  std::string ready_;
  std::unique_ptr<Process> proc_;
};

inline std::vector<json> select(const Records& rs, const std::function<bool(const json&)>& pred) {
  std::vector<json> out;
  for (const auto& r : rs)
    if (pred(r)) out.push_back(r);
  return out;
}

inline bool is(const json& r, const std::string& layer, const std::string& event) {
  return r.value("layer", "") == layer && r.value("event", "") == event;
}

// The one record matching, failing the test when there are none or several.
inline json one(const Records& rs, const std::function<bool(const json&)>& pred, const std::string& what) {
  auto found = select(rs, pred);
  INFO("looking for exactly one: " << what);
  if (found.size() != 1)
    for (const auto& r : rs) UNSCOPED_INFO(r.dump());
  REQUIRE(found.size() == 1);
  return found.front();
}

}  // namespace sockscope::testing
