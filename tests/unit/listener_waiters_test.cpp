// Who waited on a listener when the kernel queued a connection, which of a
// port's listeners it was queued on, and who took it off the queue (a task
// in accept()/accept4(), blocking or not, or io_uring): the tracker's facts
// and the words render/ makes of them, each written out whole.
#include <sys/syscall.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "fixed_clock.hpp"
#include "probes/holders.hpp"
#include "render/explain_json_renderer.hpp"
#include "render/json_renderer.hpp"
#include "render/ladder_renderer.hpp"
#include "render/mermaid_renderer.hpp"
#include "render/story_words.hpp"
#include "render/text_renderer.hpp"
#include "track/story.hpp"
#include "tracker_harness.hpp"

using nlohmann::json;
using sockscope::render::step_text;
using sockscope::render::verdict;
using sockscope::test::by_client_port;
using sockscope::test::Harness;
using namespace sockscope::test::hand;
using namespace sockscope::track;

namespace {

constexpr uint64_t kLsk = 0xffff888000aa0000ULL, kLsk2 = 0xffff888000bb0000ULL;
constexpr uint32_t kIno = 5001, kIno2 = 5002;
constexpr uint64_t kEst = kT0 + 1'000'000;  // the child queued
constexpr uint64_t kUs = 1000;

const Connection& only(const Harness& h) {
  REQUIRE(h.connections.size() == 1);
  return h.connections[0];
}

std::vector<std::string> texts(const Connection& c) {
  std::vector<std::string> out;
  for (const Step& s : c.steps) out.push_back(step_text(s));
  return out;
}

// nginx: the master (100) listens; workers 123 and 124 wait in epoll on it;
// the kernel queues the child; 123 wakes and accept4()s it, nonblocking.
void nginx(Harness& h, uint64_t accept_after_ns = 400 * kUs) {
  h.add(listen_sock(kT0, kLsk, kIno, 100, "nginx"));
  h.add(established_on(kEst, 50000, kLsk, kIno, 100)
            .waiter(123, 123, SYS_epoll_pwait, SK_WAIT_EPOLL, "nginx")
            .waiter(124, 124, SYS_epoll_pwait, SK_WAIT_EPOLL, "nginx")
            .event());
  const uint64_t at = kEst + accept_after_ns;
  h.add(sys_accept(at - 20 * kUs, SK_PHASE_ENTER, 123, 123, "nginx", SYS_accept4).nonblocking().event());
  h.add(kernel_accept(at - 10 * kUs, 50000, kLsk, 123, 123, "nginx", SK_WAIT_TASK, -1));
  h.add(sys_accept(at, SK_PHASE_EXIT, 123, 123, "nginx", SYS_accept4, 50000, 7).nonblocking().event());
  h.end();
}

}  // namespace

// ---- the tracker ----

TEST_CASE("waiters: nginx's workers in epoll, one accept4()s: every fact", "[tracker][waiters]") {
  Harness h;
  nginx(h);
  const Connection& c = only(h);
  CHECK(c.outcome == Outcome::Accepted);
  REQUIRE(c.listener.has_value());
  CHECK(c.listener->owner == Task{100, "nginx"});
  CHECK(c.listener->sock == kLsk);
  CHECK(c.listener_ino == kIno);
  CHECK(c.listener_state == OwnerState::WaitingInEpoll);
  REQUIRE(c.waiters.has_value());
  REQUIRE(c.waiters->size() == 2);
  CHECK((*c.waiters)[0].task == Task{123, "nginx", 123});
  CHECK((*c.waiters)[1].task == Task{124, "nginx", 124});
  CHECK((*c.waiters)[0].how.via == sockscope::events::WaitVia::Epoll);
  CHECK((*c.waiters)[0].how.syscall == SYS_epoll_pwait);
  CHECK(c.waiters_complete);
  CHECK_FALSE(c.idle_epoll);
  CHECK(c.acceptor == Task{123, "nginx", 123});
  CHECK(c.accept_via == AcceptVia::Accept4);
  CHECK(c.accept_nonblocking);
  CHECK(c.accept_fd == 7);
  CHECK(c.listener_pids == std::vector<uint32_t>{100, 123, 124});
  CHECK(c.accept_delay_ns() == 400 * kUs);
  // A nonblocking accept4() does not wait: it returns at once.
  CHECK(texts(c) == std::vector<std::string>{"ESTABLISHED: child queued (1 of 511)",
                                             "accept4() (nonblocking): returns at once",
                                             "dequeued (0 left), 0 bytes waiting", "accept4() (nonblocking) = 7"});
  CHECK(c.steps[1].kind == StepKind::AcceptEnter);
  CHECK(c.steps[1].nonblocking);
  CHECK(c.steps[1].accept_via == AcceptVia::Accept4);
  CHECK(c.steps[3].kind == StepKind::AcceptExit);
  CHECK(c.steps[3].nonblocking);
  CHECK(c.steps[3].ret == 7);
}

