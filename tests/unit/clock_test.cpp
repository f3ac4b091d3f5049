// Unit tests for render/clock: CLOCK_MONOTONIC times as wall-clock times and
// as the text outputs' --time columns, with a fixed clock, exact.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "fixed_clock.hpp"
#include "render/clock.hpp"

using sockscope::render::monotonic_seconds;
using sockscope::render::TimeColumn;
using sockscope::render::TimeStyle;
using sockscope::render::WallClock;
using sockscope::test::kFixedClock;

namespace {
constexpr uint64_t kSecond = 1'000'000'000;
}  // namespace

TEST_CASE("clock: a wall-clock time is the monotonic one plus the one offset", "[clock][time]") {
  CHECK(kFixedClock.wall_ns(0) == 1'772'323'200'000'000'000u);
  CHECK(kFixedClock.wall_ns(1) == 1'772'323'200'000'000'001u);
  CHECK(kFixedClock.wall_ns(12'345'678'901'234) - 12'345'678'901'234 == kFixedClock.wall_ns(0));
  // A negative offset (a wall clock set before the boot's seconds) is
  // subtracted; a sum past 2^64 wraps, defined either way.
  CHECK(WallClock(-5, 0).wall_ns(100) == 95u);
  CHECK(WallClock(2, 0).wall_ns(UINT64_MAX) == 1u);
}

TEST_CASE("clock: the local time of day, to the microsecond, cut", "[clock][time]") {
  // 2026-03-01 00:00:00 UTC is ts_ns 0 on the fixed clock, an hour ahead of UTC.
  CHECK(kFixedClock.time_of_day(0) == "01:00:00.000000");
  CHECK(kFixedClock.time_of_day(999) == "01:00:00.000000");
  CHECK(kFixedClock.time_of_day(1'999) == "01:00:00.000001");
  CHECK(kFixedClock.time_of_day(59 * kSecond + 999'999'999) == "01:00:59.999999");
  CHECK(kFixedClock.time_of_day(3 * 3600 * kSecond + 25 * 60 * kSecond + 7 * kSecond + 123'456'789) ==
        "04:25:07.123456");
  // Past local midnight: the day wraps.
  CHECK(kFixedClock.time_of_day(23 * 3600 * kSecond) == "00:00:00.000000");
  CHECK(kFixedClock.time_of_day(23 * 3600 * kSecond - 1) == "23:59:59.999999");
  // West of UTC, before UTC's midnight: the day before's evening.
  const WallClock new_york(kFixedClock.realtime_offset_ns(), -5 * 3600);
  CHECK(new_york.time_of_day(kSecond) == "19:00:01.000000");
  CHECK(new_york.time_of_day(5 * 3600 * kSecond) == "00:00:00.000000");
  // UTC itself, and a zone half an hour off (India: +5:30).
  CHECK(WallClock(kFixedClock.realtime_offset_ns(), 0).time_of_day(kSecond) == "00:00:01.000000");
  CHECK(WallClock(kFixedClock.realtime_offset_ns(), 19'800).time_of_day(kSecond) == "05:30:01.000000");
}

TEST_CASE("clock: monotonic seconds, to the nanosecond", "[clock][time]") {
  CHECK(monotonic_seconds(0) == "0.000000000");
  CHECK(monotonic_seconds(1) == "0.000000001");
  CHECK(monotonic_seconds(12'345'678'901'234) == "12345.678901234");
  CHECK(monotonic_seconds(UINT64_MAX) == "18446744073.709551615");
}

TEST_CASE("clock: a time column's absolute times, and the relative one is each output's own", "[clock][time]") {
  const uint64_t ts = 12'345'678'901'234;
  CHECK(TimeColumn().style() == TimeStyle::Rel);
  CHECK(TimeColumn().absolute(ts).empty());
  CHECK(TimeColumn(TimeStyle::Rel, kFixedClock).absolute(ts).empty());
  CHECK(TimeColumn(TimeStyle::Mono, kFixedClock).absolute(ts) == "12345.678901234");
  CHECK(TimeColumn(TimeStyle::Wall, kFixedClock).absolute(ts) == "04:25:45.678901");
}
