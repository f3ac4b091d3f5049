// The session that trace and explain share: attach the probes, release the
// command (if any), poll the ring buffer until Ctrl-C or the command's exit,
// drain, count.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cli/trace_command.hpp"
#include "events/event.hpp"
#include "events/loss.hpp"
#include "probes/tracer.hpp"

namespace sockscope::cli {

// A capability the command needs once everything is attached, and why
// (what -v says). Every other one is dropped then.
struct Need {
  uint64_t caps;  // probes::cap_bit(CAP_...) | ...
  std::string why;
};

// Why the session ended, when not by the spawned command's exit.
enum class Stop { CommandExited, Signal, OutputClosed, Duration, Count };

struct SessionResult {
  std::optional<int> exit_code;  // the spawned command's
  Stop stop = Stop::CommandExited;
  events::Summary summary;
};

// Attaches the probes, starts the command (if any) once they are, and hands
// every record to on_event (and, with --pcap, every packet's bytes to
// on_raw), calling on_tick (given the tracer, to ask what it needs) after
// each poll, until SIGINT, SIGTERM or SIGHUP, a closed standard output,
// --duration, on_tick saying it has had enough (--count), or the command's
// exit. With a command, the first signal
// is passed on to it (unless it came from the terminal, which signals the
// command itself) and tracing goes on until it exits; a second one stops at
// once. A command still running at the end is ended (SIGTERM, then SIGKILL).
// Once everything is attached, every capability but `after_attach` (and
// CAP_KILL for a command run as another user, CAP_BPF where the kernel wants
// it to read maps) is dropped for good. Once every probe is attached, and before
// the command runs, it creates --ready-file and prints the "sockscope: tracing ..." line.
SessionResult run_session(const TraceOptions& opts, const std::vector<Need>& after_attach,
                          const std::function<void(const events::Event&)>& on_event,
                          const std::function<bool(const probes::Tracer&)>& on_tick,
                          const probes::Tracer::RawSink& on_raw = {});

}  // namespace sockscope::cli
