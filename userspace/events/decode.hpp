// Decoding into a caller's Event, for the reader's hot path (one record per
// kernel event, a million a second in a storm): no Event built and copied
// per record. events::decode(raw) in event.hpp is the same check and copy.
#pragma once

#include <cstddef>
#include <span>

#include "events/event.hpp"

namespace sockscope::events {

// Overwrites `out` with the record in `raw` and returns true, leaving `out`
// equal to what decode(raw) returns; false (and `out` unspecified) where
// decode(raw) returns nullopt.
bool decode_into(std::span<const std::byte> raw, Event& out);

}  // namespace sockscope::events
