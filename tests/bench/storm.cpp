// storm: a loopback connection storm for the benchmarks, bounded in count and
// in time, with `--clients` client threads and one server thread. Two
// workloads (`--workload`):
// - payload (the default): the clients connect, send, shut down their
//   sending side (the first FIN), wait for the server's close, close; the
//   server accepts, reads to the end and closes. TIME_WAIT lands on the
//   client's side: with the default net.ipv4.ip_local_port_range (28,232
//   ports), 50,000 connections wrap it and connect() searches past ports in
//   TIME_WAIT (Linux reuses a loopback one after a second, tcp_tw_reuse=2),
//   which roughly halves this storm's rate on the project's VM. The bench
//   keeps that range for this workload, as it always ran.
// - connect-close: the clients only connect() and close(), no payload, no
//   waiting; the server accepts and closes. The client mostly closes first,
//   so TIME_WAIT lands on its side too: the bench widens the port range in
//   its fresh network namespace (a per-namespace setting) so that 50,000
//   connections never wrap it.
// At most 64 connections are made and not yet accepted at any time (so the
// accept queue, 4096, never overflows). A connect() that fails counts as failed.
// A run ends once the server has accepted every connection made. Prints one
// JSON line: {"connections":N,"failed":F,"accepted":A,"seconds":S,"per_second":R}.
// With --report-at N... and --watch-pid P, also one line as the Nth
// connection completes: {"progress":N,"rss_kib":R,"hwm_kib":H}, the watched
// process's resident and peak memory at that moment (/proc/P/status).
// Run it in a fresh network namespace (tests/bench/run.sh does) so that one
// run's TIME_WAIT sockets never meet the next.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

namespace {

enum class Workload { payload, connect_close };

constexpr long kMaxAhead = 64;  // connections made and not yet accepted, at most

struct Options {
  Workload workload = Workload::payload;
  long connections = 50000;
  int clients = 2;
  int port = 10000;
  double max_seconds = 60;
  std::vector<long> report_at;
  int watch_pid = 0;
};

// VmRSS and VmHWM of `pid`, in KiB (-1 when unreadable).
std::pair<long, long> memory_of(int pid) {
  long rss = -1, hwm = -1;
  const std::string path = "/proc/" + std::to_string(pid) + "/status";
  if (FILE* f = std::fopen(path.c_str(), "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
      std::sscanf(line, "VmRSS: %ld", &rss);
      std::sscanf(line, "VmHWM: %ld", &hwm);
    }
    std::fclose(f);
  }
  return {rss, hwm};
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "storm: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

void serve(int lfd, Workload workload, std::atomic<bool>& stop, std::atomic<long>& accepted) {
  char buf[64];
  // No check of `stop` before accept(): the last accept() is always the one
  // that shutdown() ends, so a run makes the same calls every time.
  for (;;) {
    int c = accept(lfd, nullptr, nullptr);
    if (c < 0) {
      if (stop.load()) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      die("accept");
    }
    if (workload == Workload::payload) {
      while (read(c, buf, sizeof buf) > 0) {
      }
    }
    close(c);
    accepted.fetch_add(1);
    accepted.notify_all();
  }
}

// One client connection: connect; then (payload) send and close after the
// server's close, or (connect-close) close at once. 0, or connect()'s errno.
int one_connection(const sockaddr_in& to, Workload workload) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) die("socket");
  if (connect(s, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    const int error = errno;
    close(s);
    return error;
  }
  if (workload == Workload::connect_close) {
    close(s);
    return 0;
  }
  const char msg[] = "storm";
  if (write(s, msg, sizeof msg - 1) < 0) die("write");
  shutdown(s, SHUT_WR);
  char buf[16];
  while (read(s, buf, sizeof buf) > 0) {
  }
  close(s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"A bounded loopback connection storm (run it in a fresh network namespace)"};
  app.add_option("--workload", o.workload,
                 "payload: connect, send, wait for the server's close; connect-close: connect, close")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, Workload>{{"payload", Workload::payload}, {"connect-close", Workload::connect_close}}));
  app.add_option("--connections", o.connections, "Connections in all")->check(CLI::Range(1L, 10000000L));
  app.add_option("--clients", o.clients, "Client threads")->check(CLI::Range(1, 64));
  app.add_option("--port", o.port, "Server port on 127.0.0.1")->check(CLI::Range(1, 65535));
  app.add_option("--max-seconds", o.max_seconds, "Stop after this long, whatever the count")
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--report-at", o.report_at, "Report the watched process's memory as these connections complete")
      ->delimiter(',');
  app.add_option("--watch-pid", o.watch_pid, "The process whose memory --report-at reads")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  if (!o.report_at.empty() && o.watch_pid == 0) {
    std::fprintf(stderr, "storm: --report-at needs --watch-pid\n");
    return 2;
  }

  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (lfd < 0) die("socket");
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr = loopback(o.port);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("bind");
  if (listen(lfd, 4096) != 0) die("listen");

  std::atomic<bool> stop{false};
  std::atomic<long> accepted{0};
  std::thread server(serve, lfd, o.workload, std::ref(stop), std::ref(accepted));

  std::atomic<long> next{0}, done{0}, failed{0};
  std::atomic<int> first_error{0};
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration<double>(o.max_seconds);
  std::vector<std::thread> clients;
  for (int i = 0; i < o.clients; i++)
    clients.emplace_back([&] {
      while (next.fetch_add(1) < o.connections && std::chrono::steady_clock::now() < deadline) {
        // At most kMaxAhead connections made and not yet accepted: clients
        // that ran ahead of the server would fill the accept queue, whose
        // dropped SYNs wait a second for their retransmit, and the run's rate
        // would measure those timers (connect-close; payload's clients wait
        // for the server anyway).
        for (long a = accepted.load(); done.load() - a >= kMaxAhead; a = accepted.load()) accepted.wait(a);
        if (const int error = one_connection(addr, o.workload)) {
          int none = 0;
          first_error.compare_exchange_strong(none, error);
          failed.fetch_add(1);
          continue;
        }
        const long n = done.fetch_add(1) + 1;
        if (std::find(o.report_at.begin(), o.report_at.end(), n) != o.report_at.end()) {
          const auto [rss, hwm] = memory_of(o.watch_pid);
          std::printf("{\"progress\":%ld,\"rss_kib\":%ld,\"hwm_kib\":%ld}\n", n, rss, hwm);
          std::fflush(stdout);
        }
      }
    });
  for (auto& t : clients) t.join();
  // A run ends when the server has accepted and closed every connection
  // made: in connect-close the clients are done long before (a connection
  // still queued when the listener closes would be reset, not accepted).
  while (accepted.load() < done.load() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  stop = true;
  shutdown(lfd, SHUT_RDWR);  // wakes the accept()
  server.join();
  close(lfd);
  std::printf("{\"connections\":%ld,\"failed\":%ld,\"accepted\":%ld,\"seconds\":%.3f,\"per_second\":%.0f}\n",
              done.load(), failed.load(), accepted.load(), secs, done.load() / secs);
  if (failed.load() > 0)
    std::fprintf(stderr, "storm: %ld connect() calls failed, the first with: %s\n", failed.load(),
                 std::strerror(first_error.load()));
  if (accepted.load() < done.load())
    std::fprintf(stderr, "storm: the server accepted %ld of %ld connections before the deadline\n", accepted.load(),
                 done.load());
  return failed.load() == 0 && accepted.load() >= done.load() ? 0 : 1;
}
