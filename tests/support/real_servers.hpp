// Real servers for the integration tests (issue #11): nginx-light and
// redis-server from Debian, and our own test servers (tests/servers/), each
// started, waited for until it really waits for connections, and stopped.
// Every wait has a deadline and fails the test when it passes; none is a
// blind sleep.
//
//   Nginx nginx(server_port(), {.reuseport = true});  // master + 2 workers in epoll_wait()
//   Redis redis(server_port());                       // main thread in epoll_wait()
//   TestServer poll(kPollServer, port, 2);            // its waiters in poll()
//
// Each constructor returns once every task that waits on the listener is
// blocked in its wait system call (/proc/TID/syscall), so a connection made
// after it finds them waiting.
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "process.hpp"

namespace sockscope::testing {

inline constexpr const char* kNginxBin = "/usr/sbin/nginx";
inline constexpr const char* kRedisServerBin = "/usr/bin/redis-server";

// A port of its own for each server a test starts (trace_test and
// explain_test count up from 10200 and 11200 in steps of 40 per pid).
inline int server_port() {
  static int port = 14200 + (getpid() % 50) * 40;
  return port++;
}

inline std::string slurp(const std::string& path) {
  std::ifstream f(path);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// A fresh directory under /tmp, removed with everything in it. World-readable
// (0755): nginx's workers run as www-data.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/sockscope-test-" + std::to_string(getpid()) + "-XXXXXX";
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp");
    chmod(tmpl.c_str(), 0755);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The threads of a process (/proc/PID/task), empty when it is gone.
inline std::vector<pid_t> threads_of(pid_t pid) {
  std::vector<pid_t> tids;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec))
    tids.push_back(std::stoi(e.path().filename().string()));
  std::sort(tids.begin(), tids.end());
  return tids;
}

// The live child processes of `pid` (every /proc/N/stat naming it as parent).
inline std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t child = std::stoi(name);
    if (Process::parent_of(child) == pid) out.push_back(child);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A server's process that takes its child processes (nginx's workers, our
