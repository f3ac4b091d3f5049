// The wall clock the renderer tests run with, in place of the one sockscope
// measures at start: fixed, so that every output is exact. A ts_ns of 0 is
// 2026-03-01 00:00:00 UTC on it, and local time is an hour ahead of UTC.
#pragma once

#include "render/clock.hpp"

namespace sockscope::test {

inline constexpr int64_t kWallOffsetNs = 1'772'323'200'000'000'000;
inline constexpr render::WallClock kFixedClock{kWallOffsetNs, 3600};

}  // namespace sockscope::test
