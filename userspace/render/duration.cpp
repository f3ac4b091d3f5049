#include "render/duration.hpp"

#include <fmt/format.h>

namespace sockscope::render {

std::string format_duration(uint64_t ns, DurationStyle style) {
  switch (style) {
    case DurationStyle::Prose:
      if (ns < 1000) return fmt::format("{} ns", ns);
      if (ns < 1000000) return fmt::format("{} us", ns / 1000);
      if (ns < 1000000000) return fmt::format("{:.2f} ms", static_cast<double>(ns) / 1e6);
      return fmt::format("{:.2f} s", static_cast<double>(ns) / 1e9);
    case DurationStyle::Terse:
      // The unit is chosen after rounding to one decimal, so 999.95us reads 1.0ms.
      if (ns < 1000) return fmt::format("{}ns", ns);
      if (ns < 999950) return fmt::format("{:.1f}us", static_cast<double>(ns) / 1e3);
      if (ns < 999950000) return fmt::format("{:.1f}ms", static_cast<double>(ns) / 1e6);
      return fmt::format("{:.2f}s", static_cast<double>(ns) / 1e9);
    case DurationStyle::Millis:
    case DurationStyle::MillisSpaced: {
      // Rounded to the microsecond in integers, so the same story always
      // prints the same digits.
      const uint64_t us = (ns + 500) / 1000;
      return fmt::format("{}.{:03}{}", us / 1000, us % 1000, style == DurationStyle::Millis ? "ms" : " ms");
    }
  }
  return "";
}

std::string offset(uint64_t ts, uint64_t t0, DurationStyle style) {
  // fmt rather than "+" + string: GCC 12 at -O3 warns (-Wrestrict) about the
  // latter's inlined insert, wrongly.
  return fmt::format("+{}", format_duration(ts > t0 ? ts - t0 : 0, style));
}

}  // namespace sockscope::render