TEST_CASE("waiters decide listener_state: accept first, then epoll, poll/select, io_uring, else the owner's state",
          "[tracker][waiters]") {
  using sockscope::test::RawEvent;
  struct Row {
    const char* name;
    std::function<void(RawEvent&)> waiters;
    uint32_t owner_state;
    std::optional<OwnerState> want;
  };
  const std::vector<Row> rows = {
      {"accept4 beats epoll",
       [](RawEvent& r) {
         r.waiter(130, 130, SYS_epoll_pwait, SK_WAIT_EPOLL, "mixed")
             .waiter(131, 132, SYS_accept4, SK_WAIT_TASK, "mixed");
       },
       SK_TASK_INTERRUPTIBLE, OwnerState::BlockedInAccept},
      {"accept", [](RawEvent& r) { r.waiter(100, 101, SYS_accept, SK_WAIT_TASK, "server"); }, SK_TASK_INTERRUPTIBLE,
       OwnerState::BlockedInAccept},
      {"epoll beats poll",
       [](RawEvent& r) {
         r.waiter(140, 140, SYS_ppoll, SK_WAIT_POLL, "a").waiter(141, 141, SYS_epoll_pwait, SK_WAIT_EPOLL, "b");
       },
       SK_TASK_INTERRUPTIBLE, OwnerState::WaitingInEpoll},
      {"ppoll", [](RawEvent& r) { r.waiter(150, 150, SYS_ppoll, SK_WAIT_POLL, "poller"); }, SK_TASK_INTERRUPTIBLE,
       OwnerState::WaitingInPoll},
      {"pselect6", [](RawEvent& r) { r.waiter(151, 151, SYS_pselect6, SK_WAIT_POLL, "selector"); },
       SK_TASK_INTERRUPTIBLE, OwnerState::WaitingInPoll},
      {"io_uring", [](RawEvent& r) { r.waiter(160, 160, -1, SK_WAIT_IO_URING, "uring"); }, SK_TASK_INTERRUPTIBLE,
       OwnerState::WaitingInIoUring},
      // Nobody waited: the owner's own state, as before.
      {"nobody, owner stopped", [](RawEvent& r) { r.waiters_read(); }, 0x104, OwnerState::Stopped},
      {"nobody, owner running", [](RawEvent& r) { r.waiters_read(); }, SK_TASK_RUNNING, OwnerState::Running},
      // Only entries sockscope cannot name: the owner's state, and incomplete.
      {"unknown only", [](RawEvent& r) { r.waiters_read(SK_WAITERS_UNKNOWN, 1); }, SK_TASK_INTERRUPTIBLE,
       OwnerState::Sleeping},
      // Not read at all: the owner's state; waiters unknown.
      {"not read", [](RawEvent&) {}, SK_TASK_INTERRUPTIBLE, OwnerState::Sleeping},
  };
  for (const Row& row : rows) {
    INFO(row.name);
    Harness h;
    h.add(listen_sock(kT0, kLsk, kIno, 100, "server"));
    RawEvent r = established_on(kEst, 50000, kLsk, kIno, 100, row.owner_state);
    row.waiters(r);
    h.add(r.event());
    h.end();
    const Connection& c = only(h);
    CHECK(c.listener_state == *row.want);
    CHECK(c.waiters.has_value() == (std::string(row.name) != "not read"));
    CHECK(c.waiters_complete == (c.waiters.has_value() && std::string(row.name) != "unknown only"));
  }
}

