// A tracker on a clock the test drives, the stories it tells, and the
// hand-built records the tracker tests and the story-words tests share: the
// tracker tests assert the facts of a story, the words tests the sentences
// render/ makes of the same story.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "event_builder.hpp"
#include "events/event.hpp"
#include "replay.hpp"
#include "track/story.hpp"
#include "track/tracker.hpp"

namespace sockscope::test {

inline std::string fixture(const std::string& name) { return std::string(SOCKSCOPE_FIXTURES) + "/" + name; }

// A tracker on a fake clock, and every story it tells.
class Harness {
 public:
  explicit Harness(track::TrackerConfig cfg = {})
      : cfg_(cfg),
        tracker_(
            cfg, [this] { return now_; },
            track::Sink{[this](const track::Listener& l) { listeners.push_back(l); },
                        [this](const track::BindConflict& b) { conflicts.push_back(b); },
                        [this](const track::Connection& c) { connections.push_back(c); }}) {}
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  // The clock reads the event's own time as it is added; due stories are told.
  void add(const events::Event& e) {
    now_ = e.ts_ns;
    tracker_.add(e);
    tracker_.expire();
  }
  void advance_to(uint64_t t) {
    now_ = t;
    tracker_.expire();
  }
  // Past the linger, so that every decided story is due; then tracing ends.
  void end() {
    advance_to(now_ + cfg_.linger_ns + 1);
    const std::size_t before = connections.size();
    tracker_.finish();
    told_by_finish = connections.size() - before;
  }
  void replay(const std::vector<events::Event>& events) {
    for (const events::Event& e : events) add(e);
    end();
  }

  uint64_t now() const { return now_; }
  track::Tracker& tracker() { return tracker_; }

  std::vector<track::Listener> listeners;
  std::vector<track::BindConflict> conflicts;
  std::vector<track::Connection> connections;
  std::size_t told_by_finish = 0;

 private:
  track::TrackerConfig cfg_;
  uint64_t now_ = 0;
  track::Tracker tracker_;
};

inline const track::Connection& by_client_port(const std::vector<track::Connection>& cs, uint16_t port) {
  const auto n = std::count_if(cs.begin(), cs.end(), [&](const track::Connection& c) { return c.client.port == port; });
  REQUIRE(n == 1);
  return *std::find_if(cs.begin(), cs.end(), [&](const track::Connection& c) { return c.client.port == port; });
}

// ---- hand-built records: a server (pid 100) on 127.0.0.1:10000, a client (pid 200) ----

namespace hand {

constexpr uint32_t kNs = 4026531840u;
constexpr uint32_t kServerPid = 100, kClientPid = 200;
constexpr uint64_t kT0 = 1'000'000'000;

inline RawEvent base(uint32_t kind, uint64_t ts) { return RawEvent().kind(kind).ts(ts).netns(kNs).cpu(0); }

inline events::Event listen_ev(uint64_t ts) {
  return base(SK_K_LISTEN, ts)
      .pid(kServerPid)
      .comm("server")
      .v4("127.0.0.1", 10000, "0.0.0.0", 0)
      .sock(0x1000)
      .states(7, 10)
      .backlog(128)
      .queue(0, 128)
      .event();
}
inline events::Event syn_rx(uint64_t ts, uint16_t cport, bool listener = true) {
  auto r = base(SK_PKT_TCP, ts)
               .pid(kClientPid)
               .comm("client")
               .ctx(SK_CTX_SOFTIRQ)
               .dir(SK_DIR_RX)
               .flags(0x02)
               .v4("127.0.0.1", cport, "127.0.0.1", 10000);
  if (listener) r.queue(0, 128).owner(0, 0, SK_LISTENER_FOUND);
  return r.event();
}
// sock_ops's request-socket record for a listener it did not see begin: it
// names the namespace only of listens it saw, so netns 0.
inline events::Event syn_recv_without_netns(uint64_t ts, uint16_t cport) {
  return base(SK_K_SYN_RECV, ts)
      .netns(0)
      .pid(kClientPid)
      .comm("client")
      .ctx(SK_CTX_SOFTIRQ)
      .v4("127.0.0.1", 10000, "127.0.0.1", cport)
      .queue(0, 128)
      .event();
}
inline events::Event data_rx(uint64_t ts, uint16_t cport) {
  return base(SK_PKT_TCP, ts)
      .pid(kClientPid)
      .comm("client")
      .ctx(SK_CTX_SOFTIRQ)
      .dir(SK_DIR_RX)
      .flags(0x18)
      .payload(10)
      .v4("127.0.0.1", cport, "127.0.0.1", 10000)
      .event();
}
inline events::Event rst_tx(uint64_t ts, uint16_t cport) {
  return base(SK_PKT_TCP, ts)
      .pid(kClientPid)
      .comm("client")
      .ctx(SK_CTX_SOFTIRQ)
      .dir(SK_DIR_TX)
      .flags(0x14)
      .v4("127.0.0.1", 10000, "127.0.0.1", cport)
      .event();
}
inline events::Event established(uint64_t ts, uint16_t cport) {
  return base(SK_K_ESTABLISHED, ts)
      .pid(kClientPid)
      .comm("client")
      .ctx(SK_CTX_SOFTIRQ)
      .v4("127.0.0.1", 10000, "127.0.0.1", cport)
      .sock(0x3000)
      .states(3, 1)
      .queue(1, 128)
      .owner(kServerPid, 0x104, SK_OWNER_KNOWN | SK_LISTENER_FOUND)
      .event();
}
inline events::Event accept_exit(uint64_t ts, uint16_t cport) {
  return base(SK_SYS_ACCEPT, ts)
      .pid(kServerPid)
      .comm("server")
      .phase(SK_PHASE_EXIT)
      .fd(3)
      .ret(4)
      .v4("127.0.0.1", 10000, "127.0.0.1", cport)
      .sock(0x1000)
      .event();
}
inline events::Event connect_exit(uint64_t ts, uint16_t cport) {
  return base(SK_SYS_CONNECT, ts)
      .pid(kClientPid)
      .comm("client")
      .phase(SK_PHASE_EXIT)
      .fd(3)
      .ret(0)
      .v4("127.0.0.1", cport, "127.0.0.1", 10000)
      .sock(0x2000)
      .event();
}

// ---- the client's half: one connection as the client host's records tell it ----

// A connection from `client_ip`:cport (pid `pid`, `comm`, socket `sock`, in
// namespace `netns`) to `server_ip`:sport. The SYN-ACK arrives in softirq
// on CPU 1 in the idle task (swapper/1).
struct ClientFlow {
  const char* client_ip = "10.0.0.1";
  uint16_t cport = 40000;
  const char* server_ip = "93.184.216.34";
  uint16_t sport = 80;
  uint32_t netns = kNs;
  uint32_t pid = 300;
  const char* comm = "curl";
  uint64_t sock = 0x5000;

