#include "spawn/held_command.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>

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

HeldCommand::HeldCommand(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  pid_ = fork();
  if (pid_ < 0) {
    int err = errno;
    close(fds[0]);
    close(fds[1]);
    throw std::runtime_error(std::string("fork: ") + std::strerror(err));
  }
  if (pid_ == 0) {
    close(fds[1]);
    char go = 0;
    ssize_t n;
    do {
      n = read(fds[0], &go, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) _exit(127);  // the tracer went away before releasing us
    close(fds[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "sockscope: error: cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(fds[0]);
  release_fd_ = fds[1];
}

HeldCommand::~HeldCommand() {
  if (release_fd_ >= 0) {
    close(release_fd_);  // the held child reads EOF and exits 127
    release_fd_ = -1;
  }
  if (!status_ && pid_ > 0) wait();
}

void HeldCommand::release() {
  if (release_fd_ < 0) return;
  char go = 1;
  ssize_t n;
  do {
    n = write(release_fd_, &go, 1);
  } while (n < 0 && errno == EINTR);
  close(release_fd_);
  release_fd_ = -1;
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

}  // namespace sockscope::spawn
