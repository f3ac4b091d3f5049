// Unit tests for track::Tracker: real event sequences recorded from the kernel
// (tests/unit/fixtures/*.jsonl, `sockscope trace --json` beside demos/receiver
// and demos/sender) replayed through a tracker whose clock the test drives,
// plus hand-built sequences for the edge cases a recording cannot pin down
// (timeouts, eviction, bounds).
//
// The expected values (pids, ports, timestamps, queue lengths) are read off the
// recordings themselves, not from running the tracker. These tests assert the
// stories' facts; the sentences render/ makes of the same stories are
// story_words_test.cpp's.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "event_builder.hpp"
#include "events/event.hpp"
#include "fixed_clock.hpp"
#include "render/json_renderer.hpp"
#include "replay.hpp"
#include "track/story.hpp"
#include "track/tracker.hpp"
#include "tracker_harness.hpp"

using sockscope::events::Backend;
using sockscope::events::Event;
using sockscope::events::ExecCtx;
using sockscope::test::by_client_port;
using sockscope::test::fixture;
using sockscope::test::Harness;
using sockscope::test::load_recording;
using sockscope::test::parse_recorded_line;
using sockscope::test::RawEvent;
using namespace sockscope::test::hand;
using namespace sockscope::track;

namespace {

bool steps_sorted(const Connection& c) {
  return std::is_sorted(c.steps.begin(), c.steps.end(), [](const Step& a, const Step& b) { return a.ts_ns < b.ts_ns; });
}

std::vector<const Step*> steps_of(const Connection& c, StepKind k) {
  std::vector<const Step*> out;
  for (const Step& s : c.steps)
    if (s.kind == k) out.push_back(&s);
  return out;
}

std::vector<StepKind> kinds(const Connection& c) {
  std::vector<StepKind> out;
  for (const Step& s : c.steps) out.push_back(s.kind);
  return out;
}

// The one step of a kind, failing the test when there are none or several.
const Step& one_step(const Connection& c, StepKind k) {
  const auto found = steps_of(c, k);
  INFO("steps of kind " << step_kind_name(k));
  REQUIRE(found.size() == 1);
  return *found.front();
}

// The kernel completed the handshake, in a context it borrowed: the facts a
// verdict credits the kernel with, and what the borrowed task was.
void check_kernel_completed(const Connection& c, BorrowedRole role) {
  CHECK(c.established);
  CHECK(c.completed_by() == CompletedBy::Kernel);
  CHECK(c.ctx != ExecCtx::Process);
  CHECK(c.borrowed_role() == role);
  CHECK(c.backends.established == Backend::Tracepoint);  // the recordings' backend
}

// What the two paused recordings (IPv4 and IPv6) say, read off the files.
struct PausedCase {
  const char* file;
  uint32_t netns, receiver, sender, cpu;
  const char* server;
  const char* client;
  uint64_t first_syn_rx, established, accept_exit, listen_ts, connect_enter, accept_enter;
};

void check_paused(const PausedCase& p) {
  INFO(p.file);
  Harness h;
  h.replay(load_recording(fixture(p.file)));

  REQUIRE(h.listeners.size() == 1);
  const Listener& l = h.listeners[0];
  CHECK(l.owner == Task{p.receiver, "receiver"});
  CHECK(l.backlog == 128);
  CHECK(l.local.str() == p.server);
  CHECK(l.netns == p.netns);
  CHECK(l.listen_ns == p.listen_ts);
  CHECK(l.backend == Backend::Tracepoint);
  CHECK(h.conflicts.empty());

  REQUIRE(h.connections.size() == 1);
  CHECK(h.told_by_finish == 0);
  const Connection& c = h.connections[0];
  CHECK(c.server.str() == p.server);
  CHECK(c.client.str() == p.client);
  CHECK(c.netns == p.netns);
  CHECK(c.client_netns == p.netns);
  CHECK(c.outcome == Outcome::Accepted);
  CHECK(c.completed_by() == CompletedBy::Kernel);
  CHECK(c.established);
  CHECK(c.ctx == ExecCtx::Softirq);
  CHECK(c.cpu == p.cpu);
  CHECK(c.borrowed == Task{p.sender, "sender"});
  CHECK(c.listener_state == OwnerState::Stopped);
  REQUIRE(c.listener.has_value());
  CHECK(c.listener->owner.pid == p.receiver);
  CHECK(c.queue_len == 1);
  CHECK(c.queue_max == 128);
  CHECK(c.syns == 1);
  CHECK(c.syns_dropped == 0);
  CHECK(c.synack_retransmits == 0);
  CHECK(c.accepted);
  CHECK(c.acceptor == Task{p.receiver, "receiver", p.receiver});  // single-threaded: tid = pid
  CHECK(c.accept_fd == 4);
  CHECK(c.queue_len_after_accept == 0);
  CHECK(c.bytes_before_accept == 13);
  CHECK(c.first_syn_ns == p.first_syn_rx);
  CHECK(c.established_ns == p.established);
  CHECK(c.accept_ns == p.accept_exit);
  CHECK(c.handshake_ns() == p.established - p.first_syn_rx);
  CHECK(c.accept_delay_ns() == p.accept_exit - p.established);
  CHECK(c.accept_ns > c.established_ns);
  REQUIRE(c.client_task.has_value());
  CHECK(*c.client_task == Task{p.sender, "sender"});
  REQUIRE(c.connect_ret.has_value());
  CHECK(*c.connect_ret == 0);
  CHECK(c.rst_ns == 0);
  CHECK(c.rx_ifname == "lo");
  CHECK(steps_sorted(c));
  check_kernel_completed(c, BorrowedRole::Client);
  CHECK(c.backends.syn_recv == Backend::SockOps);
  CHECK(c.backends.accept == Backend::Tracepoint);

  // The steps, record by record: the server side's packets (the client
  // host's view of the same segments is not the story's), the kernel's steps
  // and both programs' calls; nothing after accept() but the FINs.
  using K = StepKind;
  CHECK(kinds(c) == std::vector<K>{K::ConnectEnter, K::Packet, K::SynRecv, K::Packet, K::Packet, K::Established,
                                   K::ConnectExit, K::AcceptEnter, K::AcceptExit, K::Dequeued, K::Packet, K::Packet});
  REQUIRE(c.steps.size() == 12);
  const Step& enter = c.steps[0];
  CHECK(enter.ts_ns == p.connect_enter);
  CHECK(enter.lane == Lane::Client);
  CHECK(enter.task == Task{p.sender, "sender"});
  const std::vector<std::pair<uint8_t, Step::Arrow>> packets = {{0x02, Step::Arrow::ToServer},
                                                                {0x12, Step::Arrow::ToClient},
                                                                {0x10, Step::Arrow::ToServer},
                                                                {0x11, Step::Arrow::ToServer},
                                                                {0x11, Step::Arrow::ToClient}};
  const auto seen = steps_of(c, K::Packet);
  REQUIRE(seen.size() == packets.size());
  for (std::size_t i = 0; i < packets.size(); ++i) {
    INFO("packet " << i);
    CHECK(seen[i]->tcp_flags == packets[i].first);
    CHECK(seen[i]->arrow == packets[i].second);
    CHECK(seen[i]->payload_len == 0);
    CHECK_FALSE(seen[i]->syn_dropped);
    CHECK(seen[i]->lane == Lane::Kernel);
  }
  CHECK(seen[0]->ts_ns == p.first_syn_rx);
  CHECK(seen[0]->ctx == ExecCtx::Softirq);
  const Step& syn_recv = one_step(c, K::SynRecv);
  CHECK(syn_recv.queue_len == 0);
  CHECK(syn_recv.queue_max == 128);
  CHECK(syn_recv.backend == Backend::SockOps);
  const Step& est = one_step(c, K::Established);
  CHECK(est.ts_ns == p.established);
  CHECK(est.queue_len == 1);
  CHECK(est.queue_max == 128);
  CHECK(est.ctx == ExecCtx::Softirq);
  CHECK(est.cpu == p.cpu);
  CHECK(est.task == Task{p.sender, "sender"});
  CHECK(est.backend == Backend::Tracepoint);
  const Step& connected = one_step(c, K::ConnectExit);
  CHECK(connected.ret == 0);
  CHECK(connected.lane == Lane::Client);
  const Step& waiting = one_step(c, K::AcceptEnter);
  CHECK(waiting.ts_ns == p.accept_enter);
  CHECK(waiting.lane == Lane::Server);
  CHECK(waiting.task == Task{p.receiver, "receiver"});
  const Step& accepted = one_step(c, K::AcceptExit);
  CHECK(accepted.ts_ns == p.accept_exit);
  CHECK(accepted.ret == 4);
  CHECK(accepted.lane == Lane::Server);
  const Step& dequeued = one_step(c, K::Dequeued);
  CHECK(dequeued.queue_len == 0);
  CHECK(dequeued.queue_max == 128);
  CHECK(dequeued.bytes_waiting == 13);
  CHECK(dequeued.ctx == ExecCtx::Process);
  CHECK(dequeued.task == Task{p.receiver, "receiver"});
}

}  // namespace

