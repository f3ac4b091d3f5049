// A command started only once the probes are attached: forked at once, held
// on a pipe until release(), so that not one of its syscalls is missed.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace sockscope::spawn {

// Where execvp would find `name`; nullopt when nowhere. Names with a '/' are
// checked as they are.
std::optional<std::string> find_executable(const std::string& name);

class HeldCommand {
 public:
  // Forks; the child waits. Throws std::runtime_error when fork fails.
  explicit HeldCommand(const std::vector<std::string>& argv);
  ~HeldCommand();  // a child never released is killed and reaped
  HeldCommand(const HeldCommand&) = delete;
  HeldCommand& operator=(const HeldCommand&) = delete;

  pid_t pid() const { return pid_; }
  void release();
  // The exit status as a shell reports it (128 + signal when killed), once
  // the command has ended; nullopt while it runs.
  std::optional<int> try_wait();
  int wait();

 private:
  pid_t pid_ = -1;
  int release_fd_ = -1;
  std::optional<int> status_;
};

}  // namespace sockscope::spawn
