#include "cli/time_option.hpp"

#include <time.h>

#include <cstdint>

namespace sockscope::cli {

namespace {

int64_t ns_of(const timespec& ts) { return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec; }

}  // namespace

CLI::Option* add_time_option(CLI::App* sub, std::string& value, const std::string& output,
                             const std::string& rel_means) {
  return sub
      ->add_option("--time", value,
                   "Times in " + output + ": rel (after " + rel_means +
                       "), mono (CLOCK_MONOTONIC seconds, as ts_ns) or wall (local time of day, to the microsecond); "
                       "not with JSON, whose records have ts_ns and ts_wall_ns")
      ->check(one_of(kTimeStyles))
      ->capture_default_str();
}

render::WallClock measure_wall_clock() {
  // CLOCK_REALTIME read between two CLOCK_MONOTONIC reads is at their
  // midpoint, give or take half their distance; of a few tries the
  // tightest pair wins (a preemption or an interrupt widens one, not all).
  constexpr int kTries = 8;
  int64_t best_width = INT64_MAX, offset = 0;
  timespec wall_at_best{};
  for (int i = 0; i < kTries; ++i) {
    timespec before{}, wall{}, after{};
    clock_gettime(CLOCK_MONOTONIC, &before);
    clock_gettime(CLOCK_REALTIME, &wall);
    clock_gettime(CLOCK_MONOTONIC, &after);
    const int64_t width = ns_of(after) - ns_of(before);
    if (width < best_width) {
      best_width = width;
      offset = ns_of(wall) - (ns_of(before) + width / 2);
      wall_at_best = wall;
    }
  }
  // The zone's offset now (daylight-saving time included), as tcpdump takes
  // it once at start.
  tzset();
  tm local{};
  const time_t now = wall_at_best.tv_sec;
  const int32_t utc_offset = localtime_r(&now, &local) ? static_cast<int32_t>(local.tm_gmtoff) : 0;
  return render::WallClock(offset, utc_offset);
}

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ns_of(ts));
}

}  // namespace sockscope::cli