// ---- the loader ----

TEST_CASE("every recorded record loads and renders back to the same JSON", "[tracker][replay]") {
  const char* files[] = {"paused.jsonl",  "paused6.jsonl",         "blocked.jsonl",
                         "refused.jsonl", "listener_closed.jsonl", "backlog.jsonl",
                         "veth.jsonl",    "veth6.jsonl",           "bindconflict.jsonl"};
  for (const char* f : files) {
    INFO(f);
    std::ifstream in(fixture(f));
    REQUIRE(in);
    std::string line;
    std::size_t records = 0, summaries = 0;
    while (std::getline(in, line)) {
      INFO(line);
      const auto e = parse_recorded_line(line);
      if (!e) {
        ++summaries;
        continue;
      }
      ++records;
      std::ostringstream os;
      sockscope::render::JsonRenderer(os, sockscope::test::kFixedClock).event(*e);
      // Recorded before records had ts_wall_ns: that one on the test's clock,
      // every other field as recorded.
      nlohmann::json rendered = nlohmann::json::parse(os.str());
      CHECK(rendered.at("ts_wall_ns").get<uint64_t>() == e->ts_ns + sockscope::test::kWallOffsetNs);
      rendered.erase("ts_wall_ns");
      CHECK(rendered == nlohmann::json::parse(line));
    }
    CHECK(summaries == 1);
    CHECK(load_recording(fixture(f)).size() == records);
  }
}

TEST_CASE("the loader rebuilds the owner flags and the kernel's task state", "[tracker][replay]") {
  const auto events = load_recording(fixture("backlog.jsonl"));
  REQUIRE(events.size() == 98);
  // The first established record: owner stopped (SIGSTOP), not in accept().
  const auto est = std::find_if(events.begin(), events.end(),
                                [](const Event& e) { return e.kind == sockscope::events::Kind::Established; });
  REQUIRE(est != events.end());
  CHECK(est->owner_pid == 30057);
  CHECK(est->owner_state == 0x104);
  CHECK(est->owner_flags == (SK_OWNER_KNOWN | SK_LISTENER_FOUND));
  CHECK(est->queue_len == 1);
  CHECK(est->queue_max == 1);
  // The last established record: owner blocked in accept().
  const auto last = std::find_if(events.rbegin(), events.rend(),
                                 [](const Event& e) { return e.kind == sockscope::events::Kind::Established; });
  CHECK(last->owner_state == 0x1);
  CHECK(last->owner_flags == (SK_OWNER_KNOWN | SK_OWNER_IN_ACCEPT | SK_LISTENER_FOUND));
  CHECK(last->comm_view() == "ksoftirqd/0");
  // A SYN arriving at the full queue: the listener's queue with it.
  const Event& syn = events[36];
  CHECK(syn.kind == sockscope::events::Kind::Tcp);
  CHECK(syn.tcp_flags == 0x02);
  CHECK(syn.dir == sockscope::events::Dir::Rx);
  CHECK(syn.owner_flags == SK_LISTENER_FOUND);
  CHECK(syn.queue_len == 2);
  CHECK(syn.queue_max == 1);
  CHECK(syn.sock == 0);
  // A SYN-ACK: no listener fields.
  CHECK(events[10].tcp_flags == 0x12);
  CHECK(events[10].owner_flags == 0);
}

TEST_CASE("the loader refuses names it does not know", "[tracker][replay]") {
  const std::string good =
      R"({"ts_ns":1,"layer":"kernel","event":"established","pid":1,"tid":1,"comm":"x","cpu":0,"ctx":"softirq",)"
      R"("netns":1,"family":"ipv4","saddr":"127.0.0.1","sport":10000,"daddr":"127.0.0.1","dport":5,)"
      R"("backend":"tracepoint","sock":"0x10","old_state":"SYN_RECV","new_state":"ESTABLISHED","queue_len":1,)"
      R"("queue_max":128,"owner_pid":7,"owner_state":"stopped","owner_in_accept":false})";
  REQUIRE(parse_recorded_line(good).has_value());
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
  };
  CHECK_THROWS(parse_recorded_line(with(R"("event":"established")", R"("event":"estab")")));
  CHECK_THROWS(parse_recorded_line(with(R"("layer":"kernel")", R"("layer":"packet")")));
  CHECK_THROWS(parse_recorded_line(with(R"("ctx":"softirq")", R"("ctx":"nmi")")));
  CHECK_THROWS(parse_recorded_line(with(R"("new_state":"ESTABLISHED")", R"("new_state":"OPEN")")));
  CHECK_THROWS(parse_recorded_line(with(R"("owner_state":"stopped")", R"("owner_state":"disk-sleep")")));
  CHECK_THROWS(parse_recorded_line(with(R"("family":"ipv4")", R"("family":"unknown")")));
  CHECK_THROWS(parse_recorded_line(with(R"("saddr":"127.0.0.1")", R"("saddr":"::1")")));
  CHECK_THROWS(parse_recorded_line(with(R"("sock":"0x10")", R"("sock":"16")")));
  CHECK_THROWS(parse_recorded_line(with(R"("cpu":0)", R"("cpu":0,"surprise":1)")));
  CHECK_THROWS(parse_recorded_line(with(R"("owner_pid":7,)", "")));
  CHECK_THROWS(parse_recorded_line("not json"));
  CHECK_THROWS(load_recording(fixture("no-such-recording.jsonl")));
}

// ---- recordings ----

TEST_CASE("paused listener, IPv4: the kernel completed the handshake while the receiver was stopped", "[tracker]") {
  check_paused({"paused.jsonl", 4026531833u, 29990, 29992, 0, "127.0.0.1:10000", "127.0.0.1:43464", 2035751875756,
                2035751922286, 2036257832752, 2035350329446, 2035751628164, 2036257788375});
}

TEST_CASE("paused listener, IPv6: the kernel completed the handshake while the receiver was stopped", "[tracker]") {
  check_paused({"paused6.jsonl", 4026531833u, 30184, 30186, 1, "[::1]:10000", "[::1]:38076", 2076498355354,
                2076498439831, 2077003832279, 2076095648115, 2076498284067, 2077003800491});
}

TEST_CASE("receiver blocked in accept(): the kernel's work woke it", "[tracker]") {
  Harness h;
  h.replay(load_recording(fixture("blocked.jsonl")));
  REQUIRE(h.listeners.size() == 1);
  REQUIRE(h.connections.size() == 1);
  const Connection& c = h.connections[0];
  CHECK(c.client.str() == "127.0.0.1:56108");
  CHECK(c.outcome == Outcome::Accepted);
  CHECK(c.completed_by() == CompletedBy::Kernel);
  CHECK(c.listener_state == OwnerState::BlockedInAccept);
  CHECK(c.borrowed == Task{29637, "sender"});
  CHECK(c.acceptor == Task{29635, "receiver", 29635});
  CHECK(c.queue_len == 1);
  CHECK(c.queue_len_after_accept == 0);
  CHECK(c.bytes_before_accept == 0);
  CHECK(c.handshake_ns() == 1995041733718 - 1995041693057);
  CHECK(c.accept_delay_ns() == 1995041763743 - 1995041733718);
  // accept() was called long before the client came: its wait is a step.
  const Step& waiting = one_step(c, StepKind::AcceptEnter);
  CHECK(waiting.ts_ns == 1994739095063);
  CHECK(waiting.task == Task{29635, "receiver"});
  CHECK(one_step(c, StepKind::AcceptExit).ret == 4);
  CHECK(steps_sorted(c));
  check_kernel_completed(c, BorrowedRole::Client);
}

