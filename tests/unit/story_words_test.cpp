// Unit tests for render/story_words: the sentences explain makes of the
// tracker's facts. The stories come from the same recordings the tracker
// tests replay (tests/unit/fixtures), so each sentence is checked against
// what the kernel really reported; hand-made variants cover the wordings a
// recording does not reach. Every expected sentence is written out whole.
#include <netinet/in.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "render/ladder_renderer.hpp"
#include "render/story_words.hpp"
#include "track/story.hpp"
#include "tracker_harness.hpp"

using sockscope::events::ExecCtx;
using sockscope::render::describe;
using sockscope::render::plural;
using sockscope::render::queue_words;
using sockscope::render::step_text;
using sockscope::render::verdict;
using sockscope::test::by_client_port;
using sockscope::test::fixture;
using sockscope::test::Harness;
using sockscope::test::load_recording;
using namespace sockscope::test::hand;
using namespace sockscope::track;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The verdict must credit the kernel, not a task: nothing before "completed
// by" names one, and "completed by the kernel" is there.
void check_kernel_credited(const std::string& v) {
  INFO(v);
  const auto at = v.find("completed by");
  REQUIRE(at != std::string::npos);
  const std::string before = v.substr(0, at);
  CHECK_FALSE(contains(before, "sender"));
  CHECK_FALSE(contains(before, "receiver"));
  CHECK_FALSE(contains(before, "pid"));
  CHECK(contains(v, "completed by the kernel"));
  CHECK_FALSE(contains(v, "completed by sender"));
  CHECK_FALSE(contains(v, "completed by the sender"));
  CHECK_FALSE(contains(v, "completed by the client"));
  CHECK_FALSE(contains(v, "sender completed"));
}

Harness& replayed(Harness& h, const char* file) {
  h.replay(load_recording(fixture(file)));
  return h;
}

const Connection& only_connection(const Harness& h) {
  REQUIRE(h.connections.size() == 1);
  return h.connections[0];
}

std::vector<std::string> texts(const Connection& c) {
  std::vector<std::string> out;
  for (const Step& s : c.steps) out.push_back(step_text(s));
  return out;
}

bool has_step(const Connection& c, const std::string& text) {
  const auto t = texts(c);
  return std::find(t.begin(), t.end(), text) != t.end();
}

Step step(StepKind k) {
  Step s;
  s.kind = k;
  return s;
}

}  // namespace

// ---- small words ----

TEST_CASE("words: plural and queue_words", "[words]") {
  CHECK(plural(0, "SYN", "SYNs") == "0 SYNs");
  CHECK(plural(1, "SYN", "SYNs") == "1 SYN");
  CHECK(plural(2, "byte", "bytes") == "2 bytes");
  CHECK(queue_words(0, 128) == "0 of 128");
  CHECK(queue_words(1, 1) == "1 of 1");
  // The kernel lets the queue hold one more than the backlog: said so, not "2 of 1".
  CHECK(queue_words(2, 1) == "2 queued, backlog 1");
}

