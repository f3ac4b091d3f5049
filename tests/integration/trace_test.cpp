// The real tracer beside the real demos: what `sockscope trace` reports for
// the tutorial's receiver and sender, over IPv4 and IPv6 loopback.
#include <catch2/catch.hpp>

#include "../support/doctor.hpp"
#include "../support/trace_run.hpp"

using namespace sockscope::testing;

namespace {

struct Addr {
  std::string host;
  std::string family;
};

// Each test takes its own port so that no test sees another's sockets.
int next_port() {
  static int port = 10200 + (getpid() % 50) * 40;
  return port++;
}

std::vector<std::string> receiver_args(const Addr& a, int port, std::vector<std::string> extra = {}) {
  std::vector<std::string> v = {RECEIVER_BIN, "--host", a.host, "--port", std::to_string(port)};
  v.insert(v.end(), extra.begin(), extra.end());
  return v;
}

std::vector<std::string> sender_args(const Addr& a, int port) {
  return {SENDER_BIN, "--host", a.host, "--port", std::to_string(port), "--timeout", "20"};
}

// One whole connection: the receiver listens, the sender connects, sends and
// reads the reply, and both exit 0. Returns their pids.
struct Pair {
  pid_t receiver;
  pid_t sender;
};
Pair run_pair(const Addr& a, int port) {
  Process receiver(receiver_args(a, port));
  REQUIRE(receiver.wait_stdout("listen backlog"));
  Process sender(sender_args(a, port));
  REQUIRE(sender.wait() == 0);
  REQUIRE(receiver.wait() == 0);
  return {receiver.pid(), sender.pid()};
}

bool same_tuple(const json& a, const json& b) {
  return a["saddr"] == b["saddr"] && a["sport"] == b["sport"] && a["daddr"] == b["daddr"] && a["dport"] == b["dport"];
}

}  // namespace

