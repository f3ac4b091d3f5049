// The one place durations become text: the verdicts, trace's DETAILS column
// and the ladder's and Mermaid's time offsets each have their own look, so
// the look is a parameter.
#pragma once

#include <cstdint>
#include <string>

namespace sockscope::render {

enum class DurationStyle : uint8_t {
  Prose,         // "12 ns", "734 us", "0.08 ms", "5.21 s": in sentences
  Terse,         // "12ns", "3.4us", "80.1ms", "5.21s": one decimal, the unit chosen after rounding
  Millis,        // "5210.123ms": always milliseconds, to the microsecond (the ladder's time column)
  MillisSpaced,  // "5210.123 ms": the same with a space (Mermaid notes)
};

std::string format_duration(uint64_t ns, DurationStyle style);

// The time of `ts` after `t0` in a Millis style, with a '+': "+0.025ms".
// Steps come sorted; one before t0 would be a tracker bug, shown as +0.000
// rather than wrapped.
std::string offset(uint64_t ts, uint64_t t0, DurationStyle style);

}  // namespace sockscope::render
