// Which processes hold a socket: every /proc/<pid>/fd/* that links to
// "socket:[<inode>]". A listener shared after listen() (a fork, SCM_RIGHTS)
// has several holders, which no BPF record names all of.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace sockscope::probes {

// The tgids (sorted, unique) whose file tables hold socket `ino`. /proc
// lists thread-group leaders only, so each pid is a tgid. Processes whose
// fds this user may not read are missed (root reads them all). Results are
// kept per inode for about 100 ms: a burst of connections to one listener
// scans /proc once.
std::vector<uint32_t> socket_holders(uint32_t ino);

// The same, under a chosen /proc and clock, for the tests.
class HolderScanner {
 public:
  using Clock = std::chrono::steady_clock;
  explicit HolderScanner(std::string proc = "/proc", Clock::duration keep = std::chrono::milliseconds(100));
  std::vector<uint32_t> holders(uint32_t ino, Clock::time_point now = Clock::now());
  std::size_t scans() const { return scans_; }

 private:
  struct Cached {
    Clock::time_point at;
    std::vector<uint32_t> pids;
  };
  std::vector<uint32_t> scan(uint32_t ino);

  std::string proc_;
  Clock::duration keep_;
  std::unordered_map<uint32_t, Cached> cache_;
  std::size_t scans_ = 0;
};

}  // namespace sockscope::probes
