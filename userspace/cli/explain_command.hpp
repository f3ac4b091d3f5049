// `sockscope explain`: one story per connection, told once it is accepted,
// closed, or has waited past --timeout: who completed the handshake, in
// which context, and what the listening process was doing meanwhile.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "cli/trace_command.hpp"

namespace sockscope::cli {

struct ExplainOptions {
  TraceOptions filters;
  std::string format = "text";  // --format: text (the ladder) | json | mermaid
  bool json = false;            // --json: the same as --format json
  double timeout_s = 30;        // tell an un-accepted connection after this long
  bool all_records = false;     // --all-records: the kernel sends every record, as for trace
  std::string time = "rel";     // --time (the ladder, --format text): rel | mono | wall (cli/time_option.hpp)
};

CLI::App* add_explain_command(CLI::App& app, ExplainOptions& opts);

int run_explain(const ExplainOptions& opts);

}  // namespace sockscope::cli
