#include "cli/session.hpp"

#include <signal.h>

#include <csignal>
#include <iostream>

#include <fmt/format.h>

#include "cli/ready_file.hpp"
#include "probes/system.hpp"
#include "probes/tracer.hpp"
#include "spawn/held_command.hpp"

namespace sockscope::cli {

namespace {

volatile std::sig_atomic_t g_stop = 0;

void on_signal(int) { g_stop = 1; }

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: let the poll return at once
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
}

}  // namespace

SessionResult run_session(const TraceOptions& opts, const std::function<void(const events::Event&)>& on_event,
                          const std::function<void(const probes::Tracer&)>& on_tick) {
  probes::TraceConfig cfg = make_trace_config(opts);
  ReadyFile ready(opts.ready_file);
  probes::check_system();

  install_stop_handlers();
  probes::Tracer tracer(cfg, on_event);

  std::optional<spawn::HeldCommand> command;
  if (!opts.command.empty()) {
    command.emplace(opts.command);
    tracer.add_pid(static_cast<uint32_t>(command->pid()));
  }
  ready.publish();
  std::cerr << fmt::format("sockscope: tracing ({} probes attached). {}\n", tracer.attached_count(),
                           command ? fmt::format("Running {} as pid {}.", opts.command.front(), command->pid())
                                   : std::string("Ctrl-C to stop."))
            << std::flush;
  if (command) command->release();

  SessionResult result;
  while (!g_stop) {
    tracer.poll(100);
    on_tick(tracer);
    if (command && (result.exit_code = command->try_wait())) break;
  }
  tracer.drain();
  if (command && !result.exit_code) result.exit_code = command->wait();
  result.summary = events::Summary{tracer.delivered(), tracer.losses()};
  return result;
}

}  // namespace sockscope::cli