TEST_CASE("words: every step kind's text", "[words][steps]") {
  using K = StepKind;
  auto packet = [](uint8_t flags, uint16_t len = 0) {
    Step s = step(K::Packet);
    s.tcp_flags = flags;
    s.payload_len = len;
    return s;
  };
  auto with_queue = [](Step s, uint32_t len, uint32_t max) {
    s.queue_len = len;
    s.queue_max = max;
    return s;
  };
  auto with_ret = [](Step s, int64_t ret) {
    s.ret = ret;
    return s;
  };
  auto states = [](Step s, uint8_t from, uint8_t to) {
    s.old_state = from;
    s.new_state = to;
    return s;
  };
  Step dropped = packet(0x02);
  dropped.syn_dropped = true;
  dropped.queue_len = 129;
  dropped.queue_max = 128;
  Step dequeued = step(K::Dequeued);
  dequeued.queue_len = 0;
  dequeued.queue_max = 128;
  dequeued.bytes_waiting = 13;

  const std::vector<std::pair<Step, std::string>> rows = {
      {step(K::ListenerClosed), "listener closed"},
      {states(step(K::ChildState), 1, 7), "child ESTABLISHED -> CLOSE"},
      {states(step(K::ChildState), 8, 7), "child CLOSE_WAIT -> CLOSE"},
      {states(step(K::ClientState), 2, 7), "SYN_SENT -> CLOSE"},
      {with_queue(step(K::SynRecv), 0, 128), "SYN_RECV: request socket made"},
      {with_queue(step(K::Established), 1, 128), "ESTABLISHED: child queued (1 of 128)"},
      {with_queue(step(K::Established), 2, 1), "ESTABLISHED: child queued (2 queued, backlog 1)"},
      {with_queue(step(K::SynackRetransmit), 3, 128), "SYN-ACK timer: retransmit"},
      {step(K::ConnectEnter), "connect() begins"},
      {with_ret(step(K::ConnectExit), 0), "connect() = 0"},
      {with_ret(step(K::ConnectExit), -ECONNREFUSED), "connect() = -1 ECONNREFUSED"},
      {with_ret(step(K::ConnectExit), -EINPROGRESS), "connect() = -1 EINPROGRESS"},
      {step(K::AcceptEnter), "accept() begins"},
      {with_ret(step(K::AcceptExit), 4), "accept() = 4"},
      {with_ret(step(K::AcceptExit), -EAGAIN), "accept() = -1 EAGAIN"},
      {dequeued, "dequeued (0 left), 13 bytes waiting"},
      {packet(0x02), "SYN"},
      {packet(0x12), "SYN-ACK"},
      {packet(0x10), "ACK"},
      {packet(0x18, 10), "ACK + 10 bytes"},
      {packet(0x11), "FIN"},
      {packet(0x19, 5), "FIN"},  // a FIN is named, whatever it carries
      {packet(0x04), "RST"},
      {packet(0x14), "RST"},
      {dropped, "SYN, dropped: accept queue full (129 queued, backlog 128)"},
  };
  for (const auto& [s, text] : rows) {
    CAPTURE(step_kind_name(s.kind), text);
    CHECK(step_text(s) == text);
  }
}

// ---- the recordings' stories in words ----

TEST_CASE("words: the paused receiver's story, IPv4 and IPv6", "[words][replay]") {
  struct Case {
    const char* file;
    const char* verdict;
  };
  const Case k = GENERATE(
      Case{"paused.jsonl",
           "The handshake for 127.0.0.1:43464 → 127.0.0.1:10000 was completed by the kernel (softirq on CPU 0, "
           "receiving on lo, borrowing the context of sender (pid 29992), the connecting client) 46 us after the first "
           "SYN, and the kernel queued the connection for accept(). The listening process, receiver (pid 29990), was "
           "stopped (SIGSTOP or job control), so not in accept(). The connection waited in the accept queue (1 of 128) "
           "for 505.91 ms, until accept() in receiver (pid 29990) returned it as fd 4; 13 bytes had already arrived."},
      Case{"paused6.jsonl",
           "The handshake for [::1]:38076 → [::1]:10000 was completed by the kernel (softirq on CPU 1, receiving on "
           "lo, borrowing the context of sender (pid 30186), the connecting client) 84 us after the first SYN, and the "
           "kernel queued the connection for accept(). The listening process, receiver (pid 30184), was stopped "
           "(SIGSTOP or job control), so not in accept(). The connection waited in the accept queue (1 of 128) for "
           "505.39 ms, until accept() in receiver (pid 30184) returned it as fd 4; 13 bytes had already arrived."});
  CAPTURE(k.file);
  Harness h;
  const Connection& c = only_connection(replayed(h, k.file));
  CHECK(has_step(c, "connect() = 0"));
  CHECK(has_step(c, "accept() = 4"));
  const std::string v = verdict(c);
  INFO(v);
  check_kernel_credited(v);
  CHECK(contains(v, "stopped"));
  CHECK(contains(v, "13 bytes had already arrived"));
  CHECK(v == k.verdict);
}

