// `sockscope trace`: stream every socket step until Ctrl-C or until the
// spawned command exits.
#pragma once

#include <cstdint>
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
  std::string pcap;       // --pcap: the pcapng file ("" = none)
  unsigned snaplen = 0;   // --snaplen: bytes kept of each packet (0: its headers)
  double duration_s = 0;  // --duration: stop after this long (0: no limit)
  uint64_t count = 0;     // --count: stop after this many events (explain: connections; 0: no limit)
  std::string backend = "auto";
  std::string ready_file;  // created once every probe is attached ("" = none)
  std::vector<std::string> command;
  std::string user;      // --user: whom the command runs as ("" = as sockscope)
  bool explain = false;  // set by explain, not an option: the records a story is made of
  // --time (trace's text output): rel | mono | wall (cli/time_option.hpp)
  std::string time = "rel";
};

// The options that choose what to trace, shared by trace and explain:
// --pid, --comm, --port, -4/-6, --backend, --ringbuf-size, --pcap,
// --snaplen, --duration, --count, --ready-file and the command after --.
void add_filter_options(CLI::App* sub, TraceOptions& opts);

// Registers the subcommand's options on `app`.
CLI::App* add_trace_command(CLI::App& app, TraceOptions& opts);

// Turns parsed options into the probes' configuration; validates what CLI11
// cannot (a pid that does not exist, a --comm too long, a command not found).
// Throws probes::TraceError with a one-line message.
probes::TraceConfig make_trace_config(const TraceOptions& opts);

int run_trace(const TraceOptions& opts);

}  // namespace sockscope::cli
