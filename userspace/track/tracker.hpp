// The connection tracker: stitches syscall, kernel and packet records into
// one story per listener and per connection (4-tuple + the server side's
// network namespace), and tells each story once it is over. An outgoing
// connection opens its story with its first SYN, in the client's namespace;
// the server side's first record, when this host has one, joins it (the same
// key on loopback; across a veth pair the server's story adopts the client's
// half), so that the two halves stay one story (tracker_client.cpp).
//
// Pure: records in, stories out through a Sink; time comes from an injected
// clock (CLOCK_MONOTONIC in the tool, the same clock as the records' ts_ns;
// a fake one in the tests). Bounded: at most max_connections open stories
// (beyond that, decided stories are told at once, oldest decision first, and
// then the least recently active undecided ones as "evicted"), max_listeners
// listeners and bound ports, max_steps steps per story. Every table is a
// RecencyMap: a full one drops its least recently active entry, in O(1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "events/event.hpp"
#include "track/recency_map.hpp"
#include "track/story.hpp"

namespace sockscope::track {

struct TrackerConfig {
  uint64_t pending_timeout_ns = 30'000'000'000;  // tell a connection not accepted after this long
  uint64_t linger_ns = 200'000'000;              // once decided, wait this long for the other side's late records
  std::size_t max_connections = 8192;
  std::size_t max_listeners = 16384;
  std::size_t max_steps = 64;
  // The processes (tgids) that hold a socket, by its inode, asked when a
  // listen or connection story is about to be told, so that a listener shared
  // after listen() (fork, SCM_RIGHTS) names every holder. Unset: none asked.
  // The tool scans /proc (probes/holders.hpp); the tests give a fake.
  std::function<std::vector<uint32_t>(uint32_t ino)> holders;
};

struct Sink {
  std::function<void(const Listener&)> listener;
  std::function<void(const BindConflict&)> bind_conflict;
  std::function<void(const Connection&)> connection;
};

struct TrackerStats {
  uint64_t told = 0;       // connection stories told
  uint64_t evicted = 0;    // of which told early to stay within max_connections
  uint64_t open_peak = 0;  // the most stories open at once (at most max_connections)
};

class Tracker {
 public:
  using Clock = std::function<uint64_t()>;
  Tracker(TrackerConfig cfg, Clock clock, Sink sink);

  void add(const events::Event& e);
  // Tells the stories that are due: decided ones after the linger, undecided
  // ones after the pending timeout. Call it periodically.
  void expire();
  // Tells every open story (tracing ends), least recently active first.
  void finish();
  // The probes' count of lost records so far, read at now_ns (the clock's):
  // when it has grown, every open story, and every story whose first record
  // is older than now_ns, is marked records_lost.
  void records_lost(uint64_t total, uint64_t now_ns);

  const TrackerStats& stats() const { return stats_; }
  std::size_t open_connections() const { return connections_.size(); }
  std::size_t listeners() const { return listeners_.size(); }

 private:
  struct PortKey {
    uint32_t netns;
    uint16_t port;
    bool operator==(const PortKey&) const = default;
  };
  struct FlowKey {
    Endpoint server, client;
    uint32_t netns;
    bool operator==(const FlowKey&) const = default;
  };
  using FlowPair = std::pair<Endpoint, Endpoint>;  // (server, client), in any namespace
  // The tables' keys come off the wire (a SYN flood chooses its addresses
  // and ports): the hash is seeded per process, so that nobody can pick keys
  // that all land in one bucket.
  struct KeyHash {
    std::size_t operator()(const PortKey& k) const noexcept;
    std::size_t operator()(const FlowKey& k) const noexcept;
    std::size_t operator()(const FlowPair& k) const noexcept;
  };
  struct Bound {
    uint64_t sock = 0;
    Task owner;
    uint64_t ts_ns = 0;
    bool listening = false;
  };
  struct AcceptWait {  // an accept() that began, by thread, until it returns
    uint64_t ts_ns = 0;
    Task task;
    bool nonblocking = false;
    AcceptVia via = AcceptVia::Unknown;
  };
  // A step as the tracker holds it until the story is told: what happened
  // and its numbers, 32 bytes; it becomes a Step once, when told. The tasks
  // a story's steps ran in are few, so each is held once per story.
  // a, b, c by kind: ChildState, ClientState: old state, new state.
  // SynRecv, Established, SynackRetransmit: queue length, its max.
  // ClientEstablished: old state, new state, waiters read ? their count + 1 : 0.
  // Getsockopt: the return value, the error read.
  // ConnectExit: the return value. AcceptEnter: accept_flags(); AcceptExit:
  // the return value, accept_flags(). Dequeued: left in the queue,
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
    uint8_t task;      // index into Open::tasks
    bool client_host;  // a packet as the client host's kernel saw it (client-only stories)
  };
  static_assert(sizeof(StepRec) == 32, "a story's memory is its steps: keep them small (README, Cost under load)");
  struct Open {
    Connection c;  // steps empty until told
    std::vector<StepRec> steps;
    std::vector<Task> tasks;
    bool decided = false;
    uint64_t lsk = 0;  // the listening socket its records named (0: none did)
    uint64_t tell_after = 0;
    std::list<Open*>::iterator decided_at;  // its place in decided_, once decided
  };
  struct ClientSeen {  // a connect() in progress, before its story exists
    Task task;
    uint32_t netns = 0;
    uint64_t connect_enter_ns = 0;
    uint64_t seen_ns = 0;
    bool nonblocking = false;
  };
  struct ClientFlow {  // a client socket's flow, in the client's namespace
    Endpoint server, client;
    uint32_t netns = 0;
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
  // The client's half (tracker_client.cpp).
  void on_client_syn(const events::Event& e);
  void on_client_packet(const events::Event& e);
  void on_client_established(Open& o, const events::Event& e);
  void on_sys_getsockopt(const events::Event& e);
  Open& open_client_story(const Endpoint& server, const Endpoint& client, uint32_t netns, uint64_t ts);
  void remember_client_flow(uint64_t sock, const Open& o);
  void add_client_host_packet(Open& o, const events::Event& e, Step::Arrow arrow);
  void join_server(Open& o);
  void adopt_client_half(Open& o);
  void undecide(Open& o);