TEST_CASE("connection refused: RST, connect() fails with ECONNREFUSED", "[tracker]") {
  Harness h;
  h.replay(load_recording(fixture("refused.jsonl")));
  CHECK(h.listeners.empty());
  REQUIRE(h.connections.size() == 1);
  CHECK(h.told_by_finish == 0);
  const Connection& c = h.connections[0];
  CHECK(c.server.str() == "127.0.0.1:10001");
  CHECK(c.client.str() == "127.0.0.1:45130");
  CHECK(c.outcome == Outcome::Refused);
  CHECK(c.completed_by() == CompletedBy::None);
  CHECK_FALSE(c.listener.has_value());
  CHECK_FALSE(c.established);
  CHECK_FALSE(c.accepted);
  CHECK(c.syns == 1);
  CHECK(c.rst_ns == 1997123284374);
  REQUIRE(c.client_task.has_value());
  CHECK(*c.client_task == Task{29645, "sender"});
  // The failed connect()'s exit record has no tuple (0.0.0.0:0): its socket's
  // state changes lead to the flow.
  REQUIRE(c.connect_ret.has_value());
  CHECK(*c.connect_ret == -ECONNREFUSED);
  CHECK(c.backends.syn_recv == std::nullopt);  // no kernel step: nothing listened
  CHECK(c.backends.established == std::nullopt);
  CHECK(c.backends.accept == std::nullopt);
  using K = StepKind;
  CHECK(kinds(c) == std::vector<K>{K::ConnectEnter, K::Packet, K::Packet, K::ClientState, K::ConnectExit});
  REQUIRE(c.steps.size() == 5);
  CHECK(c.steps[0].ts_ns == 1997123071194);
  CHECK(c.steps[1].tcp_flags == 0x02);
  CHECK(c.steps[1].arrow == Step::Arrow::ToServer);
  CHECK(c.steps[2].ts_ns == 1997123284374);
  CHECK(c.steps[2].tcp_flags == 0x14);  // RST-ACK
  CHECK(c.steps[2].arrow == Step::Arrow::ToClient);
  CHECK(c.steps[3].lane == Lane::Client);
  CHECK(c.steps[3].old_state == 2);  // TCP_SYN_SENT
  CHECK(c.steps[3].new_state == 7);  // TCP_CLOSE
  CHECK(c.steps[4].ts_ns == 1997123323413);
  CHECK(c.steps[4].ret == -ECONNREFUSED);
  CHECK(c.steps[4].lane == Lane::Client);
  CHECK(steps_sorted(c));
}

TEST_CASE("listener killed with the connection still queued", "[tracker]") {
  Harness h;
  h.replay(load_recording(fixture("listener_closed.jsonl")));
  REQUIRE(h.listeners.size() == 1);
  REQUIRE(h.connections.size() == 1);
  CHECK(h.told_by_finish == 0);
  const Connection& c = h.connections[0];
  CHECK(c.client.str() == "127.0.0.1:56122");
  CHECK(c.outcome == Outcome::ListenerClosed);
  CHECK(c.established);
  CHECK_FALSE(c.accepted);
  CHECK(c.listener_state == OwnerState::Stopped);
  CHECK(c.queue_len == 1);
  CHECK(c.rst_ns == 1999833083562);
  check_kernel_completed(c, BorrowedRole::Client);
  CHECK(c.backends.accept == std::nullopt);  // never dequeued
  const Step& closed = one_step(c, StepKind::ListenerClosed);
  CHECK(closed.ts_ns == 1999833049441);
  CHECK(closed.lane == Lane::Server);
  CHECK(closed.task == Task{c.listener->owner.pid, "receiver"});
  // inet_csk_listen_stop resets the queued child: ESTABLISHED -> CLOSE, then the RST.
  const Step& child = one_step(c, StepKind::ChildState);
  CHECK(child.ts_ns == 1999833070633);
  CHECK(child.old_state == 1);  // TCP_ESTABLISHED
  CHECK(child.new_state == 7);  // TCP_CLOSE
  CHECK(c.steps.back().kind == StepKind::Packet);
  CHECK(c.steps.back().tcp_flags == 0x14);
  CHECK(c.steps.back().arrow == Step::Arrow::ToClient);
  CHECK(steps_sorted(c));
}

TEST_CASE("backlog 1: the third SYN is dropped until the receiver accepts", "[tracker]") {
  Harness h;
  h.replay(load_recording(fixture("backlog.jsonl")));
  REQUIRE(h.listeners.size() == 1);
  CHECK(h.listeners[0].backlog == 1);
  REQUIRE(h.connections.size() == 3);
  CHECK(h.told_by_finish == 0);

  const Connection& first = by_client_port(h.connections, 39732);
  const Connection& second = by_client_port(h.connections, 39742);
  const Connection& third = by_client_port(h.connections, 39754);

  for (const Connection* c : {&first, &second}) {
    CHECK(c->outcome == Outcome::Accepted);
    CHECK(c->established);
    CHECK(c->listener_state == OwnerState::Stopped);
    CHECK(c->queue_max == 1);
    CHECK(c->syns == 1);
    CHECK(c->syns_dropped == 0);
    CHECK(c->bytes_before_accept == 2);
  }
  CHECK(first.queue_len == 1);
  CHECK(second.queue_len == 2);
  CHECK(first.queue_len_after_accept == 1);
  CHECK(second.queue_len_after_accept == 0);
  CHECK(*first.client_task == Task{30059, "sender"});
  CHECK(*second.client_task == Task{30061, "sender"});
  // The kernel lets the queue hold one more than the backlog.
  CHECK(one_step(first, StepKind::Established).queue_len == 1);
  CHECK(one_step(second, StepKind::Established).queue_len == 2);
  CHECK(one_step(second, StepKind::Established).queue_max == 1);

  // SYNs that reached the server for 39754: at 2044276934496 (queue 2 of 1),
  // 2045308137356 (2 of 1) and 2046332128552 (0 of 1): three, two dropped.
  CHECK(third.syns == 3);
  CHECK(third.syns_dropped == 2);
  CHECK(third.queue_len_at_drop == 2);
  CHECK(third.queue_max_at_drop == 1);
  CHECK(third.first_syn_ns == 2044276934496);
  CHECK(third.established);
  CHECK(third.established_ns == 2046332205838);
  CHECK(third.ctx == ExecCtx::Softirq);
  CHECK(third.borrowed == Task{14, "ksoftirqd/0"});
  CHECK(third.listener_state == OwnerState::BlockedInAccept);
  CHECK(third.queue_len == 1);
  CHECK(third.queue_max == 1);
  CHECK(third.outcome == Outcome::Accepted);
  CHECK(third.acceptor == Task{30057, "receiver", 30057});
  REQUIRE(third.client_task.has_value());
  CHECK(*third.client_task == Task{30063, "sender"});
  CHECK(third.connect_ret == 0);
  CHECK(third.handshake_ns() == 2046332205838 - 2044276934496);
  CHECK(steps_sorted(third));
  check_kernel_completed(third, BorrowedRole::SoftirqThread);
  // Each SYN is a step: the two dropped ones say so, with the queue then.
  std::vector<std::tuple<uint64_t, bool, uint32_t, uint32_t>> syns;
  for (const Step* s : steps_of(third, StepKind::Packet))
    if (s->tcp_flags == 0x02) syns.emplace_back(s->ts_ns, s->syn_dropped, s->queue_len, s->queue_max);
  CHECK(syns == std::vector<std::tuple<uint64_t, bool, uint32_t, uint32_t>>{
                    {2044276934496, true, 2, 1}, {2045308137356, true, 2, 1}, {2046332128552, false, 0, 0}});
}

