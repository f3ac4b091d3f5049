#include "events/event.hpp"

#include "events/decode.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace sockscope::events {

static_assert(sizeof(sk_event) == 192, "struct sk_event changed: update the decoder and tests");
static_assert(sizeof(Event::saddr) == sizeof(sk_event::saddr) && sizeof(Event::daddr) == sizeof(sk_event::daddr));
static_assert(sizeof(sk_waiter) == 36 && sizeof(sk_event_waiters) == 192 + 8 + 8 * 36);
static_assert(sizeof(Waiter::comm) == sizeof(sk_waiter::comm));
static_assert(sizeof(sk_pkt) == 88, "struct sk_pkt changed: update decode_folded and its tests");
static_assert(sizeof(sk_dequeue) == 32 && sizeof(sk_event_dequeue) == 224);
static_assert(sizeof(Event::comm) == sizeof(sk_event::comm) && sizeof(Event::ifname) == sizeof(sk_event::ifname));

namespace {

// The record before its folded packets: struct sk_event, then its waiters
// or its dequeue.
std::size_t head_size(bool with_waiters, bool with_dequeue) {
  if (with_waiters) return sizeof(sk_event_waiters);
  if (with_dequeue) return sizeof(sk_event_dequeue);
  return sizeof(sk_event);
}

template <std::size_t N>
std::string_view bounded(const std::array<char, N>& s) {
  return {s.data(), strnlen(s.data(), s.size())};
}

bool known_kind(uint32_t k) {
  switch (static_cast<Kind>(k)) {
    case Kind::SysSocket:
    case Kind::SysBind:
    case Kind::SysListen:
    case Kind::SysConnect:
    case Kind::SysAccept:
    case Kind::SysClose:
    case Kind::SysGetsockopt:
    case Kind::Bind:
    case Kind::Listen:
    case Kind::SynRecv:
    case Kind::Established:
    case Kind::Accept:
    case Kind::State:
    case Kind::SynackRetransmit:
    case Kind::Tcp: return true;
  }
  return false;
}

}  // namespace

Layer Event::layer() const {
  auto k = static_cast<uint32_t>(kind);
  if (k < SK_K_BIND) return Layer::Syscall;
  if (k < SK_PKT_TCP) return Layer::Kernel;
  return Layer::Packet;
}

std::string_view Event::comm_view() const { return bounded(comm); }
std::string_view Waiter::comm_view() const { return bounded(comm); }
std::string_view Event::ifname_view() const { return bounded(ifname); }

TaskState classify_task_state(uint32_t state) {
  // One bit each (SK_TASK_*); a stopped or traced task may carry
  // SK_TASK_WAKEKILL besides, which says nothing more.
  if (state == SK_TASK_RUNNING) return TaskState::Running;
  if (state & SK_TASK_TRACED) return TaskState::Traced;
  if (state & SK_TASK_STOPPED) return TaskState::Stopped;
  if (state & SK_TASK_DEAD) return TaskState::Dead;
  if (state & SK_TASK_UNINTERRUPTIBLE) return TaskState::DiskSleep;
  if (state & SK_TASK_INTERRUPTIBLE) return TaskState::Sleeping;
  return TaskState::Other;
}

std::size_t raw_event_size() { return sizeof(sk_event); }
std::size_t raw_event_waiters_size() { return sizeof(sk_event_waiters); }