TEST_CASE("waiters: truncated and idle epoll are kept, and listener_pids merges the holders hook",
          "[tracker][waiters]") {
  TrackerConfig cfg;
  std::map<uint32_t, int> asked;
  cfg.holders = [&](uint32_t ino) {
    ++asked[ino];
    return ino == kIno ? std::vector<uint32_t>{555, 100} : std::vector<uint32_t>{};
  };
  Harness h(cfg);
  h.add(listen_sock(kT0, kLsk, kIno, 100, "server"));
  REQUIRE(h.listeners.size() == 1);
  CHECK(h.listeners[0].pids == std::vector<uint32_t>{100, 555});
  CHECK(h.listeners[0].ino == kIno);
  h.add(established_on(kEst, 50000, kLsk, kIno, 100)
            .waiter(200, 201, SYS_accept, SK_WAIT_TASK, "pool")
            .waiters_read(SK_WAITERS_TRUNCATED | SK_WAITERS_IDLE_EPOLL, 40)
            .event());
  h.end();
  const Connection& c = only(h);
  CHECK_FALSE(c.waiters_complete);
  CHECK(c.idle_epoll);
  REQUIRE(c.waiters->size() == 1);
  // The owner, the waiter, the hook's holders; nobody accepted.
  CHECK(c.listener_pids == std::vector<uint32_t>{100, 200, 555});
  // Asked when it listened, when the connection was queued (a short-lived
  // holder may be gone by the time the story is told), and when told.
  CHECK(asked == std::map<uint32_t, int>{{kIno, 3}});
}

TEST_CASE("two listeners on one port: the connection's lsk chooses, the port only when lsk is 0 or unknown",
          "[tracker][reuseport]") {
  Harness h;
  // A SO_REUSEPORT group (or nginx's 0.0.0.0:P and [::]:P): two sockets, one port.
  h.add(listen_sock(kT0, kLsk, kIno, 101, "worker1"));
  h.add(listen_sock(kT0 + 1, kLsk2, kIno2, 102, "worker2"));  // the latest on the port
  h.add(established_on(kEst, 50000, kLsk, kIno, 101).event());
  h.add(established_on(kEst + 1, 50001, 0, 0, 102).event());              // names no listener: the port's latest
  h.add(established_on(kEst + 2, 50002, 0xdead0000, 7777, 103).event());  // one begun before tracing: the port's
  // worker2's listener closes: only what was queued on it is reset.
  h.add(base(SK_K_STATE, kEst + 10).v4("127.0.0.1", 10000, "0.0.0.0", 0).sock(kLsk2).states(10, 7).event());
  h.end();
  REQUIRE(h.connections.size() == 3);
  const Connection& on1 = by_client_port(h.connections, 50000);
  REQUIRE(on1.listener.has_value());
  CHECK(on1.listener->sock == kLsk);
  CHECK(on1.listener->owner == Task{101, "worker1"});
  CHECK(on1.listener_ino == kIno);
  CHECK(on1.listener_pids == std::vector<uint32_t>{101});
  CHECK(on1.outcome == Outcome::Pending);  // still queued on worker1's listener
  const Connection& on2 = by_client_port(h.connections, 50001);
  CHECK(on2.listener->sock == kLsk2);
  CHECK(on2.listener_ino == kIno2);
  CHECK(on2.outcome == Outcome::ListenerClosed);
  const Connection& unknown = by_client_port(h.connections, 50002);
  CHECK(unknown.listener->sock == kLsk2);      // the port's fallback...
  CHECK(unknown.listener_ino == 7777);         // ...but the record's own inode
  CHECK(unknown.outcome == Outcome::Pending);  // queued on a listener that did not close
}

