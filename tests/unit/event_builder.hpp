// A fluent builder for raw ring-buffer records (the kernel's struct sk_event),
// in the spirit of Pixie's EventGenerator: start from a zeroed record, set only
// what a test cares about, then take the bytes (for events::decode) or the
// decoded events::Event.
//
//   auto e = RawEvent().kind(SK_K_ESTABLISHED).pid(4242).comm("receiver")
//                .v4("127.0.0.1", 10000, "127.0.0.1", 51946)
//                .ctx(SK_CTX_SOFTIRQ).queue(1, 128).ts(1000).event();
//
// Setters take raw integers (not the C enums) so that tests can also build
// records the decoder must reject (kind 99, ctx 3, ...).
#pragma once

#include <arpa/inet.h>
#include <linux/types.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "events/event.hpp"
#include "sockscope.h"

namespace sockscope::test {

class RawEvent {
 public:
  RawEvent() {
    std::memset(&r_, 0, sizeof(r_));
    std::memset(&w_, 0, sizeof(w_));
  }

  // Common header.
  RawEvent& kind(uint32_t k) {
    r_.kind = k;
    return *this;
  }
  RawEvent& ts(uint64_t ns) {
    r_.ts_ns = ns;
    return *this;
  }
  RawEvent& dur(uint64_t ns) {
    r_.dur_ns = ns;
    return *this;
  }
  RawEvent& sock(uint64_t sk) {
    r_.sk = sk;
    return *this;
  }
  RawEvent& ret(int64_t v) {
    r_.ret = v;
    return *this;
  }
  RawEvent& pid(uint32_t v) {
    r_.pid = v;
    return *this;
  }
  RawEvent& tid(uint32_t v) {
    r_.tid = v;
    return *this;
  }
  RawEvent& cpu(uint32_t v) {
    r_.cpu = v;
    return *this;
  }
  RawEvent& netns(uint32_t v) {
    r_.netns = v;
    return *this;
  }
  RawEvent& comm(std::string_view s) {
    copy_str(r_.comm, s);
    return *this;
  }
  RawEvent& ctx(uint8_t v) {
    r_.ctx = v;
    return *this;
  }
  RawEvent& backend(uint8_t v) {
    r_.backend = v;
    return *this;
  }

  // Syscall fields.
  RawEvent& phase(uint8_t v) {
    r_.phase = v;
    return *this;
  }
  RawEvent& fd(int32_t v) {
    r_.fd = v;
    return *this;
  }
  RawEvent& backlog(uint32_t v) {
    r_.backlog = v;
    return *this;
  }

  // Kernel fields.
  RawEvent& queue(uint32_t len, uint32_t max) {
    r_.queue_len = len;
    r_.queue_max = max;
    return *this;
  }
  RawEvent& states(uint8_t old_state, uint8_t new_state) {
    r_.old_state = old_state;
    r_.new_state = new_state;
    return *this;
  }
  RawEvent& owner(uint32_t owner_pid, uint32_t task_state, uint8_t flags) {
    r_.owner_pid = owner_pid;
    r_.owner_state = task_state;
    r_.owner_flags = flags;
    return *this;
  }

  RawEvent& rx_queued(uint32_t bytes) {
    r_.rx_queued = bytes;
    return *this;
  }
  // A listener's children: the listening socket and its inode.
  RawEvent& lsk(uint64_t sk) {
    r_.lsk = sk;
    return *this;
  }
  RawEvent& sock_ino(uint32_t ino) {
    r_.sock_ino = ino;
    return *this;
  }
  // getsockopt: the error read; accept: the syscall's number.
  RawEvent& value(int32_t v) {
    r_.value = v;
    return *this;
  }
  // Accept: how the acceptor took it (SK_WAIT_TASK, SK_WAIT_IO_URING).
  RawEvent& via(uint8_t v) {
    r_.via = v;
    return *this;
  }
  // accept, connect: the file was O_NONBLOCK.
  RawEvent& nonblocking() {
    r_.owner_flags |= SK_NONBLOCK;
    return *this;
  }

  // The socket's wait queue, read: the record becomes a struct
  // sk_event_waiters. waiters_read() alone says nobody waited.
  RawEvent& waiters_read(uint8_t flags = 0, uint16_t entries = 0) {
    r_.owner_flags |= SK_WAITERS_READ;
    w_.flags = flags;
    w_.entries = entries;
    return *this;
  }
  RawEvent& waiter(uint32_t tgid, uint32_t tid, int32_t syscall, uint8_t via, std::string_view comm,
                   uint32_t state = SK_TASK_INTERRUPTIBLE, bool exclusive = false) {
    r_.owner_flags |= SK_WAITERS_READ;
    REQUIRE(w_.count < SK_MAX_WAITERS);
    sk_waiter& w = w_.w[w_.count++];
    w.tgid = tgid;
    w.tid = tid;
    w.syscall = syscall;
    w.state = state;
    w.via = via;
    w.exclusive = exclusive;
    copy_str(w.comm, comm);
    if (w_.entries < w_.count) w_.entries = w_.count;
    return *this;
  }

