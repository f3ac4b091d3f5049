// The session that trace and explain share: attach the probes, release the
// command (if any), poll the ring buffer until Ctrl-C or the command's exit,
// drain, count.
#pragma once

#include <functional>
#include <optional>

#include "cli/trace_command.hpp"
#include "events/event.hpp"
#include "events/loss.hpp"

namespace sockscope::probes {
class Tracer;
}

namespace sockscope::cli {

struct SessionResult {
  std::optional<int> exit_code;  // the spawned command's
  events::Summary summary;
};

// Attaches the probes, starts the command (if any) once they are, and hands
// every record to on_event, calling on_tick (given the tracer, to ask what it needs) after each poll, until Ctrl-C or
// the command's exit. Once every probe is attached, and before the command
// runs, it creates --ready-file and prints the "sockscope: tracing ..." line.
SessionResult run_session(const TraceOptions& opts, const std::function<void(const events::Event&)>& on_event,
                          const std::function<void(const probes::Tracer&)>& on_tick);

}  // namespace sockscope::cli
