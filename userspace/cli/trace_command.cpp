#include "cli/trace_command.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "cli/capture_file.hpp"
#include "cli/choices.hpp"
#include "cli/session.hpp"
#include "cli/time_option.hpp"
#include "render/json_renderer.hpp"
#include "render/text_renderer.hpp"
#include "spawn/held_command.hpp"

namespace sockscope::cli {

namespace {

// --backend: "auto" (each hook gets the best it has), or one backend forced
// on every hook, by the name doctor prints for it.
const Choices<std::optional<probes::Backend>, 4> kBackends = {{
    {"auto", std::nullopt},
    {probes::backend_name(probes::Backend::Fentry), probes::Backend::Fentry},
    {probes::backend_name(probes::Backend::Kprobe), probes::Backend::Kprobe},
    {probes::backend_name(probes::Backend::Tracepoint), probes::Backend::Tracepoint},
}};

enum class Colour { Auto, Always, Never };
constexpr Choices<Colour, 3> kColours = {
    {{"auto", Colour::Auto}, {"always", Colour::Always}, {"never", Colour::Never}}};

// The thread-group id of `pid`, so that --pid of any thread means its process.
std::optional<uint32_t> tgid_of(int pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("Tgid:", 0) == 0) return static_cast<uint32_t>(std::stoul(line.substr(5)));
  return std::nullopt;
}

}  // namespace

void add_filter_options(CLI::App* t, TraceOptions& opts) {
  t->add_option("--pid,-p", opts.pids, "Trace this process (repeatable; covers its threads)")
      ->check(CLI::PositiveNumber)
      ->take_all();
  t->add_option("--comm,-c", opts.comm, "Trace processes with this command name");
  t->add_option("--port", opts.ports, "Only sockets with this local or remote port (repeatable)")
      ->check(CLI::Range(1, 65535))
      ->take_all();
  auto* v4 = t->add_flag("-4,--ipv4", opts.ipv4, "IPv4 only");
  auto* v6 = t->add_flag("-6,--ipv6", opts.ipv6, "IPv6 only");
  v4->excludes(v6);
  t->add_option("--backend", opts.backend,
                "Probe kind for every hook: the best each has (auto), or force fentry, kprobe or tracepoint")
      ->check(one_of(kBackends))
      ->capture_default_str();
  t->add_option("--ringbuf-size", opts.ringbuf_mib, "Ring buffer size in MiB (a power of two)")
      ->check(CLI::Range(1u, 1024u))
      ->check(CLI::Validator(
          [](std::string& s) -> std::string {
            unsigned long v = std::stoul(s);
            return (v & (v - 1)) == 0 ? "" : "must be a power of two";
          },
          "POWER_OF_2"))
      ->capture_default_str();
  auto* pcap = t->add_option("--pcap", opts.pcap,
                             "Write the traced connections' TCP packets to this pcapng file, each with a comment "
                             "saying who sent it or whom the kernel handled it for");
  t->add_option("--snaplen", opts.snaplen,
                fmt::format("With --pcap: keep this many bytes of each packet from its IP header on, payload "
                            "included (default: its IP and TCP headers only; at most {})",
                            SK_PCAP_MAX))
      ->check(CLI::Range(1u, static_cast<unsigned>(SK_PCAP_MAX)))
      ->needs(pcap);
  t->add_option("--duration", opts.duration_s, "Stop after this many seconds, as on Ctrl-C")
      ->check(CLI::Range(0.001, 31'536'000.0));
  t->add_option("--count", opts.count, "Stop after this many events (explain: connection stories), as on Ctrl-C")
      // Digits only: an unsigned option would take "-1" as 2^64 - 1.
      ->check(CLI::Validator(
          [](std::string& s) -> std::string {
            const bool digits = !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
            return digits && s.find_first_not_of('0') != std::string::npos ? "" : "must be a whole number from 1";
          },
          "N>0"));
  t->add_option("--ready-file", opts.ready_file,
                "Create this file (atomically) once every probe is attached, before the command starts");
  auto* command = t->add_option("command", opts.command,
                                "Command to run and trace, after --: it starts once the probes are attached");
  t->add_option("--user", opts.user, "Run the command as this user (name or uid), with that user's groups")
      ->needs(command);
}