TEST_CASE("veth pair: the client's namespace differs and its task is still found", "[tracker]") {
  struct Case {
    const char* file;
    const char* server;
    const char* client;
    Task sender;
    OwnerState state;
    uint32_t bytes;
  };
  // veth.jsonl: receiver paused after listen; veth6.jsonl: blocked in accept().
  const Case k = GENERATE(
      Case{"veth.jsonl", "10.77.0.1:10000", "10.77.0.2:50322", {29970, "sender"}, OwnerState::Stopped, 13},
      Case{"veth6.jsonl", "[fd77::1]:10000", "[fd77::2]:39214", {29982, "sender"}, OwnerState::BlockedInAccept, 13});
  CAPTURE(k.file);
  Harness h;
  h.replay(load_recording(fixture(k.file)));
  REQUIRE(h.listeners.size() == 1);
  REQUIRE(h.connections.size() == 1);
  const Connection& c = h.connections[0];
  CHECK(c.server.str() == k.server);
  CHECK(c.client.str() == k.client);
  CHECK(c.netns == 4026532177u);
  CHECK(c.client_netns == 4026532246u);
  REQUIRE(c.client_task.has_value());
  CHECK(*c.client_task == k.sender);
  CHECK(c.connect_ret == 0);
  CHECK(c.completed_by() == CompletedBy::Kernel);
  CHECK(c.outcome == Outcome::Accepted);
  CHECK(c.listener_state == k.state);
  CHECK(c.borrowed == k.sender);
  CHECK(c.bytes_before_accept == k.bytes);
  // The server host heard the client on its end of the pair (the client's
  // end, veth-tx, is the client host's side of the wire).
  CHECK(c.rx_ifname == "veth-rx");
  CHECK(steps_sorted(c));
  check_kernel_completed(c, BorrowedRole::Client);
}

TEST_CASE("bind conflict: the second receiver's bind() fails with EADDRINUSE", "[tracker]") {
  Harness h;
  h.replay(load_recording(fixture("bindconflict.jsonl")));
  REQUIRE(h.conflicts.size() == 1);
  const BindConflict& b = h.conflicts[0];
  CHECK(b.err == EADDRINUSE);
  CHECK(b.ts_ns == 2073818700223);
  CHECK(b.wanted.str() == "127.0.0.1:10000");
  CHECK(b.caller == Task{30175, "receiver"});
  REQUIRE(b.holder.has_value());
  CHECK(*b.holder == Task{30173, "receiver"});
  CHECK_FALSE(b.holder_listening);
  CHECK(b.holder_bound_ns == 2073417041755);
  // The holder listened afterwards; nobody connected.
  CHECK(h.listeners.size() == 1);
  CHECK(h.connections.empty());
}

// ---- hand-built sequences (tracker_harness.hpp) ----

TEST_CASE("an established connection never accepted is told as pending after the timeout", "[tracker]") {
  Harness h;
  const TrackerConfig cfg;
  const uint64_t est = kT0 + 3000;
  h.add(listen_ev(kT0));
  h.add(syn_rx(kT0 + 1000, 50000));
  h.add(established(est, 50000));
  h.advance_to(est + cfg.pending_timeout_ns / 2);
  h.advance_to(est + cfg.pending_timeout_ns - 1);
  CHECK(h.connections.empty());
  CHECK(h.tracker().open_connections() == 1);

  h.advance_to(est + cfg.pending_timeout_ns);
  REQUIRE(h.connections.size() == 1);
  const Connection& c = h.connections[0];
  CHECK(c.outcome == Outcome::Pending);
  CHECK(c.established);
  CHECK_FALSE(c.accepted);
  CHECK(c.told_ns == est + cfg.pending_timeout_ns);
  CHECK(h.tracker().open_connections() == 0);
  CHECK(c.queued_ns() == cfg.pending_timeout_ns);  // waited in the queue until told
  CHECK(c.queue_len == 1);
  CHECK(c.queue_max == 128);
  CHECK(h.tracker().stats().told == 1);
}

TEST_CASE("beyond max_connections the oldest stories are told as evicted", "[tracker]") {
  TrackerConfig cfg;
  cfg.max_connections = 4;
  Harness h(cfg);
  for (uint16_t i = 0; i < 10; ++i) {
    h.add(syn_rx(kT0 + i * 1000, static_cast<uint16_t>(50000 + i)));
    CHECK(h.tracker().open_connections() <= 4);
  }
  const auto evicted = std::count_if(h.connections.begin(), h.connections.end(),
                                     [](const Connection& c) { return c.outcome == Outcome::Evicted; });
  CHECK(evicted == static_cast<long>(h.connections.size()));
  CHECK(h.tracker().stats().evicted == static_cast<uint64_t>(evicted));
  CHECK(h.tracker().stats().evicted >= 6);
  CHECK(h.tracker().open_connections() + h.connections.size() == 10);
  CHECK(h.tracker().stats().open_peak == 4);  // the bound, reached and never passed
  // The oldest went first.
  for (std::size_t i = 0; i < h.connections.size(); ++i)
    CHECK(h.connections[i].client.port == static_cast<uint16_t>(50000 + i));

  h.end();
  CHECK(h.connections.size() == 10);
  CHECK(h.tracker().stats().told == 10);
  CHECK(h.tracker().stats().evicted == static_cast<uint64_t>(evicted));
  for (std::size_t i = static_cast<std::size_t>(evicted); i < h.connections.size(); ++i)
    CHECK(h.connections[i].outcome == Outcome::Pending);
}

TEST_CASE("a story keeps at most max_steps steps and counts the rest", "[tracker]") {
  const TrackerConfig cfg;
  Harness h(cfg);
  const std::size_t records = cfg.max_steps + 36;  // each adds one step
  h.add(syn_rx(kT0, 50000));
  for (std::size_t i = 1; i < records; ++i) h.add(data_rx(kT0 + i * 1000, 50000));
  h.end();
  REQUIRE(h.connections.size() == 1);
  const Connection& c = h.connections[0];
  CHECK(c.steps.size() == cfg.max_steps);
  CHECK(c.steps_omitted == records - cfg.max_steps);
  CHECK(c.last_ns == kT0 + (records - 1) * 1000);
}

TEST_CASE("a decided story waits for the linger, and late records join it", "[tracker]") {
  const TrackerConfig cfg;
  Harness h(cfg);
  const uint64_t acc = kT0 + 50'000'000;
  h.add(listen_ev(kT0));
  h.add(syn_rx(kT0 + 1000, 50000));
  h.add(established(kT0 + 3000, 50000));
  h.add(accept_exit(acc, 50000));
  CHECK(h.connections.empty());
  h.add(connect_exit(acc + cfg.linger_ns / 2, 50000));  // the client's record, late
  h.advance_to(acc + cfg.linger_ns - 1);
  CHECK(h.connections.empty());

  h.advance_to(acc + cfg.linger_ns);
  REQUIRE(h.connections.size() == 1);
  const Connection& c = h.connections[0];
  CHECK(c.outcome == Outcome::Accepted);
  REQUIRE(c.connect_ret.has_value());
  CHECK(*c.connect_ret == 0);
  REQUIRE(c.client_task.has_value());
  CHECK(*c.client_task == Task{kClientPid, "client"});
  CHECK(steps_sorted(c));
  CHECK(c.steps.back().kind == StepKind::ConnectExit);  // the late record joined, in its place
  CHECK(c.steps.back().ret == 0);
  CHECK(c.steps.back().ts_ns == acc + cfg.linger_ns / 2);
}

