#include "track/tracker.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "events/names.hpp"
#include "track/record_fields.hpp"

namespace sockscope::track {

using events::Event;
using events::Kind;
using events::Phase;

namespace {

// Short names for the record's tcp_flags bits (bpf/sockscope.h) and the
// kernel's TCP states (<netinet/tcp.h>), nothing more.
constexpr uint8_t kSyn = SK_TCP_SYN, kRst = SK_TCP_RST, kAck = SK_TCP_ACK;
constexpr uint8_t kEstablished = TCP_ESTABLISHED, kSynSent = TCP_SYN_SENT, kSynRecv = TCP_SYN_RECV, kClose = TCP_CLOSE,
                  kListen = TCP_LISTEN;

using detail::local_ep;
using detail::remote_ep;
using detail::task_of;
// With its thread: the acceptor, whose thread the waiters name too.
Task thread_of(const Event& e) { return {e.pid, std::string(e.comm_view()), e.tid}; }

void sort_unique(std::vector<uint32_t>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

// Per process (see Tracker::KeyHash), and the same for every table all along.
uint64_t hash_seed() {
  static const uint64_t seed = (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  return seed;
}

// splitmix64's finalizer over h ^ v: a bijection in which every input bit
// reaches every output bit, so chaining it over a key's words gives no
// collisions that hold whatever the seed.
uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

uint64_t mix(uint64_t h, const Endpoint& ep) {
  uint64_t lo, hi;
  std::memcpy(&lo, ep.addr.data(), sizeof lo);
  std::memcpy(&hi, ep.addr.data() + sizeof lo, sizeof hi);
  return mix(mix(mix(h, uint64_t{ep.family} << 16 | ep.port), lo), hi);
}

}  // namespace

std::size_t Tracker::KeyHash::operator()(const PortKey& k) const noexcept {
  return mix(hash_seed(), uint64_t{k.netns} << 16 | k.port);
}
std::size_t Tracker::KeyHash::operator()(const FlowPair& k) const noexcept {
  return mix(mix(hash_seed(), k.first), k.second);
}
std::size_t Tracker::KeyHash::operator()(const FlowKey& k) const noexcept {
  return mix(mix(mix(hash_seed(), k.netns), k.server), k.client);
}

Tracker::Tracker(TrackerConfig cfg, Clock clock, Sink sink)
    : cfg_(cfg),
      clock_(std::move(clock)),
      sink_(std::move(sink)),
      listener_socks_(cfg.max_listeners),
      listeners_(cfg.max_listeners),
      bound_(cfg.max_listeners),
      accept_waits_(cfg.max_listeners),
      connections_(cfg.max_connections),
      connecting_(cfg.max_connections),
      client_socks_(cfg.max_connections),
      client_flows_(cfg.max_connections) {
  cfg_.max_steps = std::min<std::size_t>(cfg_.max_steps, 255);  // a step names its task by a uint8_t index
}

void Tracker::add(const Event& e) {
  switch (e.kind) {
    case Kind::SysBind: on_sys_bind(e); break;
    case Kind::Bind: on_bind(e); break;
    case Kind::Listen: on_listen(e); break;
    case Kind::State: on_state(e); break;
    case Kind::SynRecv: on_syn_recv(e); break;
    case Kind::Established: on_established(e); break;
    case Kind::SynackRetransmit: on_synack_retransmit(e); break;
    case Kind::SysConnect: on_sys_connect(e); break;
    case Kind::SysAccept: on_sys_accept(e); break;
    case Kind::Accept: on_accept(e); break;
    case Kind::SysClose: on_sys_close(e); break;
    case Kind::Tcp: on_packet(e); break;
    case Kind::SysSocket:
    case Kind::SysListen: break;  // the kernel's own listen record says more
    case Kind::SysGetsockopt: on_sys_getsockopt(e); break;
  }
}

// ---- listeners and bound ports ----

void Tracker::on_sys_bind(const Event& e) {
  if (e.phase != Phase::Exit || e.ret >= 0) return;
  BindConflict b;
  b.ts_ns = e.ts_ns;
  b.netns = e.netns;
  b.wanted = local_ep(e);
  b.caller = task_of(e);
  b.err = events::errno_of(e.ret);
  if (b.err == EADDRINUSE) {
    if (auto it = bound_.peek({e.netns, e.sport}); it != bound_.end()) {
      b.holder = it->second.owner;
      b.holder_listening = it->second.listening;
      b.holder_bound_ns = it->second.ts_ns;
    }
  }
  if (sink_.bind_conflict) sink_.bind_conflict(b);
}

void Tracker::on_bind(const Event& e) {
  bound_.insert_or_assign({e.netns, e.sport}, Bound{e.sock, task_of(e), e.ts_ns, false});
}

void Tracker::on_listen(const Event& e) {
  Listener l;
  l.netns = e.netns;
  l.local = local_ep(e);
  l.owner = task_of(e);
  l.backlog = e.backlog;
  l.listen_ns = e.ts_ns;
  l.sock = e.sock;
  l.ino = e.sock_ino;
  l.backend = e.backend;
  const PortKey k{e.netns, e.sport};
  listeners_.insert_or_assign(k, l);
  if (e.sock) listener_socks_.insert_or_assign(e.sock, l);
  auto& b = bound_.try_emplace(k).first->second;
  if (b.sock != e.sock) b = Bound{e.sock, l.owner, e.ts_ns, true};
  b.listening = true;
  if (sink_.listener) {
    std::vector<uint32_t> pids;
    if (l.owner.pid) pids.push_back(l.owner.pid);
    l.pids = holders_of(l.ino, std::move(pids));
    sink_.listener(l);
  }
}

void Tracker::on_sys_close(const Event& e) {
  // A socket that was bound but never listened has no state change to see
  // it go: its close() frees the port.
  if (auto it = bound_.peek({e.netns, e.sport});
      it != bound_.end() && it->second.sock == e.sock && !it->second.listening)
    bound_.erase(it);
}

// ---- state changes ----

void Tracker::on_state(const Event& e) {
  const PortKey k{e.netns, e.sport};
  if (e.old_state == kListen && e.new_state == kClose) {
    listener_socks_.erase(e.sock);
    if (auto it = listeners_.peek(k); it != listeners_.end() && it->second.sock == e.sock) {
      listeners_.erase(it);
      // Another listener on the port (a reuseport group, the other family)
      // serves records that name none. Closing a listener is rare: a scan.
      for (const auto& [sock, l] : listener_socks_)
        if (l.netns == e.netns && l.local.port == e.sport) listeners_.insert_or_assign(k, l);
    }
    if (auto it = bound_.peek(k); it != bound_.end() && it->second.sock == e.sock) bound_.erase(it);
    // inet_csk_listen_stop resets whatever is still queued on this listener.
    for (auto& [key, o] : connections_) {
      if (key.netns != e.netns || key.server.port != e.sport || o.decided || o.c.client_only) continue;
      const uint64_t lsk = o.lsk ? o.lsk : o.c.listener ? o.c.listener->sock : 0;
      if (lsk && e.sock && lsk != e.sock) continue;  // queued on another listener of the port
      add_step(o, e, Lane::Server, Step::Arrow::None, StepKind::ListenerClosed);
      decide(o, o.c.established && !o.c.accepted ? Outcome::ListenerClosed : Outcome::Closed);
    }
    return;
  }
  if (e.new_state == kListen || e.sport == 0) return;  // the listen record covers it; no port yet

  const Endpoint local = local_ep(e), remote = remote_ep(e);
  if (Open* o = find({local, remote, e.netns})) {  // the server's child
    join_server(*o);
    // LISTEN->SYN_RECV and SYN_RECV->ESTABLISHED are told by the established record.
    if (e.old_state == kListen || (e.old_state == kSynRecv && e.new_state == kEstablished)) return;
    if (o->c.accepted) return;
    add_step(*o, e, Lane::Kernel, Step::Arrow::None, StepKind::ChildState, e.old_state, e.new_state);
    if (e.new_state == kClose) decide(*o, o->c.rst_ns ? Outcome::Reset : Outcome::Closed);
    return;
  }
  Open* o = find_any_netns(remote, local, e.netns);
  // The client's socket leaving SYN_SENT: its story began with its SYN,
  // unless that record was not seen.
  if (!o && e.old_state == kSynSent) o = &open_client_story(remote, local, e.netns, e.ts_ns);
  if (o) {  // the client's socket
    // For its connect()'s exit, which may come without the tuple (below).
    // Whether or not its entry was seen: explain's kernel folds the entry
    // into the exit (SK_ENTER_FOLDED), which comes after this.
    if (e.old_state == kSynSent) client_socks_.insert_or_assign(e.sock, FlowKey{o->c.server, o->c.client, o->c.netns});
    remember_client_flow(e.sock, *o);
    if (e.old_state == kSynSent && e.new_state == kEstablished) on_client_established(*o, e);
    if (e.old_state == kSynSent && e.new_state == kClose) {
      add_step(*o, e, Lane::Client, Step::Arrow::None, StepKind::ClientState, e.old_state, e.new_state);
      if (!o->c.established) decide(*o, o->c.rst_ns ? Outcome::Refused : Outcome::Closed);
    }
  }
}

// ---- the handshake on the server's side ----

void Tracker::on_syn_recv(const Event& e) {
  const Endpoint server = local_ep(e), client = remote_ep(e);
  uint32_t netns = e.netns;
  // sock_ops names the namespace only of listeners it saw begin (0 for one
  // listening since before tracing): the SYN that made this request socket
  // opened the story in its own namespace. Of several (the same addresses in
  // two namespaces), the lowest: a choice the hash's order cannot change.
  if (netns == 0) {
    const auto [from, to] = netns_of_.equal_range({server, client});
    for (auto it = from; it != to; ++it)
      if (it->second != 0 && (netns == 0 || it->second < netns)) netns = it->second;
  }
  Open& o = get_fresh({server, client, netns}, e.ts_ns);
  attach_listener(o, e);
  if (o.c.first_syn_ns == 0) o.c.first_syn_ns = e.ts_ns;  // no packet record for the SYN
  o.c.backends.syn_recv = e.backend;
  add_step(o, e, Lane::Kernel, Step::Arrow::None, StepKind::SynRecv, e.queue_len, e.queue_max);
}

void Tracker::on_established(const Event& e) {
  Open& o = get_or_create({local_ep(e), remote_ep(e), e.netns}, e.ts_ns);
  Connection& c = o.c;
  c.established = true;
  c.established_ns = e.ts_ns;
  c.ctx = e.ctx;
  c.cpu = e.cpu;
  c.borrowed = task_of(e);
  c.queue_len = e.queue_len;
  c.queue_max = e.queue_max;
  c.backends.established = e.backend;
  attach_listener(o, e);
  if (!c.listener && e.owner_known()) {
    // Listening began before tracing: the kernel still knows the owner.
    Listener l;
    l.netns = e.netns;
    l.local = local_ep(e);
    l.owner = Task{e.owner_pid, ""};
    l.backlog = e.queue_max;
    l.sock = e.lsk;
    l.ino = e.sock_ino;
    c.listener = l;
  }
  if (e.sock_ino)
    c.listener_ino = e.sock_ino;
  else if (!c.listener_ino && c.listener)
    c.listener_ino = c.listener->ino;
  // Who holds the listener now, when the connection is queued: by the time
  // the story is told a short-lived server may be gone. Told, it adds who
  // holds it then.
  if (c.listener_ino && cfg_.holders) c.listener_pids = cfg_.holders(c.listener_ino);
  c.listener_state = classify_owner(e.owner_state, e.owner_flags);
  if (e.waiters.read) {
    std::vector<WaiterFact> waiters;
    for (const events::Waiter& w : e.waiters.tasks())
      waiters.push_back(WaiterFact{Task{w.pid, std::string(w.comm_view()), w.tid}, w});
    c.waiters_complete = !e.waiters.truncated() && !e.waiters.unknown_entries();
    c.idle_epoll = e.waiters.idle_epoll();
    // Who waited says more than the owner's own state; with nobody waiting,
    // the owner's state is what there is to say.
    if (auto from_waiters = classify_waiters(waiters)) c.listener_state = *from_waiters;
    c.waiters = std::move(waiters);
  }
  add_step(o, e, Lane::Kernel, Step::Arrow::None, StepKind::Established, e.queue_len, e.queue_max);
}

void Tracker::on_synack_retransmit(const Event& e) {
  Open& o = get_or_create({local_ep(e), remote_ep(e), e.netns}, e.ts_ns);
  ++o.c.synack_retransmits;
  add_step(o, e, Lane::Kernel, Step::Arrow::None, StepKind::SynackRetransmit, e.queue_len, e.queue_max);
}

// ---- the programs' calls ----

void Tracker::on_sys_connect(const Event& e) {
  if (e.phase == Phase::Enter) {
    connecting_.insert_or_assign(e.sock, ClientSeen{task_of(e), e.netns, e.ts_ns, e.ts_ns, e.nonblocking()});
    return;
  }
  std::optional<ClientSeen> began;
  if (auto it = connecting_.peek(e.sock); it != connecting_.end()) {
    began = it->second;
    connecting_.erase(it);
  }
  // The story began with the connection's SYN (tracker_client.cpp): a
  // connect() that failed before sending one has none.
  Open* o = find_any_netns(remote_ep(e), local_ep(e), e.netns);
  if (auto it = client_socks_.peek(e.sock); it != client_socks_.end()) {
    if (!o) o = find(it->second);
    client_socks_.erase(it);
  }
  if (!o) return;
  Connection& c = o->c;
  c.client_task = task_of(e);
  c.client_netns = e.netns;
  c.connect_ret = e.ret;
  c.client_side.seen = true;
  // EINPROGRESS is a non-blocking connect()'s answer whatever the flag says.
  c.client_side.nonblocking = e.nonblocking() || (began && began->nonblocking) || e.ret == -EINPROGRESS;
  c.client_side.connect_exit_ns = e.ts_ns;
  remember_client_flow(e.sock, *o);
  if (began)
    add_step(*o, began->connect_enter_ns, Lane::Client, Step::Arrow::None, StepKind::ConnectEnter, e.ctx, e.cpu, e.pid,
             e.comm_view(), e.backend);
  add_step(*o, e, Lane::Client, Step::Arrow::None, StepKind::ConnectExit, static_cast<uint32_t>(e.ret));
  if (e.ret < 0 && e.ret != -EINPROGRESS && !c.established)
    decide(*o, e.ret == -ECONNREFUSED ? Outcome::Refused : e.ret == -ETIMEDOUT ? Outcome::TimedOut : Outcome::Closed);
  if (e.ret == 0 && c.client_only) decide(*o, Outcome::Connected);
}

void Tracker::on_sys_accept(const Event& e) {
  if (e.phase == Phase::Enter) {
    accept_waits_.insert_or_assign(e.tid,
                                   AcceptWait{e.ts_ns, task_of(e), e.nonblocking(), accept_via_of_syscall(e.value)});
    return;
  }
  std::optional<AcceptWait> wait;
  if (auto it = accept_waits_.peek(e.tid); it != accept_waits_.end()) {
    wait = it->second;
    accept_waits_.erase(it);
  }
  // A failed accept (a nonblocking one's EAGAIN: nothing queued) took no connection.
  if (e.ret < 0) return;
  Open& o = get_or_create({local_ep(e), remote_ep(e), e.netns}, e.ts_ns);
  Connection& c = o.c;
  c.accepted = true;
  c.accept_ns = e.ts_ns;
  c.acceptor = thread_of(e);
  c.accept_fd = static_cast<int32_t>(e.ret);
  c.accept_via = accept_via_of_syscall(e.value);
  if (c.accept_via == AcceptVia::Unknown && wait) c.accept_via = wait->via;
  c.accept_nonblocking = e.nonblocking() || (wait && wait->nonblocking);
  const uint32_t flags = accept_flags(c.accept_nonblocking, c.accept_via);
  if (wait && wait->ts_ns <= e.ts_ns)
    add_step(o, wait->ts_ns, Lane::Server, Step::Arrow::None, StepKind::AcceptEnter, events::ExecCtx::Process, e.cpu,
             wait->task.pid, wait->task.comm, e.backend, flags);
  add_step(o, e, Lane::Server, Step::Arrow::None, StepKind::AcceptExit, static_cast<uint32_t>(e.ret), flags);
  decide(o, Outcome::Accepted);
}

void Tracker::on_accept(const Event& e) {
  Open& o = get_or_create({local_ep(e), remote_ep(e), e.netns}, e.ts_ns);
  attach_listener(o, e);
  Connection& c = o.c;
  c.queue_len_after_accept = e.queue_len;
  c.bytes_before_accept = e.rx_queued;
  // io_uring's accept makes no syscall: this record is all there is of it,
  // in the ring's task, with the CQE's fd when known.
  const bool io_uring = e.via == events::WaitVia::IoUring;
  if (!c.accepted || io_uring) {  // the syscall's own record was not seen (yet)
    c.accepted = true;
    c.accept_ns = e.ts_ns;
    c.acceptor = thread_of(e);
    c.accept_fd = e.fd;
    if (io_uring) c.accept_via = AcceptVia::IoUring;
  }
  c.backends.accept = e.backend;
  add_step(o, e, Lane::Kernel, Step::Arrow::None, StepKind::Dequeued, e.queue_len, e.rx_queued, e.queue_max);
  decide(o, Outcome::Accepted);
}

// ---- packets: the server host's view ----

void Tracker::on_packet(const Event& e) {
  const Endpoint src = local_ep(e), dst = remote_ep(e);
  const bool syn_only = (e.tcp_flags & (kSyn | kAck)) == kSyn;
  if (e.dir == events::Dir::Tx && syn_only) {  // a client's SYN leaving: its story begins
    on_client_syn(e);
    return;
  }

  Open* o = nullptr;
  Step::Arrow arrow;
  if (e.dir == events::Dir::Rx) {  // arriving: the server host hears from the client
    o = syn_only ? &get_fresh({dst, src, e.netns}, e.ts_ns) : find({dst, src, e.netns});
    arrow = Step::Arrow::ToServer;
  } else {  // leaving: the server host answers the client
    o = find({src, dst, e.netns});
    arrow = Step::Arrow::ToClient;
  }
  if (!o) {  // the client host's side of the wire, or not a connection we follow
    on_client_packet(e);
    return;
  }
  join_server(*o);
  Connection& c = o->c;

  if (arrow == Step::Arrow::ToServer) c.rx_ifname = std::string(e.ifname_view());
  uint32_t dropped_len = 0, dropped_max = 0;
  if (syn_only) {
    ++c.syns;
    if (c.first_syn_ns == 0) c.first_syn_ns = e.ts_ns;
    // tcp_conn_request drops a SYN while sk_acceptq_is_full(): len > max.
    if (e.listener_found() && e.queue_len > e.queue_max) {
      ++c.syns_dropped;
      c.queue_len_at_drop = e.queue_len;
      c.queue_max_at_drop = e.queue_max;
      dropped_len = e.queue_len;
      dropped_max = e.queue_max;
    }
  }
  if (e.tcp_flags & kRst) {
    c.rst_ns = e.ts_ns;
    // The server host refusing a SYN: nobody listens there.
    if (arrow == Step::Arrow::ToClient && !c.established && !listeners_.contains({e.netns, src.port}))
      decide(*o, Outcome::Refused);
  }
  add_step(*o, e, Lane::Kernel, arrow, StepKind::Packet, e.tcp_flags | static_cast<uint32_t>(e.payload_len) << 8,
           dropped_len, dropped_max);
}

// ---- bookkeeping ----

// The listener a child's record names (lsk) when it is known; else the
// latest on the port, as for records that name none.
std::optional<Listener> Tracker::listener_for(uint32_t netns, uint16_t port, uint64_t lsk) {
  if (lsk)
    if (auto it = listener_socks_.find(lsk); it != listener_socks_.end()) return it->second;
  if (auto it = listeners_.find({netns, port}); it != listeners_.end()) return it->second;
  return std::nullopt;
}

void Tracker::attach_listener(Open& o, const Event& e) {
  // The record's own inode is the listener's, whatever this trace knows of it.
  if (e.sock_ino && !o.c.listener_ino) o.c.listener_ino = e.sock_ino;
  if (!e.lsk) return;  // get_or_create chose by port already
  o.lsk = e.lsk;
  if (auto l = listener_for(e.netns, e.sport, e.lsk)) o.c.listener = std::move(l);
  if (o.c.listener && !o.c.listener_ino) o.c.listener_ino = o.c.listener->ino;
}

std::vector<uint32_t> Tracker::holders_of(uint32_t ino, std::vector<uint32_t> pids) const {
  if (ino && cfg_.holders) {
    const std::vector<uint32_t> more = cfg_.holders(ino);
    pids.insert(pids.end(), more.begin(), more.end());
  }
  sort_unique(pids);
  return pids;
}

uint32_t Tracker::accept_flags(bool nonblocking, AcceptVia via) {
  return (nonblocking ? 1u : 0u) | static_cast<uint32_t>(via) << 1;
}

Tracker::FlowKey Tracker::key_of(const Open& o) { return {o.c.server, o.c.client, o.c.netns}; }

// A record joining a story makes it the most recently active.
Tracker::Open* Tracker::find(const FlowKey& k) {
  auto it = connections_.find(k);
  return it == connections_.end() ? nullptr : &it->second;
}

// The client side of a connection may live in another network namespace
// (a veth pair): match the flow in any namespace, preferring the event's own.
Tracker::Open* Tracker::find_any_netns(const Endpoint& server, const Endpoint& client, uint32_t prefer_netns) {
  if (Open* o = find({server, client, prefer_netns})) return o;
  std::optional<uint32_t> only;
  const auto [from, to] = netns_of_.equal_range({server, client});
  for (auto it = from; it != to; ++it) {
    const Open& o = connections_.peek({server, client, it->second})->second;
    if (o.c.client_netns != 0 && o.c.client_netns != prefer_netns) continue;
    if (only) return nullptr;  // ambiguous: the same flow in two namespaces
    only = it->second;
  }
  return only ? find({server, client, *only}) : nullptr;
}

// The server side's records open a story, or join the one the client's SYN
// opened (tracker_client.cpp).
Tracker::Open& Tracker::get_or_create(const FlowKey& k, uint64_t ts) {
  if (Open* o = find(k)) {
    join_server(*o);
    return *o;
  }
  Open& o = emplace_story(k, ts);
  if (auto it = listeners_.find({k.netns, k.server.port}); it != listeners_.end()) o.c.listener = it->second;
  adopt_client_half(o);
  return o;
}

Tracker::Open& Tracker::emplace_story(const FlowKey& k, uint64_t ts) {
  // Eviction by the tracker's own order: the map itself would drop a
  // decided story only when it happened to be the least recently active.
  if (connections_.size() >= connections_.capacity()) evict_oldest();
  Open& o = connections_.try_emplace(k).first->second;
  stats_.open_peak = std::max<uint64_t>(stats_.open_peak, connections_.size());
  netns_of_.emplace(FlowPair{k.server, k.client}, k.netns);
  Connection& c = o.c;
  c.netns = k.netns;
  c.server = k.server;
  c.client = k.client;
  c.last_ns = ts;
  // Its earlier records may be among those lost before the count grew.
  c.records_lost = lost_seen_ns_ != 0 && ts <= lost_seen_ns_;
  return o;
}

void Tracker::records_lost(uint64_t total, uint64_t now_ns) {
  if (total <= lost_total_) return;
  lost_total_ = total;
  lost_seen_ns_ = now_ns;
  for (auto& [key, o] : connections_) o.c.records_lost = true;
}

// A SYN opens a connection. When the same 4-tuple's previous connection is
// still open here (a client port reused at once, as in a storm), that one is
// over: tell it before the new one starts. A retransmitted SYN of a
// handshake that has not completed yet belongs to the open story.
Tracker::Open& Tracker::get_fresh(const FlowKey& k, uint64_t ts) {
  auto it = connections_.peek(k);
  if (it != connections_.end()) {
    const Open& o = it->second;
    // A story only the client's half opened is this connection's, unless
    // the client had given up on it.
    const bool over =
        o.c.client_only ? o.decided && o.c.outcome != Outcome::Connected : o.decided || o.c.established || o.c.accepted;
    if (over) tell(it, Outcome::Pending);
  }
  return get_or_create(k, ts);
}

void Tracker::decide(Open& o, Outcome outcome) {
  // accept() returning the connection settles it, whatever came before; a
  // client's socket closing (closed) is refined by the cause its connect()
  // or SO_ERROR reads later (refused, timed out).
  const bool cause = o.c.outcome == Outcome::Closed && (outcome == Outcome::Refused || outcome == Outcome::TimedOut);
  if (o.decided && (outcome != Outcome::Accepted || o.c.outcome == Outcome::Accepted) && !cause) return;
  o.c.outcome = outcome;
  if (!o.decided) {
    o.tell_after = clock_() + cfg_.linger_ns;
    o.decided_at = decided_.insert(decided_.end(), &o);
  }
  o.decided = true;
}

void Tracker::add_step(Open& o, uint64_t ts, Lane lane, Step::Arrow arrow, StepKind kind, events::ExecCtx ctx,
                       uint32_t cpu, uint32_t pid, std::string_view comm, events::Backend backend, uint32_t a,
                       uint32_t b, uint32_t c) {
  o.c.last_ns = std::max(o.c.last_ns, ts);
  if (o.steps.size() >= cfg_.max_steps) {
    ++o.c.steps_omitted;
    return;
  }
  std::size_t task = 0;
  while (task < o.tasks.size() && !(o.tasks[task].pid == pid && o.tasks[task].comm == comm)) ++task;
  if (task == o.tasks.size()) o.tasks.push_back(Task{pid, std::string(comm)});
  if (o.steps.empty()) o.steps.reserve(16);  // a whole handshake and close, without regrowing
  o.steps.push_back(StepRec{ts, a, b, c, static_cast<uint16_t>(cpu), kind, lane, arrow, ctx, backend,
                            static_cast<uint8_t>(task), false});
}

void Tracker::add_step(Open& o, const Event& e, Lane lane, Step::Arrow arrow, StepKind kind, uint32_t a, uint32_t b,
                       uint32_t c) {
  add_step(o, e.ts_ns, lane, arrow, kind, e.ctx, e.cpu, e.pid, e.comm_view(), e.backend, a, b, c);
}

Step Tracker::to_step(const StepRec& r, const std::vector<Task>& tasks) {
  Step s;
  s.ts_ns = r.ts_ns;
  s.kind = r.kind;
  s.lane = r.lane;
  s.arrow = r.arrow;
  s.ctx = r.ctx;
  s.cpu = r.cpu;
  s.task = tasks[r.task];
  s.backend = r.backend;
  switch (r.kind) {
    case StepKind::ChildState:
    case StepKind::ClientState:
      s.old_state = static_cast<uint8_t>(r.a);
      s.new_state = static_cast<uint8_t>(r.b);
      break;
    case StepKind::SynRecv:
    case StepKind::Established:
    case StepKind::SynackRetransmit:
      s.queue_len = r.a;
      s.queue_max = r.b;
      break;
    case StepKind::ConnectExit: s.ret = static_cast<int32_t>(r.a); break;
    case StepKind::AcceptExit:
      s.ret = static_cast<int32_t>(r.a);
      s.nonblocking = r.b & 1;
      s.accept_via = static_cast<AcceptVia>(r.b >> 1);
      break;
    case StepKind::AcceptEnter:
      s.nonblocking = r.a & 1;
      s.accept_via = static_cast<AcceptVia>(r.a >> 1);
      break;
    case StepKind::Dequeued:
      s.queue_len = r.a;
      s.bytes_waiting = r.b;
      s.queue_max = r.c;
      break;
    case StepKind::Packet:
      s.tcp_flags = static_cast<uint8_t>(r.a);
      s.payload_len = static_cast<uint16_t>(r.a >> 8);
      s.syn_dropped = r.b != 0 || r.c != 0;
      s.queue_len = r.b;
      s.queue_max = r.c;
      break;
    case StepKind::ClientEstablished:
      s.old_state = static_cast<uint8_t>(r.a);
      s.new_state = static_cast<uint8_t>(r.b);
      if (r.c != 0) s.waiters = r.c - 1;
      break;
    case StepKind::Getsockopt:
      s.ret = static_cast<int32_t>(r.a);
      s.so_error = static_cast<int32_t>(r.b);
      break;
    case StepKind::ListenerClosed:
    case StepKind::ConnectEnter: break;
  }
  return s;
}

void Tracker::tell(Connections::iterator it, Outcome undecided_as) {
  Connection& c = it->second.c;
  if (!it->second.decided) c.outcome = undecided_as;
  c.told_ns = clock_();
  // Records from different CPUs can reach the ring buffer slightly out of order.
  std::vector<StepRec>& recs = it->second.steps;
  std::stable_sort(recs.begin(), recs.end(), [](const StepRec& a, const StepRec& b) { return a.ts_ns < b.ts_ns; });
  c.steps.clear();
  c.steps.reserve(recs.size());
  for (const StepRec& r : recs) c.steps.push_back(to_step(r, it->second.tasks));
  std::vector<uint32_t> pids = std::move(c.listener_pids);
  if (c.listener && c.listener->owner.pid) pids.push_back(c.listener->owner.pid);
  if (c.waiters)
    for (const WaiterFact& w : *c.waiters)
      if (w.task.pid) pids.push_back(w.task.pid);
  if (c.accepted && c.acceptor.pid) pids.push_back(c.acceptor.pid);
  c.listener_pids = holders_of(c.listener_ino, std::move(pids));
  ++stats_.told;
  if (c.outcome == Outcome::Evicted) ++stats_.evicted;
  if (sink_.connection) sink_.connection(c);
  forget(it);
}

// Removes a story from every table that names it.
void Tracker::forget(Connections::iterator it) {
  const FlowKey& k = it->first;
  if (it->second.decided) decided_.erase(it->second.decided_at);
  const auto [from, to] = netns_of_.equal_range({k.server, k.client});
  for (auto at = from; at != to; ++at)
    if (at->second == k.netns) {
      netns_of_.erase(at);
      break;
    }
  connections_.erase(it);
}

// Over the bound: decided stories go first, oldest decision first, told with
// their own outcome (only the rest of their linger is cut short); then the
// least recently active undecided one, told as evicted. Each is the front of
// a recency order: one story per new one, in O(1).
void Tracker::evict_oldest() {
  if (!decided_.empty()) {
    tell(connections_.peek(key_of(*decided_.front())), decided_.front()->c.outcome);
    return;
  }
  if (!connections_.empty()) tell(connections_.oldest(), Outcome::Evicted);  // all undecided
}

void Tracker::expire() {
  const uint64_t now = clock_();
  // Decided in the order their lingers end (the clock is monotonic).
  while (!decided_.empty() && now >= decided_.front()->tell_after)
    tell(connections_.peek(key_of(*decided_.front())), decided_.front()->c.outcome);
  // An undecided story's timeout runs from its establishment when there is
  // one, which activity does not order: look at each.
  for (auto it = connections_.begin(); it != connections_.end();) {
    auto next = std::next(it);
    const Open& o = it->second;
    if (!o.decided) {
      const uint64_t since = o.c.established ? o.c.established_ns : o.c.last_ns;
      if (now > since && now - since >= cfg_.pending_timeout_ns) tell(it, Outcome::Pending);
    }
    it = next;
  }
  connecting_.erase_oldest_while(
      [&](const auto& kv) { return now > kv.second.seen_ns && now - kv.second.seen_ns > 4 * cfg_.pending_timeout_ns; });
}

// In order of activity, least recent first: the order in which the stories
// went quiet, where the flows' key order said nothing.
void Tracker::finish() {
  while (!connections_.empty()) tell(connections_.oldest(), Outcome::Pending);
}

}  // namespace sockscope::track