  RawEvent rec(uint32_t kind, uint64_t ts) const { return base(kind, ts).netns(netns).sock(sock); }
  // Local = the client, remote = the server (syscall and state records, packets sent).
  RawEvent out(uint32_t kind, uint64_t ts) const { return rec(kind, ts).v4(client_ip, cport, server_ip, sport); }
  // A packet received: the server's address is the source.
  RawEvent in(uint32_t kind, uint64_t ts) const { return rec(kind, ts).v4(server_ip, sport, client_ip, cport); }

  events::Event connect_enter(uint64_t ts, bool nonblocking = false) const {
    auto r = rec(SK_SYS_CONNECT, ts)
                 .pid(pid)
                 .tid(pid)
                 .comm(comm)
                 .phase(SK_PHASE_ENTER)
                 .fd(5)
                 .v4(client_ip, 0, server_ip, sport);
    if (nonblocking) r.nonblocking();
    return r.event();
  }
  events::Event connect_exit(uint64_t ts, int64_t ret, bool nonblocking = false) const {
    auto r = out(SK_SYS_CONNECT, ts).pid(pid).tid(pid).comm(comm).phase(SK_PHASE_EXIT).fd(5).ret(ret);
    if (nonblocking) r.nonblocking();
    return r.event();
  }
  events::Event syn_tx(uint64_t ts) const {
    return out(SK_PKT_TCP, ts)
        .pid(pid)
        .tid(pid)
        .comm(comm)
        .ctx(SK_CTX_PROCESS)
        .dir(SK_DIR_TX)
        .flags(SK_TCP_SYN)
        .ifname("eth0")
        .event();
  }
  events::Event synack_rx(uint64_t ts) const {
    return in(SK_PKT_TCP, ts)
        .cpu(1)
        .comm("swapper/1")
        .ctx(SK_CTX_SOFTIRQ)
        .dir(SK_DIR_RX)
        .flags(SK_TCP_SYN | SK_TCP_ACK)
        .ifname("eth0")
        .event();
  }
  events::Event ack_tx(uint64_t ts) const {
    return out(SK_PKT_TCP, ts)
        .cpu(1)
        .comm("swapper/1")
        .ctx(SK_CTX_SOFTIRQ)
        .dir(SK_DIR_TX)
        .flags(SK_TCP_ACK)
        .ifname("eth0")
        .event();
  }
  events::Event rst_rx(uint64_t ts) const {
    return in(SK_PKT_TCP, ts)
        .cpu(1)
        .comm("swapper/1")
        .ctx(SK_CTX_SOFTIRQ)
        .dir(SK_DIR_RX)
        .flags(SK_TCP_RST | SK_TCP_ACK)
        .ifname("eth0")
        .event();
  }
  // SYN_SENT -> ESTABLISHED in the SYN-ACK's softirq; add waiters with .waiter().
  RawEvent established(uint64_t ts) const {
    return out(SK_K_STATE, ts).cpu(1).comm("swapper/1").ctx(SK_CTX_SOFTIRQ).states(2, 1).waiters_read();
  }
  events::Event closed(uint64_t ts) const {
    return out(SK_K_STATE, ts).cpu(1).comm("swapper/1").ctx(SK_CTX_SOFTIRQ).states(2, 7).event();
  }
  // getsockopt(SO_ERROR) reading `err`; after a failure the socket's ports are gone.
  events::Event so_error(uint64_t ts, int32_t err) const {
    auto r = rec(SK_SYS_GETSOCKOPT, ts).pid(pid).tid(pid).comm(comm).phase(SK_PHASE_EXIT).fd(5).ret(0).value(err);
    if (err == 0)
      r.v4(client_ip, cport, server_ip, sport);
    else
      r.v4("0.0.0.0", 0, server_ip, sport);
    return r.event();
  }
};

// ---- a listener's waiters, its sockets and its acceptors (SO_REUSEPORT, nginx, io_uring) ----

// A listen on 127.0.0.1:<port> by <pid> of socket <sk> with inode <ino>.
inline events::Event listen_sock(uint64_t ts, uint64_t sk, uint32_t ino, uint32_t pid, std::string_view comm,
                                 uint16_t port = 10000) {
  return base(SK_K_LISTEN, ts)
      .pid(pid)
      .tid(pid)
      .comm(comm)
      .v4("127.0.0.1", port, "0.0.0.0", 0)
      .sock(sk)
      .sock_ino(ino)
      .states(7, 10)
      .backlog(511)
      .queue(0, 511)
      .event();
}
// The child of listener <lsk> (inode <ino>) queued, in the client's softirq;
// the caller adds the waiters (RawEvent::waiter, waiters_read) or none.
inline RawEvent established_on(uint64_t ts, uint16_t cport, uint64_t lsk, uint32_t ino, uint32_t owner_pid,
                               uint32_t owner_state = SK_TASK_INTERRUPTIBLE) {
  return base(SK_K_ESTABLISHED, ts)
      .pid(kClientPid)
      .comm("client")
      .ctx(SK_CTX_SOFTIRQ)
      .v4("127.0.0.1", 10000, "127.0.0.1", cport)
      .sock(0x3000 + cport)
      .lsk(lsk)
      .sock_ino(ino)
      .states(3, 1)
      .queue(1, 511)
      .owner(owner_pid, owner_state, SK_OWNER_KNOWN | SK_LISTENER_FOUND);
}
// accept()/accept4() (syscall number <nr>) by thread <tid> of <pid>; cport 0
// for the enter and for a failed exit, which name no connection.
inline RawEvent sys_accept(uint64_t ts, uint8_t phase, uint32_t pid, uint32_t tid, std::string_view comm, int32_t nr,
                           uint16_t cport = 0, int64_t ret = 0) {
  return base(SK_SYS_ACCEPT, ts)
      .pid(pid)
      .tid(tid)
      .comm(comm)
      .phase(phase)
      .fd(6)
      .ret(ret)
      .value(nr)
      .v4("127.0.0.1", 10000, cport ? "127.0.0.1" : "0.0.0.0", cport)
      .sock(0x1000);
}
// The kernel's dequeue of the child of <lsk>: by a task in accept(), or by
// io_uring (no syscall record; the ring's task, the CQE's fd or -1).
inline events::Event kernel_accept(uint64_t ts, uint16_t cport, uint64_t lsk, uint32_t pid, uint32_t tid,
                                   std::string_view comm, uint8_t via, int32_t fd) {
  return base(SK_K_ACCEPT, ts)
      .pid(pid)
      .tid(tid)
      .comm(comm)
      .v4("127.0.0.1", 10000, "127.0.0.1", cport)
      .sock(0x3000 + cport)
      .lsk(lsk)
      .fd(fd)
      .via(via)
      .queue(0, 511)
      .event();
}

}  // namespace hand

}  // namespace sockscope::test