TEST_CASE("a listener begun before tracing: the child's records still name its inode, for its holders",
          "[tracker][holders]") {
  TrackerConfig cfg;
  cfg.holders = [](uint32_t ino) { return ino == kIno ? std::vector<uint32_t>{400, 401} : std::vector<uint32_t>{}; };
  Harness h(cfg);
  // Neither listen() nor an established record with the inode: the dequeue names it.
  h.add(base(SK_K_ACCEPT, kEst)
            .pid(401)
            .tid(401)
            .comm("worker")
            .v4("127.0.0.1", 10000, "127.0.0.1", 50000)
            .lsk(kLsk)
            .sock_ino(kIno)
            .fd(-1)
            .via(SK_WAIT_TASK)
            .event());
  h.end();
  const Connection& c = only(h);
  CHECK(c.listener_ino == kIno);
  CHECK(c.listener_pids == std::vector<uint32_t>{400, 401});
}

TEST_CASE("io_uring accepts with no syscall: the ring's task accepted it, via io_uring", "[tracker][io_uring]") {
  Harness h;
  h.add(listen_sock(kT0, kLsk, kIno, 300, "uring"));
  h.add(established_on(kEst, 50000, kLsk, kIno, 300).waiter(300, 301, -1, SK_WAIT_IO_URING, "uring").event());
  h.add(kernel_accept(kEst + 50 * kUs, 50000, kLsk, 300, 301, "uring", SK_WAIT_IO_URING, 9));
  h.end();
  const Connection& c = only(h);
  CHECK(c.outcome == Outcome::Accepted);
  CHECK(c.acceptor == Task{300, "uring", 301});
  CHECK(c.accept_via == AcceptVia::IoUring);
  CHECK(c.accept_fd == 9);
  CHECK_FALSE(c.accept_nonblocking);
  CHECK(c.listener_state == OwnerState::WaitingInIoUring);
  CHECK(c.listener_pids == std::vector<uint32_t>{300});
  CHECK(texts(c) ==
        std::vector<std::string>{"ESTABLISHED: child queued (1 of 511)", "dequeued (0 left), 0 bytes waiting"});
}

TEST_CASE("accept waits are per thread: an EAGAIN pair and another thread's wait do not move the accept's start",
          "[tracker][accept]") {
  Harness h;
  h.add(listen_sock(kT0, kLsk, kIno, 100, "server"));
  // Thread 101's nonblocking accept4() finds nothing: EAGAIN, no connection.
  h.add(sys_accept(kT0 + 10 * kUs, SK_PHASE_ENTER, 100, 101, "server", SYS_accept4).nonblocking().event());
  h.add(sys_accept(kT0 + 11 * kUs, SK_PHASE_EXIT, 100, 101, "server", SYS_accept4, 0, -EAGAIN).nonblocking().event());
  // Thread 102 blocks in accept() and stays there.
  h.add(sys_accept(kT0 + 20 * kUs, SK_PHASE_ENTER, 100, 102, "server", SYS_accept).event());
  h.add(established_on(kEst, 50000, kLsk, kIno, 100).waiter(100, 102, SYS_accept, SK_WAIT_TASK, "server").event());
  // Thread 101 tries again (epoll told it), and takes it.
  h.add(sys_accept(kEst + 30 * kUs, SK_PHASE_ENTER, 100, 101, "server", SYS_accept4).nonblocking().event());
  h.add(sys_accept(kEst + 31 * kUs, SK_PHASE_EXIT, 100, 101, "server", SYS_accept4, 50000, 8).nonblocking().event());
  h.end();
  const Connection& c = only(h);  // the EAGAIN made no story
  REQUIRE(c.steps.size() == 3);
  CHECK(c.steps[1].kind == StepKind::AcceptEnter);
  CHECK(c.steps[1].ts_ns == kEst + 30 * kUs);
  CHECK(c.steps[1].task == Task{100, "server"});
  CHECK(c.acceptor == Task{100, "server", 101});
  CHECK(texts(c) == std::vector<std::string>{"ESTABLISHED: child queued (1 of 511)",
                                             "accept4() (nonblocking): returns at once",
                                             "accept4() (nonblocking) = 8"});
  // Thread 102 was the waiter; 101 took it.
  CHECK(c.listener_state == OwnerState::BlockedInAccept);
}