  void attach_listener(Open& o, const events::Event& e);
  std::optional<Listener> listener_for(uint32_t netns, uint16_t port, uint64_t lsk);
  std::vector<uint32_t> holders_of(uint32_t ino, std::vector<uint32_t> pids) const;
  static uint32_t accept_flags(bool nonblocking, AcceptVia via);
  static FlowKey key_of(const Open& o);
  Open* find(const FlowKey& k);
  Open* find_any_netns(const Endpoint& server, const Endpoint& client, uint32_t prefer_netns);
  Open& get_or_create(const FlowKey& k, uint64_t ts);
  Open& emplace_story(const FlowKey& k, uint64_t ts);
  Open& get_fresh(const FlowKey& k, uint64_t ts);
  void decide(Open& o, Outcome outcome);
  void add_step(Open& o, uint64_t ts, Lane lane, Step::Arrow arrow, StepKind kind, events::ExecCtx ctx, uint32_t cpu,
                uint32_t pid, std::string_view comm, events::Backend backend, uint32_t a = 0, uint32_t b = 0,
                uint32_t c = 0);
  void add_step(Open& o, const events::Event& e, Lane lane, Step::Arrow arrow, StepKind kind, uint32_t a = 0,
                uint32_t b = 0, uint32_t c = 0);
  static Step to_step(const StepRec& r, const std::vector<Task>& tasks);
  using Connections = RecencyMap<FlowKey, Open, KeyHash>;
  void tell(Connections::iterator it, Outcome undecided_as);
  void forget(Connections::iterator it);
  void evict_oldest();

  TrackerConfig cfg_;
  Clock clock_;
  Sink sink_;
  uint64_t lost_total_ = 0;    // the probes' lost records, as last told
  uint64_t lost_seen_ns_ = 0;  // when that count last grew (0: never)
  TrackerStats stats_;
  // A listener is active when it listens and when a connection to it opens.
  // By socket: a connection's records name the one it was queued on (lsk),
  // which a port cannot (a SO_REUSEPORT group; nginx's 0.0.0.0:P and [::]:P).
  RecencyMap<uint64_t, Listener> listener_socks_;
  // By port, the latest: for records that name no listening socket.
  RecencyMap<PortKey, Listener, KeyHash> listeners_;
  RecencyMap<PortKey, Bound, KeyHash> bound_;
  // By thread: one thread's accept() pairs its enter with its exit, whatever
  // other threads (or its own nonblocking EAGAIN calls) do meanwhile.
  RecencyMap<uint32_t, AcceptWait> accept_waits_;
  // Every open story, decided or not, in order of activity (a record joined
  // it). Stories never move between tables: a handler holding an Open& may
  // decide it and go on adding steps.
  Connections connections_;
  // The decided ones among them, in the order they were decided: the order
  // their lingers end, and the order eviction tells them. The stories
  // themselves (they never move), each knowing its place: 40 bytes a story,
  // where a second map keyed by flow took 120.
  std::list<Open*> decided_;
  // The namespaces in which each (server, client) pair has an open story:
  // one entry per story in connections_, added and removed with it.
  // The client's half of a flow may be seen from another namespace (a veth
  // pair), and sock_ops may not know the server's: both look a story up by
  // the pair alone. A multimap beside connections_ rather than connections_
  // keyed by the pair, so that recency and eviction stay per story; a pair
  // is open in one namespace but for rare coincidences.
  std::unordered_multimap<FlowPair, uint32_t, KeyHash> netns_of_;
  RecencyMap<uint64_t, ClientSeen> connecting_;  // connect() in progress, by socket
  // A connecting socket's flow, from its state changes: a failed connect()
  // returns with the socket already unbound, so its record has no tuple.
  RecencyMap<uint64_t, FlowKey> client_socks_;
  // A client socket's flow, from its connect() and state changes, for its
  // getsockopt(SO_ERROR): after a refused connect the socket's ports are gone.
  RecencyMap<uint64_t, ClientFlow> client_flows_;
};

}  // namespace sockscope::track