bool decode_into(std::span<const std::byte> raw, Event& e) {
  if (raw.size() < sizeof(sk_event)) return false;
  sk_event r;
  std::memcpy(&r, raw.data(), sizeof(r));
  const bool with_waiters = r.owner_flags & SK_WAITERS_READ;
  const bool with_dequeue = (r.owner_flags & SK_DEQUEUE_FOLDED) && r.kind == SK_SYS_ACCEPT;
  if (with_waiters && with_dequeue) return false;
  // Only an accept exit folds in its dequeue; only an accept or connect exit its entry.
  if ((r.owner_flags & SK_DEQUEUE_FOLDED) && !with_dequeue) return false;
  if ((r.owner_flags & SK_ENTER_FOLDED) &&
      (r.phase != SK_PHASE_EXIT || (r.kind != SK_SYS_ACCEPT && r.kind != SK_SYS_CONNECT)))
    return false;
  const std::size_t head = head_size(with_waiters, with_dequeue);
  if (r.folded > SK_MAX_FOLDED || raw.size() != head + r.folded * sizeof(sk_pkt)) return false;
  if (!known_kind(r.kind) || r.ctx > SK_CTX_IRQ || r.phase > SK_PHASE_ENTER || r.dir > SK_DIR_TX ||
      r.backend > SK_BACKEND_KPROBE || r.via > SK_WAIT_IO_URING)
    return false;

  e.ts_ns = r.ts_ns;
  e.dur_ns = r.dur_ns;
  e.sock = r.sk;
  e.ret = r.ret;
  e.kind = static_cast<Kind>(r.kind);
  e.pid = r.pid;
  e.tid = r.tid;
  e.cpu = r.cpu;
  e.netns = r.netns;
  e.fd = r.fd;
  e.backlog = r.backlog;
  e.queue_len = r.queue_len;
  e.queue_max = r.queue_max;
  e.ifindex = r.ifindex;
  e.seq = r.seq;
  e.ack_seq = r.ack_seq;
  e.owner_pid = r.owner_pid;
  e.owner_state = r.owner_state;
  e.rx_queued = r.rx_queued;
  e.family = r.family;
  e.sport = r.sport;
  e.dport = r.dport;
  e.payload_len = r.payload_len;
  e.window = r.window;
  e.ctx = static_cast<ExecCtx>(r.ctx);
  e.phase = static_cast<Phase>(r.phase);
  e.old_state = r.old_state;
  e.new_state = r.new_state;
  e.tcp_flags = r.tcp_flags;
  e.dir = static_cast<Dir>(r.dir);
  e.backend = static_cast<Backend>(r.backend);
  e.owner_flags = r.owner_flags;
  std::memcpy(e.saddr.data(), r.saddr, sizeof(r.saddr));
  std::memcpy(e.daddr.data(), r.daddr, sizeof(r.daddr));
  std::memcpy(e.comm.data(), r.comm, sizeof(r.comm));
  std::memcpy(e.ifname.data(), r.ifname, sizeof(r.ifname));
  e.sock_ino = r.sock_ino;
  e.value = r.value;
  e.lsk = r.lsk;
  e.via = static_cast<WaitVia>(r.via);
  e.folded = r.folded;
  if (with_dequeue) {
    sk_dequeue d;
    std::memcpy(&d, raw.data() + offsetof(sk_event_dequeue, dq), sizeof(d));
    if (d.backend > SK_BACKEND_KPROBE || d.via > SK_WAIT_IO_URING) return false;
    e.dequeue = Dequeue{d.ts_ns,
                        d.sk,
                        d.queue_len,
                        d.queue_max,
                        d.rx_queued,
                        static_cast<Backend>(d.backend),
                        static_cast<WaitVia>(d.via)};
  } else {
    e.dequeue = Dequeue{};
  }
  // Most records carry none: the waiters are reset only where a previous
  // record left some.
  if (e.waiters.read || with_waiters) e.waiters = Waiters{};
  if (with_waiters) {
    sk_waiters w;
    std::memcpy(&w, raw.data() + offsetof(sk_event_waiters, waiters), sizeof(w));
    if (w.count > SK_MAX_WAITERS) return false;
    e.waiters.read = true;
    e.waiters.flags = w.flags;
    e.waiters.entries = w.entries;
    e.waiters.count = w.count;
    for (uint8_t i = 0; i < w.count; ++i) {
      const sk_waiter& in = w.w[i];
      if (in.via > SK_WAIT_IO_URING) return false;
      Waiter& out = e.waiters.list[i];
      out.pid = in.tgid;
      out.tid = in.tid;
      out.syscall = in.syscall;
      out.state = in.state;
      out.via = static_cast<WaitVia>(in.via);
      out.exclusive = in.exclusive != 0;
      std::memcpy(out.comm.data(), in.comm, sizeof(in.comm));
    }
  }
  return true;
}

namespace {

// A held packet (struct sk_pkt) as the packet record it stands for, going
// from (src, sport) to (dst, dport) as family says; false when malformed.
bool packet_event(const sk_pkt& p, uint16_t family, const std::array<uint8_t, 16>& src,
                  const std::array<uint8_t, 16>& dst, Event& e) {
  if (p.ctx > SK_CTX_IRQ || p.dir > SK_DIR_TX) return false;
  e = Event{};
  e.kind = Kind::Tcp;
  e.ts_ns = p.ts_ns;
  e.pid = p.pid;
  e.tid = p.tid;
  e.cpu = p.cpu;
  e.netns = p.netns;
  e.ifindex = p.ifindex;
  e.queue_len = p.queue_len;
  e.queue_max = p.queue_max;
  e.family = family;
  e.sport = p.sport;
  e.dport = p.dport;
  e.payload_len = p.payload_len;
  e.tcp_flags = p.tcp_flags;
  e.dir = static_cast<Dir>(p.dir);
  e.ctx = static_cast<ExecCtx>(p.ctx);
  e.owner_flags = p.owner_flags & SK_LISTENER_FOUND;
  e.saddr = src;
  e.daddr = dst;
  std::memcpy(e.comm.data(), p.comm, sizeof(p.comm));
  std::memcpy(e.ifname.data(), p.ifname, sizeof(p.ifname));
  return true;
}

// Held from several CPUs, packets reach their record in any order.
void sort_by_time(std::span<Event> events) {
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.ts_ns < b.ts_ns; });
}

}  // namespace