CLI::App* add_trace_command(CLI::App& app, TraceOptions& opts) {
  auto* t = app.add_subcommand("trace", "Stream every socket step: syscalls, the kernel's TCP work, packets");
  add_filter_options(t, opts);
  auto* json = t->add_flag("--json", opts.json, "JSON Lines output (see README: JSON schema)");
  t->add_option("--color", opts.colour, "Colour the text output")->check(one_of(kColours))->capture_default_str();
  // The JSON output has both clocks in every record: a --time there would
  // be ignored, so it is refused.
  add_time_option(t, opts.time, "the text output", "the first event")->excludes(json);
  return t;
}

probes::TraceConfig make_trace_config(const TraceOptions& opts) {
  probes::TraceConfig cfg;
  for (int pid : opts.pids) {
    auto tgid = tgid_of(pid);
    if (!tgid) throw probes::TraceError(fmt::format("--pid {}: no such process", pid));
    cfg.pids.push_back(*tgid);
  }
  if (opts.comm.size() > 15)
    throw probes::TraceError(fmt::format("--comm {}: longer than the kernel's 15-character command names", opts.comm));
  cfg.comm = opts.comm;
  for (int p : opts.ports) cfg.ports.push_back(static_cast<uint16_t>(p));
  if (cfg.ports.size() > probes::kMaxFilterPorts)
    throw probes::TraceError(fmt::format("--port: at most {} ports", probes::kMaxFilterPorts));
  cfg.family = opts.ipv4 ? AF_INET : opts.ipv6 ? AF_INET6 : 0;
  cfg.follow_children = !opts.command.empty();
  cfg.explain = opts.explain;
  cfg.pcap = !opts.pcap.empty();
  cfg.pcap_snaplen = opts.snaplen;
  cfg.ringbuf_bytes = opts.ringbuf_mib << 20;
  cfg.backend = chosen(kBackends, opts.backend);
  if (!opts.command.empty()) spawn::check_runnable(opts.command.front());
  return cfg;
}

int run_trace(const TraceOptions& opts) {
  std::ios::sync_with_stdio(false);
  const render::WallClock clock = measure_wall_clock();
  std::unique_ptr<render::Renderer> renderer;
  if (opts.json) {
    renderer = std::make_unique<render::JsonRenderer>(std::cout, clock);
  } else {
    const Colour when = chosen(kColours, opts.colour);
    const bool colour = when == Colour::Always || (when == Colour::Auto && isatty(STDOUT_FILENO));
    renderer = std::make_unique<render::TextRenderer>(std::cout, colour,
                                                      render::TimeColumn(chosen(kTimeStyles, opts.time), clock));
  }
  std::optional<CaptureFile> pcap;
  if (!opts.pcap.empty()) pcap.emplace(opts.pcap, capture_config(opts, clock, false));
  // --count: exactly that many events are shown, then tracing stops.
  uint64_t shown = 0;
  SessionResult r = run_session(
      opts, {},
      [&](const events::Event& e) {
        if (opts.count && shown >= opts.count) return;
        ++shown;
        renderer->event(e);
      },
      [&](const probes::Tracer&) {
        if (pcap) pcap->capture().tick(monotonic_ns());
        renderer->flush();
        std::cout.flush();
        return opts.count && shown >= opts.count;
      },
      pcap ? probes::Tracer::RawSink([&](const events::RawPacket& p) { pcap->capture().packet(p); })
           : probes::Tracer::RawSink());
  // The events shown: with --count, those after the count were read and not shown.
  if (opts.count) r.summary.events = shown;
  if (opts.json) renderer->summary(r.summary);
  std::cout.flush();
  std::cerr << "sockscope: " << render::describe(r.summary) << "\n";
  if (pcap) {
    pcap->finish();
    std::cerr << "sockscope: " << describe(*pcap) << "\n";
  }
  return r.exit_code.value_or(0);
}

}  // namespace sockscope::cli
