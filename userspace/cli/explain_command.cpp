#include "cli/explain_command.hpp"

#include <linux/capability.h>
#include <time.h>

#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/capture_file.hpp"
#include "cli/choices.hpp"
#include "cli/session.hpp"
#include "cli/time_option.hpp"
#include "probes/holders.hpp"
#include "probes/system.hpp"
#include "probes/tracer.hpp"
#include "render/explain_json_renderer.hpp"
#include "render/ladder_renderer.hpp"
#include "render/mermaid_renderer.hpp"
#include "render/story_words.hpp"
#include "track/tracker.hpp"

namespace sockscope::cli {

namespace {

// --format: each name and the renderer it makes, given the run's wall clock
// and the ladder's time column (--time). Mermaid's times are offsets within
// the story whatever --time says (it is refused there).
using MakeRenderer = std::unique_ptr<render::ExplainRenderer> (*)(std::ostream&, const render::WallClock&,
                                                                  render::TimeColumn);
constexpr Choices<MakeRenderer, 3> kFormats = {{
    {"text",
     [](std::ostream& out, const render::WallClock&, render::TimeColumn time)
         -> std::unique_ptr<render::ExplainRenderer> { return std::make_unique<render::LadderRenderer>(out, time); }},
    {"json",
     [](std::ostream& out, const render::WallClock& clock,
        render::TimeColumn) -> std::unique_ptr<render::ExplainRenderer> {
       return std::make_unique<render::ExplainJsonRenderer>(out, clock);
     }},
    {"mermaid",
     [](std::ostream& out, const render::WallClock&, render::TimeColumn) -> std::unique_ptr<render::ExplainRenderer> {
       return std::make_unique<render::MermaidRenderer>(out);
     }},
}};

}  // namespace

CLI::App* add_explain_command(CLI::App& app, ExplainOptions& opts) {
  auto* x = app.add_subcommand(
      "explain", "Say, connection by connection, who completed the TCP handshake and what the listener was doing");
  add_filter_options(x, opts.filters);
  auto* format = x->add_option("--format", opts.format, "Output: a ladder with a verdict, JSON Lines, or Mermaid")
                     ->check(one_of(kFormats))
                     ->capture_default_str();
  auto* json =
      x->add_flag("--json", opts.json, "The same as --format json (see README: explain JSON)")->excludes(format);
  // The ladder's only: JSON has both clocks in every record, and Mermaid's
  // times are offsets, so a --time there would be ignored: it is refused.
  auto* time = add_time_option(x, opts.time, "the ladder (--format text)", "the story's first step")->excludes(json);
  x->final_callback([&opts, time] {
    if (time->count() > 0 && opts.format != "text")
      throw CLI::ValidationError("--time",
                                 "only for --format text (JSON has ts_ns and ts_wall_ns; Mermaid's "
                                 "times are offsets within each story)");
  });
  x->add_option("--timeout", opts.timeout_s, "Seconds before an un-accepted connection's story is told anyway")
      ->check(CLI::Range(0.01, 86400.0))
      ->capture_default_str();
  x->add_flag("--all-records", opts.all_records,
              "Have the kernel send every record, as trace does, not only those the stories are made of: "
              "the same stories, at trace's cost");
  return x;
}

int run_explain(const ExplainOptions& opts) {
  std::ios::sync_with_stdio(false);
  const render::WallClock clock = measure_wall_clock();
  auto renderer = chosen(kFormats, opts.json ? "json" : opts.format)(
      std::cout, clock, render::TimeColumn(chosen(kTimeStyles, opts.time), clock));
  track::TrackerConfig cfg;
  cfg.pending_timeout_ns = static_cast<uint64_t>(opts.timeout_s * 1e9);
  // Each listen and connection story names every process holding its
  // listener (a fork after listen(), SCM_RIGHTS), from /proc as it is told.
  cfg.holders = probes::socket_holders;
  uint64_t listens = 0, failed_binds = 0, connections = 0;
  std::optional<CaptureFile> pcap;
  if (!opts.filters.pcap.empty()) pcap.emplace(opts.filters.pcap, capture_config(opts.filters, clock, true));
  // --count: exactly that many connection stories are told, then nothing more.
  const uint64_t count = opts.filters.count;
  const auto counted_out = [&] { return count && connections >= count; };
  track::Tracker tracker(cfg, monotonic_ns,
                         track::Sink{
                             [&](const track::Listener& l) {
                               if (counted_out()) return;
                               ++listens;
                               renderer->listener(l);
                             },
                             [&](const track::BindConflict& b) {
                               if (counted_out()) return;
                               ++failed_binds;
                               renderer->bind_conflict(b);
                             },
                             [&](const track::Connection& c) {
                               if (pcap) pcap->capture().connection(c);
                               if (counted_out()) return;
                               ++connections;
                               renderer->connection(c);
                             },
                         });
  // A poll tick comes with every 64 KiB of records under load: scanning the
  // open stories that often would cost more than tracking them.
  constexpr uint64_t kExpireEveryNs = 25'000'000;
  uint64_t expired_at = 0;
  TraceOptions filters = opts.filters;
  filters.explain = !opts.all_records;
  // Whose processes hold a listener comes from /proc/PID/fd, which for
  // another user's process (nginx's workers) takes both.
  const std::vector<Need> needs = {{probes::cap_bit(CAP_SYS_PTRACE) | probes::cap_bit(CAP_DAC_READ_SEARCH),
                                    "to read /proc/PID/fd of other users' processes: who holds a listener"}};
  SessionResult r = run_session(
      filters, needs, [&](const events::Event& e) { tracker.add(e); },
      [&](const probes::Tracer& tracer) {
        // Stories open while records were lost say so (records_lost).
        const uint64_t now = monotonic_ns();
        tracker.records_lost(tracer.losses().total(), now);
        if (now - expired_at >= kExpireEveryNs) {
          tracker.expire();
          expired_at = now;
        }
        if (pcap) pcap->capture().tick(now);
        renderer->flush();
        std::cout.flush();
        return counted_out();
      },
      pcap ? probes::Tracer::RawSink([&](const events::RawPacket& p) { pcap->capture().packet(p); })
           : probes::Tracer::RawSink());
  tracker.records_lost(r.summary.lost.total(), monotonic_ns());  // the last drain's
  // Stopped by --count, the stories still open are not told: tracing
  // stopped before their end, and the count is what was asked for.
  if (!counted_out()) tracker.finish();
  render::ExplainSummary summary{r.summary, counted_out() ? connections : tracker.stats().told, tracker.stats().evicted,
                                 tracker.stats().open_peak};
  renderer->summary(summary);
  std::cout.flush();
  using render::plural;
  std::cerr << fmt::format(
      "sockscope: {}; explained {}, {}, {}{}\n", render::describe(r.summary), plural(listens, "listen", "listens"),
      plural(failed_binds, "failed bind", "failed binds"), plural(summary.connections, "connection", "connections"),
      summary.evicted ? fmt::format(" ({} evicted early to bound memory)", summary.evicted) : std::string());
  if (pcap) {
    pcap->finish();
    std::cerr << "sockscope: " << describe(*pcap) << "\n";
  }
  return r.exit_code.value_or(0);
}

}  // namespace sockscope::cli