TEST_CASE("a blocking accept() is drawn as a wait, named by its call", "[tracker][accept]") {
  Harness h;
  h.add(listen_sock(kT0, kLsk, kIno, 100, "server"));
  h.add(sys_accept(kT0 + 10 * kUs, SK_PHASE_ENTER, 100, 100, "server", SYS_accept).event());
  h.add(established_on(kEst, 50000, kLsk, kIno, 100).waiter(100, 100, SYS_accept, SK_WAIT_TASK, "server").event());
  h.add(sys_accept(kEst + 5 * kUs, SK_PHASE_EXIT, 100, 100, "server", SYS_accept, 50000, 4).event());
  h.end();
  const Connection& c = only(h);
  CHECK(c.accept_via == AcceptVia::Accept);
  CHECK_FALSE(c.accept_nonblocking);
  CHECK(texts(c) ==
        std::vector<std::string>{"accept() begins", "ESTABLISHED: child queued (1 of 511)", "accept() = 4"});
}

// ---- the words ----

namespace {

// The verdict after its first sentence (the kernel's part, tested elsewhere).
std::string after_queued(const std::string& v) {
  const std::string mark = "queued the connection for accept(). ";
  const auto at = v.find(mark);
  REQUIRE(at != std::string::npos);
  return v.substr(at + mark.size());
}

Connection story(const std::function<void(Harness&)>& run) {
  Harness h;
  run(h);
  return only(h);
}

}  // namespace

TEST_CASE("words: nginx's workers in epoll_wait, the one woken accept4()s it", "[words][waiters]") {
  Harness h;
  nginx(h);
  CHECK(after_queued(verdict(only(h))) ==
        "nginx workers 123 and 124 were waiting in epoll_pwait() on the listener; the kernel's wakeup led 123 to "
        "accept4() it 400 us later. The connection waited in the accept queue (1 of 511) for 400 us, until a "
        "nonblocking accept4() in nginx (pid 123) returned it as fd 7.");
}