// epoll workers, the SCM_RIGHTS child) with it when it has not exited: a
// test that fails, even in the middle of a constructor, leaves nothing
// behind. While the parent runs it has not reaped them, so their pids are
// still theirs.
class ServerProcess : public Process {
 public:
  using Process::Process;
  ~ServerProcess() {
    if (!wait(0ms))
      for (pid_t child : children_of(pid())) kill(child, SIGKILL);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
};

// Each thread and the call it is in, for a failure message.
inline std::string describe_threads(const std::vector<pid_t>& tids) {
  std::ostringstream s;
  for (pid_t t : tids)
    s << " tid " << t << " (" << slurp("/proc/" + std::to_string(t) + "/comm").substr(0, 15) << ") syscall "
      << blocked_syscall(t) << ";";
  return s.str();
}

// Waits until exactly `threads` threads of process `pid` are blocked in
// system call `nr` (SYS_accept, SYS_epoll_wait, ...); fails the test at the
// deadline, saying what each thread was doing.
inline void wait_until_waiting(pid_t pid, long nr, size_t threads = 1, std::chrono::milliseconds timeout = 10s) {
  const auto in_call = [&] {
    const auto tids = threads_of(pid);
    return static_cast<size_t>(
        std::count_if(tids.begin(), tids.end(), [&](pid_t t) { return blocked_syscall(t) == nr; }));
  };
  const bool ok = wait_until([&] { return in_call() == threads; }, timeout);
  INFO("pid " << pid << ": waiting for " << threads << " thread(s) in syscall " << nr << ";"
              << describe_threads(threads_of(pid)));
  REQUIRE(ok);
}

// Waits until every task in `tids` (threads or processes) is blocked in `nr`.
inline void wait_until_waiting(const std::vector<pid_t>& tids, long nr, std::chrono::milliseconds timeout = 10s) {
  const bool ok = wait_until(
      [&] { return std::all_of(tids.begin(), tids.end(), [&](pid_t t) { return blocked_syscall(t) == nr; }); },
      timeout);
  INFO("waiting for every task in syscall " << nr << ";" << describe_threads(tids));
  REQUIRE(ok);
}

// The inodes of the sockets in LISTEN on addr:port, as /proc/net/tcp (tcp6)
// lists them in a network namespace: this process's, or pid's (its
// /proc/PID/net). One per listener, so several for a SO_REUSEPORT group.
inline std::vector<uint64_t> listeners_on(const std::string& addr, int port, pid_t pid = 0) {
  const bool ipv6 = addr.find(':') != std::string::npos;
  // The kernel prints each 32-bit word of the address as a host-order integer.
  unsigned char bytes[16] = {};
  REQUIRE(inet_pton(ipv6 ? AF_INET6 : AF_INET, addr.c_str(), bytes) == 1);
  std::string local;
  char word[16];
  for (int i = 0; i < (ipv6 ? 4 : 1); ++i) {
    uint32_t w;
    std::memcpy(&w, bytes + 4 * i, 4);
    std::snprintf(word, sizeof word, "%08X", w);
    local += word;
  }
  std::snprintf(word, sizeof word, ":%04X", port);
  local += word;
  const std::string dir = pid ? "/proc/" + std::to_string(pid) + "/net/" : "/proc/net/";
  std::ifstream f(dir + (ipv6 ? "tcp6" : "tcp"));
  std::string line;
  std::getline(f, line);  // header
  std::vector<uint64_t> inodes;
  while (std::getline(f, line)) {
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    std::istringstream w(line);
    std::string sl, laddr, raddr, st, txrx, trwhen, retr, uid, timeout;
    uint64_t inode = 0;
    w >> sl >> laddr >> raddr >> st >> txrx >> trwhen >> retr >> uid >> timeout >> inode;
    if (laddr == local && st == "0A") inodes.push_back(inode);
  }
  std::sort(inodes.begin(), inodes.end());
  return inodes;
}

// The same on 127.0.0.1:port (or [::1]:port) in this namespace.
inline std::vector<uint64_t> loopback_listeners(int port, bool ipv6) {
  return listeners_on(ipv6 ? "::1" : "127.0.0.1", port);
}

// The processes holding socket `inode` in their file table (a link to
// "socket:[inode]" under /proc/PID/fd): a listener's holders.
inline std::vector<pid_t> socket_holders(uint64_t inode) {
  const std::string target = "socket:[" + std::to_string(inode) + "]";
  std::vector<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code ec;
    for (const auto& fd : std::filesystem::directory_iterator(e.path() / "fd", ec)) {
      std::error_code link_ec;
      if (std::filesystem::read_symlink(fd.path(), link_ec).string() == target) {
        out.push_back(std::stoi(name));
        break;
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A plain blocking client: connect, send a line, shut down the write side,
// read the reply to EOF. The reply, or nullopt when any step failed.
inline std::optional<std::string> connect_and_finish(const std::string& host, int port) {
  const bool v6 = host.find(':') != std::string::npos;
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1) return std::nullopt;
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) return std::nullopt;
    len = sizeof(*a);
  }
  const int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval tv{10, 0};  // a server that never answers fails the test, it does not hang it
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string reply;
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 && write(fd, "hello\n", 6) == 6 &&
            shutdown(fd, SHUT_WR) == 0;
  char buf[256];
  ssize_t n = 0;
  while (ok && (n = read(fd, buf, sizeof(buf))) > 0) reply.append(buf, static_cast<size_t>(n));
  close(fd);
  if (!ok || n < 0) return std::nullopt;
  return reply;
}

// Our test servers (tests/servers/) and the system call each one's waiters
// block in. glibc's select() is the pselect6 system call.
struct ServerKind {
  const char* bin;
  long wait_call;
};
inline const ServerKind kPollServer{POLL_SERVER_BIN, SYS_poll};
inline const ServerKind kSelectServer{SELECT_SERVER_BIN, SYS_pselect6};
inline const ServerKind kEpollServer{EPOLL_SERVER_BIN, SYS_epoll_wait};
inline const ServerKind kThreadpoolServer{THREADPOOL_SERVER_BIN, SYS_accept};
inline const ServerKind kScmRightsServer{SCM_RIGHTS_SERVER_BIN, SYS_accept};
inline const ServerKind kUringServer{URING_SERVER_BIN, SYS_io_uring_enter};

// One of our test servers, started with --port, --ready-file and --count,
// plus `extra` (--ipv6, --workers 2 --exclusive, --threads 3). The
// constructor waits for the ready file, whose lines are the tasks that wait
// on the listener (waiters(): the server itself, or the epoll workers, the
// pool's threads, the SCM_RIGHTS child), then until each of them is blocked
// in its wait call. After a connection, wait_waiting() waits until they are
// back in it.
class TestServer {
 public:
  TestServer(const ServerKind& kind, int port, int count, const std::vector<std::string>& extra = {})
      : kind_(kind), ready_(dir_ / "ready") {
    std::vector<std::string> argv = {kind.bin, "--port",  std::to_string(port), "--ready-file",
                                     ready_,   "--count", std::to_string(count)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc_ = std::make_unique<ServerProcess>(argv, dir_ / "stdout");
    const bool ready =
        wait_until([&] { return access(ready_.c_str(), F_OK) == 0 || proc_->wait(0ms).has_value(); }, 10s);
    INFO(kind.bin << " stderr: " << proc_->stderr_text());
    REQUIRE(ready);
    REQUIRE(access(ready_.c_str(), F_OK) == 0);
    std::istringstream lines(slurp(ready_));
    for (pid_t t; lines >> t;) waiters_.push_back(t);
    REQUIRE(!waiters_.empty());
    wait_waiting();
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  pid_t pid() const { return proc_->pid(); }
  const std::vector<pid_t>& waiters() const { return waiters_; }
  void wait_waiting(std::chrono::milliseconds timeout = 10s) const {
    wait_until_waiting(waiters_, kind_.wait_call, timeout);
  }
  // Exit status once it has served --count connections.
  std::optional<int> wait(std::chrono::milliseconds timeout = 10s) { return proc_->wait(timeout); }
  std::string stderr_text() { return proc_->stderr_text(); }

 private:
  ServerKind kind_;
  TempDir dir_;
  std::string ready_;
  std::unique_ptr<ServerProcess> proc_;
  std::vector<pid_t> waiters_;
};

// nginx-light from Debian as it runs in production: a master and 2 worker
// processes (as www-data), epoll, listening on 127.0.0.1:port and
// [::1]:port, each `listen` with `reuseport` when asked (then one listener per
// worker and address: 2 LISTEN sockets each). GET / answers "ok\n". The
// config, pid file and error log live in a temporary directory.
//
// Ready when the master has exactly 2 worker children, the port has its
// LISTEN sockets in /proc/net/tcp and tcp6, and both workers are blocked in
// epoll_wait() (so they have added the listeners to their epoll instances).
struct NginxOptions {
  bool reuseport = false;
  // Where it listens, and the network namespace it runs in ("": this one).
  std::string v4 = "127.0.0.1", v6 = "::1", netns;
};

class Nginx {
 public:
  explicit Nginx(int port, NginxOptions opt = {}) : port_(port) {
    REQUIRE(access(kNginxBin, X_OK) == 0);  // nginx-light: bash .ci/install-deps.sh
    write_config(opt);
    // -e: the error log before the config is read (nginx >= 1.19.5), so
    // nothing goes to /var/log/nginx.
    std::vector<std::string> argv = {kNginxBin, "-p", dir_.path(), "-c", dir_ / "nginx.conf", "-e", dir_ / "error.log"};
    // `ip netns exec` execs nginx in place: the master keeps its pid.
    if (!opt.netns.empty()) argv.insert(argv.begin(), {"ip", "netns", "exec", opt.netns});
    proc_ = std::make_unique<ServerProcess>(argv, dir_ / "stdout");
    const size_t per_family = opt.reuseport ? 2 : 1;
    const bool ready = wait_until(
        [&] {
          if (proc_->wait(0ms)) return true;  // exited: fails below
          workers_ = children_of(proc_->pid());
          return workers_.size() == 2 && listeners_on(opt.v4, port_, proc_->pid()).size() == per_family &&
                 listeners_on(opt.v6, port_, proc_->pid()).size() == per_family &&
                 std::all_of(workers_.begin(), workers_.end(),
                             [](pid_t w) { return blocked_syscall(w) == SYS_epoll_wait; });
        },
        20s);
    INFO("nginx on port " << port_ << ": workers" << describe_threads(workers_) << " error.log:\n"
                          << slurp(dir_ / "error.log") << proc_->stderr_text());
    REQUIRE(!proc_->wait(0ms));
    REQUIRE(ready);
  }
  ~Nginx() { stop(); }
  Nginx(const Nginx&) = delete;
  Nginx& operator=(const Nginx&) = delete;

  pid_t master() const { return proc_->pid(); }
  const std::vector<pid_t>& workers() const { return workers_; }
  int port() const { return port_; }
  std::string error_log() const { return slurp(dir_ / "error.log"); }

  // SIGTERM: the master ends its workers and exits 0 (nullopt if it did
  // not in time; the destructor then kills them all).
  std::optional<int> stop() {
    if (auto st = proc_->wait(0ms)) return st;
    proc_->signal(SIGTERM);
    return proc_->wait(10s);
  }

 private:
  void write_config(const NginxOptions& opt) const {
    const std::string d = dir_.path();
    const std::string rp = opt.reuseport ? " reuseport" : "";
    std::ofstream f(dir_ / "nginx.conf");
    // Every temp path in our directory: Debian's are under /var/lib/nginx,
    // read-only in the test guests.
    f << "daemon off;\nmaster_process on;\nworker_processes 2;\nuser www-data;\n"
      << "pid " << d << "/nginx.pid;\nerror_log " << d << "/error.log notice;\n"
      << "events { worker_connections 64; }\n"
      << "http {\n  access_log off;\n"
      << "  client_body_temp_path " << d << "/body;\n  proxy_temp_path " << d << "/proxy;\n"
      << "  fastcgi_temp_path " << d << "/fastcgi;\n  uwsgi_temp_path " << d << "/uwsgi;\n"
      << "  scgi_temp_path " << d << "/scgi;\n"
      << "  server {\n    listen " << opt.v4 << ":" << port_ << rp << ";\n    listen [" << opt.v6 << "]:" << port_ << rp
      << ";\n"
      << "    location / { return 200 \"ok\\n\"; }\n  }\n}\n";
  }

  int port_;
  TempDir dir_;
  std::unique_ptr<ServerProcess> proc_;
  std::vector<pid_t> workers_;
};

// redis-server from Debian: one event-loop thread in epoll_wait() (plus its
// bio threads), on 127.0.0.1:port, no persistence, its log in a temporary
// directory. Ready when it answers PING (one connection of its own, made
// before the test traces anything) and its main thread is back in
// epoll_wait().
class Redis {
 public:
  explicit Redis(int port) : port_(port) {
    REQUIRE(access(kRedisServerBin, X_OK) == 0);  // redis-server: bash .ci/install-deps.sh
    proc_ = std::make_unique<ServerProcess>(
        std::vector<std::string>{kRedisServerBin, "--port", std::to_string(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--daemonize", "no", "--dir", dir_.path()},
        dir_ / "stdout");
    // Refused until it listens: retried until the deadline.
    const bool pong = wait_until(
        [&] {
          if (proc_->wait(0ms)) return true;  // exited: fails below
          auto reply = ping();
          return reply && reply->rfind("+PONG\r\n", 0) == 0;
        },
        20s);
    INFO("redis-server on port " << port_ << ":\n" << slurp(dir_ / "stdout") << proc_->stderr_text());
    REQUIRE(!proc_->wait(0ms));
    REQUIRE(pong);
    wait_until_waiting(std::vector<pid_t>{proc_->pid()}, SYS_epoll_wait);
  }
  ~Redis() { stop(); }
  Redis(const Redis&) = delete;
  Redis& operator=(const Redis&) = delete;

  pid_t pid() const { return proc_->pid(); }
  int port() const { return port_; }

  // SIGTERM: with nothing to save it exits 0.
  std::optional<int> stop() {
    if (auto st = proc_->wait(0ms)) return st;
    proc_->signal(SIGTERM);
    return proc_->wait(10s);
  }

 private:
  // PING in RESP's inline form; the raw reply ("+PONG\r\n"), nullopt when
  // the connection failed.
  std::optional<std::string> ping() const {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::nullopt;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::optional<std::string> reply;
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 && write(fd, "PING\r\n", 6) == 6) {
      char buf[64];
      const ssize_t n = read(fd, buf, sizeof(buf));
      if (n > 0) reply = std::string(buf, static_cast<size_t>(n));
    }
    close(fd);
    return reply;
  }

  int port_;
  TempDir dir_;
  std::unique_ptr<ServerProcess> proc_;
};

}  // namespace sockscope::testing