TEST_CASE("words: the paused receiver's ladder, from the recording", "[words][replay][ladder]") {
  Harness h;
  replayed(h, "paused.jsonl");
  std::ostringstream os;
  sockscope::render::LadderRenderer r(os);
  r.listener(h.listeners.at(0));
  r.connection(only_connection(h));
  // clang-format off
  CHECK(os.str() == R"(listen  receiver (pid 29990) listens on 127.0.0.1:10000: the socket moved from CLOSE to LISTEN, with backlog 128 (the accept queue is full once more than 128 finished connections wait in it).
connection 127.0.0.1:43464 -> 127.0.0.1:10000 (accepted)
       time  client pid 29992 sender       kernel (server host)                                    server pid 29990 receiver
   +0.000ms  connect() begins
   +0.248ms  --- SYN --------------------------------------------------------------------------->
   +0.261ms                                SYN_RECV: request socket made [softirq cpu0 sender]
   +0.266ms  <-- SYN-ACK ------------------------------------------------------------------------
   +0.285ms  --- ACK --------------------------------------------------------------------------->
   +0.294ms                                ESTABLISHED: child queued (1 of 128) [softirq cpu0 sender]
   +0.298ms  connect() = 0
 +506.160ms                                                                                        accept() begins
 +506.205ms                                                                                        accept() = 4
 +506.205ms                                dequeued (0 left), 13 bytes waiting [process cpu1 receiver]
 +506.335ms  --- FIN --------------------------------------------------------------------------->
 +506.373ms  <-- FIN ----------------------------------------------------------------------------
verdict: The handshake for 127.0.0.1:43464 → 127.0.0.1:10000 was completed by the kernel (softirq on CPU 0, receiving on lo, borrowing the context of sender (pid 29992), the connecting client) 46 us after the first SYN, and the kernel queued the connection for accept(). The listening process, receiver (pid 29990), was stopped (SIGSTOP or job control), so not in accept(). The connection waited in the accept queue (1 of 128) for 505.91 ms, until accept() in receiver (pid 29990) returned it as fd 4; 13 bytes had already arrived.

)");
  // clang-format on
}

TEST_CASE("words: receiver blocked in accept()", "[words][replay]") {
  Harness h;
  const Connection& c = only_connection(replayed(h, "blocked.jsonl"));
  CHECK(has_step(c, "accept() begins"));
  const std::string v = verdict(c);
  check_kernel_credited(v);
  CHECK(contains(v, "blocked in accept()"));
  CHECK(v ==
        "The handshake for 127.0.0.1:56108 → 127.0.0.1:10000 was completed by the kernel (softirq on CPU 1, receiving "
        "on lo, borrowing the context of sender (pid 29637), the connecting client) 40 us after the first SYN, and the "
        "kernel queued the connection for accept(). The listening process, receiver (pid 29635), was blocked in "
        "accept(); the kernel's work woke it. The connection waited in the accept queue (1 of 128) for 30 us, until "
        "accept() in receiver (pid 29635) returned it as fd 4.");
}

TEST_CASE("words: connection refused", "[words][replay]") {
  Harness h;
  const Connection& c = only_connection(replayed(h, "refused.jsonl"));
  CHECK(texts(c) ==
        std::vector<std::string>{"connect() begins", "SYN", "RST", "SYN_SENT -> CLOSE", "connect() = -1 ECONNREFUSED"});
  const std::string v = verdict(c);
  INFO(v);
  CHECK(contains(v, "Nobody listened on 127.0.0.1:10001"));
  CHECK(contains(v, "ECONNREFUSED"));
  CHECK(v ==
        "Nobody listened on 127.0.0.1:10001: the kernel answered the SYN with a RST, so the handshake was never "
        "completed, and connect() failed with ECONNREFUSED.");
}