TEST_CASE("words: each way of waiting, one waiter or several", "[words][waiters]") {
  using sockscope::test::RawEvent;
  const auto run = [](std::function<void(RawEvent&)> waiters, uint32_t acc_pid, uint32_t acc_tid, int32_t nr) {
    return story([&](Harness& h) {
      h.add(listen_sock(kT0, kLsk, kIno, 100, "server"));
      RawEvent r = established_on(kEst, 50000, kLsk, kIno, 100);
      waiters(r);
      h.add(r.event());
      if (acc_pid) h.add(sys_accept(kEst + 25 * kUs, SK_PHASE_EXIT, acc_pid, acc_tid, "server", nr, 50000, 4).event());
      h.end();
    });
  };
  SECTION("a single thread blocked in accept()") {
    const Connection c =
        run([](RawEvent& r) { r.waiter(100, 100, SYS_accept, SK_WAIT_TASK, "server"); }, 100, 100, SYS_accept);
    CHECK(after_queued(verdict(c)) ==
          "server (pid 100) was blocked in accept() on the listener; the kernel's wakeup led it to accept() the "
          "connection 25 us later. The connection waited in the accept queue (1 of 511) for 25 us, until accept() in "
          "server (pid 100) returned it as fd 4.");
  }
  SECTION("a thread pool blocked in accept(): threads of one process") {
    const Connection c = run(
        [](RawEvent& r) {
          r.waiter(100, 101, SYS_accept, SK_WAIT_TASK, "server").waiter(100, 102, SYS_accept, SK_WAIT_TASK, "server");
        },
        100, 102, SYS_accept);
    CHECK(after_queued(verdict(c)) ==
          "server threads 101 and 102 of pid 100 were blocked in accept() on the listener; the kernel's wakeup led "
          "thread 102 to accept() it 25 us later. The connection waited in the accept queue (1 of 511) for 25 us, "
          "until accept() in server (pid 100) returned it as fd 4.");
  }
  SECTION("poll and select, different programs") {
    const Connection c = run(
        [](RawEvent& r) {
          r.waiter(150, 150, SYS_ppoll, SK_WAIT_POLL, "poller")
              .waiter(151, 151, SYS_pselect6, SK_WAIT_POLL, "selector");
        },
        0, 0, 0);
    CHECK(after_queued(verdict(c)) ==
          "poller (pid 150) was waiting in ppoll() on the listener and selector (pid 151) was waiting in pselect6() "
          "on the listener. It has waited in the accept queue (1 of 511) for 200.00 ms, not yet accepted.");
  }
  SECTION("an acceptor that was not among the waiters") {
    const Connection c = run(
        [](RawEvent& r) {
          r.waiter(123, 123, SYS_epoll_pwait, SK_WAIT_EPOLL, "nginx")
              .waiter(124, 124, SYS_epoll_pwait, SK_WAIT_EPOLL, "nginx");
        },
        125, 125, SYS_accept4);
    CHECK(after_queued(verdict(c)) ==
          "nginx workers 123 and 124 were waiting in epoll_pwait() on the listener; accept4() in server (pid 125), "
          "not among them, took it 25 us later. The connection waited in the accept queue (1 of 511) for 25 us, "
          "until accept4() in server (pid 125) returned it as fd 4.");
  }
  SECTION("nobody waiting: the owner's state, incomplete, an idle epoll") {
    const Connection c =
        run([](RawEvent& r) { r.waiters_read(SK_WAITERS_UNKNOWN | SK_WAITERS_IDLE_EPOLL, 2); }, 100, 100, SYS_accept4);
    CHECK(after_queued(verdict(c)) ==
          "Nobody was waiting on the listener. The listening process, server (pid 100), was asleep elsewhere, not "
          "in accept() on this socket. The list is incomplete: the listener had more waiters than sockscope reads, "
          "or some it cannot name. An epoll instance watched the listener too, with nobody in epoll_wait() on it. "
          "The connection waited in the accept queue (1 of 511) for 25 us, until accept4() in server (pid 100) "
          "returned it as fd 4.");
  }
  SECTION("not read: the owner's state alone, as before") {
    const Connection c = run([](RawEvent&) {}, 100, 100, SYS_accept);
    CHECK(after_queued(verdict(c)) ==
          "The listening process, server (pid 100), was asleep elsewhere, not in accept() on this socket. The "
          "connection waited in the accept queue (1 of 511) for 25 us, until accept() in server (pid 100) returned "
          "it as fd 4.");
  }
}

TEST_CASE("words: io_uring, with and without the CQE's fd", "[words][io_uring]") {
  for (int32_t fd : {9, -1}) {
    INFO(fd);
    const Connection c = story([&](Harness& h) {
      h.add(listen_sock(kT0, kLsk, kIno, 300, "uring"));
      h.add(established_on(kEst, 50000, kLsk, kIno, 300).waiter(300, 301, -1, SK_WAIT_IO_URING, "uring").event());
      h.add(kernel_accept(kEst + 50 * kUs, 50000, kLsk, 300, 301, "uring", SK_WAIT_IO_URING, fd));
      h.end();
    });
    CHECK(after_queued(verdict(c)) ==
          "uring (pid 300, thread 301) was waiting on the listener via io_uring; the kernel's wakeup led it to take "
          "the connection via io_uring 50 us later. The connection waited in the accept queue (1 of 511) for 50 us, "
          "until uring (pid 300) took it via io_uring" +
              std::string(fd >= 0 ? " as fd 9." : "."));
  }
}

// ---- the renderers ----

