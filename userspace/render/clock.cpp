#include "render/clock.hpp"

#include <fmt/format.h>

namespace sockscope::render {

namespace {
constexpr uint64_t kNsPerSecond = 1'000'000'000;
constexpr int64_t kSecondsPerDay = 86'400;
}  // namespace

std::string WallClock::time_of_day(uint64_t mono_ns) const {
  const uint64_t wall = wall_ns(mono_ns);
  // Integers only: the same moment always prints the same digits. West of
  // UTC the local second can be before midnight UTC: the day wraps.
  const int64_t local_s = static_cast<int64_t>(wall / kNsPerSecond % kSecondsPerDay) + utc_offset_s_;
  const int64_t of_day = (local_s % kSecondsPerDay + kSecondsPerDay) % kSecondsPerDay;
  return fmt::format("{:02}:{:02}:{:02}.{:06}", of_day / 3600, of_day / 60 % 60, of_day % 60,
                     wall % kNsPerSecond / 1000);
}

std::string monotonic_seconds(uint64_t mono_ns) {
  return fmt::format("{}.{:09}", mono_ns / kNsPerSecond, mono_ns % kNsPerSecond);
}

std::string TimeColumn::absolute(uint64_t mono_ns) const {
  switch (style_) {
    case TimeStyle::Rel: return "";
    case TimeStyle::Mono: return monotonic_seconds(mono_ns);
    case TimeStyle::Wall: return clock_.time_of_day(mono_ns);
  }
  return "";
}

}  // namespace sockscope::render
