// A command started only once the probes are attached: forked at once, held
// on a pipe until release(), so that not one of its syscalls is missed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sockscope::spawn {

// Where execvp would find `name`; nullopt when nowhere. Names with a '/' are
// checked as they are.
std::optional<std::string> find_executable(const std::string& name);

// The command could not be started: "cannot run CMD: REASON". sockscope
// exits 127 with it, as a shell does for a command it cannot run.
class CannotRun : public std::runtime_error {
 public:
  CannotRun(const std::string& command, const std::string& reason)
      : std::runtime_error("cannot run " + command + ": " + reason) {}
};

// Throws CannotRun unless `name` can be found and run: "command not found"
// for a bare name nowhere on PATH, the reason for a path.
void check_runnable(const std::string& name);

// Whom the command runs as (--user): the user's uid, primary gid and groups,
// looked up before anything is forked.
struct RunAs {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

// The user NAME (or a numeric uid) from the password database. Throws
// std::invalid_argument ("--user NAME: no such user") when there is none.
RunAs lookup_user(const std::string& name);

class HeldCommand {
 public:
  // Resolves the command and builds its argv, then forks; the child waits,
  // set to be killed if sockscope dies (PR_SET_PDEATHSIG). Throws CannotRun
  // when the command is not found, std::runtime_error when fork fails.
  explicit HeldCommand(const std::vector<std::string>& argv, const std::optional<RunAs>& as = std::nullopt);
  // A command still running is ended (SIGTERM, then SIGKILL after a grace
  // period) and reaped: sockscope failing never leaves it behind.
  ~HeldCommand();
  HeldCommand(const HeldCommand&) = delete;
  HeldCommand& operator=(const HeldCommand&) = delete;

  pid_t pid() const { return pid_; }
  // Lets the command run, and returns once it has exec'd. Throws CannotRun
  // (the child reaped) when the exec or the switch to --user failed.
  void release();
  // Passes a signal on to the command (nothing once it has been reaped).
  void signal(int sig);
  // The exit status as a shell reports it (128 + signal when killed), once
  // the command has ended; nullopt while it runs.
  std::optional<int> try_wait();
  int wait();
  // SIGTERM, then SIGKILL if it has not ended within `grace`; reaped.
  int end(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

 private:
  std::string name_;
  std::string as_;  // --user's name, for the error
  pid_t pid_ = -1;
  int release_fd_ = -1;  // the child waits for a byte on this pipe
  int exec_fd_ = -1;     // EOF once the child exec'd; its errno when it could not
  std::optional<int> status_;
};

}  // namespace sockscope::spawn