TEST_CASE("explain json: nginx's connection, the new fields exactly", "[explain][json][waiters]") {
  TrackerConfig cfg;
  cfg.holders = [](uint32_t) { return std::vector<uint32_t>{100, 123, 124}; };
  Harness h(cfg);
  nginx(h);
  std::ostringstream os;
  sockscope::render::ExplainJsonRenderer r(os, sockscope::test::kFixedClock);
  r.connection(only(h));
  r.flush();
  const json j = json::parse(os.str());
  CHECK(j.at("listener_state") == "waiting_in_epoll");
  CHECK(j.at("waiters") == json::array({
                               {{"pid", 123}, {"tid", 123}, {"comm", "nginx"}, {"how", "epoll_pwait"}},
                               {{"pid", 124}, {"tid", 124}, {"comm", "nginx"}, {"how", "epoll_pwait"}},
                           }));
  CHECK(j.at("waiters_complete") == true);
  CHECK(j.at("idle_epoll") == false);
  CHECK(j.at("accept_pid") == 123);
  CHECK(j.at("accept_tid") == 123);
  CHECK(j.at("accept_comm") == "nginx");
  CHECK(j.at("accept_via") == "accept4");
  CHECK(j.at("accept_nonblocking") == true);
  CHECK(j.at("accept_fd") == 7);
  CHECK(j.at("listener_pid") == 100);
  CHECK(j.at("listener_pids") == json::array({100, 123, 124}));
  CHECK(j.at("listener_ino") == kIno);
  const json& steps = j.at("steps");
  REQUIRE(steps.size() == 4);
  CHECK(steps[1].at("kind") == "accept_enter");
  CHECK(steps[1].at("nonblocking") == true);
  CHECK(steps[1].at("text") == "accept4() (nonblocking): returns at once");
  CHECK(steps[3].at("kind") == "accept_exit");
  CHECK(steps[3].at("nonblocking") == true);
  CHECK(steps[3].at("text") == "accept4() (nonblocking) = 7");
}

TEST_CASE("explain json: io_uring's unknown fd is null, and the listen record has its inode and holders",
          "[explain][json][io_uring]") {
  TrackerConfig cfg;
  cfg.holders = [](uint32_t) { return std::vector<uint32_t>{300, 310}; };
  Harness h(cfg);
  h.add(listen_sock(kT0, kLsk, kIno, 300, "uring"));
  h.add(established_on(kEst, 50000, kLsk, kIno, 300).waiter(300, 301, -1, SK_WAIT_IO_URING, "uring").event());
  h.add(kernel_accept(kEst + 50 * kUs, 50000, kLsk, 300, 301, "uring", SK_WAIT_IO_URING, -1));
  h.end();
  std::ostringstream os;
  sockscope::render::ExplainJsonRenderer r(os, sockscope::test::kFixedClock);
  r.listener(h.listeners.at(0));
  r.connection(only(h));
  r.flush();
  std::istringstream lines(os.str());
  std::string line;
  REQUIRE(std::getline(lines, line));
  const json l = json::parse(line);
  CHECK(l.at("ino") == kIno);
  CHECK(l.at("listener_pids") == json::array({300, 310}));
  REQUIRE(std::getline(lines, line));
  const json c = json::parse(line);
  CHECK(c.at("listener_state") == "waiting_in_io_uring");
  CHECK(c.at("waiters") == json::array({{{"pid", 300}, {"tid", 301}, {"comm", "uring"}, {"how", "io_uring"}}}));
  CHECK(c.at("accept_via") == "io_uring");
  CHECK(c.at("accept_fd").is_null());
  CHECK(c.at("accept_pid") == 300);
  CHECK(c.at("accept_tid") == 301);
  CHECK(c.at("accept_nonblocking") == false);
}

TEST_CASE("ladder: the server column is the accepting process, not the listen() caller", "[explain][ladder]") {
  Harness h;
  nginx(h);
  std::ostringstream os;
  sockscope::render::LadderRenderer(os).connection(only(h));
  std::istringstream lines(os.str());
  std::string first, header;
  std::getline(lines, first);
  std::getline(lines, header);
  CHECK(header == "       time  " + std::string("client").append(24, ' ') +
                      std::string("kernel (server host)").append(36, ' ') + "server pid 123 nginx");
}