TEST_CASE("a paused receiver's handshake is completed by the kernel, and accept() only dequeues it", "[trace][vm]") {
  Addr a = GENERATE(Addr{"127.0.0.1", "ipv4"}, Addr{"::1", "ipv6"});
  int port = next_port();
  INFO("host " << a.host << " port " << port);
  TraceRun trace({"--port", std::to_string(port)});

  Process receiver(receiver_args(a, port, {"--pause-after", "listen"}));
  REQUIRE(receiver.wait_stdout("paused after listen"));
  REQUIRE(receiver.wait_stopped());

  Process sender(sender_args(a, port));
  // connect() returns and the message is sent while the receiver is stopped.
  REQUIRE(sender.wait_stdout("sent 13 bytes"));
  REQUIRE(receiver.state() == 'T');
  uint64_t resumed_at = monotonic_ns();
  receiver.signal(SIGCONT);
  REQUIRE(sender.wait() == 0);
  REQUIRE(receiver.wait() == 0);
  Records rs = trace.stop();

  auto rpid = static_cast<int>(receiver.pid());
  auto spid = static_cast<int>(sender.pid());
  for (const auto& r : rs)
    if (r["layer"] != "meta") CHECK(r["family"] == a.family);

  json bind = one(
      rs, [&](const json& r) { return is(r, "syscall", "bind") && r["pid"] == rpid; }, "receiver bind");
  CHECK(bind["sport"] == port);
  CHECK(bind["ret"] == 0);
  CHECK(bind["saddr"] == a.host);
  json kbind = one(
      rs, [&](const json& r) { return is(r, "kernel", "bind") && r["pid"] == rpid; }, "kernel bind");
  CHECK(kbind["sport"] == port);
  json listen = one(
      rs, [&](const json& r) { return is(r, "syscall", "listen") && r["pid"] == rpid; }, "listen()");
  CHECK(listen["backlog"] == 128);
  CHECK(listen["ret"] == 0);
  json klisten = one(
      rs, [&](const json& r) { return is(r, "kernel", "listen"); }, "kernel listen");
  CHECK(klisten["pid"] == rpid);
  CHECK(klisten["sport"] == port);
  CHECK(klisten["backlog"] == 128);
  CHECK(klisten["old_state"] == "CLOSE");
  CHECK(klisten["new_state"] == "LISTEN");

  json connect = one(
      rs, [&](const json& r) { return is(r, "syscall", "connect") && r["phase"] == "exit"; }, "connect() exit");
  CHECK(connect["pid"] == spid);
  CHECK(connect["ret"] == 0);
  CHECK(connect["dport"] == port);
  int client_port = connect["sport"];

  // The handshake's packets, in order, as the receiving side saw them.
  auto on_conn = [&](const json& r) {
    return (r["sport"] == client_port && r["dport"] == port) || (r["sport"] == port && r["dport"] == client_port);
  };
  json syn = one(
      rs, [&](const json& r) { return is(r, "packet", "tcp") && on_conn(r) && r["flags"] == "S" && r["dir"] == "rx"; },
      "SYN rx");
  json synack = one(
      rs, [&](const json& r) { return is(r, "packet", "tcp") && on_conn(r) && r["flags"] == "S." && r["dir"] == "tx"; },
      "SYN-ACK tx");
  json ack = one(
      rs, [&](const json& r) { return is(r, "packet", "tcp") && on_conn(r) && r["flags"] == "." && r["dir"] == "rx"; },
      "final ACK rx");
  CHECK(syn["dport"] == port);
  CHECK(syn["ifname"] == "lo");
  CHECK(synack["sport"] == port);
  CHECK(ack["dport"] == port);
  CHECK(syn["ts_ns"] < synack["ts_ns"]);
  CHECK(synack["ts_ns"] < ack["ts_ns"]);
  CHECK(ack["ack"] == synack["seq"].get<uint64_t>() + 1);

  json synrecv = one(
      rs, [&](const json& r) { return is(r, "kernel", "syn_recv") && on_conn(r); }, "kernel syn_recv");
  CHECK(synrecv["sport"] == port);
  CHECK(synrecv["dport"] == client_port);
  CHECK(synrecv["owner_pid"] == rpid);
  CHECK(synrecv["owner_state"] == "stopped");

  json est = one(
      rs, [&](const json& r) { return is(r, "kernel", "established") && on_conn(r); }, "kernel established");
  CHECK(est["ctx"] == "softirq");
  CHECK(est["queue_len"] == 1);
  CHECK(est["queue_max"] == 128);
  CHECK(est["owner_pid"] == rpid);
  CHECK(est["owner_state"] == "stopped");
  CHECK(est["owner_in_accept"] == false);
  CHECK(est["pid"] != rpid);  // it ran in a borrowed context, not the receiver's
  CHECK(syn["ts_ns"] < est["ts_ns"]);
  CHECK(est["ts_ns"].get<uint64_t>() < resumed_at);

  json accept = one(
      rs, [&](const json& r) { return is(r, "syscall", "accept") && r["phase"] == "exit"; }, "accept() exit");
  CHECK(accept["pid"] == rpid);
  CHECK(accept["ret"].get<int>() >= 0);
  CHECK(same_tuple(accept, est));
  CHECK(accept["ts_ns"].get<uint64_t>() > resumed_at);
  json kaccept = one(
      rs, [&](const json& r) { return is(r, "kernel", "accept"); }, "kernel accept");
  CHECK(same_tuple(kaccept, est));
  CHECK(kaccept["queue_len"] == 0);
  CHECK(kaccept["fd"] == accept["ret"]);

  // Whichever backend serves the hooks, the records are the same; only
  // `backend` says which one wrote them: the forced one, or under auto the
  // one doctor reports chosen for that hook.
  CHECK(kbind["backend"] == record_backend("bind"));
  CHECK(klisten["backend"] == record_backend("listen"));
  CHECK(synrecv["backend"] == record_backend("syn"));
  CHECK(est["backend"] == record_backend("established"));
  CHECK(kaccept["backend"] == record_backend("accept"));

  json summary = one(
      rs, [](const json& r) { return r["event"] == "summary"; }, "summary");
  CHECK(summary["lost_total"] == 0);
  CHECK(rs.back()["event"] == "summary");
}

