// Unit tests for the client's half of connection stories
// (track/tracker_client.cpp): outgoing connections whose server this host
// does not see get a story of their own; a client and server on one host
// stay one story. Hand-built records (tracker_harness.hpp's ClientFlow), as
// the BPF side delivers them for the client host.
#include <sys/syscall.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <vector>

#include "event_builder.hpp"
#include "events/names.hpp"
#include "track/story.hpp"
#include "tracker_harness.hpp"

using sockscope::events::ExecCtx;
using sockscope::test::Harness;
using sockscope::test::RawEvent;
using namespace sockscope::test::hand;
using namespace sockscope::track;

namespace {

#ifdef SYS_poll
constexpr int32_t kPollNr = SYS_poll;
#else
constexpr int32_t kPollNr = -1;  // no poll() here: a poll table's entry is "poll" all the same
#endif

std::vector<StepKind> kinds(const Connection& c) {
  std::vector<StepKind> out;
  for (const Step& s : c.steps) out.push_back(s.kind);
  return out;
}

using K = StepKind;
using A = Step::Arrow;

}  // namespace

TEST_CASE("client only: curl's non-blocking connect, woken in poll(), reads SO_ERROR", "[tracker][client]") {
  const ClientFlow f;
  Harness h;
  h.add(f.connect_enter(kT0, true));
  h.add(f.syn_tx(kT0 + 10'000));
  h.add(f.connect_exit(kT0 + 20'000, -EINPROGRESS, true));
  h.add(f.synack_rx(kT0 + 30'000'000));
  h.add(f.established(kT0 + 30'005'000).waiter(300, 300, kPollNr, SK_WAIT_POLL, "curl").event());
  h.add(f.ack_tx(kT0 + 30'010'000));
  h.add(f.so_error(kT0 + 31'205'000, 0));
  h.end();

  REQUIRE(h.connections.size() == 1);
  CHECK(h.told_by_finish == 0);  // decided when the client's socket went ESTABLISHED
  const Connection& c = h.connections[0];
  CHECK(c.client.str() == "10.0.0.1:40000");
  CHECK(c.server.str() == "93.184.216.34:80");
  CHECK(c.client_only);
  CHECK(c.side() == Side::Client);
  CHECK(c.outcome == Outcome::Connected);
  CHECK(c.completed_by() == CompletedBy::Unknown);  // the server's half: that host's
  CHECK(c.client_completed_by() == CompletedBy::Kernel);
  CHECK(c.netns == kNs);
  CHECK(c.client_netns == kNs);
  CHECK_FALSE(c.listener.has_value());
  CHECK_FALSE(c.established);
  CHECK(c.syns == 0);
  CHECK(c.client_task == Task{300, "curl"});
  CHECK(c.connect_ret == -EINPROGRESS);

  const ClientSide& cs = c.client_side;
  CHECK(cs.seen);
  CHECK(cs.syn_tx_ns == kT0 + 10'000);
  CHECK(cs.syn_task == Task{300, "curl"});
  CHECK(cs.syn_ctx == ExecCtx::Process);
  CHECK(cs.syns_sent == 1);
  CHECK(cs.synack_rx_ns == kT0 + 30'000'000);
  CHECK(cs.established_ns == kT0 + 30'005'000);
  CHECK(cs.ctx == ExecCtx::Softirq);
  CHECK(cs.cpu == 1);
  CHECK(cs.borrowed == Task{0, "swapper/1"});
  CHECK(cs.ack_tx_ns == kT0 + 30'010'000);
  CHECK(cs.rst_rx_ns == 0);
  CHECK(cs.nonblocking);
  CHECK(cs.connect_exit_ns == kT0 + 20'000);
  REQUIRE(cs.waiters.has_value());
  REQUIRE(cs.waiters->size() == 1);
  CHECK((*cs.waiters)[0].pid == 300);
  CHECK((*cs.waiters)[0].comm_view() == "curl");
  CHECK(sockscope::events::wait_how_name((*cs.waiters)[0]) == "poll");
  CHECK(cs.waiter_flags == 0);
  CHECK(cs.so_error == 0);
  CHECK(cs.so_error_ns == kT0 + 31'205'000);

  // The client host's steps: its packets, its socket's establishment, curl's calls.
  CHECK(kinds(c) == std::vector<K>{K::ConnectEnter, K::Packet, K::ConnectExit, K::Packet, K::ClientEstablished,
                                   K::Packet, K::Getsockopt});
  REQUIRE(c.steps.size() == 7);
  CHECK(c.steps[0].ts_ns == kT0);
  CHECK(c.steps[1].tcp_flags == SK_TCP_SYN);
  CHECK(c.steps[1].arrow == A::ToServer);
  CHECK(c.steps[1].task == Task{300, "curl"});
  CHECK(c.steps[2].ret == -EINPROGRESS);
  CHECK(c.steps[3].tcp_flags == (SK_TCP_SYN | SK_TCP_ACK));
  CHECK(c.steps[3].arrow == A::ToClient);
  CHECK(c.steps[3].ctx == ExecCtx::Softirq);
  CHECK(c.steps[3].cpu == 1);
  CHECK(c.steps[4].lane == Lane::Kernel);
  CHECK(c.steps[4].old_state == 2);
  CHECK(c.steps[4].new_state == 1);
  CHECK(c.steps[4].waiters == 1u);
  CHECK(c.steps[4].task == Task{0, "swapper/1"});
  CHECK(c.steps[5].tcp_flags == SK_TCP_ACK);
  CHECK(c.steps[5].arrow == A::ToServer);
  CHECK(c.steps[6].lane == Lane::Client);
  CHECK(c.steps[6].ret == 0);
  CHECK(c.steps[6].so_error == 0);
}

TEST_CASE("client only: a blocking connect refused by the server's host", "[tracker][client]") {
  const ClientFlow f;
  Harness h;
  h.add(f.connect_enter(kT0));
  h.add(f.syn_tx(kT0 + 10'000));
  h.add(f.rst_rx(kT0 + 20'000'000));
  h.add(f.closed(kT0 + 20'001'000));
  // A failed connect() returns with the socket unbound: no tuple.
  h.add(f.rec(SK_SYS_CONNECT, kT0 + 20'010'000)
            .pid(300)
            .comm("curl")
            .phase(SK_PHASE_EXIT)
            .fd(5)
            .ret(-ECONNREFUSED)
            .v4("0.0.0.0", 0, "0.0.0.0", 0)
            .event());
  h.end();

  REQUIRE(h.connections.size() == 1);
  const Connection& c = h.connections[0];
  CHECK(c.side() == Side::Client);
  CHECK(c.outcome == Outcome::Refused);
  CHECK(c.client_completed_by() == CompletedBy::None);
  CHECK(c.rst_ns == kT0 + 20'000'000);
  CHECK(c.client_side.rst_rx_ns == kT0 + 20'000'000);
  CHECK(c.client_side.synack_rx_ns == 0);
  CHECK(c.client_side.established_ns == 0);
  CHECK_FALSE(c.client_side.nonblocking);
  CHECK(c.connect_ret == -ECONNREFUSED);
  CHECK(kinds(c) == std::vector<K>{K::ConnectEnter, K::Packet, K::Packet, K::ClientState, K::ConnectExit});
  REQUIRE(c.steps.size() == 5);
  CHECK(c.steps[2].tcp_flags == (SK_TCP_RST | SK_TCP_ACK));
  CHECK(c.steps[2].arrow == A::ToClient);
  CHECK(c.steps[4].ret == -ECONNREFUSED);
}

TEST_CASE("client only: a blocking connect refused, its entry folded into its exit (explain's kernel)",
          "[tracker][client]") {
  // The same call as above, as explain's kernel sends it: no entry record;
  // the exit stands for it (SK_ENTER_FOLDED, begun dur_ns before), and comes
  // after the socket's state change. The tracker is handed the entry
  // rebuilt from it (events::entry_of), then the exit, as probes::Tracer does.
  const ClientFlow f;
  Harness h;
  h.add(f.syn_tx(kT0 + 10'000));
  h.add(f.rst_rx(kT0 + 20'000'000));
  h.add(f.closed(kT0 + 20'001'000));
  auto raw = f.rec(SK_SYS_CONNECT, kT0 + 20'010'000)
                 .pid(300)
                 .comm("curl")
                 .phase(SK_PHASE_EXIT)
                 .fd(5)
                 .ret(-ECONNREFUSED)
                 .dur(20'010'000)
                 .v4("0.0.0.0", 0, "0.0.0.0", 0);
  raw.raw().owner_flags |= SK_ENTER_FOLDED;
  const auto exit = raw.event();
  REQUIRE(exit.enter_folded());
  h.add(sockscope::events::entry_of(exit));
  h.add(exit);
  h.end();

  REQUIRE(h.connections.size() == 1);
  const Connection& c = h.connections[0];
  CHECK(c.outcome == Outcome::Refused);
  CHECK(c.connect_ret == -ECONNREFUSED);
  CHECK(c.client_task == Task{300, "curl"});
  CHECK(kinds(c) == std::vector<K>{K::ConnectEnter, K::Packet, K::Packet, K::ClientState, K::ConnectExit});
  REQUIRE(c.steps.size() == 5);
  CHECK(c.steps[0].ts_ns == kT0);
  CHECK(c.steps[4].ret == -ECONNREFUSED);
}

TEST_CASE("client only: a non-blocking connect refused, told by SO_ERROR on a socket whose ports are gone",
          "[tracker][client]") {
  const ClientFlow f;
  Harness h;
  h.add(f.connect_enter(kT0, true));
  h.add(f.syn_tx(kT0 + 10'000));
  h.add(f.connect_exit(kT0 + 20'000, -EINPROGRESS, true));
  h.add(f.rst_rx(kT0 + 20'000'000));
  h.add(f.closed(kT0 + 20'001'000));
  h.add(f.so_error(kT0 + 20'500'000, ECONNREFUSED));
  h.end();

  REQUIRE(h.connections.size() == 1);
  const Connection& c = h.connections[0];
  CHECK(c.outcome == Outcome::Refused);
  CHECK(c.connect_ret == -EINPROGRESS);
  CHECK(c.client_side.nonblocking);
  CHECK(c.client_side.so_error == ECONNREFUSED);
  CHECK(c.client_side.so_error_ns == kT0 + 20'500'000);
  CHECK(kinds(c) ==
        std::vector<K>{K::ConnectEnter, K::Packet, K::ConnectExit, K::Packet, K::ClientState, K::Getsockopt});
  CHECK(c.steps.back().so_error == ECONNREFUSED);
}

TEST_CASE("client only: no answer, SYNs retransmitted from the timer, connect() times out", "[tracker][client]") {
  const ClientFlow f;
  Harness h;
  h.add(f.connect_enter(kT0));
  h.add(f.syn_tx(kT0 + 10'000));
  // The retransmissions run from the timer, in softirq.
  for (uint64_t t : {1'010'000ull, 3'010'000ull})
    h.add(f.out(SK_PKT_TCP, kT0 + t)
              .cpu(1)
              .comm("swapper/1")
              .ctx(SK_CTX_SOFTIRQ)
              .dir(SK_DIR_TX)
              .flags(SK_TCP_SYN)
              .event());
  h.add(f.closed(kT0 + 7'010'000));
  h.add(f.rec(SK_SYS_CONNECT, kT0 + 7'020'000)
            .pid(300)
            .comm("curl")
            .phase(SK_PHASE_EXIT)
            .fd(5)
            .ret(-ETIMEDOUT)
            .v4("0.0.0.0", 0, "0.0.0.0", 0)
            .event());
  h.end();

  REQUIRE(h.connections.size() == 1);
  const Connection& c = h.connections[0];
  CHECK(c.outcome == Outcome::TimedOut);
  CHECK(c.client_side.syns_sent == 3);
  CHECK(c.client_side.syn_tx_ns == kT0 + 10'000);
  CHECK(c.client_side.syn_task == Task{300, "curl"});
  CHECK(c.client_task == Task{300, "curl"});
  CHECK(kinds(c) == std::vector<K>{K::ConnectEnter, K::Packet, K::Packet, K::Packet, K::ClientState, K::ConnectExit});
}

// Loopback: every segment is seen sent and received. The client's records
// join the server's story: one story, the server host's packets as its
// steps, the client host's as facts.
TEST_CASE("loopback: a blocking connect keeps one story with both sides", "[tracker][client]") {
  ClientFlow f;
  f.client_ip = "127.0.0.1";
  f.cport = 51000;
  f.server_ip = "127.0.0.1";
  f.sport = 10000;
  f.pid = kClientPid;
  f.comm = "client";
  Harness h;
  h.add(listen_ev(kT0));
  h.add(f.connect_enter(kT0 + 1000));
  h.add(f.syn_tx(kT0 + 2000));
  h.add(syn_rx(kT0 + 3000, 51000));
  // The server host answering (sent), the client host receiving it, in the client's task.
  h.add(f.in(SK_PKT_TCP, kT0 + 4000)
            .pid(kClientPid)
            .comm("client")
            .ctx(SK_CTX_SOFTIRQ)
            .dir(SK_DIR_TX)
            .flags(SK_TCP_SYN | SK_TCP_ACK)
            .event());
  h.add(f.in(SK_PKT_TCP, kT0 + 5000)
            .pid(kClientPid)
            .comm("client")
            .ctx(SK_CTX_SOFTIRQ)
            .dir(SK_DIR_RX)
            .flags(SK_TCP_SYN | SK_TCP_ACK)
            .event());
  h.add(f.established(kT0 + 6000)
            .pid(kClientPid)
            .comm("client")
            .cpu(0)
            .waiter(kClientPid, kClientPid, SYS_connect, SK_WAIT_TASK, "client", SK_TASK_INTERRUPTIBLE)
            .event());
  h.add(f.out(SK_PKT_TCP, kT0 + 7000)
            .pid(kClientPid)
            .comm("client")
            .ctx(SK_CTX_SOFTIRQ)
            .dir(SK_DIR_TX)
            .flags(SK_TCP_ACK)
            .event());
  h.add(f.out(SK_PKT_TCP, kT0 + 8000)
            .pid(kClientPid)
            .comm("client")
            .ctx(SK_CTX_SOFTIRQ)
            .dir(SK_DIR_RX)
            .flags(SK_TCP_ACK)
            .event());
  h.add(established(kT0 + 9000, 51000));
  h.add(f.connect_exit(kT0 + 10'000, 0));
  h.add(accept_exit(kT0 + 20'000, 51000));
  h.end();

  REQUIRE(h.connections.size() == 1);
  const Connection& c = h.connections[0];
  CHECK_FALSE(c.client_only);
  CHECK(c.side() == Side::Both);
  CHECK(c.outcome == Outcome::Accepted);
  CHECK(c.completed_by() == CompletedBy::Kernel);
  CHECK(c.client_completed_by() == CompletedBy::Kernel);
  REQUIRE(c.listener.has_value());
  CHECK(c.listener->owner == Task{kServerPid, "server"});
  CHECK(c.syns == 1);
  CHECK(c.first_syn_ns == kT0 + 3000);
  CHECK(c.client_task == Task{kClientPid, "client"});
  CHECK(c.connect_ret == 0);
  const ClientSide& cs = c.client_side;
  CHECK(cs.syn_tx_ns == kT0 + 2000);
  CHECK(cs.synack_rx_ns == kT0 + 5000);
  CHECK(cs.established_ns == kT0 + 6000);
  CHECK(cs.ctx == ExecCtx::Softirq);
  CHECK(cs.borrowed == Task{kClientPid, "client"});
  CHECK(cs.ack_tx_ns == kT0 + 7000);
  CHECK_FALSE(cs.nonblocking);
  REQUIRE(cs.waiters.has_value());
  REQUIRE(cs.waiters->size() == 1);
  CHECK(sockscope::events::wait_how_name((*cs.waiters)[0]) == "connect");
  CHECK_FALSE(cs.so_error.has_value());
  // The server host's packets (SYN in, SYN-ACK out, ACK in); the client
  // host's establishment is a step for whom it woke.
  CHECK(kinds(c) == std::vector<K>{K::ConnectEnter, K::Packet, K::Packet, K::ClientEstablished, K::Packet,
                                   K::Established, K::ConnectExit, K::AcceptExit});
  REQUIRE(c.steps.size() == 8);
  CHECK(c.steps[1].ts_ns == kT0 + 3000);
  CHECK(c.steps[2].ts_ns == kT0 + 4000);
  CHECK(c.steps[4].ts_ns == kT0 + 8000);
}

TEST_CASE("veth: the server's story adopts the client's half opened in the client's namespace", "[tracker][client]") {
  constexpr uint32_t kClientNs = kNs + 7;
  ClientFlow f;
  f.client_ip = "127.0.0.1";
  f.cport = 52000;
  f.server_ip = "127.0.0.1";
  f.sport = 10000;
  f.pid = kClientPid;
  f.comm = "client";
  f.netns = kClientNs;
  Harness h;
  h.add(listen_ev(kT0));
  h.add(f.connect_enter(kT0 + 1000));
  h.add(f.syn_tx(kT0 + 2000));
  REQUIRE(h.tracker().open_connections() == 1);
  h.add(syn_rx(kT0 + 3000, 52000));  // in the server's namespace
  CHECK(h.tracker().open_connections() == 1);
  h.add(f.synack_rx(kT0 + 5000));
  h.add(f.established(kT0 + 6000).event());
  h.add(established(kT0 + 9000, 52000));
  h.add(f.connect_exit(kT0 + 10'000, 0));
  h.add(accept_exit(kT0 + 20'000, 52000));
  h.end();

  REQUIRE(h.connections.size() == 1);
  const Connection& c = h.connections[0];
  CHECK(c.side() == Side::Both);
  CHECK(c.netns == kNs);
  CHECK(c.client_netns == kClientNs);
  CHECK(c.outcome == Outcome::Accepted);
  CHECK(c.client_task == Task{kClientPid, "client"});
  CHECK(c.client_side.syn_tx_ns == kT0 + 2000);
  CHECK(c.client_side.synack_rx_ns == kT0 + 5000);
  CHECK(c.client_side.established_ns == kT0 + 6000);
  CHECK(c.client_side.waiters.has_value());
  CHECK(c.client_side.waiters->empty());
  // The client host's SYN gave way; the client's establishment woke nobody and is a step for that.
  CHECK(kinds(c) == std::vector<K>{K::ConnectEnter, K::Packet, K::ClientEstablished, K::Established, K::ConnectExit,
                                   K::AcceptExit});
}

TEST_CASE("client only: a local listener closing on the same port leaves an outgoing story alone",
          "[tracker][client]") {
  ClientFlow f;
  f.sport = 10000;  // the remote server's port is the local listener's
  Harness h;
  h.add(listen_ev(kT0));
  h.add(f.syn_tx(kT0 + 1000));
  h.add(base(SK_K_STATE, kT0 + 2000)
            .pid(kServerPid)
            .comm("server")
            .v4("127.0.0.1", 10000, "0.0.0.0", 0)
            .sock(0x1000)
            .states(10, 7)
            .event());
  h.add(f.synack_rx(kT0 + 3000));
  h.add(f.established(kT0 + 4000).event());
  h.end();
  REQUIRE(h.connections.size() == 1);
  CHECK(h.connections[0].outcome == Outcome::Connected);
  CHECK(kinds(h.connections[0]) == std::vector<K>{K::Packet, K::Packet, K::ClientEstablished});
}

// The paused receiver's recording (loopback, before waiters were read): the
// client host's half, read off the file; the story and its steps are
// tracker_test.cpp's, unchanged.
TEST_CASE("recorded loopback: the client host's half of the paused receiver's connection", "[tracker][client]") {
  Harness h;
  h.replay(sockscope::test::load_recording(sockscope::test::fixture("paused.jsonl")));
  REQUIRE(h.connections.size() == 1);
  const Connection& c = h.connections[0];
  CHECK(c.side() == Side::Both);
  CHECK(c.client_completed_by() == CompletedBy::Kernel);
  const ClientSide& cs = c.client_side;
  CHECK(cs.syn_tx_ns == 2035751867774);
  CHECK(cs.syn_task == Task{29992, "sender"});
  CHECK(cs.syn_ctx == ExecCtx::Process);
  CHECK(cs.syns_sent == 1);
  CHECK(cs.synack_rx_ns == 2035751896017);
  // connect() held the socket's lock: the SYN-ACK waited in the backlog,
  // and the sender's own task ran it on release.
  CHECK(cs.established_ns == 2035751907013);
  CHECK(cs.ctx == ExecCtx::Process);
  CHECK(cs.cpu == 0);
  CHECK(cs.borrowed == Task{29992, "sender"});
  CHECK(cs.ack_tx_ns == 2035751911750);
  CHECK(cs.rst_rx_ns == 0);
  CHECK_FALSE(cs.nonblocking);
  CHECK_FALSE(cs.waiters.has_value());
  CHECK_FALSE(cs.so_error.has_value());
  CHECK(std::none_of(c.steps.begin(), c.steps.end(), [](const Step& s) { return s.kind == K::ClientEstablished; }));
}

TEST_CASE("client only: EINPROGRESS says non-blocking without the record's flag", "[tracker][client]") {
  const ClientFlow f;
  Harness h;
  h.add(f.connect_enter(kT0));
  h.add(f.syn_tx(kT0 + 10'000));
  h.add(f.connect_exit(kT0 + 20'000, -EINPROGRESS));
  h.end();
  REQUIRE(h.connections.size() == 1);
  CHECK(h.connections[0].client_side.nonblocking);
  CHECK(h.connections[0].outcome == Outcome::Pending);
  CHECK(h.told_by_finish == 1);
}
