// The records' times (ts_ns) are bpf_ktime_get_ns(): CLOCK_MONOTONIC, which
// counts from boot and means nothing to a reader comparing with a log. A
// WallClock turns them into CLOCK_REALTIME with one offset, measured once
// when sockscope starts (cli/time_option.cpp) and never again: every wall
// time of a run is its ts_ns plus the same number, so wall times differ
// exactly as the ts_ns do, whatever NTP or `date -s` does to the wall clock
// meanwhile. The local time zone's offset is taken once too, as tcpdump
// does: a run across a daylight-saving change keeps the one it began with.
#pragma once

#include <cstdint>
#include <string>

namespace sockscope::render {

class WallClock {
 public:
  // realtime_offset_ns: CLOCK_REALTIME minus CLOCK_MONOTONIC; utc_offset_s:
  // the local time zone's offset east of UTC (struct tm's tm_gmtoff).
  constexpr WallClock(int64_t realtime_offset_ns, int32_t utc_offset_s) noexcept
      : realtime_offset_ns_(realtime_offset_ns), utc_offset_s_(utc_offset_s) {}

  int64_t realtime_offset_ns() const noexcept { return realtime_offset_ns_; }
  int32_t utc_offset_s() const noexcept { return utc_offset_s_; }

  // CLOCK_REALTIME nanoseconds of a CLOCK_MONOTONIC time: ts_wall_ns. In
  // unsigned arithmetic (modulo 2^64), so no ts_ns, however wild, is undefined.
  uint64_t wall_ns(uint64_t mono_ns) const noexcept { return mono_ns + static_cast<uint64_t>(realtime_offset_ns_); }

  // The local time of day of a CLOCK_MONOTONIC time, to the microsecond
  // (cut, not rounded, as tcpdump does: never a second that has not come):
  // "03:10:11.123456".
  std::string time_of_day(uint64_t mono_ns) const;

 private:
  int64_t realtime_offset_ns_;
  int32_t utc_offset_s_;
};

// CLOCK_MONOTONIC seconds to the nanosecond, as ts_ns holds them:
// "12345.678901234".
std::string monotonic_seconds(uint64_t mono_ns);

// --time: how the text outputs (trace's timeline, explain's ladder) write a
// record's time. The JSON outputs have both clocks in every record instead.
enum class TimeStyle : uint8_t {
  Rel,   // after the first event (trace: seconds) or the story's first step (ladder: "+0.025ms")
  Mono,  // monotonic_seconds()
  Wall,  // WallClock::time_of_day()
};

// A text output's time column: relative times by default, which need no
// clock; monotonic or wall-clock times only with the run's clock, so that a
// wall-clock column never silently shows an unmeasured one.
class TimeColumn {
 public:
  TimeColumn() = default;
  TimeColumn(TimeStyle style, const WallClock& clock) noexcept : style_(style), clock_(clock) {}

  TimeStyle style() const noexcept { return style_; }
  // The time of `mono_ns` in the Mono or Wall style; "" in the Rel style,
  // which each output writes its own way.
  std::string absolute(uint64_t mono_ns) const;

 private:
  TimeStyle style_ = TimeStyle::Rel;
  WallClock clock_{0, 0};
};

}  // namespace sockscope::render
