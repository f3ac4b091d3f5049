// --time, on trace and explain: how the text outputs write a record's time;
// and the one wall clock every output of a run converts CLOCK_MONOTONIC
// times with (the JSON outputs' ts_wall_ns).
#pragma once

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/choices.hpp"
#include "render/clock.hpp"

namespace sockscope::cli {

inline constexpr Choices<render::TimeStyle, 3> kTimeStyles = {{
    {"rel", render::TimeStyle::Rel},
    {"mono", render::TimeStyle::Mono},
    {"wall", render::TimeStyle::Wall},
}};

// Registers --time on `sub`, written to `value` ("rel" unless given). For
// --help: `output`, the output it is for; `rel_means`, what the relative
// times are relative to.
CLI::Option* add_time_option(CLI::App* sub, std::string& value, const std::string& output,
                             const std::string& rel_means);

// CLOCK_REALTIME minus CLOCK_MONOTONIC, and the local time zone's offset,
// read now. Called once, at start: every wall time of the run comes from it.
render::WallClock measure_wall_clock();

// CLOCK_MONOTONIC now: the records' clock (bpf_ktime_get_ns()).
uint64_t monotonic_ns();

}  // namespace sockscope::cli