TEST_CASE("words: listener killed with the connection still queued", "[words][replay]") {
  Harness h;
  const Connection& c = only_connection(replayed(h, "listener_closed.jsonl"));
  CHECK(has_step(c, "listener closed"));
  CHECK(has_step(c, "child ESTABLISHED -> CLOSE"));
  const std::string v = verdict(c);
  check_kernel_credited(v);
  CHECK(contains(v, "The listener closed with the connection still in its accept queue"));
  CHECK(v ==
        "The handshake for 127.0.0.1:56122 → 127.0.0.1:10000 was completed by the kernel (softirq on CPU 1, receiving "
        "on lo, borrowing the context of sender (pid 29655), the connecting client) 43 us after the first SYN, and the "
        "kernel queued the connection for accept(). The listening process, receiver (pid 29653), was stopped (SIGSTOP "
        "or job control), so not in accept(). The listener closed with the connection still in its accept queue (1 of "
        "128): the kernel reset it, and no accept() ever returned it.");
}

TEST_CASE("words: backlog 1, SYNs dropped, ksoftirqd borrowed", "[words][replay]") {
  Harness h;
  replayed(h, "backlog.jsonl");
  REQUIRE(h.connections.size() == 3);
  const Connection& first = by_client_port(h.connections, 39732);
  const Connection& second = by_client_port(h.connections, 39742);
  const Connection& third = by_client_port(h.connections, 39754);
  // The kernel lets the queue hold one more than the backlog: said so, not "2 of 1".
  CHECK(contains(verdict(first), "waited in the accept queue (1 of 1)"));
  CHECK(contains(verdict(second), "waited in the accept queue (2 queued, backlog 1)"));
  CHECK(has_step(second, "ESTABLISHED: child queued (2 queued, backlog 1)"));
  CHECK(verdict(second) ==
        "The handshake for 127.0.0.1:39742 → 127.0.0.1:10000 was completed by the kernel (softirq on CPU 1, receiving "
        "on lo, borrowing the context of sender (pid 30061), the connecting client) 65 us after the first SYN, and the "
        "kernel queued the connection for accept(). The listening process, receiver (pid 30057), was stopped (SIGSTOP "
        "or job control), so not in accept(). The connection waited in the accept queue (2 queued, backlog 1) for "
        "2.11 s, until accept() in receiver (pid 30057) returned it as fd 4; 2 bytes had already arrived.");
  const std::string v = verdict(third);
  check_kernel_credited(v);
  CHECK(contains(v, "ksoftirqd/0 (pid 14), the kernel's softirq thread"));
  CHECK(contains(v, "dropped 2 SYNs from the client because the accept queue was full (2 queued, backlog 1)"));
  CHECK(v ==
        "The handshake for 127.0.0.1:39754 → 127.0.0.1:10000 was completed by the kernel (softirq on CPU 0, receiving "
        "on lo, borrowing the context of ksoftirqd/0 (pid 14), the kernel's softirq thread) 2.06 s after the first "
        "SYN, and the kernel queued the connection for accept(). The kernel dropped 2 SYNs from the client because the "
        "accept queue was full (2 queued, backlog 1); the client kept retransmitting it. The listening process, "
        "receiver (pid 30057), was blocked in accept(); the kernel's work woke it. The connection waited in the accept "
        "queue (1 of 1) for 129 us, until accept() in receiver (pid 30057) returned it as fd 4; 2 bytes had already "
        "arrived.");
  const auto t = texts(third);
  CHECK(std::count(t.begin(), t.end(), "SYN, dropped: accept queue full (2 queued, backlog 1)") == 2);
}

