// The client's half of a connection story: what the client host's kernel
// and the connecting program did, wherever the server runs.
//
// An outgoing connection's story opens with its first SYN, keyed as every
// story is by (server, client, namespace), in the client's namespace, and
// marked client_only. When the server side is on this host too its first
// record joins that story: on loopback the key is the same one (join_server);
// across a veth pair the server's story, in the server's namespace, adopts
// the client's half (adopt_client_half). What stays client_only is told as
// the client host's story: its packets, its socket's establishment and who
// that woke, connect() and getsockopt(SO_ERROR).
//
// On a host that runs both sides every segment is seen twice, sent and
// received. A story with its server side keeps the server host's view as
// its packet steps (tracker.cpp); the client host's view of the same
// segments is kept as facts (ClientSide), not steps.
#include <netinet/tcp.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <vector>

#include "track/record_fields.hpp"
#include "track/tracker.hpp"

namespace sockscope::track {

using detail::local_ep;
using detail::remote_ep;
using detail::task_of;
using events::Event;

namespace {

constexpr uint8_t kSyn = SK_TCP_SYN, kAck = SK_TCP_ACK, kRst = SK_TCP_RST, kFin = SK_TCP_FIN;
constexpr uint8_t kEstablished = TCP_ESTABLISHED;

Outcome failure_outcome(int err) {
  if (err == ECONNREFUSED) return Outcome::Refused;
  if (err == ETIMEDOUT) return Outcome::TimedOut;
  return Outcome::Closed;
}

}  // namespace

Tracker::Open& Tracker::open_client_story(const Endpoint& server, const Endpoint& client, uint32_t netns, uint64_t ts) {
  Open& o = emplace_story({server, client, netns}, ts);
  o.c.client_only = true;
  o.c.client_netns = netns;
  return o;
}

// A client-only story's steps are the client host's packets, marked so that
// they give way to the server host's should its side join.
void Tracker::add_client_host_packet(Open& o, const Event& e, Step::Arrow arrow) {
  const std::size_t before = o.steps.size();
  add_step(o, e, Lane::Kernel, arrow, StepKind::Packet, e.tcp_flags | uint32_t{e.payload_len} << 8);
  if (o.steps.size() > before) o.steps.back().client_host = true;
}

void Tracker::remember_client_flow(uint64_t sock, const Open& o) {
  if (sock != 0) client_flows_.insert_or_assign(sock, ClientFlow{o.c.server, o.c.client, o.c.client_netns});
}

// A SYN leaving the client host. In process context the current task is the
// one calling connect(); a retransmission from the timer runs in softirq.
void Tracker::on_client_syn(const Event& e) {
  const Endpoint client = local_ep(e), server = remote_ep(e);
  Open* o = find_any_netns(server, client, e.netns);
  if (o && e.ctx == events::ExecCtx::Process) {
    // connect() sending a first SYN on a 4-tuple whose last story is still
    // open (a port reused at once): that one is over.
    const Connection& c = o->c;
    const bool over = (o->decided && !(c.client_only && c.outcome == Outcome::Connected)) || c.established ||
                      c.accepted || c.client_side.established_ns != 0;
    if (over) {
      tell(connections_.peek(key_of(*o)), Outcome::Pending);
      o = nullptr;
    }
  }
  if (!o) o = &open_client_story(server, client, e.netns, e.ts_ns);
  Connection& c = o->c;
  ClientSide& cs = c.client_side;
  cs.seen = true;
  ++cs.syns_sent;
  if (cs.syn_tx_ns == 0) {
    cs.syn_tx_ns = e.ts_ns;
    cs.syn_task = task_of(e);
    cs.syn_ctx = e.ctx;
  }
  if (e.ctx == events::ExecCtx::Process && !c.client_task) c.client_task = task_of(e);
  if (c.client_netns == 0) c.client_netns = e.netns;
  remember_client_flow(e.sock, *o);
  if (c.client_only) add_client_host_packet(*o, e, Step::Arrow::ToServer);
}

// Any other segment the server-side view did not claim: the client host
// receiving from the server (Rx) or sending to it (Tx).
void Tracker::on_client_packet(const Event& e) {
  const bool rx = e.dir == events::Dir::Rx;
  const Endpoint server = rx ? local_ep(e) : remote_ep(e);
  const Endpoint client = rx ? remote_ep(e) : local_ep(e);
  Open* o = find_any_netns(server, client, e.netns);
  if (!o) return;
  Connection& c = o->c;
  ClientSide& cs = c.client_side;
  cs.seen = true;
  const uint8_t f = e.tcp_flags;
  if (rx && (f & (kSyn | kAck)) == (kSyn | kAck) && cs.synack_rx_ns == 0) cs.synack_rx_ns = e.ts_ns;
  // The handshake's last segment: a bare ACK, after the SYN-ACK.
  if (!rx && (f & (kSyn | kAck | kRst | kFin)) == kAck && e.payload_len == 0 && cs.synack_rx_ns != 0 &&
      cs.ack_tx_ns == 0)
    cs.ack_tx_ns = e.ts_ns;
  if (rx && (f & kRst)) {
    if (cs.rst_rx_ns == 0) cs.rst_rx_ns = e.ts_ns;
    // The server's host refusing the SYN: this host's half is all there is.
    if (c.client_only && cs.established_ns == 0) {
      c.rst_ns = e.ts_ns;
      decide(*o, Outcome::Refused);
    }
  }
  if (c.client_only) add_client_host_packet(*o, e, rx ? Step::Arrow::ToClient : Step::Arrow::ToServer);
}

// SYN_SENT -> ESTABLISHED of the client's socket: the kernel finished the
// client's half, in the softirq that took the SYN-ACK or in connect()'s task
// when it held the socket's lock; the record says who waited on the socket.
void Tracker::on_client_established(Open& o, const Event& e) {
  ClientSide& cs = o.c.client_side;
  cs.seen = true;
  cs.established_ns = e.ts_ns;
  cs.ctx = e.ctx;
  cs.cpu = e.cpu;
  cs.borrowed = task_of(e);
  if (e.waiters.read) {
    const auto tasks = e.waiters.tasks();
    cs.waiters.emplace(tasks.begin(), tasks.end());
    cs.waiter_flags = e.waiters.flags;
  }
  // In a story with its server side, the server's packets already tell when:
  // the step is there for whom the wakeup found.
  if (o.c.client_only || e.waiters.read)
    add_step(o, e, Lane::Kernel, Step::Arrow::None, StepKind::ClientEstablished, e.old_state, kEstablished,
             e.waiters.read ? uint32_t{e.waiters.count} + 1 : 0);
  if (o.c.client_only) decide(o, Outcome::Connected);
}

// getsockopt(SOL_SOCKET, SO_ERROR): how a program that connected without
// blocking learns the outcome.
void Tracker::on_sys_getsockopt(const Event& e) {
  if (e.phase != events::Phase::Exit) return;
  Open* o = nullptr;
  if (e.sport != 0 && e.dport != 0) o = find_any_netns(remote_ep(e), local_ep(e), e.netns);
  if (!o)
    if (auto it = client_flows_.peek(e.sock); it != client_flows_.end())
      o = find_any_netns(it->second.server, it->second.client, it->second.netns);
  if (!o) return;
  Connection& c = o->c;
  ClientSide& cs = c.client_side;
  cs.seen = true;
  // The one that tells the outcome: the first read once the connection was
  // up or had failed; earlier ones (still connecting, 0) give way to it.
  const bool told =
      cs.so_error && (*cs.so_error != 0 || (cs.established_ns != 0 && cs.so_error_ns >= cs.established_ns));
  if (e.ret == 0 && !told) {
    cs.so_error = e.value;
    cs.so_error_ns = e.ts_ns;
  }
  add_step(*o, e, Lane::Client, Step::Arrow::None, StepKind::Getsockopt, static_cast<uint32_t>(e.ret),
           static_cast<uint32_t>(e.value));
  if (e.ret == 0 && e.value != 0 && !c.established && cs.established_ns == 0) decide(*o, failure_outcome(e.value));
  if (e.ret == 0 && e.value == 0 && c.client_only && cs.established_ns != 0) decide(*o, Outcome::Connected);
}

// A server-side record joined a story: it is no longer the client's alone.
// The client host's packets give way to the server host's, and an outcome
// only the client's half decided is the server side's to decide now.
void Tracker::join_server(Open& o) {
  if (!o.c.client_only) return;
  o.c.client_only = false;
  std::erase_if(o.steps, [](const StepRec& r) { return r.client_host; });
  if (o.decided && o.c.outcome == Outcome::Connected) undecide(o);
  if (!o.c.listener)
    if (auto it = listeners_.find({o.c.netns, o.c.server.port}); it != listeners_.end()) o.c.listener = it->second;
}

// The server's story, just opened in the server's namespace, takes over the
// client's half opened in another one (a veth pair).
void Tracker::adopt_client_half(Open& o) {
  const auto [from, to] = netns_of_.equal_range({o.c.server, o.c.client});
  for (auto at = from; at != to; ++at) {
    if (at->second == o.c.netns) continue;
    auto it = connections_.peek({o.c.server, o.c.client, at->second});
    Open& half = it->second;
    if (!half.c.client_only) continue;
    Connection& c = o.c;
    c.client_netns = half.c.client_netns;
    c.client_task = half.c.client_task;
    c.connect_ret = half.c.connect_ret;
    c.client_side = std::move(half.c.client_side);
    c.steps_omitted += half.c.steps_omitted;
    c.records_lost |= half.c.records_lost;
    for (const StepRec& r : half.steps) {
      if (r.client_host) continue;
      const Task& t = half.tasks[r.task];
      add_step(o, r.ts_ns, r.lane, r.arrow, r.kind, r.ctx, r.cpu, t.pid, t.comm, r.backend, r.a, r.b, r.c);
    }
    forget(it);  // told as part of this story
    return;
  }
}

void Tracker::undecide(Open& o) {
  if (!o.decided) return;
  decided_.erase(o.decided_at);
  o.decided = false;
  o.c.outcome = Outcome::Pending;
}

}  // namespace sockscope::track