  // Packet fields.
  RawEvent& dir(uint8_t v) {
    r_.dir = v;
    return *this;
  }
  RawEvent& ifname(std::string_view s) {
    copy_str(r_.ifname, s);
    return *this;
  }
  RawEvent& ifindex(uint32_t v) {
    r_.ifindex = v;
    return *this;
  }
  RawEvent& flags(uint8_t v) {
    r_.tcp_flags = v;
    return *this;
  }
  RawEvent& seq(uint32_t v) {
    r_.seq = v;
    return *this;
  }
  RawEvent& ack(uint32_t v) {
    r_.ack_seq = v;
    return *this;
  }
  RawEvent& window(uint16_t v) {
    r_.window = v;
    return *this;
  }
  RawEvent& payload(uint16_t v) {
    r_.payload_len = v;
    return *this;
  }

  // Addresses: family, both addresses (inet_pton) and both ports.
  RawEvent& v4(const char* saddr, uint16_t sport, const char* daddr, uint16_t dport) {
    return addrs(AF_INET, saddr, sport, daddr, dport);
  }
  RawEvent& v6(const char* saddr, uint16_t sport, const char* daddr, uint16_t dport) {
    return addrs(AF_INET6, saddr, sport, daddr, dport);
  }
  RawEvent& family(uint16_t f) {
    r_.family = f;
    return *this;
  }

  // The dequeue an accept exit folds in (explain): the record becomes a
  // struct sk_event_dequeue.
  RawEvent& dequeue(const sk_dequeue& d) {
    r_.owner_flags |= SK_DEQUEUE_FOLDED;
    dq_ = d;
    return *this;
  }

  // A packet the kernel folded into this record (explain), after its waiters.
  RawEvent& folded(const sk_pkt& p) {
    pkts_.push_back(p);
    r_.folded = static_cast<uint8_t>(pkts_.size());
    return *this;
  }

  // Escape hatch for fields without a setter (reserved words, ...).
  sk_event& raw() { return r_; }
  const sk_event& raw() const { return r_; }

  std::vector<std::byte> bytes() const {
    std::vector<std::byte> out;
    if (r_.owner_flags & SK_WAITERS_READ) {
      sk_event_waiters full;
      std::memset(&full, 0, sizeof full);
      full.ev = r_;
      full.waiters = w_;
      out.resize(sizeof full);
      std::memcpy(out.data(), &full, sizeof full);
    } else if (r_.owner_flags & SK_DEQUEUE_FOLDED) {
      sk_event_dequeue full;
      std::memset(&full, 0, sizeof full);
      full.ev = r_;
      full.dq = dq_;
      out.resize(sizeof full);
      std::memcpy(out.data(), &full, sizeof full);
    } else {
      out.resize(sizeof(r_));
      std::memcpy(out.data(), &r_, sizeof(r_));
    }
    for (const sk_pkt& p : pkts_) {
      const std::size_t at = out.size();
      out.resize(at + sizeof p);
      std::memcpy(out.data() + at, &p, sizeof p);
    }
    return out;
  }

  events::Event event() const {
    const auto b = bytes();
    auto e = events::decode(b);
    REQUIRE(e.has_value());
    return *e;
  }

 private:
  // Like bpf_get_current_comm: zero-filled, NUL-terminated only when shorter
  // than the field.
  template <std::size_t N>
  static void copy_str(char (&dst)[N], std::string_view s) {
    std::memset(dst, 0, N);
    std::memcpy(dst, s.data(), std::min(N, s.size()));
  }

  RawEvent& addrs(uint16_t fam, const char* saddr, uint16_t sport, const char* daddr, uint16_t dport) {
    r_.family = fam;
    std::memset(r_.saddr, 0, sizeof(r_.saddr));
    std::memset(r_.daddr, 0, sizeof(r_.daddr));
    if (inet_pton(fam, saddr, r_.saddr) != 1 || inet_pton(fam, daddr, r_.daddr) != 1)
      throw std::invalid_argument(std::string("RawEvent: bad address ") + saddr + " / " + daddr);
    r_.sport = sport;
    r_.dport = dport;
    return *this;
  }

  sk_event r_;
  sk_waiters w_;
  sk_dequeue dq_{};
  std::vector<sk_pkt> pkts_;
};

}  // namespace sockscope::test