TEST_CASE("a RST from a closed port with only packets seen is a refusal", "[tracker]") {
  Harness h;
  h.add(syn_rx(kT0, 50000, false));
  h.add(rst_tx(kT0 + 20'000, 50000));
  h.end();
  REQUIRE(h.connections.size() == 1);
  CHECK(h.told_by_finish == 0);
  const Connection& c = h.connections[0];
  CHECK(c.outcome == Outcome::Refused);
  CHECK(c.completed_by() == CompletedBy::None);
  CHECK(c.rst_ns == kT0 + 20'000);
  CHECK_FALSE(c.listener.has_value());
  CHECK_FALSE(c.connect_ret.has_value());
  CHECK(c.server.str() == "127.0.0.1:10000");
}

TEST_CASE("a 4-tuple reused at once (a storm) starts a new story at its SYN", "[tracker]") {
  const TrackerConfig cfg;
  Harness h(cfg);
  h.add(listen_ev(kT0));
  for (uint64_t base : {kT0 + 1000, kT0 + 2'000'000}) {  // the second within the first's linger
    h.add(syn_rx(base, 50000));
    h.add(established(base + 2000, 50000));
    h.add(accept_exit(base + 50'000, 50000));
  }
  CHECK(h.connections.size() == 1);  // the first, told when the second's SYN came
  h.end();
  REQUIRE(h.connections.size() == 2);
  for (const Connection& c : h.connections) {
    CHECK(c.outcome == Outcome::Accepted);
    CHECK(c.syns == 1);
    CHECK(c.established);
  }
  CHECK(h.connections[0].established_ns == kT0 + 3000);
  CHECK(h.connections[1].established_ns == kT0 + 2'002'000);
}

TEST_CASE("a request socket whose namespace sock_ops could not name joins the story its SYN opened", "[tracker]") {
  // Listening began before tracing: sock_ops learns a namespace's inode number
  // only from a listen() it sees, so its syn_recv record carries netns 0.
  Harness h;
  for (uint64_t t : {kT0, kT0 + 2'000'000}) {  // the same 4-tuple twice, as in a storm
    h.add(syn_rx(t, 50000));
    h.add(syn_recv_without_netns(t + 500, 50000));
    h.add(established(t + 2000, 50000));
    h.add(accept_exit(t + 50'000, 50000));
  }
  h.end();
  REQUIRE(h.connections.size() == 2);  // nothing left at netns 0, pending
  for (const Connection& c : h.connections) {
    CHECK(c.netns == kNs);
    CHECK(c.outcome == Outcome::Accepted);
    using K = StepKind;
    CHECK(kinds(c) == std::vector<K>{K::Packet, K::SynRecv, K::Established, K::AcceptExit});
    REQUIRE(c.steps.size() == 4);
    CHECK(c.steps[0].tcp_flags == 0x02);
    CHECK(c.steps[1].queue_len == 0);
    CHECK(c.steps[1].queue_max == 128);
    CHECK(c.steps[2].queue_len == 1);
    CHECK(c.steps[2].queue_max == 128);
    CHECK(c.steps[3].ret == 4);
  }
  CHECK(h.told_by_finish == 0);
}

TEST_CASE("steps keep each one's own task, context, CPU and numbers", "[tracker]") {
  Harness h;
  h.add(listen_ev(kT0));
  h.add(syn_rx(kT0 + 1000, 50000));
  h.add(base(SK_PKT_TCP, kT0 + 1500)
            .pid(0)
            .comm("swapper/1")
            .cpu(1)
            .ctx(SK_CTX_SOFTIRQ)
            .dir(SK_DIR_RX)
            .flags(0x02)
            .v4("127.0.0.1", 50000, "127.0.0.1", 10000)
            .queue(129, 128)
            .owner(0, 0, SK_LISTENER_FOUND)
            .event());
  h.add(established(kT0 + 2000, 50000));
  h.add(accept_exit(kT0 + 50'000, 50000));
  h.end();
  REQUIRE(h.connections.size() == 1);
  const auto& steps = h.connections[0].steps;
  REQUIRE(steps.size() == 4);
  CHECK(steps[0].task == Task{kClientPid, "client"});
  CHECK(steps[1].kind == StepKind::Packet);
  CHECK(steps[1].tcp_flags == 0x02);
  CHECK(steps[1].syn_dropped);
  CHECK(steps[1].queue_len == 129);
  CHECK(steps[1].queue_max == 128);
  CHECK_FALSE(steps[0].syn_dropped);  // the first SYN found room
  CHECK(steps[0].queue_len == 0);
  CHECK(steps[0].queue_max == 0);
  CHECK(steps[1].task == Task{0, "swapper/1"});
  CHECK(steps[1].cpu == 1);
  CHECK(steps[1].arrow == Step::Arrow::ToServer);
  CHECK(steps[2].task == Task{kClientPid, "client"});
  CHECK(steps[3].task == Task{kServerPid, "server"});
  CHECK(steps[3].lane == Lane::Server);
  CHECK(steps[3].ctx == ExecCtx::Process);
}

TEST_CASE("beyond max_connections decided stories are told first, with their own outcome", "[tracker]") {
  TrackerConfig cfg;
  cfg.max_connections = 4;
  Harness h(cfg);
  h.add(listen_ev(kT0));
  // Two undecided (established, not accepted), then accepted ones still in
  // their linger: the storm a fast machine makes.
  for (uint16_t i = 0; i < 2; ++i) {
    h.add(syn_rx(kT0 + 1000 + i, static_cast<uint16_t>(40000 + i)));
    h.add(established(kT0 + 2000 + i, static_cast<uint16_t>(40000 + i)));
  }
  for (uint16_t i = 0; i < 6; ++i) {
    const uint64_t t = kT0 + 10'000 + i * 1000;
    const auto port = static_cast<uint16_t>(50000 + i);
    h.add(syn_rx(t, port));
    h.add(established(t + 100, port));
    h.add(accept_exit(t + 200, port));
    CHECK(h.tracker().open_connections() <= 4);
  }
  REQUIRE(!h.connections.empty());
  for (const Connection& c : h.connections) {
    CHECK(c.outcome == Outcome::Accepted);  // none evicted while a decided one could go
    CHECK(c.client.port >= 50000);
  }
  CHECK(h.tracker().stats().evicted == 0);
  // The two undecided are still open, whole.
  h.end();
  const auto pending = std::count_if(h.connections.begin(), h.connections.end(), [](const Connection& c) {
    return c.outcome == Outcome::Pending && c.established && c.client.port < 50000;
  });
  CHECK(pending == 2);
  CHECK(h.tracker().stats().told == 8);
}

TEST_CASE("each kernel fact keeps the backend of the record that supplied it", "[tracker][backend]") {
  // One run can mix backends: function probes where they attach, the
  // tracepoint path (or sock_ops, for the request socket) where not.
  Harness h;
  h.add(listen_ev(kT0));  // the builder's default backend: tracepoint
  Event listen = listen_ev(kT0 + 1);
  listen.backend = Backend::Fentry;
  h.add(listen);
  h.add(syn_rx(kT0 + 1000, 50000));
  h.add(base(SK_K_SYN_RECV, kT0 + 1500)
            .pid(kClientPid)
            .comm("client")
            .ctx(SK_CTX_SOFTIRQ)
            .backend(SK_BACKEND_KPROBE)
            .v4("127.0.0.1", 10000, "127.0.0.1", 50000)
            .queue(0, 128)
            .event());
  Event est = established(kT0 + 2000, 50000);
  est.backend = Backend::Fentry;
  h.add(est);
  h.add(accept_exit(kT0 + 50'000, 50000));
  h.add(base(SK_K_ACCEPT, kT0 + 50'001)
            .pid(kServerPid)
            .comm("server")
            .backend(SK_BACKEND_KPROBE)
            .v4("127.0.0.1", 10000, "127.0.0.1", 50000)
            .fd(4)
            .queue(0, 128)
            .rx_queued(7)
            .event());
  h.end();
  REQUIRE(h.listeners.size() == 2);
  CHECK(h.listeners[0].backend == Backend::Tracepoint);
  CHECK(h.listeners[1].backend == Backend::Fentry);
  REQUIRE(h.connections.size() == 1);
  const Connection& c = h.connections[0];
  CHECK(c.backends.syn_recv == Backend::Kprobe);
  CHECK(c.backends.established == Backend::Fentry);
  CHECK(c.backends.accept == Backend::Kprobe);
  using K = StepKind;
  CHECK(kinds(c) == std::vector<K>{K::Packet, K::SynRecv, K::Established, K::AcceptExit, K::Dequeued});
  std::vector<Backend> backends;
  for (const Step& s : c.steps) backends.push_back(s.backend);
  CHECK(backends == std::vector<Backend>{Backend::Tracepoint, Backend::Kprobe, Backend::Fentry, Backend::Tracepoint,
                                         Backend::Kprobe});
  const Step& dequeued = one_step(c, K::Dequeued);
  CHECK(dequeued.bytes_waiting == 7);
  CHECK(dequeued.queue_len == 0);
  CHECK(dequeued.queue_max == 128);
}

TEST_CASE("the borrowed task's role: idle, client, ksoftirqd, the listener's owner, another", "[tracker][role]") {
  Connection c;
  c.established = true;
  c.client_task = Task{200, "client"};
  Listener l;
  l.owner = Task{100, "server"};
  c.listener = l;
  struct Row {
    Task borrowed;
    BorrowedRole role;
  };
  const Row row = GENERATE(values<Row>({
      {{0, "swapper/1"}, BorrowedRole::IdleTask},
      {{200, "client"}, BorrowedRole::Client},
      {{14, "ksoftirqd/0"}, BorrowedRole::SoftirqThread},
      {{100, "server"}, BorrowedRole::ListenerOwner},
      {{300, "make"}, BorrowedRole::Other},
      {{300, "ksoftirqd"}, BorrowedRole::Other},  // the thread is "ksoftirqd/N"
      // The first that fits, in that order: a client that is ksoftirqd's pid is the client.
      {{200, "ksoftirqd/3"}, BorrowedRole::Client},
  }));
  CAPTURE(row.borrowed.pid, row.borrowed.comm);
  c.borrowed = row.borrowed;
  CHECK(c.borrowed_role() == row.role);
}

TEST_CASE("the borrowed task's role: without a known client or listener, those roles are not guessed",
          "[tracker][role]") {
  Connection c;
  c.established = true;
  const std::pair<Task, BorrowedRole> rows[] = {
      {{0, "swapper/1"}, BorrowedRole::IdleTask},
      {{200, "client"}, BorrowedRole::Other},
      {{14, "ksoftirqd/0"}, BorrowedRole::SoftirqThread},
      {{100, "server"}, BorrowedRole::Other},
  };
  for (const auto& [task, role] : rows) {
    CAPTURE(task.pid, task.comm);
    c.borrowed = task;
    CHECK(c.borrowed_role() == role);
  }
}

TEST_CASE("how long an established connection waited in the queue, by outcome", "[tracker]") {
  Connection c;
  c.established = true;
  c.established_ns = 1000;
  c.accepted = true;
  c.accept_ns = 1500;
  c.rst_ns = 1700;
  c.last_ns = 1900;
  c.told_ns = 2600;
  const std::pair<Outcome, uint64_t> rows[] = {
      {Outcome::Accepted, 500}, {Outcome::Reset, 700},    {Outcome::Closed, 900},   {Outcome::ListenerClosed, 900},
      {Outcome::Pending, 1600}, {Outcome::Evicted, 1600}, {Outcome::Refused, 1600},
  };
  for (const auto& [outcome, waited] : rows) {
    CAPTURE(outcome_name(outcome));
    c.outcome = outcome;
    CHECK(c.queued_ns() == waited);
  }
  c.outcome = Outcome::Reset;
  c.rst_ns = 900;  // out of order: not a wrapped number
  CHECK(c.queued_ns() == 0);
  c.established = false;
  c.outcome = Outcome::Pending;
  CHECK(c.queued_ns() == 0);
}

TEST_CASE("step kinds and borrowed roles have stable names", "[tracker]") {
  using K = StepKind;
  const std::pair<K, const char*> kinds[] = {
      {K::ListenerClosed, "listener_closed"},
      {K::ChildState, "child_state"},
      {K::ClientState, "client_state"},
      {K::SynRecv, "syn_recv"},
      {K::Established, "established"},
      {K::SynackRetransmit, "synack_retransmit"},
      {K::ConnectEnter, "connect_enter"},
      {K::ConnectExit, "connect_exit"},
      {K::AcceptEnter, "accept_enter"},
      {K::AcceptExit, "accept_exit"},
      {K::Dequeued, "dequeued"},
      {K::Packet, "packet"},
  };
  for (const auto& [k, name] : kinds) CHECK(step_kind_name(k) == name);
  CHECK(borrowed_role_name(BorrowedRole::IdleTask) == "idle_task");
  CHECK(borrowed_role_name(BorrowedRole::Client) == "client");
  CHECK(borrowed_role_name(BorrowedRole::SoftirqThread) == "ksoftirqd");
  CHECK(borrowed_role_name(BorrowedRole::ListenerOwner) == "listener_owner");
  CHECK(borrowed_role_name(BorrowedRole::Other) == "other");
}

TEST_CASE("a SYN-ACK retransmission is a step with the listener's queue", "[tracker]") {
  Harness h;
  h.add(listen_ev(kT0));
  h.add(syn_rx(kT0 + 1000, 50000));
  h.add(base(SK_K_SYNACK_RETRANS, kT0 + 1'000'000)
            .pid(0)
            .comm("swapper/0")
            .ctx(SK_CTX_SOFTIRQ)
            .v4("127.0.0.1", 10000, "127.0.0.1", 50000)
            .queue(3, 128)
            .event());
  h.end();
  REQUIRE(h.connections.size() == 1);
  const Connection& c = h.connections[0];
  CHECK(c.synack_retransmits == 1);
  const Step& r = one_step(c, StepKind::SynackRetransmit);
  CHECK(r.ts_ns == kT0 + 1'000'000);
  CHECK(r.queue_len == 3);
  CHECK(r.queue_max == 128);
  CHECK(r.task == Task{0, "swapper/0"});
  CHECK(r.lane == Lane::Kernel);
}

// ---- bounded tables: the least recently active entry goes ----

namespace {

Event listen_on(uint64_t ts, uint16_t port, uint64_t sock) {
  return base(SK_K_LISTEN, ts)
      .pid(kServerPid)
      .comm("server")
      .v4("127.0.0.1", port, "0.0.0.0", 0)
      .sock(sock)
      .states(7, 10)
      .backlog(128)
      .queue(0, 128)
      .event();
}
Event syn_to(uint64_t ts, uint16_t port, uint16_t cport, uint32_t netns = kNs) {
  return base(SK_PKT_TCP, ts)
      .netns(netns)
      .pid(kClientPid)
      .comm("client")
      .ctx(SK_CTX_SOFTIRQ)
      .dir(SK_DIR_RX)
      .flags(0x02)
      .v4("127.0.0.1", cport, "127.0.0.1", port)
      .queue(0, 128)
      .owner(0, 0, SK_LISTENER_FOUND)
      .event();
}
Event bind_on(uint64_t ts, uint16_t port, uint64_t sock, uint32_t pid) {
  return base(SK_K_BIND, ts).pid(pid).comm("server").v4("127.0.0.1", port, "0.0.0.0", 0).sock(sock).fd(3).event();
}
Event bind_fails(uint64_t ts, uint16_t port) {
  return base(SK_SYS_BIND, ts)
      .pid(300)
      .comm("late")
      .phase(SK_PHASE_EXIT)
      .fd(3)
      .ret(-EADDRINUSE)
      .v4("127.0.0.1", port, "0.0.0.0", 0)
      .sock(0x9000)
      .event();
}
Event accept_enter_on(uint64_t ts, uint16_t port, uint32_t pid) {
  return base(SK_SYS_ACCEPT, ts)
      .pid(pid)
      .tid(pid)
      .comm("server")
      .phase(SK_PHASE_ENTER)
      .fd(3)
      .v4("127.0.0.1", port, "0.0.0.0", 0)
      .sock(0x1000)
      .event();
}
Event accept_exit_on(uint64_t ts, uint16_t port, uint16_t cport, uint32_t pid) {
  return base(SK_SYS_ACCEPT, ts)
      .pid(pid)
      .tid(pid)
      .comm("server")
      .phase(SK_PHASE_EXIT)
      .fd(3)
      .ret(4)
      .v4("127.0.0.1", port, "127.0.0.1", cport)
      .sock(0x1000)
      .event();
}
Event syn_tx_from(uint64_t ts, uint16_t cport, uint32_t pid) {
  return base(SK_PKT_TCP, ts)
      .pid(pid)
      .comm("client")
      .ctx(SK_CTX_PROCESS)
      .dir(SK_DIR_TX)
      .flags(0x02)
      .v4("127.0.0.1", cport, "127.0.0.1", 10000)
      .event();
}
Event connect_enter_on(uint64_t ts, uint64_t sock, uint32_t pid) {
  return base(SK_SYS_CONNECT, ts)
      .pid(pid)
      .comm("client")
      .phase(SK_PHASE_ENTER)
      .fd(3)
      .v4("0.0.0.0", 0, "127.0.0.1", 10000)
      .sock(sock)
      .event();
}
Event connect_exit_on(uint64_t ts, uint64_t sock, uint16_t cport, uint32_t pid, uint32_t netns = kNs) {
  return base(SK_SYS_CONNECT, ts)
      .netns(netns)
      .pid(pid)
      .comm("client")
      .phase(SK_PHASE_EXIT)
      .fd(3)
      .ret(0)
      .v4("127.0.0.1", cport, "127.0.0.1", 10000)
      .sock(sock)
      .event();
}

std::optional<uint64_t> listener_sock(const Connection& c) {
  if (!c.listener) return std::nullopt;
  return c.listener->sock;
}

}  // namespace

TEST_CASE("a full listener table drops the least recently active listener, not the lowest port", "[tracker]") {
  TrackerConfig cfg;
  cfg.max_listeners = 2;
  Harness h(cfg);
  h.add(listen_on(kT0, 10000, 0x1000));
  h.add(listen_on(kT0 + 1000, 10001, 0x1001));
  h.add(syn_to(kT0 + 2000, 10000, 50000));      // a connection to 10000: active again
  h.add(listen_on(kT0 + 3000, 10002, 0x1002));  // full: 10001 goes
  CHECK(h.tracker().listeners() == 2);
  h.add(syn_to(kT0 + 4000, 10000, 50001));
  h.add(syn_to(kT0 + 5000, 10001, 50002));
  h.add(syn_to(kT0 + 6000, 10002, 50003));
  h.end();
  REQUIRE(h.connections.size() == 4);
  CHECK(listener_sock(by_client_port(h.connections, 50000)) == 0x1000u);
  CHECK(listener_sock(by_client_port(h.connections, 50001)) == 0x1000u);
  CHECK(listener_sock(by_client_port(h.connections, 50002)) == std::nullopt);
  CHECK(listener_sock(by_client_port(h.connections, 50003)) == 0x1002u);
}

TEST_CASE("a full table of bound ports drops the least recently active port, not the lowest", "[tracker]") {
  TrackerConfig cfg;
  cfg.max_listeners = 2;
  Harness h(cfg);
  h.add(bind_on(kT0, 10000, 0x1000, 101));
  h.add(bind_on(kT0 + 1000, 10001, 0x1001, 102));
  h.add(listen_on(kT0 + 2000, 10000, 0x1000));     // 10000 active again: it listens now
  h.add(bind_on(kT0 + 3000, 10002, 0x1002, 103));  // full: 10001 goes
  h.add(bind_fails(kT0 + 4000, 10000));
  h.add(bind_fails(kT0 + 5000, 10001));
  h.add(bind_fails(kT0 + 6000, 10002));
  REQUIRE(h.conflicts.size() == 3);
  REQUIRE(h.conflicts[0].holder.has_value());
  CHECK(*h.conflicts[0].holder == Task{101, "server"});
  CHECK(h.conflicts[0].holder_listening);
  CHECK(h.conflicts[0].holder_bound_ns == kT0);
  CHECK_FALSE(h.conflicts[1].holder.has_value());
  REQUIRE(h.conflicts[2].holder.has_value());
  CHECK(*h.conflicts[2].holder == Task{103, "server"});
  CHECK_FALSE(h.conflicts[2].holder_listening);
  CHECK(h.conflicts[2].holder_bound_ns == kT0 + 3000);
}

TEST_CASE("a full table of accept() waits drops the least recently begun wait, not the lowest thread", "[tracker]") {
  TrackerConfig cfg;
  cfg.max_listeners = 2;
  Harness h(cfg);
  h.add(accept_enter_on(kT0, 10000, 101));
  h.add(accept_enter_on(kT0 + 1000, 10001, 102));
  h.add(accept_enter_on(kT0 + 2000, 10000, 103));  // another thread waits on 10000; full: 101's wait goes
  h.add(accept_enter_on(kT0 + 3000, 10002, 104));  // full: 102's wait goes
  h.add(accept_exit_on(kT0 + 10'000, 10000, 50000, 103));
  h.add(accept_exit_on(kT0 + 11'000, 10001, 50001, 102));
  h.add(accept_exit_on(kT0 + 12'000, 10002, 50002, 104));
  h.end();
  REQUIRE(h.connections.size() == 3);
  const Connection& on0 = by_client_port(h.connections, 50000);
  const Connection& on1 = by_client_port(h.connections, 50001);
  const Connection& on2 = by_client_port(h.connections, 50002);
  for (const Connection* c : {&on0, &on1, &on2}) CHECK(c->outcome == Outcome::Accepted);
  // The wait, when known, is the story's first step: when it began and who waited.
  REQUIRE(on0.steps.size() == 2);
  CHECK(on0.steps[0].ts_ns == kT0 + 2000);
  CHECK(on0.steps[0].task == Task{103, "server"});
  REQUIRE(on1.steps.size() == 1);
  CHECK(on1.steps[0].ts_ns == kT0 + 11'000);
  REQUIRE(on2.steps.size() == 2);
  CHECK(on2.steps[0].ts_ns == kT0 + 3000);
  CHECK(on2.steps[0].task == Task{104, "server"});
}

TEST_CASE("a connection's first SYN opens its story, and a full table tells the least recently active, evicted",
          "[tracker]") {
  // The client's SYN opens the story in the client's namespace (there is no
  // separate table of clients seen): the bound on stories is the one bound.
  TrackerConfig cfg;
  cfg.max_connections = 2;
  Harness h(cfg);
  h.add(syn_tx_from(kT0, 50002, 201));  // connect()s whose server side is not seen yet
  h.add(syn_tx_from(kT0 + 1000, 50001, 202));
  h.add(syn_tx_from(kT0 + 2000, 50000, 203));  // full: 50002's client-only story is told
  REQUIRE(h.connections.size() == 1);
  const Connection first = h.connections[0];
  CHECK(first.client.port == 50002);
  CHECK(first.outcome == Outcome::Evicted);
  CHECK(first.side() == Side::Client);
  CHECK(first.client_task == Task{201, "client"});
  h.add(syn_rx(kT0 + 3000, 50000));  // the server side joins the client's story
  h.add(syn_rx(kT0 + 4000, 50001));
  h.add(syn_rx(kT0 + 5000, 50002));  // full: 50000's, the least recently active, is told
  REQUIRE(h.connections.size() == 2);
  const Connection second = h.connections[1];
  CHECK(second.client.port == 50000);
  CHECK(second.outcome == Outcome::Evicted);
  CHECK(second.side() == Side::Both);
  CHECK(second.client_task == Task{203, "client"});
  h.end();
  REQUIRE(h.connections.size() == 4);
  const Connection& joined = h.connections[2];
  CHECK(joined.client.port == 50001);
  CHECK(joined.side() == Side::Both);
  CHECK(joined.client_task == Task{202, "client"});
  CHECK(joined.client_side.syn_tx_ns == kT0 + 1000);
  // The client host's SYN gave way to the server host's.
  REQUIRE(joined.steps.size() == 1);
  CHECK(joined.steps[0].ts_ns == kT0 + 4000);
  const Connection& late = h.connections[3];
  CHECK(late.client.port == 50002);
  CHECK(late.side() == Side::Server);
  CHECK(late.client_task == std::nullopt);
}

TEST_CASE("a full table of connect()s in progress drops the one begun longest ago", "[tracker]") {
  TrackerConfig cfg;
  cfg.max_connections = 2;
  Harness h(cfg);
  h.add(connect_enter_on(kT0, 0x2001, 201));
  h.add(connect_enter_on(kT0 + 1000, 0x2002, 202));
  h.add(connect_enter_on(kT0 + 2000, 0x2003, 203));  // full: 0x2001's goes
  h.add(syn_rx(kT0 + 3000, 50001));
  h.add(connect_exit_on(kT0 + 4000, 0x2001, 50001, 201));
  h.add(syn_rx(kT0 + 5000, 50002));
  h.add(connect_exit_on(kT0 + 6000, 0x2002, 50002, 202));
  h.add(syn_rx(kT0 + 7000, 50003));  // full: 50001's story is told, evicted
  h.add(connect_exit_on(kT0 + 8000, 0x2003, 50003, 203));
  h.end();
  REQUIRE(h.connections.size() == 3);
  const Connection& first = by_client_port(h.connections, 50001);
  CHECK(first.outcome == Outcome::Evicted);
  CHECK(first.connect_ret == 0);
  // SYN, connect() = 0: when connect() began is no longer known.
  REQUIRE(first.steps.size() == 2);
  CHECK(first.steps[0].ts_ns == kT0 + 3000);
  for (uint16_t port : {50002, 50003}) {
    const Connection& c = by_client_port(h.connections, port);
    CAPTURE(port);
    REQUIRE(c.steps.size() == 3);  // connect() begins, SYN, connect() = 0
    CHECK(c.steps[0].ts_ns == kT0 + (port == 50002 ? 1000 : 2000));
    CHECK(c.steps[0].lane == Lane::Client);
  }
}

TEST_CASE("beyond max_connections the least recently active undecided story goes, whatever its age", "[tracker]") {
  TrackerConfig cfg;
  cfg.max_connections = 2;
  Harness h(cfg);
  h.add(syn_rx(kT0, 50000));
  h.add(syn_rx(kT0 + 1000, 50001));
  h.add(data_rx(kT0 + 2000, 50000));  // the older story is active again
  h.add(syn_rx(kT0 + 3000, 50002));   // full: 50001 goes
  REQUIRE(h.connections.size() == 1);
  CHECK(h.connections[0].client.port == 50001);
  CHECK(h.connections[0].outcome == Outcome::Evicted);
  CHECK(h.tracker().stats().evicted == 1);
  h.end();
  REQUIRE(h.connections.size() == 3);
  CHECK(h.told_by_finish == 2);
  CHECK(h.tracker().stats().evicted == 1);
}

TEST_CASE("beyond max_connections decided stories go in the order they were decided", "[tracker]") {
  TrackerConfig cfg;
  cfg.max_connections = 2;
  Harness h(cfg);
  h.add(listen_ev(kT0));
  for (uint16_t port : {50000, 50001}) {
    const uint64_t t = kT0 + (port - 50000) * 10'000;
    h.add(syn_rx(t + 1000, port));
    h.add(established(t + 2000, port));
    h.add(accept_exit(t + 3000, port));
  }
  h.add(data_rx(kT0 + 20'000, 50000));  // a late record joins the first, in its linger
  h.add(syn_rx(kT0 + 30'000, 50002));   // full: the first decided goes, though the second was quiet longer
  REQUIRE(h.connections.size() == 1);
  const Connection& first = h.connections[0];
  CHECK(first.client.port == 50000);
  CHECK(first.outcome == Outcome::Accepted);
  CHECK(first.last_ns == kT0 + 20'000);
  CHECK(first.steps.back().ts_ns == kT0 + 20'000);
  CHECK(h.tracker().stats().evicted == 0);
  h.end();
  REQUIRE(h.connections.size() == 3);
  CHECK(h.connections[1].client.port == 50001);  // its linger over
  CHECK(h.connections[1].outcome == Outcome::Accepted);
  CHECK(h.connections[2].client.port == 50002);
  CHECK(h.connections[2].outcome == Outcome::Pending);
  CHECK(h.told_by_finish == 1);
}

TEST_CASE("finish tells the open stories least recently active first", "[tracker]") {
  Harness h;
  h.add(syn_rx(kT0, 50000));
  h.add(syn_rx(kT0 + 1000, 50001));
  h.add(data_rx(kT0 + 2000, 50000));
  h.add(syn_rx(kT0 + 3000, 49999));
  h.end();
  REQUIRE(h.connections.size() == 3);
  CHECK(h.told_by_finish == 3);
  std::vector<uint16_t> order;
  for (const Connection& c : h.connections) order.push_back(c.client.port);
  CHECK(order == std::vector<uint16_t>{50001, 50000, 49999});
}

TEST_CASE("a flow's namespaces: a client record from another one finds the only open story, or none", "[tracker]") {
  constexpr uint32_t kNs2 = kNs + 1, kClientNs = kNs + 2;
  Harness h;
  // The flow's first story, in kNs, is told: its namespace is forgotten.
  h.add(syn_to(kT0, 10000, 50000, kNs));
  h.add(rst_tx(kT0 + 1000, 50000));
  h.advance_to(kT0 + 1000 + TrackerConfig{}.linger_ns);
  REQUIRE(h.connections.size() == 1);
  CHECK(h.connections[0].outcome == Outcome::Refused);
  // The same addresses in kNs2: a client across a veth pair finds it.
  h.add(syn_to(kT0 + 300'000'000, 10000, 50000, kNs2));
  h.add(connect_exit_on(kT0 + 300'001'000, 0x2000, 50000, kClientPid, kClientNs));
  // Two open at once, neither claimed by a client yet: a client record from
  // a third namespace could be either's, and joins neither.
  h.add(syn_to(kT0 + 300'002'000, 10000, 50001, kNs));
  h.add(syn_to(kT0 + 300'003'000, 10000, 50001, kNs2));
  h.add(connect_exit_on(kT0 + 300'004'000, 0x2001, 50001, kClientPid, kClientNs));
  h.end();
  REQUIRE(h.connections.size() == 4);
  const Connection& second = h.connections[1];
  CHECK(second.netns == kNs2);
  CHECK(second.client.port == 50000);
  CHECK(second.client_netns == kClientNs);
  CHECK(second.connect_ret == 0);
  CHECK(second.client_task == Task{kClientPid, "client"});
  for (std::size_t i : {2u, 3u}) {
    CAPTURE(i);
    CHECK(h.connections[i].client.port == 50001);
    CHECK_FALSE(h.connections[i].connect_ret.has_value());
    CHECK_FALSE(h.connections[i].client_task.has_value());
  }
}

TEST_CASE("tracker: stories open when records were lost, or begun from records before the loss was seen, say so",
          "[tracker][lost]") {
  Harness h;
  h.add(listen_ev(1'000));
  h.add(syn_rx(2'000, 40001));
  h.tracker().records_lost(0, 2'500);  // nothing lost yet: nothing marked
  h.tracker().records_lost(3, 3'000);  // three records lost, seen at 3,000 ns
  h.add(syn_rx(2'900, 40002));         // its first record is older than that
  h.add(syn_rx(3'100, 40003));         // newer
  h.tracker().records_lost(3, 3'200);  // the same count: nothing new
  h.end();
  REQUIRE(h.connections.size() == 3);
  CHECK(by_client_port(h.connections, 40001).records_lost);
  CHECK(by_client_port(h.connections, 40002).records_lost);
  CHECK_FALSE(by_client_port(h.connections, 40003).records_lost);
}
