// `sockscope doctor`: what this kernel offers the tracer, hook by hook, and
// which backend each hook would get.
#pragma once

#include <CLI/CLI.hpp>

namespace sockscope::cli {

CLI::App* add_doctor_command(CLI::App& app);

// Prints the report; 0 when every hook has a backend, 1 otherwise.
int run_doctor();

}  // namespace sockscope::cli
