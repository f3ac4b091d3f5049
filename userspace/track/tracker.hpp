// The connection tracker: stitches syscall, kernel and packet records into
// one story per listener and per connection (4-tuple + the server side's
// network namespace), and tells each story once it is over.
//
// Pure: records in, stories out through a Sink; time comes from an injected
// clock (CLOCK_MONOTONIC in the tool, the same clock as the records' ts_ns;
// a fake one in the tests). Bounded: at most max_connections open stories
// (beyond that, decided stories are told at once and then the oldest
// undecided ones as "evicted"), max_listeners listeners and
// bound ports, max_steps steps per story.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "events/event.hpp"
#include "track/story.hpp"

namespace sockscope::track {

struct TrackerConfig {
  uint64_t pending_timeout_ns = 30'000'000'000;  // tell a connection not accepted after this long
  uint64_t linger_ns = 200'000'000;              // once decided, wait this long for the other side's late records
  std::size_t max_connections = 8192;
  std::size_t max_listeners = 16384;
  std::size_t max_steps = 64;
};

struct Sink {
  std::function<void(const Listener&)> listener;
  std::function<void(const BindConflict&)> bind_conflict;
  std::function<void(const Connection&)> connection;
};

struct TrackerStats {
  uint64_t told = 0;     // connection stories told
  uint64_t evicted = 0;  // of which told early to stay within max_connections
};

class Tracker {
 public:
  using Clock = std::function<uint64_t()>;
  Tracker(TrackerConfig cfg, Clock clock, Sink sink);

  void add(const events::Event& e);
  // Tells the stories that are due: decided ones after the linger, undecided
  // ones after the pending timeout. Call it periodically.
  void expire();
  // Tells every open story (tracing ends).
  void finish();

  const TrackerStats& stats() const { return stats_; }
  std::size_t open_connections() const { return connections_.size(); }
  std::size_t listeners() const { return listeners_.size(); }

 private:
  struct PortKey {
    uint32_t netns;
    uint16_t port;
    auto operator<=>(const PortKey&) const = default;
  };
  // Ordered so that all namespaces of one flow are adjacent (see find_any_netns).
  struct FlowKey {
    Endpoint server, client;
    uint32_t netns;
    auto operator<=>(const FlowKey&) const = default;
  };
  struct Bound {
    uint64_t sock = 0;
    Task owner;
    uint64_t ts_ns = 0;
    bool listening = false;
  };
  struct AcceptWait {
    uint64_t ts_ns = 0;
    Task task;
  };
  // A step as the tracker holds it until the story is told: what happened
  // and its numbers, 32 bytes; it becomes a Step once, when told. The tasks
  // a story's steps ran in are few, so each is held once per story.
  // a, b, c by kind: ChildState, ClientState: old state, new state.
  // SynRecv, Established, SynackRetransmit: queue length, its max.
  // ConnectExit, AcceptExit: the return value. Dequeued: left in the queue,
  // bytes waiting, the queue's max. Packet: TCP flags | payload << 8; the
  // queue length and max when the SYN was dropped (else 0, 0).
  struct StepRec {
    uint64_t ts_ns;
    uint32_t a, b, c;
    uint16_t cpu;
    StepKind kind;
    Lane lane;
    Step::Arrow arrow;
    events::ExecCtx ctx;
    events::Backend backend;
    uint8_t task;  // index into Open::tasks
  };
  static_assert(sizeof(StepRec) == 32, "a story's memory is its steps: keep them small (README, Cost under load)");
  struct Open {
    Connection c;  // steps empty until told
    std::vector<StepRec> steps;
    std::vector<Task> tasks;
    bool decided = false;
    uint64_t tell_after = 0;
  };
  struct ClientSeen {  // a connect() or a SYN sent, before the story exists
    Task task;
    uint32_t netns = 0;
    uint64_t connect_enter_ns = 0;
    uint64_t seen_ns = 0;
  };

  void on_sys_bind(const events::Event& e);
  void on_bind(const events::Event& e);
  void on_listen(const events::Event& e);
  void on_state(const events::Event& e);
  void on_syn_recv(const events::Event& e);
  void on_established(const events::Event& e);
  void on_synack_retransmit(const events::Event& e);
  void on_sys_connect(const events::Event& e);
  void on_sys_accept(const events::Event& e);
  void on_accept(const events::Event& e);
  void on_sys_close(const events::Event& e);
  void on_packet(const events::Event& e);

  Open* find(const FlowKey& k);
  Open* find_any_netns(const Endpoint& server, const Endpoint& client, uint32_t prefer_netns);
  Open& get_or_create(const FlowKey& k, uint64_t ts);
  Open& get_fresh(const FlowKey& k, uint64_t ts);
  void decide(Open& o, Outcome outcome);
  void add_step(Open& o, uint64_t ts, Lane lane, Step::Arrow arrow, StepKind kind, events::ExecCtx ctx, uint32_t cpu,
                uint32_t pid, std::string_view comm, events::Backend backend, uint32_t a = 0, uint32_t b = 0,
                uint32_t c = 0);
  void add_step(Open& o, const events::Event& e, Lane lane, Step::Arrow arrow, StepKind kind, uint32_t a = 0,
                uint32_t b = 0, uint32_t c = 0);
  static Step to_step(const StepRec& r, const std::vector<Task>& tasks);
  void tell(std::map<FlowKey, Open>::iterator it, Outcome undecided_as);
  void evict_oldest();
  void prune_client_seen(uint64_t now);

  TrackerConfig cfg_;
  Clock clock_;
  Sink sink_;
  TrackerStats stats_;
  std::map<PortKey, Listener> listeners_;
  std::map<PortKey, Bound> bound_;
  std::map<PortKey, AcceptWait> accept_waits_;
  std::map<FlowKey, Open> connections_;
  std::map<std::pair<Endpoint, Endpoint>, ClientSeen> clients_seen_;  // (server, client)
  std::unordered_map<uint64_t, ClientSeen> connecting_;               // connect() in progress, by socket
  // A connecting socket's flow, from its state changes: a failed connect()
  // returns with the socket already unbound, so its record has no tuple.
  std::unordered_map<uint64_t, FlowKey> client_socks_;
};

}  // namespace sockscope::track
