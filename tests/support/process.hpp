// Real child processes for the tests: start with pipes, read lines until a
// deadline, signal, wait. Every wait has a deadline and fails the test when
// it passes: no sleep-and-hope.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sockscope::testing {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns(), so of ts_ns.
inline uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Polls `pred` until it holds or the deadline passes.
template <typename Pred>
bool wait_until(Pred&& pred, std::chrono::milliseconds timeout = 10s) {
  auto end = Clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(2ms);
  }
}

// The system call a task (any thread id) is blocked in, from
// /proc/TID/syscall: -1 when it runs, is gone or cannot be read. The kernel
// reports a number only for a task that is not running (it is asleep in that
// call), "running" otherwise.
inline long blocked_syscall(pid_t tid) {
  std::ifstream f("/proc/" + std::to_string(tid) + "/syscall");
  std::string first;
  if (!(f >> first) || first == "running") return -1;
  try {
    return std::stol(first);
  } catch (...) {
    return -1;
  }
}

class Process {
 public:
  // stdout_path: where the child's stdout goes ("" = a pipe we read).
  explicit Process(const std::vector<std::string>& argv, const std::string& stdout_path = "") {
    int out[2] = {-1, -1}, err[2];
    if (stdout_path.empty() && pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    if (pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      if (stdout_path.empty()) {
        dup2(out[1], STDOUT_FILENO);
      } else {
        int fd = open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, STDOUT_FILENO);
      }
      dup2(err[1], STDERR_FILENO);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
    if (stdout_path.empty()) {
      close(out[1]);
      out_fd_ = out[0];
    }
    close(err[1]);
    err_fd_ = err[0];
  }
  ~Process() {
    if (!status_) {
      kill(pid_, SIGKILL);
      kill(pid_, SIGCONT);
      waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) close(out_fd_);
    if (err_fd_ >= 0) close(err_fd_);
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const { kill(pid_, sig); }

  // The next stdout (or stderr) line containing `needle`, or nullopt at the deadline.
  std::optional<std::string> wait_stdout(const std::string& needle, std::chrono::milliseconds timeout = 10s) {
    return wait_line(out_fd_, out_buf_, needle, timeout);
  }
  std::optional<std::string> wait_stderr(const std::string& needle, std::chrono::milliseconds timeout = 10s) {
    return wait_line(err_fd_, err_buf_, needle, timeout);
  }
  // All stderr so far plus what comes until EOF (call after exit).
  std::string stderr_text() {
    drain(err_fd_, err_buf_);
    return err_seen_ + err_buf_;
  }

  // Exit status as a shell reports it, or nullopt at the deadline.
  std::optional<int> wait(std::chrono::milliseconds timeout = 20s) {
    auto end = Clock::now() + timeout;
    while (!status_) {
      int st = 0;
      pid_t r = waitpid(pid_, &st, WNOHANG);
      // A test that ptrace()s its child also hears of its stops: not an exit.
      if (r == pid_ && !WIFSTOPPED(st) && !WIFCONTINUED(st)) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        break;
      }
      if (Clock::now() > end) return std::nullopt;
      // Keep pipes flowing so the child never blocks on a full pipe.
      drain(out_fd_, out_buf_);
      drain(err_fd_, err_buf_);
      std::this_thread::sleep_for(5ms);
    }
    return status_;
  }

  // The process state letter from /proc (R, S, T, t, Z, ...).
  char state() const {
    std::ifstream f("/proc/" + std::to_string(pid_) + "/stat");
    std::string s;
    std::getline(f, s);
    auto p = s.rfind(')');
    return p == std::string::npos || p + 2 >= s.size() ? '?' : s[p + 2];
  }
  // The parent of any live process (/proc/PID/stat), -1 when it is gone.
  static pid_t parent_of(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string s;
    std::getline(f, s);
    auto p = s.rfind(')');
    if (p == std::string::npos) return -1;
    std::istringstream rest(s.substr(p + 2));
    char state = 0;
    pid_t ppid = -1;
    rest >> state >> ppid;
    return ppid;
  }
  // The system call the process is blocked in (/proc/PID/syscall), -1 when
  // it is running or unknown.
  long blocked_syscall() const { return sockscope::testing::blocked_syscall(pid_); }
  // Wait until the process is stopped (SIGSTOP), up to the deadline.
  bool wait_stopped(std::chrono::milliseconds timeout = 10s) const {
    return wait_until([&] { return state() == 'T'; }, timeout);
  }

 private:
  static void drain(int fd, std::string& buf) {
    if (fd < 0) return;
    char tmp[4096];
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 0) <= 0) return;
      ssize_t n = read(fd, tmp, sizeof(tmp));
      if (n <= 0) return;
      buf.append(tmp, static_cast<size_t>(n));
    }
  }

  std::optional<std::string> wait_line(int fd, std::string& buf, const std::string& needle,
                                       std::chrono::milliseconds timeout) {
    auto end = Clock::now() + timeout;
    for (;;) {
      size_t nl;
      while ((nl = buf.find('\n')) != std::string::npos) {
        std::string line = buf.substr(0, nl);
        buf.erase(0, nl + 1);
        if (&buf == &err_buf_) err_seen_ += line + "\n";
        if (line.find(needle) != std::string::npos) return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
      if (left <= 0 || fd < 0) return std::nullopt;
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) return std::nullopt;
      char tmp[4096];
      ssize_t n = read(fd, tmp, sizeof(tmp));
      if (n <= 0) return std::nullopt;
      buf.append(tmp, static_cast<size_t>(n));
    }
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_buf_, err_buf_, err_seen_;
  std::optional<int> status_;
};

}  // namespace sockscope::testing
