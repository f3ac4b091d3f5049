// `sockscope trace`: stream every socket step until Ctrl-C or until the
// spawned command exits.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "probes/tracer.hpp"

namespace sockscope::cli {

struct TraceOptions {
  std::vector<int> pids;
  std::string comm;
  std::vector<int> ports;
  bool ipv4 = false;
  bool ipv6 = false;
  bool json = false;
  std::string colour = "auto";
  unsigned ringbuf_mib = 8;
  std::string backend = "auto";
  std::string ready_file;  // created once every probe is attached ("" = none)
  std::vector<std::string> command;
  std::string user;      // --user: whom the command runs as ("" = as sockscope)
  bool explain = false;  // set by explain, not an option: the records a story is made of
};

// The options that choose what to trace, shared by trace and explain:
// --pid, --comm, --port, -4/-6, --backend, --ringbuf-size, --ready-file and
// the command after --.
void add_filter_options(CLI::App* sub, TraceOptions& opts);

// Registers the subcommand's options on `app`.
CLI::App* add_trace_command(CLI::App& app, TraceOptions& opts);

// Turns parsed options into the probes' configuration; validates what CLI11
// cannot (a pid that does not exist, a --comm too long, a command not found).
// Throws probes::TraceError with a one-line message.
probes::TraceConfig make_trace_config(const TraceOptions& opts);

int run_trace(const TraceOptions& opts);

}  // namespace sockscope::cli
