// Runs the real `sockscope trace --json` (or `explain --json`) beside a test
// and hands back its records, parsed, once it is stopped.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
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

// A story's facts without what two tracers watching the same connection
// cannot share: the moments their programs ran (every *_ns field: times and
// the durations between them), the verdict, which words those durations, and
// the bytes already received when accept() returned, which each program reads
// at its own instant while the client's data may be landing on another CPU.
inline json story_facts(json r) {
  std::function<void(json&)> strip = [&](json& j) {
    if (j.is_object()) {
      if (j.value("kind", "") == "dequeued") j.erase("text");
      for (auto it = j.begin(); it != j.end();) {
        const std::string& k = it.key();
        if (k == "verdict" || k == "bytes_before_accept" || k == "bytes_waiting" ||
            (k.size() > 3 && k.compare(k.size() - 3, 3, "_ns") == 0))
          it = j.erase(it);
        else
          strip(*it++);
      }
    } else if (j.is_array()) {
      for (auto& e : j) strip(e);
    }
  };
  strip(r);
  return r;
}

// Every story (connection, listen, bind conflict) of a run, as facts, sorted.
inline std::vector<std::string> stories_as_facts(const Records& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs)
    if (r.contains("type") && r["type"] != "summary") out.push_back(story_facts(r).dump());
  std::sort(out.begin(), out.end());
  return out;
}

// One connection to `port` on loopback: the tutorial's pair, each run to its end.
inline void one_loopback_connection(int port) {
  Process r({RECEIVER_BIN, "--host", "127.0.0.1", "--port", std::to_string(port)});
  REQUIRE(r.wait_stdout("listen backlog"));
  Process s({SENDER_BIN, "--host", "127.0.0.1", "--port", std::to_string(port), "--timeout", "20"});
  REQUIRE(s.wait() == 0);
  REQUIRE(r.wait() == 0);
}

enum class Twin { None, AllRecords };

class TraceRun {
 public:
  // Starts the tracer and waits until its probes are attached. With
  // Twin::AllRecords (explain only), a second explain runs beside it with
  // --all-records, the kernel sending every record as for trace, and stop()
  // requires the two to tell the same stories (issue #12: the kernel sends
  // explain only the records its stories are made of).
  explicit TraceRun(const std::vector<std::string>& extra_args, const std::string& subcommand = "trace",
                    Twin twin = Twin::None)
      : path_(temp_path(subcommand)), ready_(ready_path()) {
    // What both runs are given after their own --ready-file: tests/vm runs
    // the suite once per backend.
    std::vector<std::string> common;
    if (const char* b = forced_backend()) common.insert(common.end(), {"--backend", b});
    common.insert(common.end(), extra_args.begin(), extra_args.end());
    std::vector<std::string> argv = {SOCKSCOPE_BIN, subcommand, "--json", "--ready-file", ready_};
    argv.insert(argv.end(), common.begin(), common.end());
    // SOCKSCOPE_TWIN=0 leaves the twin out (tests/vm/guest-suite.sh, for
    // the backends other than fentry).
    const char* twin_env = std::getenv("SOCKSCOPE_TWIN");
    if (twin == Twin::AllRecords && !(twin_env && std::string_view(twin_env) == "0")) {
      REQUIRE(subcommand == "explain");
      twin_path_ = temp_path("explain-all");
      twin_ready_ = ready_path();
      std::vector<std::string> targv = {SOCKSCOPE_BIN, subcommand,     "--all-records",
                                        "--json",      "--ready-file", twin_ready_};
      targv.insert(targv.end(), common.begin(), common.end());
      twin_ = std::make_unique<Process>(targv, twin_path_);
      const bool ready = wait_ready(*twin_, twin_ready_, 20s);
      INFO("twin tracer stderr: " << twin_->stderr_text());
      REQUIRE(ready);
    }
    proc_ = std::make_unique<Process>(argv, path_);
    const bool ready = wait_ready(*proc_, ready_, 20s);
    INFO("tracer stderr: " << proc_->stderr_text());
    REQUIRE(ready);
  }
  ~TraceRun() {
    if (!keep_) unlink(path_.c_str());
    unlink(ready_.c_str());
    if (twin_) {
      if (!keep_) unlink(twin_path_.c_str());
      unlink(twin_ready_.c_str());
    }
  }

  Process& process() { return *proc_; }

  // Ctrl-C, then every record (the final summary included).
  Records stop() {
    proc_->signal(SIGINT);
    if (twin_) twin_->signal(SIGINT);
    auto rc = proc_->wait(20s);
    INFO("tracer stderr: " << proc_->stderr_text());
    REQUIRE(rc == 0);
    Records rs = read_records(path_);
    if (twin_) {
      auto trc = twin_->wait(20s);
      INFO("twin tracer stderr: " << twin_->stderr_text());
      REQUIRE(trc == 0);
      // The same stories from the records a story is made of as from all.
      const auto mine = stories_as_facts(rs), all = stories_as_facts(read_records(twin_path_));
      std::vector<std::string> only_mine, only_all;
      std::set_difference(mine.begin(), mine.end(), all.begin(), all.end(), std::back_inserter(only_mine));
      std::set_difference(all.begin(), all.end(), mine.begin(), mine.end(), std::back_inserter(only_all));
      keep_ = !only_mine.empty() || !only_all.empty();  // for a look after the test
      INFO("the two runs' records: " << path_ << " and " << twin_path_ << " (kept)");
      INFO("stories told only from the stories' records: " << json(only_mine).dump());
      INFO("stories told only from every record (--all-records): " << json(only_all).dump());
      CHECK(only_mine.empty());
      CHECK(only_all.empty());
    }
    return rs;
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
  std::string twin_path_, twin_ready_;
  std::unique_ptr<Process> twin_;
  bool keep_ = false;
};

inline std::vector<json> select(const Records& rs, const std::function<bool(const json&)>& pred) {
  std::vector<json> out;
  for (const auto& r : rs)
    if (pred(r)) out.push_back(r);
  return out;
}

// explain's records of one type ("connection", "listen", ...).
inline std::vector<json> of_type(const Records& rs, const std::string& type) {
  return select(rs, [&](const json& r) { return r.value("type", "") == type; });
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
