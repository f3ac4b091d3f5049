// A record's endpoints and task as the tracker keys and names them; shared
// by the tracker's server-side (tracker.cpp) and client-side
// (tracker_client.cpp) handlers.
#pragma once

#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "events/event.hpp"
#include "track/story.hpp"

namespace sockscope::track::detail {

inline Endpoint make_endpoint(uint16_t family, const std::array<uint8_t, 16>& addr, uint16_t port) {
  Endpoint ep{family, addr, port};
  // IPv4 uses the first four bytes; the rest must not make two keys differ.
  if (family == AF_INET) std::fill(ep.addr.begin() + 4, ep.addr.end(), 0);
  return ep;
}
inline Endpoint local_ep(const events::Event& e) { return make_endpoint(e.family, e.saddr, e.sport); }
inline Endpoint remote_ep(const events::Event& e) { return make_endpoint(e.family, e.daddr, e.dport); }
inline Task task_of(const events::Event& e) { return {e.pid, std::string(e.comm_view())}; }

}  // namespace sockscope::track::detail
