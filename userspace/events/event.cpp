#include "events/event.hpp"

#include "events/decode.hpp"

#include <cstddef>
#include <cstring>

namespace sockscope::events {

static_assert(sizeof(sk_event) == 192, "struct sk_event changed: update the decoder and tests");
static_assert(sizeof(Event::saddr) == sizeof(sk_event::saddr) && sizeof(Event::daddr) == sizeof(sk_event::daddr));
static_assert(sizeof(sk_waiter) == 36 && sizeof(sk_event_waiters) == 192 + 8 + 8 * 36);
static_assert(sizeof(Waiter::comm) == sizeof(sk_waiter::comm));
static_assert(sizeof(Event::comm) == sizeof(sk_event::comm) && sizeof(Event::ifname) == sizeof(sk_event::ifname));

namespace {

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
  if (raw.size() != (with_waiters ? sizeof(sk_event_waiters) : sizeof(sk_event))) return false;
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

std::optional<Event> decode(std::span<const std::byte> raw) {
  std::optional<Event> e(std::in_place);
  if (!decode_into(raw, *e)) return std::nullopt;
  return e;
}

}  // namespace sockscope::events