std::size_t decode_folded(std::span<const std::byte> raw, const Event& rec, std::span<Event, SK_MAX_FOLDED> out) {
  const std::size_t head = head_size(rec.waiters.read, rec.dequeue_folded() && rec.kind == Kind::SysAccept);
  if (rec.folded > SK_MAX_FOLDED || raw.size() < head + rec.folded * sizeof(sk_pkt)) return 0;
  std::size_t n = 0;
  for (std::size_t i = 0; i < rec.folded; ++i) {
    sk_pkt p;
    std::memcpy(&p, raw.data() + head + i * sizeof(sk_pkt), sizeof(p));
    const bool reversed = p.owner_flags & SK_PKT_REVERSED;
    if (p.sport != (reversed ? rec.dport : rec.sport) || p.dport != (reversed ? rec.sport : rec.dport)) continue;
    std::array<uint8_t, 16> src = reversed ? rec.daddr : rec.saddr, dst = reversed ? rec.saddr : rec.daddr;
    // IPv4-mapped IPv6 (a dual-stack socket's view of an IPv4 peer): the
    // packet itself was IPv4.
    if (p.family == AF_INET && rec.family == AF_INET6) {
      std::memmove(src.data(), src.data() + 12, 4);
      std::memmove(dst.data(), dst.data() + 12, 4);
      std::fill(src.begin() + 4, src.end(), 0);
      std::fill(dst.begin() + 4, dst.end(), 0);
    }
    if (packet_event(p, p.family, src, dst, out[n])) ++n;
  }
  sort_by_time(out.first(n));
  return n;
}

std::size_t decode_held(const sk_fold_key& key, const sk_fold& fold, std::span<Event, SK_FOLD_SLOTS> out) {
  std::array<uint8_t, 16> a{}, b{};
  std::memcpy(a.data(), key.a, sizeof(key.a));
  std::memcpy(b.data(), key.b, sizeof(key.b));
  std::size_t n = 0;
  for (const sk_pkt& p : fold.p) {
    if (p.state != SK_SLOT_HELD) continue;
    const bool from_b = p.owner_flags & SK_PKT_KEY_B;
    if (packet_event(p, key.family, from_b ? b : a, from_b ? a : b, out[n])) ++n;
  }
  sort_by_time(out.first(n));
  return n;
}

Event entry_of(const Event& exit) {
  Event e = exit;
  e.phase = Phase::Enter;
  e.ts_ns = exit.ts_ns - std::min(exit.dur_ns, exit.ts_ns);
  e.dur_ns = 0;
  e.ret = 0;
  e.owner_flags = exit.owner_flags & ~(SK_ENTER_FOLDED | SK_DEQUEUE_FOLDED);
  e.folded = 0;
  e.dequeue = Dequeue{};
  return e;
}

Event dequeue_of(const Event& exit) {
  Event e = exit;
  e.kind = Kind::Accept;
  e.ts_ns = exit.dequeue.ts_ns;
  e.dur_ns = 0;
  e.sock = exit.dequeue.sock;
  e.fd = static_cast<int32_t>(exit.ret);
  e.ret = 0;
  e.queue_len = exit.dequeue.queue_len;
  e.queue_max = exit.dequeue.queue_max;
  e.rx_queued = exit.dequeue.rx_queued;
  e.backend = exit.dequeue.backend;
  e.via = exit.dequeue.via;
  e.owner_flags = 0;
  e.folded = 0;
  e.dequeue = Dequeue{};
  return e;
}

std::optional<Event> decode(std::span<const std::byte> raw) {
  std::optional<Event> e(std::in_place);
  if (!decode_into(raw, *e)) return std::nullopt;
  return e;
}

std::string_view RawPacket::owner_comm_view() const { return bounded(owner_comm); }

bool is_raw_packet(std::span<const std::byte> raw) {
  uint32_t kind = 0;
  if (raw.size() < sizeof(sk_event)) return false;
  std::memcpy(&kind, raw.data() + offsetof(sk_event, kind), sizeof(kind));
  return kind == SK_PKT_RAW;
}

bool decode_raw(std::span<const std::byte> raw, RawPacket& out) {
  constexpr std::size_t head = sizeof(sk_event) + sizeof(sk_raw);
  if (!is_raw_packet(raw) || raw.size() < head) return false;
  sk_raw r;
  std::memcpy(&r, raw.data() + sizeof(sk_event), sizeof(r));
  if (r.caplen > SK_PCAP_MAX || raw.size() != head + r.caplen || r.caplen > r.len) return false;
  // The packet record's fields, decoded as the SK_PKT_TCP record they are
  // (no waiters, dequeue or folded packets may follow).
  std::array<std::byte, sizeof(sk_event)> ev;
  std::memcpy(ev.data(), raw.data(), sizeof(sk_event));
  const uint32_t tcp = SK_PKT_TCP;
  std::memcpy(ev.data() + offsetof(sk_event, kind), &tcp, sizeof(tcp));
  if (!decode_into(ev, out.packet)) return false;
  out.len = r.len;
  out.syscall = r.syscall;
  out.loopback = r.loopback != 0;
  std::memcpy(out.owner_comm.data(), r.owner_comm, sizeof(r.owner_comm));
  out.bytes = raw.subspan(head, r.caplen);
  return true;
}

}  // namespace sockscope::events