TEST_CASE("a second receiver on a bound port fails with EADDRINUSE", "[trace]") {
  Addr a = GENERATE(Addr{"127.0.0.1", "ipv4"}, Addr{"::1", "ipv6"});
  int port = next_port();
  TraceRun trace({"--port", std::to_string(port)});
  Process first(receiver_args(a, port, {"--pause-after", "bind"}));
  REQUIRE(first.wait_stdout("paused after bind"));
  Process second(receiver_args(a, port));
  REQUIRE(second.wait() == 1);
  first.signal(SIGKILL);
  first.wait();
  Records rs = trace.stop();

  json failed = one(
      rs, [&](const json& r) { return is(r, "syscall", "bind") && r["pid"] == second.pid(); }, "second bind");
  CHECK(failed["ret"] == -98);
  CHECK(failed["errno"] == "EADDRINUSE");
  CHECK(failed["sport"] == port);
  CHECK(select(rs, [&](const json& r) { return is(r, "kernel", "bind") && r["pid"] == second.pid(); }).empty());
  json held = one(
      rs, [&](const json& r) { return is(r, "kernel", "bind") && r["pid"] == first.pid(); }, "holder's bind");
  CHECK(held["sport"] == port);
}

TEST_CASE("filter by pid: --pid keeps other processes' sockets out, and keeps the softirq work on its own",
          "[trace][vm]") {
  Addr a{"127.0.0.1", "ipv4"};
  int port = next_port(), other = next_port();
  Process receiver(receiver_args(a, port, {"--pause-after", "bind"}));
  REQUIRE(receiver.wait_stdout("paused after bind"));
  REQUIRE(receiver.wait_stopped());
  TraceRun trace({"--pid", std::to_string(receiver.pid())});
  Process bystander(receiver_args(a, other));
  REQUIRE(bystander.wait_stdout("listen backlog"));
  receiver.signal(SIGCONT);
  REQUIRE(receiver.wait_stdout("listen backlog"));
  Process s1(sender_args(a, port));
  Process s2(sender_args(a, other));
  REQUIRE(s1.wait() == 0);
  REQUIRE(s2.wait() == 0);
  REQUIRE(receiver.wait() == 0);
  REQUIRE(bystander.wait() == 0);
  Records rs = trace.stop();

  for (const auto& r : rs) {
    if (r["layer"] == "meta") continue;
    INFO(r.dump());
    CHECK(r["sport"] != other);
    CHECK(r["dport"] != other);
    if (r["layer"] == "syscall") CHECK(r["pid"] == receiver.pid());
  }
  one(
      rs, [&](const json& r) { return is(r, "syscall", "listen"); }, "receiver's listen");
  json est = one(
      rs, [&](const json& r) { return is(r, "kernel", "established"); }, "receiver's child");
  CHECK(est["sport"] == port);
  one(
      rs, [&](const json& r) { return is(r, "syscall", "accept") && r["phase"] == "exit"; }, "receiver's accept");
  CHECK(select(rs, [&](const json& r) { return r.value("pid", 0) == s1.pid() && r["layer"] == "syscall"; }).empty());
}