TEST_CASE("trace: an established record's waiters, in JSON and text, and a nonblocking accept", "[trace][waiters]") {
  const auto est = established_on(kEst, 50000, kLsk, kIno, 100)
                       .tid(200)
                       .waiter(123, 123, SYS_epoll_pwait, SK_WAIT_EPOLL, "nginx")
                       .waiter(124, 124, SYS_epoll_pwait, SK_WAIT_EPOLL, "nginx")
                       .event();
  std::ostringstream js;
  sockscope::render::JsonRenderer jr(js, sockscope::test::kFixedClock);
  jr.event(est);
  jr.flush();
  const json j = json::parse(js.str());
  CHECK(j.at("waiters") == json::array({
                               {{"pid", 123}, {"tid", 123}, {"comm", "nginx"}, {"how", "epoll_pwait"}},
                               {{"pid", 124}, {"tid", 124}, {"comm", "nginx"}, {"how", "epoll_pwait"}},
                           }));
  CHECK(j.at("waiters_complete") == true);
  // Not read: no such keys (older records, backends that cannot).
  std::ostringstream js2;
  sockscope::render::JsonRenderer jr2(js2, sockscope::test::kFixedClock);
  jr2.event(established_on(kEst, 50000, kLsk, kIno, 100).event());
  jr2.flush();
  CHECK_FALSE(json::parse(js2.str()).contains("waiters"));

  using sockscope::render::TextRenderer;
  CHECK(TextRenderer::details(est) ==
        "127.0.0.1:10000 <- 127.0.0.1:50000 final ACK in: child ESTABLISHED and queued, queue 1/511; listener pid 100 "
        "sleeping; waiting: nginx/123 epoll_pwait, nginx/124 epoll_pwait");
  CHECK(TextRenderer::details(established_on(kEst, 50000, kLsk, kIno, 100)
                                  .waiters_read(SK_WAITERS_TRUNCATED | SK_WAITERS_IDLE_EPOLL)
                                  .event()) ==
        "127.0.0.1:10000 <- 127.0.0.1:50000 final ACK in: child ESTABLISHED and queued, queue 1/511; listener pid 100 "
        "sleeping; waiting: nobody (incomplete); an idle epoll watches it");
  CHECK(TextRenderer::details(sys_accept(kEst, SK_PHASE_ENTER, 123, 123, "nginx", SYS_accept4).nonblocking().event()) ==
        "fd=6 on 127.0.0.1:10000 nonblocking");
  CHECK(TextRenderer::details(sys_accept(kEst, SK_PHASE_ENTER, 123, 123, "nginx", SYS_accept4).event()) ==
        "fd=6 on 127.0.0.1:10000 waiting ...");
  CHECK(TextRenderer::details(
            sys_accept(kEst, SK_PHASE_EXIT, 123, 123, "nginx", SYS_accept4, 0, -EAGAIN).nonblocking().event()) ==
        "fd=6 on 127.0.0.1:10000 nonblocking = -11 EAGAIN");
}

TEST_CASE("mermaid: the server participant is the accepting process", "[explain][mermaid]") {
  Harness h;
  nginx(h);
  std::ostringstream os;
  sockscope::render::MermaidRenderer(os).connection(only(h));
  CHECK(os.str().find("participant S as server 127.0.0.1:10000 (pid 123 nginx)\n") != std::string::npos);
  CHECK(os.str().find("Note over S: +0.380 ms accept4() (nonblocking): returns at once\n") != std::string::npos);
}

TEST_CASE("holders: a fake /proc's socket links, by inode", "[holders]") {
  namespace fs = std::filesystem;
  const fs::path proc = fs::temp_directory_path() / ("sockscope-proc-" + std::to_string(getpid()));
  fs::remove_all(proc);
  const auto fd_link = [&](const char* pid, const char* fd, const std::string& target) {
    fs::create_directories(proc / pid / "fd");
    fs::create_symlink(target, proc / pid / "fd" / fd);
  };
  fd_link("42", "3", "socket:[5001]");
  fd_link("42", "4", "socket:[5002]");
  fd_link("7", "0", "/dev/null");
  fd_link("7", "9", "socket:[5001]");
  fd_link("99", "1", "socket:[50011]");  // a longer inode with the same prefix
  fs::create_directories(proc / "self" / "fd");
  sockscope::probes::HolderScanner scanner(proc.string());
  CHECK(scanner.holders(5001) == std::vector<uint32_t>{7, 42});
  CHECK(scanner.holders(5002) == std::vector<uint32_t>{42});
  CHECK(scanner.holders(6000).empty());
  CHECK(scanner.scans() == 3);
  fs::remove_all(proc);
}
