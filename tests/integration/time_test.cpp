// Times (issue #14): every JSON record's ts_wall_ns is its ts_ns on one wall
// clock, read once at start; --time puts monotonic or wall-clock times in the
// text outputs. Real tracers, a real connection, the host's own clocks.
#include <time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <regex>
#include <set>

#include "../support/trace_run.hpp"

using namespace sockscope::testing;

namespace {

int next_port() {
  static int port = 16300 + (getpid() % 50) * 10;
  return port++;
}

int64_t ns_of(const timespec& ts) { return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec; }

// CLOCK_REALTIME minus CLOCK_MONOTONIC, as this process sees it now.
int64_t host_offset_ns() {
  timespec mono{}, wall{};
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &wall);
  return ns_of(wall) - ns_of(mono);
}

// Every (X)ts_ns in `j`, at any depth, beside its (X)ts_wall_ns: both null,
// or the wall one minus the monotonic one, collected in `offsets`. Returns
// how many pairs had numbers.
int wall_twins(const json& j, std::set<int64_t>& offsets) {
  int pairs = 0;
  if (j.is_array())
    for (const auto& e : j) pairs += wall_twins(e, offsets);
  if (!j.is_object()) return pairs;
  for (const auto& [k, v] : j.items()) {
    if (k.size() >= 5 && k.compare(k.size() - 5, 5, "ts_ns") == 0) {
      const std::string twin = k.substr(0, k.size() - 5) + "ts_wall_ns";
      INFO(k << " in " << j.dump());
      REQUIRE(j.contains(twin));
      CHECK(v.is_null() == j.at(twin).is_null());
      if (!v.is_null() && !j.at(twin).is_null()) {
        offsets.insert(static_cast<int64_t>(j.at(twin).get<uint64_t>() - v.get<uint64_t>()));
        ++pairs;
      }
    } else {
      pairs += wall_twins(v, offsets);
    }
  }
  return pairs;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

TEST_CASE("trace --json: every record's ts_wall_ns is its ts_ns plus one offset, the host's", "[time]") {
  const int port = next_port();
  const int64_t before = host_offset_ns();
  TraceRun trace({"--port", std::to_string(port)});
  one_loopback_connection(port);
  Records rs = trace.stop();
  const int64_t after = host_offset_ns();
  REQUIRE(rs.size() > 10);
  std::set<int64_t> offsets;
  for (const auto& r : rs) {
    INFO(r.dump());
    if (r.value("event", "") == "summary") {
      CHECK_FALSE(r.contains("ts_ns"));
      CHECK_FALSE(r.contains("ts_wall_ns"));
      continue;
    }
    REQUIRE(r.at("ts_wall_ns").is_number_unsigned());
    offsets.insert(static_cast<int64_t>(r.at("ts_wall_ns").get<uint64_t>() - r.at("ts_ns").get<uint64_t>()));
  }
  // One offset for the whole run, converted once: wall times differ exactly
  // as the ts_ns do.
  REQUIRE(offsets.size() == 1);
  const int64_t offset = *offsets.begin();
  INFO("sockscope's offset " << offset << ", the host's " << before << " before and " << after << " after");
  CHECK(std::llabs(offset - before) < 1'000'000'000);
  CHECK(std::llabs(offset - after) < 1'000'000'000);
}

TEST_CASE("explain --json: every *ts_ns has its *ts_wall_ns, at one offset, the host's", "[time]") {
  const int port = next_port();
  const int64_t before = host_offset_ns();
  TraceRun explain({"--port", std::to_string(port)}, "explain");
  one_loopback_connection(port);
  Records rs = explain.stop();
  REQUIRE(of_type(rs, "connection").size() == 1);
  REQUIRE(of_type(rs, "listen").size() == 1);
  std::set<int64_t> offsets;
  int pairs = 0;
  for (const auto& r : rs) pairs += wall_twins(r, offsets);
  // The listen record's, the connection's own and every step's at least.
  CHECK(pairs > 10);
  REQUIRE(offsets.size() == 1);
  INFO("sockscope's offset " << *offsets.begin() << ", the host's " << before);
  CHECK(std::llabs(*offsets.begin() - before) < 1'000'000'000);
}

TEST_CASE("time: --time wall and mono, the text outputs' times are now, on the host's clocks", "[time]") {
  const std::string sub = GENERATE("trace", "explain");
  const std::string style = GENERATE("wall", "mono");
  INFO(sub << " --time " << style);
  const int port = next_port();
  const std::string ready = ready_path(), out = temp_path("time");
  std::vector<std::string> argv = {SOCKSCOPE_BIN,  sub,   "--time", style,
                                   "--ready-file", ready, "--port", std::to_string(port)};
  if (const char* b = forced_backend()) argv.insert(argv.end(), {"--backend", b});
  Process tracer(argv, out);
  REQUIRE(wait_ready(tracer, ready, 20s));
  one_loopback_connection(port);
  tracer.signal(SIGINT);
  REQUIRE(tracer.wait(20s) == 0);
  // Now, on the clock the column shows: the local second of the day, or
  // CLOCK_MONOTONIC seconds.
  timespec mono{}, wall{};
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &wall);
  tm local{};
  REQUIRE(localtime_r(&wall.tv_sec, &local));
  const double now = style == "wall" ? local.tm_hour * 3600 + local.tm_min * 60 + local.tm_sec + wall.tv_nsec / 1e9
                                     : static_cast<double>(ns_of(mono)) / 1e9;
  // A time at the start of a line (after the ladder's and the timeline's
  // padding): "03:10:11.123456", "12345.678901234".
  const std::regex time_re(style == "wall" ? R"(^ *(\d\d):(\d\d):(\d\d)\.(\d{6})  ?)" : R"(^ *(\d+)\.(\d{9})  ?)");
  const std::string text = read_file(out);
  INFO(text);
  std::istringstream lines(text);
  std::string line;
  int times = 0;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, time_re)) {
      // trace: the header only; explain: the story's other lines.
      if (sub == "trace") CHECK(line.find("TIME") != std::string::npos);
      continue;
    }
    ++times;
    const double t = style == "wall"
                         ? std::stoi(m[1]) * 3600 + std::stoi(m[2]) * 60 + std::stoi(m[3]) + std::stoi(m[4]) / 1e6
                         : std::stod(m[1].str()) + std::stod(m[2].str()) / 1e9;
    // Within a few seconds (a run takes one or two); across midnight, a day apart.
    double ago = now - t;
    if (style == "wall" && ago < -43'200) ago += 86'400;
    INFO(line << ": " << ago << " s ago");
    CHECK(ago >= -1.0);
    CHECK(ago < 10.0);
  }
  CHECK(times >= (sub == "trace" ? 10 : 5));
  unlink(out.c_str());
  unlink(ready.c_str());
}
