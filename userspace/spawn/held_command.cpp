#include "spawn/held_command.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace sockscope::spawn {

namespace {

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

int shell_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// Why a path the user gave cannot be run, as the exec would say it.
std::string why_not(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return std::strerror(errno);
  if (S_ISDIR(st.st_mode)) return std::strerror(EISDIR);
  return std::strerror(EACCES);
}

// What the child reports on its exec pipe when it cannot go on: the step
// that failed and its errno. Nothing (EOF) means it exec'd.
enum Stage : int { kExec = 0, kUser = 1 };
struct ChildError {
  int stage;
  int err;
};

[[noreturn]] void child_fails(int fd, Stage stage) {
  const ChildError e{stage, errno};
  ssize_t n;
  do {
    n = write(fd, &e, sizeof e);
  } while (n < 0 && errno == EINTR);
  _exit(127);
}

void close_fd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

}  // namespace

std::optional<std::string> find_executable(const std::string& name) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) return is_executable_file(name) ? std::optional(name) : std::nullopt;
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (is_executable_file(candidate)) return candidate;
  }
  return std::nullopt;
}

void check_runnable(const std::string& name) {
  if (name.empty()) throw CannotRun("\"\"", "no command given");
  if (!find_executable(name))
    throw CannotRun(name, name.find('/') != std::string::npos ? why_not(name) : "command not found");
}

RunAs lookup_user(const std::string& name) {
  std::vector<char> buf(16384);
  passwd pw{}, *found = nullptr;
  getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
  if (!found && !name.empty() && name.find_first_not_of("0123456789") == std::string::npos)
    getpwuid_r(static_cast<uid_t>(std::strtoul(name.c_str(), nullptr, 10)), &pw, buf.data(), buf.size(), &found);
  if (!found) throw std::invalid_argument("--user " + name + ": no such user");
  RunAs as{found->pw_name, found->pw_uid, found->pw_gid, {}};
  int n = 64;
  for (;;) {
    as.groups.resize(static_cast<size_t>(n));
    const int want = n;
    if (getgrouplist(found->pw_name, found->pw_gid, as.groups.data(), &n) >= 0) break;
    if (n <= want) n = want * 2;  // some libcs do not say how many
  }
  as.groups.resize(static_cast<size_t>(n));
  return as;
}

HeldCommand::HeldCommand(const std::vector<std::string>& argv, const std::optional<RunAs>& as) {
  check_runnable(argv.empty() ? std::string() : argv.front());
  name_ = argv.front();
  const std::optional<std::string> path = find_executable(name_);
  // Everything the child needs, built before the fork: after it, the child
  // only makes system calls.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int release[2], exec[2];
  if (pipe2(release, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  if (pipe2(exec, O_CLOEXEC) != 0) {
    const int err = errno;
    close(release[0]);
    close(release[1]);
    throw std::runtime_error(std::string("pipe: ") + std::strerror(err));
  }
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) {
    const int err = errno;
    for (int fd : {release[0], release[1], exec[0], exec[1]}) close(fd);
    throw std::runtime_error(std::string("fork: ") + std::strerror(err));
  }
  if (pid_ == 0) {
    close(release[1]);
    close(exec[0]);
    // Killed when sockscope dies, however it dies; if it already has, gone.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
    char go = 0;
    ssize_t n;
    do {
      n = read(release[0], &go, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) _exit(127);  // sockscope gave up before releasing us
    if (as) {
      if (setgroups(as->groups.size(), as->groups.data()) != 0 || setgid(as->gid) != 0 || setuid(as->uid) != 0)
        child_fails(exec[1], kUser);
      // A change of credentials clears the parent-death signal: again.
      if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
    }
    // sockscope ignores SIGPIPE and the command must not inherit that.
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(path->c_str(), args.data());
    child_fails(exec[1], kExec);
  }
  close(release[0]);
  close(exec[1]);
  release_fd_ = release[1];
  exec_fd_ = exec[0];
  as_ = as ? as->name : std::string();
}

HeldCommand::~HeldCommand() {
  if (release_fd_ >= 0) {
    close_fd(release_fd_);  // the held child reads EOF and exits 127
    wait();
  } else if (!status_ && pid_ > 0) {
    end();
  }
  close_fd(exec_fd_);
}

void HeldCommand::release() {
  if (release_fd_ < 0) return;
  char go = 1;
  ssize_t n;
  do {
    n = write(release_fd_, &go, 1);
  } while (n < 0 && errno == EINTR);
  close_fd(release_fd_);
  ChildError e{};
  do {
    n = read(exec_fd_, &e, sizeof e);
  } while (n < 0 && errno == EINTR);
  close_fd(exec_fd_);
  if (n != static_cast<ssize_t>(sizeof e)) return;  // EOF: exec'd
  wait();
  if (e.stage == kUser) throw CannotRun(name_, "as user " + as_ + ": " + std::strerror(e.err));
  throw CannotRun(name_, std::strerror(e.err));
}

void HeldCommand::signal(int sig) {
  if (!status_ && pid_ > 0) kill(pid_, sig);
}

std::optional<int> HeldCommand::try_wait() {
  if (status_) return status_;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) status_ = shell_status(status);
  return status_;
}

int HeldCommand::wait() {
  if (status_) return *status_;
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  status_ = r == pid_ ? shell_status(status) : 1;
  return *status_;
}

int HeldCommand::end(std::chrono::milliseconds grace) {
  if (status_ || pid_ <= 0) return status_.value_or(1);
  kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (!try_wait() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (!status_) kill(pid_, SIGKILL);
  return wait();
}

}  // namespace sockscope::spawn