TEST_CASE("words: veth pair, the interface named", "[words][replay]") {
  Harness h;
  const Connection& c = only_connection(replayed(h, "veth.jsonl"));
  const std::string v = verdict(c);
  check_kernel_credited(v);
  CHECK(v ==
        "The handshake for 10.77.0.2:50322 → 10.77.0.1:10000 was completed by the kernel (softirq on CPU 0, receiving "
        "on veth-rx, borrowing the context of sender (pid 29970), the connecting client) 107 us after the first SYN, "
        "and the kernel queued the connection for accept(). The listening process, receiver (pid 29968), was stopped "
        "(SIGSTOP or job control), so not in accept(). The connection waited in the accept queue (1 of 128) for "
        "504.59 ms, until accept() in receiver (pid 29968) returned it as fd 4; 13 bytes had already arrived.");
  Harness h6;
  check_kernel_credited(verdict(only_connection(replayed(h6, "veth6.jsonl"))));
}

TEST_CASE("words: a failed bind and a listener", "[words][replay]") {
  Harness h;
  replayed(h, "bindconflict.jsonl");
  REQUIRE(h.conflicts.size() == 1);
  CHECK(describe(h.conflicts[0]) ==
        "bind() of 127.0.0.1:10000 by receiver (pid 30175) failed with EADDRINUSE: the port is held by receiver (pid "
        "30173), which bound it (bound, not listening).");
  REQUIRE(h.listeners.size() == 1);
  CHECK(describe(h.listeners[0]) ==
        "receiver (pid 30173) listens on 127.0.0.1:10000: the socket moved from CLOSE to LISTEN, with backlog 128 (the "
        "accept queue is full once more than 128 finished connections wait in it).");

  BindConflict b = h.conflicts[0];
  b.holder_listening = true;
  CHECK(describe(b) ==
        "bind() of 127.0.0.1:10000 by receiver (pid 30175) failed with EADDRINUSE: the port is held by receiver (pid "
        "30173), which bound it and listens on it.");
  b.holder.reset();
  CHECK(describe(b) ==
        "bind() of 127.0.0.1:10000 by receiver (pid 30175) failed with EADDRINUSE: the holder bound it before this "
        "trace began.");
}

// ---- hand-built stories ----

TEST_CASE("words: an established connection never accepted, told after the timeout", "[words]") {
  Harness h;
  const sockscope::track::TrackerConfig cfg;
  const uint64_t est = kT0 + 3000;
  h.add(listen_ev(kT0));
  h.add(syn_rx(kT0 + 1000, 50000));
  h.add(established(est, 50000));
  h.advance_to(est + cfg.pending_timeout_ns);
  const Connection& c = only_connection(h);
  const std::string v = verdict(c);
  INFO(v);
  CHECK(contains(v, "It has waited in the accept queue (1 of 128) for 30.00 s, not yet accepted."));
  CHECK(v ==
        "The handshake for 127.0.0.1:50000 → 127.0.0.1:10000 was completed by the kernel (softirq on CPU 0, "
        "borrowing the context of client (pid 200), which happened to be on that CPU) 2 us after the first SYN, and "
        "the kernel queued the connection for accept(). The listening process, server (pid 100), was stopped (SIGSTOP "
        "or job control), so not in accept(). It has waited in the accept queue (1 of 128) for 30.00 s, not yet "
        "accepted.");
}

