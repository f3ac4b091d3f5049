#include "cli/session.hpp"

#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <iostream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/ready_file.hpp"
#include "probes/system.hpp"
#include "probes/tracer.hpp"
#include "spawn/held_command.hpp"

namespace sockscope::cli {

namespace {

// The stop signals: how many came, the last one, and whether it was sent to
// sockscope by a process (kill) rather than by the terminal, which sends a
// Ctrl-C to the whole foreground process group, a spawned command included.
volatile std::sig_atomic_t g_signals = 0;
volatile std::sig_atomic_t g_last = 0;
volatile std::sig_atomic_t g_from_process = 0;

void on_signal(int sig, siginfo_t* info, void*) {
  g_last = sig;
  g_from_process = info != nullptr && info->si_code != SI_KERNEL;
  g_signals = g_signals + 1;
}

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_sigaction = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_SIGINFO;  // no SA_RESTART: let the poll return at once
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
  // A closed output is an error from write() (EPIPE), seen and handled, not
  // a death at the next write with no summary.
  signal(SIGPIPE, SIG_IGN);
}

// Standard output can take no more: its reader is gone (a pipe's write end
// polls POLLERR once the read end is closed, whether or not anything is
// written), or a write to it failed.
bool output_closed() {
  if (!std::cout) return true;
  pollfd p{STDOUT_FILENO, 0, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLERR) != 0;
}

// Least privilege once everything is attached (and the command forked,
// with the privileges it is to run with): from here on sockscope reads a
// ring buffer, a few maps and /proc, and writes its output. It keeps `need`
// and what this kernel wants for reading maps, and drops every other
// capability for good; -v says what it kept and why.
void drop_privileges(const probes::Tracer& tracer, const std::vector<Need>& needs) {
  using probes::cap_bit;
  std::vector<Need> kept_for = needs;
  const probes::CapabilitySets before = probes::capabilities();
  const uint64_t bpf = cap_bit(CAP_BPF) | cap_bit(CAP_SYS_ADMIN);
  probes::set_effective(before.effective & ~bpf);
  const bool readable = tracer.maps_readable();
  probes::set_effective(before.effective);
  if (!readable)
    kept_for.push_back({(before.permitted & cap_bit(CAP_BPF)) ? cap_bit(CAP_BPF) : cap_bit(CAP_SYS_ADMIN),
                        "this kernel checks it on every bpf() call, to read the loss counters and held packets"});
  uint64_t keep = 0;
  for (const Need& n : kept_for) keep |= n.caps;
  const probes::Restricted r = probes::restrict_capabilities(keep);
  const uint64_t kept = r.kept;
  spdlog::debug("capabilities after attach: {} kept, every other dropped ({})", probes::capability_names(kept),
                r.bounding ? "effective, permitted, bounding"
                           : "effective and permitted; no CAP_SETPCAP for the "
                             "bounding set, no_new_privs instead");
  for (const Need& n : kept_for)
    if (kept & n.caps) spdlog::debug("  {}: {}", probes::capability_names(kept & n.caps), n.why);
}

}  // namespace

SessionResult run_session(const TraceOptions& opts, const std::vector<Need>& after_attach,
                          const std::function<void(const events::Event&)>& on_event,
                          const std::function<bool(const probes::Tracer&)>& on_tick,
                          const probes::Tracer::RawSink& on_raw) {
  probes::TraceConfig cfg = make_trace_config(opts);
  std::optional<spawn::RunAs> as;
  if (!opts.user.empty()) as = spawn::lookup_user(opts.user);
  ReadyFile ready(opts.ready_file);
  probes::check_system();

  install_stop_handlers();
  probes::Tracer tracer(cfg, on_event, on_raw);

  std::optional<spawn::HeldCommand> command;
  if (!opts.command.empty()) {
    command.emplace(opts.command, as);
    tracer.add_pid(static_cast<uint32_t>(command->pid()));
  }
  std::vector<Need> needs = after_attach;
  if (command && as)
    needs.push_back({probes::cap_bit(CAP_KILL),
                     fmt::format("to pass signals on to {}, which runs as {}", opts.command.front(), as->name)});
  drop_privileges(tracer, needs);
  ready.publish();
  if (command) {
    try {
      command->release();
    } catch (const spawn::CannotRun&) {
      ready.withdraw();  // nothing left saying it runs
      throw;
    }
  }
  std::cerr << fmt::format("sockscope: tracing ({} probes attached). {}\n", tracer.attached_count(),
                           command ? fmt::format("Running {} as pid {}{}.", opts.command.front(), command->pid(),
                                                 as ? fmt::format(", user {}", as->name) : std::string())
                                   : std::string("Ctrl-C to stop."))
            << std::flush;

  SessionResult result;
  std::sig_atomic_t handled = 0;  // signals acted on
  using Clock = std::chrono::steady_clock;
  const std::optional<Clock::time_point> deadline =
      opts.duration_s > 0
          ? std::optional(Clock::now() +
                          std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opts.duration_s)))
          : std::nullopt;
  for (;;) {
    int wait_ms = 100;
    if (deadline) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
      wait_ms = static_cast<int>(std::clamp<decltype(left)>(left, 0, 100));
    }
    tracer.poll(wait_ms);
    if (on_tick(tracer)) {
      result.stop = Stop::Count;
      break;
    }
    if (deadline && Clock::now() >= *deadline) {
      result.stop = Stop::Duration;
      break;
    }
    if (output_closed()) {
      result.stop = Stop::OutputClosed;
      break;
    }
    if (command && (result.exit_code = command->try_wait())) break;
    if (g_signals == handled) continue;
    handled = g_signals;
    result.stop = Stop::Signal;
    if (!command || handled > 1) break;  // no command, or asked twice: stop now
    // The first signal with a command: the command is asked to stop (a
    // terminal's Ctrl-C has reached it already) and traced until it has.
    if (g_from_process) command->signal(g_last);
  }
  // Detached first, so that the drain reads the last record the kernel sent
  // and the counts below are final: received equals sent.
  tracer.detach();
  tracer.drain();
  if (command && !result.exit_code) {
    // Stopped before the command ended: it is not left running untraced.
    result.exit_code = command->end();
  }
  result.summary = events::Summary{tracer.delivered(), tracer.losses()};
  if (result.stop == Stop::OutputClosed) std::cerr << "sockscope: stopping: the output was closed\n";
  if (result.stop == Stop::Duration)
    std::cerr << fmt::format("sockscope: stopping: --duration {} s is over\n", opts.duration_s);
  return result;
}

}  // namespace sockscope::cli
