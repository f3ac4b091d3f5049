// A renderer turns events into one output format on a std::ostream.
// A new format is a new renderer; the tracker and the probes do not change.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "events/event.hpp"
#include "events/loss.hpp"

namespace sockscope::render {

using events::LossCounts;
using events::Summary;

// "36 events, 0 lost", with the causes when any were lost: the one wording
// of the end-of-run count, on stderr and in the text output alike.
std::string describe(const Summary& s);

class JsonWriter;
// The same counts as members of the JSON object being written: "events",
// "lost_total" and "lost" ({"ringbuf_full":…,"inflight_full":…,
// "tracked_full":…,"undecodable":…}), for trace's and explain's summaries alike.
void write_summary(JsonWriter& w, const Summary& s);
// Tasks waiting on a socket as a JSON array value (after a key()), each
// {"pid":…,"tid":…,"comm":…,"how":…} (`how`: events::wait_how_name), for
// trace's established records and explain's connections alike.
void write_waiters(JsonWriter& w, std::span<const events::Waiter> waiters);

class Renderer {
 public:
  virtual ~Renderer() = default;
  virtual void event(const events::Event& e) = 0;
  virtual void summary(const Summary& s) = 0;
  // Writes what the renderer holds back to its stream; flushing the stream
  // is the caller's (both happen on every poll tick, so an interactive
  // reader waits at most one tick).
  virtual void flush() {}
};

}  // namespace sockscope::render