TEST_CASE("words: a RST from a closed port with only packets seen", "[words]") {
  Harness h;
  h.add(syn_rx(kT0, 50000, false));
  h.add(rst_tx(kT0 + 20'000, 50000));
  h.end();
  const std::string v = verdict(only_connection(h));
  CHECK(contains(v, "Nobody listened on 127.0.0.1:10000"));
  // No connect() seen: no errno to name.
  CHECK(v ==
        "Nobody listened on 127.0.0.1:10000: the kernel answered the SYN with a RST, so the handshake was never "
        "completed.");
}

TEST_CASE("words: the texts of a request socket's steps whose namespace sock_ops could not name", "[words]") {
  Harness h;
  h.add(syn_rx(kT0, 50000));
  h.add(syn_recv_without_netns(kT0 + 500, 50000));
  h.add(established(kT0 + 2000, 50000));
  h.add(accept_exit(kT0 + 50'000, 50000));
  h.end();
  CHECK(texts(only_connection(h)) == std::vector<std::string>{"SYN", "SYN_RECV: request socket made",
                                                              "ESTABLISHED: child queued (1 of 128)", "accept() = 4"});
}

namespace {

// The paused receiver's story as the tracker tells it, for the variants below.
Connection paused_story() {
  Harness h;
  replayed(h, "paused.jsonl");
  return only_connection(h);
}

const std::string kFlow = "127.0.0.1:43464 → 127.0.0.1:10000";
const std::string kCompleted =
    "The handshake for " + kFlow +
    " was completed by the kernel (softirq on CPU 0, receiving on lo, borrowing the context of sender (pid 29992), the "
    "connecting client) 46 us after the first SYN, and the kernel queued the connection for accept().";

}  // namespace

TEST_CASE("words: whose context the kernel borrowed", "[words][role]") {
  Connection c = paused_story();
  const std::string rest =
      " 46 us after the first SYN, and the kernel queued the connection for accept(). The listening process, receiver "
      "(pid 29990), was stopped (SIGSTOP or job control), so not in accept(). The connection waited in the accept "
      "queue (1 of 128) for 505.91 ms, until accept() in receiver (pid 29990) returned it as fd 4; 13 bytes had "
      "already arrived.";
  const std::string head = "The handshake for " + kFlow + " was completed by the kernel (";
  SECTION("the idle task, in irq, no interface seen") {
    c.ctx = ExecCtx::Irq;
    c.rx_ifname.clear();
    c.borrowed = Task{0, "swapper/3"};
    CHECK(verdict(c) == head + "irq on CPU 0, borrowing the context of the idle task)" + rest);
  }
  SECTION("the listener's own process") {
    c.borrowed = Task{29990, "receiver"};
    CHECK(verdict(c) == head +
                            "softirq on CPU 0, receiving on lo, borrowing the context of receiver (pid 29990), the "
                            "listener's own process)" +
                            rest);
  }
  SECTION("another task") {
    c.borrowed = Task{77, "make"};
    CHECK(verdict(c) ==
          head +
              "softirq on CPU 0, receiving on lo, borrowing the context of make (pid 77), which happened to be on "
              "that CPU)" +
              rest);
  }
  SECTION("process context: the task that held the socket's lock") {
    c.ctx = ExecCtx::Process;
    CHECK(verdict(c) ==
          head + "process context on CPU 0, in sender (pid 29992), which held the listening socket's lock)" + rest);
    c.borrowed = Task{77, ""};
    CHECK(verdict(c) == head + "process context on CPU 0, in pid 77, which held the listening socket's lock)" + rest);
    c.borrowed = Task{0, "swapper/0"};
    CHECK(verdict(c) ==
          head + "process context on CPU 0, in the idle task (CPU 0), which held the listening socket's lock)" + rest);
  }
}

TEST_CASE("words: the listener's owner, in each state", "[words]") {
  Connection c = paused_story();
  c.outcome = Outcome::Pending;
  c.accepted = false;
  c.told_ns = c.established_ns + 1'510'000'000;
  const std::string waited = " It has waited in the accept queue (1 of 128) for 1.51 s, not yet accepted.";
  const std::string owner = " The listening process, receiver (pid 29990), ";
  const std::pair<OwnerState, std::string> rows[] = {
      {OwnerState::Stopped, "was stopped (SIGSTOP or job control), so not in accept()."},
      {OwnerState::Traced, "was stopped under ptrace (a debugger), so not in accept()."},
      {OwnerState::BlockedInAccept, "was blocked in accept(); the kernel's work woke it."},
      {OwnerState::Running, "was running, busy elsewhere. It had not called accept()."},
      {OwnerState::Sleeping, "was asleep elsewhere, not in accept() on this socket. It had not called accept()."},
      {OwnerState::Dead, "was exiting."},
      {OwnerState::Unknown, "was in a state this trace could not read."},
  };
  for (const auto& [state, words] : rows) {
    CAPTURE(owner_state_name(state));
    c.listener_state = state;
    CHECK(verdict(c) == kCompleted + owner + words + waited);
  }
  c.listener_state = OwnerState::Running;
  c.accepted = true;  // accept() was called after all: no note
  CHECK(verdict(c) == kCompleted + owner + "was running, busy elsewhere." + waited);
  c.listener.reset();
  CHECK(verdict(c) == kCompleted +
                          " The listener on 127.0.0.1:10000 is not known to this trace (it began listening before "
                          "tracing started)." +
                          waited);
}

TEST_CASE("words: fates after the handshake, and drops", "[words]") {
  Connection c = paused_story();
  const std::string owner =
      " The listening process, receiver (pid 29990), was stopped (SIGSTOP or job control), so not in accept().";
  c.accepted = false;
  c.outcome = Outcome::Reset;
  c.rst_ns = c.established_ns + 2'000'000;
  CHECK(verdict(c) == kCompleted + owner + " It was reset 2.00 ms later, before any accept() took it.");
  c.outcome = Outcome::Closed;
  c.last_ns = c.established_ns + 734'000;
  CHECK(verdict(c) == kCompleted + owner + " It was closed 734 us later, before any accept() took it.");
  c.outcome = Outcome::Evicted;
  c.told_ns = c.established_ns + 999;
  CHECK(verdict(c) ==
        kCompleted + owner + " It has waited in the accept queue (1 of 128) for 999 ns, not yet accepted.");

  c.syns_dropped = 1;
  c.queue_len_at_drop = 129;
  c.queue_max_at_drop = 128;
  c.synack_retransmits = 1;
  const std::string drops =
      " The kernel dropped 1 SYN from the client because the accept queue was full (129 queued, backlog 128); the "
      "client retransmitted it. The kernel retransmitted the SYN-ACK 1 time.";
  CHECK(verdict(c) ==
        kCompleted + drops + owner + " It has waited in the accept queue (1 of 128) for 999 ns, not yet accepted.");
  c.synack_retransmits = 3;
  c.syns_dropped = 2;
  CHECK(contains(verdict(c),
                 "dropped 2 SYNs from the client because the accept queue was full (129 queued, backlog "
                 "128); the client kept retransmitting it. The kernel retransmitted the SYN-ACK 3 times."));
  c.bytes_before_accept = 1;
  c.outcome = Outcome::Accepted;
  c.accepted = true;
  CHECK(contains(verdict(c), "returned it as fd 4; 1 byte had already arrived."));
}

TEST_CASE("words: handshakes not completed, or not seen", "[words]") {
  Connection c = paused_story();
  c.established = false;
  CHECK(verdict(c) == "accept() returned " + kFlow +
                          " as fd 4, but its handshake happened before this trace could see it, so who completed it "
                          "is unknown.");
  c.accepted = false;
  c.outcome = Outcome::Pending;
  CHECK(verdict(c) == "The handshake for " + kFlow + " was not completed by the time this story was told.");
  c.syns = 0;
  CHECK(verdict(c) == "The handshake for " + kFlow + " was not completed: no SYN reached a traced listener.");
  c.outcome = Outcome::Reset;
  CHECK(verdict(c) == "The handshake for " + kFlow + " was not completed: it was reset.");
  c.outcome = Outcome::Closed;
  c.syns_dropped = 1;
  c.connect_ret.reset();  // the client is still in connect()
  CHECK(verdict(c) == "The handshake for " + kFlow +
                          " was not completed: it was closed. The kernel dropped 1 SYN from the client because the "
                          "accept queue was full (0 queued, backlog 0); the client retransmitted it. Its client, "
                          "sender (pid 29992), is still in connect(), in SYN_SENT.");
}
