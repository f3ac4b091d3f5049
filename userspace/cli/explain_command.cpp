#include "cli/explain_command.hpp"

#include <linux/capability.h>
#include <time.h>

#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "cli/choices.hpp"
#include "cli/session.hpp"
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

// The records' ts_ns is bpf_ktime_get_ns(): CLOCK_MONOTONIC.
uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// --format: each name and the renderer it makes.
using MakeRenderer = std::unique_ptr<render::ExplainRenderer> (*)(std::ostream&);
template <typename R>
std::unique_ptr<render::ExplainRenderer> make(std::ostream& out) {
  return std::make_unique<R>(out);
}
constexpr Choices<MakeRenderer, 3> kFormats = {{
    {"text", make<render::LadderRenderer>},
    {"json", make<render::ExplainJsonRenderer>},
    {"mermaid", make<render::MermaidRenderer>},
}};

}  // namespace

CLI::App* add_explain_command(CLI::App& app, ExplainOptions& opts) {
  auto* x = app.add_subcommand(
      "explain", "Say, connection by connection, who completed the TCP handshake and what the listener was doing");
  add_filter_options(x, opts.filters);
  auto* format = x->add_option("--format", opts.format, "Output: a ladder with a verdict, JSON Lines, or Mermaid")
                     ->check(one_of(kFormats))
                     ->capture_default_str();
  x->add_flag("--json", opts.json, "The same as --format json (see README: explain JSON)")->excludes(format);
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
  auto renderer = chosen(kFormats, opts.json ? "json" : opts.format)(std::cout);
  track::TrackerConfig cfg;
  cfg.pending_timeout_ns = static_cast<uint64_t>(opts.timeout_s * 1e9);
  // Each listen and connection story names every process holding its
  // listener (a fork after listen(), SCM_RIGHTS), from /proc as it is told.
  cfg.holders = probes::socket_holders;
  uint64_t listens = 0, failed_binds = 0;
  track::Tracker tracker(cfg, monotonic_ns,
                         track::Sink{
                             [&](const track::Listener& l) {
                               ++listens;
                               renderer->listener(l);
                             },
                             [&](const track::BindConflict& b) {
                               ++failed_binds;
                               renderer->bind_conflict(b);
                             },
                             [&](const track::Connection& c) { renderer->connection(c); },
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
        tracker.records_lost(tracer.losses().total(), monotonic_ns());
        if (const uint64_t now = monotonic_ns(); now - expired_at >= kExpireEveryNs) {
          tracker.expire();
          expired_at = now;
        }
        renderer->flush();
        std::cout.flush();
      });
  tracker.records_lost(r.summary.lost.total(), monotonic_ns());  // the last drain's
  tracker.finish();
  render::ExplainSummary summary{r.summary, tracker.stats().told, tracker.stats().evicted, tracker.stats().open_peak};
  renderer->summary(summary);
  std::cout.flush();
  using render::plural;
  std::cerr << fmt::format(
      "sockscope: {}; explained {}, {}, {}{}\n", render::describe(r.summary), plural(listens, "listen", "listens"),
      plural(failed_binds, "failed bind", "failed binds"), plural(summary.connections, "connection", "connections"),
      summary.evicted ? fmt::format(" ({} evicted early to bound memory)", summary.evicted) : std::string());
  return r.exit_code.value_or(0);
}

}  // namespace sockscope::cli