TEST_CASE("filter by port: --port keeps other ports out", "[trace]") {
  Addr a = GENERATE(Addr{"127.0.0.1", "ipv4"}, Addr{"::1", "ipv6"});
  int port = next_port(), other = next_port();
  TraceRun trace({"--port", std::to_string(port)});
  Process r1(receiver_args(a, port));
  Process r2(receiver_args(a, other));
  REQUIRE(r1.wait_stdout("listen backlog"));
  REQUIRE(r2.wait_stdout("listen backlog"));
  Process s1(sender_args(a, port));
  Process s2(sender_args(a, other));
  REQUIRE(s1.wait() == 0);
  REQUIRE(s2.wait() == 0);
  REQUIRE(r1.wait() == 0);
  REQUIRE(r2.wait() == 0);
  Records rs = trace.stop();

  size_t seen = 0;
  for (const auto& r : rs) {
    if (r["layer"] == "meta") continue;
    INFO(r.dump());
    CHECK((r["sport"] == port || r["dport"] == port));
    seen++;
  }
  CHECK(seen > 10);
  one(
      rs, [&](const json& r) { return is(r, "kernel", "established"); }, "the one connection on the port");
  one(
      rs, [&](const json& r) { return is(r, "syscall", "connect") && r["phase"] == "exit" && r["pid"] == s1.pid(); },
      "s1 connect");
}

TEST_CASE("filter by family: -6 keeps the other family out", "[trace]") {
  int port = next_port();
  TraceRun trace({"-6", "--port", std::to_string(port)});
  run_pair({"127.0.0.1", "ipv4"}, port);
  run_pair({"::1", "ipv6"}, port);
  Records rs = trace.stop();
  for (const auto& r : rs)
    if (r["layer"] != "meta") CHECK(r["family"] == "ipv6");
  json est = one(
      rs, [&](const json& r) { return is(r, "kernel", "established"); }, "the IPv6 connection");
  CHECK(est["saddr"] == "::1");
}

TEST_CASE("trace -- CMD traces the command from its first syscall and exits with its exit code", "[trace][spawn]") {
  Addr a{"127.0.0.1", "ipv4"};
  int port = next_port();
  SECTION("the command succeeds") {
    std::vector<std::string> args = {"--"};
    auto r = receiver_args(a, port);
    args.insert(args.end(), r.begin(), r.end());
    TraceRun trace(args);
    // The sender starts once the tracer has seen the receiver listen.
    trace.wait_for([](const json& r) { return is(r, "kernel", "listen"); }, "the receiver's listen");
    Process sender(sender_args(a, port));
    REQUIRE(sender.wait() == 0);
    REQUIRE(trace.process().wait() == 0);
    Records rs = trace.records();
    json sock = one(
        rs, [&](const json& r) { return is(r, "syscall", "socket"); }, "the receiver's socket()");
    int rpid = sock["pid"];
    for (const auto& r : rs)
      if (r["layer"] == "syscall") CHECK(r["pid"] == rpid);
    one(
        rs, [&](const json& r) { return is(r, "syscall", "accept") && r["phase"] == "exit"; }, "accept");
    CHECK(rs.back()["event"] == "summary");
  }
  SECTION("the command fails: its exit code comes back") {
    Process holder(receiver_args(a, port, {"--pause-after", "bind"}));
    REQUIRE(holder.wait_stdout("paused after bind"));
    std::vector<std::string> args = {"--"};
    auto r = receiver_args(a, port);
    args.insert(args.end(), r.begin(), r.end());
    TraceRun trace(args);
    REQUIRE(trace.process().wait() == 1);
    Records rs = trace.records();
    json failed = one(
        rs, [&](const json& r) { return is(r, "syscall", "bind"); }, "the failing bind");
    CHECK(failed["errno"] == "EADDRINUSE");
  }
}

TEST_CASE("filter by command name: --comm keeps other commands' sockets out", "[trace]") {
  Addr a{"127.0.0.1", "ipv4"};
  int port = next_port();
  TraceRun trace({"--comm", "receiver"});
  Pair pair = run_pair(a, port);
  Records rs = trace.stop();
  for (const auto& r : rs)
    if (r["layer"] == "syscall") CHECK(r["comm"] == "receiver");
  CHECK(select(rs, [&](const json& r) { return r["layer"] == "syscall" && r["pid"] == pair.sender; }).empty());
  json est = one(
      rs, [&](const json& r) { return is(r, "kernel", "established") && r["sport"] == port; }, "the receiver's child");
  CHECK(est["owner_pid"] == pair.receiver);
  one(
      rs, [&](const json& r) { return is(r, "syscall", "accept") && r["phase"] == "exit"; }, "accept");
}

