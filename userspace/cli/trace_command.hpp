// `sockscope trace`: stream every socket step until Ctrl-C or until the
// spawned command exits.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "probes/tracer.hpp"
#include "render/renderer.hpp"

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
  std::vector<std::string> command;
};

// The options that choose what to trace, shared by trace and explain:
// --pid, --comm, --port, -4/-6, --ringbuf-size and the command after --.
void add_filter_options(CLI::App* sub, TraceOptions& opts);

// Registers the subcommand's options on `app`.
CLI::App* add_trace_command(CLI::App& app, TraceOptions& opts);

// Turns parsed options into the probes' configuration; validates what CLI11
// cannot (a pid that does not exist, a --comm too long, a command not found).
// Throws probes::TraceError with a one-line message.
probes::TraceConfig make_trace_config(const TraceOptions& opts);

struct SessionResult {
  std::optional<int> exit_code;  // the spawned command's
  events::Summary summary;
};

// Attaches the probes, starts the command (if any) once they are, and hands
// every record to on_event, calling on_tick after each poll, until Ctrl-C or
// the command's exit. Prints the "sockscope: tracing ..." line when ready.
SessionResult run_session(const TraceOptions& opts, const std::function<void(const events::Event&)>& on_event,
                          const std::function<void()>& on_tick);

int run_trace(const TraceOptions& opts);

}  // namespace sockscope::cli
