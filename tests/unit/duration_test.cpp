// Unit tests for render::format_duration, the one function that turns a
// duration into text, in each style its readers use: the verdicts (Prose),
// trace's DETAILS column (Terse), the ladder's and Mermaid's time offsets
// (Millis, MillisSpaced).
#include <catch2/catch.hpp>

#include <cstdint>

#include "render/duration.hpp"

using sockscope::render::DurationStyle;
using sockscope::render::format_duration;
using sockscope::render::offset;

namespace {

struct Row {
  uint64_t ns;
  const char* text;
};

}  // namespace

TEST_CASE("duration: prose, as in the verdicts", "[duration]") {
  const Row row = GENERATE(values<Row>({
      {0, "0 ns"},
      {999, "999 ns"},
      {1000, "1 us"},
      {45999, "45 us"},  // microseconds truncate
      {734000, "734 us"},
      {999999, "999 us"},
      {1000000, "1.00 ms"},
      {81234567, "81.23 ms"},
      {26060000, "26.06 ms"},
      {999999999, "1000.00 ms"},  // the unit is chosen before rounding
      {1000000000, "1.00 s"},
      {5210061456, "5.21 s"},
      {30000000000, "30.00 s"},
  }));
  CAPTURE(row.ns);
  CHECK(format_duration(row.ns, DurationStyle::Prose) == row.text);
}

TEST_CASE("duration: terse, as in trace's DETAILS column", "[duration]") {
  const Row row = GENERATE(values<Row>({
      {0, "0ns"},
      {12, "12ns"},
      {999, "999ns"},
      {1000, "1.0us"},
      {1500, "1.5us"},
      {3449, "3.4us"},
      {54100, "54.1us"},
      {999949, "999.9us"},
      // The unit is chosen after rounding: just below a boundary reads as the larger unit.
      {999950, "1.0ms"},
      {999999999, "1.00s"},
      {1000000, "1.0ms"},
      {80100000, "80.1ms"},
      {999949999, "999.9ms"},
      {1000000000, "1.00s"},
      {5210000000, "5.21s"},
      {3600000000000, "3600.00s"},
  }));
  CAPTURE(row.ns);
  CHECK(format_duration(row.ns, DurationStyle::Terse) == row.text);
}

TEST_CASE("duration: milliseconds to the microsecond, for the ladder and Mermaid", "[duration]") {
  struct Pair {
    uint64_t ns;
    const char* millis;
    const char* spaced;
  };
  const Pair p = GENERATE(values<Pair>({
      {0, "0.000ms", "0.000 ms"},
      {499, "0.000ms", "0.000 ms"},  // rounded to the nearest microsecond
      {500, "0.001ms", "0.001 ms"},
      {25000, "0.025ms", "0.025 ms"},
      {999499, "0.999ms", "0.999 ms"},
      {999500, "1.000ms", "1.000 ms"},
      {5210123456, "5210.123ms", "5210.123 ms"},
  }));
  CAPTURE(p.ns);
  CHECK(format_duration(p.ns, DurationStyle::Millis) == p.millis);
  CHECK(format_duration(p.ns, DurationStyle::MillisSpaced) == p.spaced);
}

TEST_CASE("duration: offset from the first step", "[duration]") {
  CHECK(offset(2000025000, 2000000000, DurationStyle::Millis) == "+0.025ms");
  CHECK(offset(7210123456, 2000000000, DurationStyle::MillisSpaced) == "+5210.123 ms");
  CHECK(offset(5, 5, DurationStyle::Millis) == "+0.000ms");
  // A step before the first would be a tracker bug: shown as +0.000, not wrapped.
  CHECK(offset(1000, 2000000, DurationStyle::Millis) == "+0.000ms");
}
