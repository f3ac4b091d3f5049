// libFuzzer target: the tracker (and every explain renderer after it) fed
// arbitrary sequences of decoded events, built from the real recordings in
// tests/unit/fixtures: the input is a list of 4-byte steps, each taking one
// recorded event (recording, index) and doing one thing with it: as it is,
// earlier than its time (out of order), twice, on another record's socket,
// from another process, with another TCP state, cut short (no ports, no
// family), or no event at all but the clock moved on. Small bounds, so that
// eviction runs too. Built with ASan and UBSan.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "render/explain_json_renderer.hpp"
#include "render/ladder_renderer.hpp"
#include "render/mermaid_renderer.hpp"
#include "replay.hpp"
#include "track/tracker.hpp"

namespace {

using sockscope::events::Event;

std::vector<std::vector<Event>>& recordings() {
  static std::vector<std::vector<Event>> all = [] {
    std::vector<std::vector<Event>> r;
    std::vector<std::filesystem::path> files;
    for (const auto& f : std::filesystem::directory_iterator(SOCKSCOPE_FIXTURES))
      if (f.path().extension() == ".jsonl") files.push_back(f.path());
    std::sort(files.begin(), files.end());  // the step's recording number means the same file every run
    for (const auto& f : files) r.push_back(sockscope::test::load_recording(f.string()));
    return r;
  }();
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& recs = recordings();
  static std::ostringstream out;
  // A wall clock west of UTC, for the JSON's wall-clock twins and a ladder's
  // times of day (beside the default ladder's offsets).
  static constexpr sockscope::render::WallClock clock{1'772'323'200'000'000'000, -5 * 3600};
  sockscope::render::ExplainJsonRenderer json(out, clock);
  sockscope::render::LadderRenderer ladder(out);
  sockscope::render::LadderRenderer wall_ladder(
      out, sockscope::render::TimeColumn(sockscope::render::TimeStyle::Wall, clock));
  sockscope::render::MermaidRenderer mermaid(out);
  auto tell = [&](auto&& fn) {
    fn(json);
    fn(ladder);
    fn(wall_ladder);
    fn(mermaid);
  };
  sockscope::track::TrackerConfig cfg;
  cfg.max_connections = 4;
  cfg.max_listeners = 3;
  uint64_t now = 0;
  sockscope::track::Tracker tracker(
      cfg, [&] { return now; },
      sockscope::track::Sink{
          [&](const sockscope::track::Listener& l) { tell([&](auto& r) { r.listener(l); }); },
          [&](const sockscope::track::BindConflict& b) { tell([&](auto& r) { r.bind_conflict(b); }); },
          [&](const sockscope::track::Connection& c) { tell([&](auto& r) { r.connection(c); }); }});
  Event prev;
  for (size_t i = 0; i + 4 <= size; i += 4) {
    const auto& rec = recs[data[i] % recs.size()];
    Event e = rec[(static_cast<size_t>(data[i + 1]) << 8 | data[i + 2]) % rec.size()];
    const uint8_t op = data[i + 3] & 7, arg = data[i + 3] >> 3;
    switch (op) {
      case 0: break;
      case 1: e.ts_ns -= std::min<uint64_t>(e.ts_ns, uint64_t{arg} * 1'000'000); break;
      case 2: tracker.add(e); break;  // and again below
      case 3: e.sock = prev.sock; break;
      case 4: e.pid += arg, e.tid += arg; break;
      case 5: e.new_state = arg & 15, e.old_state = arg >> 1; break;
      case 6: e.sport = 0, e.dport = 0, e.family = arg & 1 ? 0 : e.family; break;
      case 7:
        now += uint64_t{arg} * 100'000'000;
        tracker.records_lost(arg & 1, now);
        tracker.expire();
        continue;
    }
    now = std::max(now, e.ts_ns);
    tracker.add(e);
    tracker.expire();
    prev = e;
  }
  tracker.finish();
  tell([](auto& r) { r.flush(); });
  out.str(std::string());
  return 0;
}