TEST_CASE("trace -- CMD follows the command's children", "[trace][spawn]") {
  Addr a{"127.0.0.1", "ipv4"};
  int port = next_port();
  // The shell forks the receiver (the trailing command keeps it from exec'ing it).
  std::string script = std::string(RECEIVER_BIN) + " --port " + std::to_string(port) + "; status=$?; exit $status";
  TraceRun trace({"--", "sh", "-c", script});
  json listen = trace.wait_for([](const json& r) { return is(r, "kernel", "listen"); }, "the receiver's listen");
  // While the receiver waits in accept(): its pid is a child of the shell,
  // which is sockscope's own child (the spawned command).
  const auto listener_pid = listen["pid"].get<pid_t>();
  const pid_t shell = Process::parent_of(listener_pid);
  CHECK(shell != listener_pid);
  CHECK(Process::parent_of(shell) == trace.process().pid());
  Process sender(sender_args(a, port));
  REQUIRE(sender.wait() == 0);
  REQUIRE(trace.process().wait() == 0);
  Records rs = trace.records();
  json sock = one(
      rs, [&](const json& r) { return is(r, "syscall", "socket"); }, "the receiver's socket()");
  CHECK(sock["comm"] == "receiver");
  CHECK(sock["pid"] == listener_pid);
  CHECK(select(rs, [&](const json& r) { return r["layer"] == "syscall" && r["pid"] == sender.pid(); }).empty());
  one(
      rs, [&](const json& r) { return is(r, "syscall", "accept") && r["phase"] == "exit"; }, "the child's accept");
}

TEST_CASE("an accept() already blocking when tracing starts is still reported", "[trace][accept-before][vm]") {
  Addr a = GENERATE(Addr{"127.0.0.1", "ipv4"}, Addr{"::1", "ipv6"});
  int port = next_port();
  Process receiver(receiver_args(a, port));
  REQUIRE(receiver.wait_stdout("listen backlog"));
  // Blocked in accept() (x86-64: accept 43, accept4 288) before the tracer exists.
  REQUIRE(wait_until([&] { return receiver.blocked_syscall() == 43 || receiver.blocked_syscall() == 288; }));
  TraceRun trace({"--port", std::to_string(port)});
  Process sender(sender_args(a, port));
  REQUIRE(sender.wait() == 0);
  REQUIRE(receiver.wait() == 0);
  Records rs = trace.stop();

  auto rpid = static_cast<int>(receiver.pid());
  json accept = one(
      rs, [&](const json& r) { return is(r, "syscall", "accept") && r["phase"] == "exit"; }, "accept() exit");
  CHECK(accept["pid"] == rpid);
  CHECK(accept["fd"] == -1);  // its entry was never seen
  CHECK(accept["ret"].get<int>() >= 0);
  CHECK(accept["sport"] == port);
  json kaccept = one(
      rs, [&](const json& r) { return is(r, "kernel", "accept"); }, "kernel accept");
  CHECK(same_tuple(kaccept, accept));
  CHECK(kaccept["fd"] == accept["ret"]);
  CHECK(kaccept["queue_len"] == 0);
  CHECK(kaccept["rx_queued"].get<int>() >= 0);
  // fexit and kretprobe never fire for a call that began before they were
  // attached: the syscall-exit path reports it, whatever the backend.
  CHECK(kaccept["backend"] == "tracepoint");
  json syscall_accepts = select(rs, [&](const json& r) { return is(r, "syscall", "accept"); });
  CHECK(syscall_accepts.size() == 1);  // no enter record: it began before tracing
}
