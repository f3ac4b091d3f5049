#include "probes/holders.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>
#include <string_view>

#include <fmt/format.h>

namespace sockscope::probes {

namespace {

// A decimal directory name ("1234") as a pid; 0 for any other (pid 0 is never a /proc entry).
uint32_t pid_of(std::string_view name) {
  uint32_t pid = 0;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
  return ec == std::errc() && end == name.data() + name.size() ? pid : 0;
}

struct CloseDir {
  void operator()(DIR* d) const { closedir(d); }
};
using Dir = std::unique_ptr<DIR, CloseDir>;

}  // namespace

HolderScanner::HolderScanner(std::string proc, Clock::duration keep) : proc_(std::move(proc)), keep_(keep) {}

std::vector<uint32_t> HolderScanner::holders(uint32_t ino, Clock::time_point now) {
  if (auto it = cache_.find(ino); it != cache_.end() && now - it->second.at < keep_) return it->second.pids;
  // Stale entries go whenever one is replaced: the cache holds the inodes
  // asked about within one interval, a handful of listeners.
  std::erase_if(cache_, [&](const auto& kv) { return now - kv.second.at >= keep_; });
  std::vector<uint32_t> pids = scan(ino);
  cache_[ino] = Cached{now, pids};
  return pids;
}

std::vector<uint32_t> HolderScanner::scan(uint32_t ino) {
  ++scans_;
  std::vector<uint32_t> pids;
  const std::string want = fmt::format("socket:[{}]", ino);
  Dir proc(opendir(proc_.c_str()));
  if (!proc) return pids;
  char target[64];
  while (const dirent* p = readdir(proc.get())) {
    const uint32_t pid = pid_of(p->d_name);
    if (!pid) continue;
    const std::string fd_dir = fmt::format("{}/{}/fd", proc_, pid);
    Dir fds(opendir(fd_dir.c_str()));
    if (!fds) continue;  // gone, or not ours to read
    while (const dirent* f = readdir(fds.get())) {
      if (f->d_name[0] == '.') continue;
      const std::string link = fd_dir + "/" + f->d_name;
      const ssize_t n = readlink(link.c_str(), target, sizeof target);
      if (n > 0 && std::string_view(target, static_cast<std::size_t>(n)) == want) {
        pids.push_back(pid);
        break;
      }
    }
  }
  std::sort(pids.begin(), pids.end());
  return pids;
}

std::vector<uint32_t> socket_holders(uint32_t ino) {
  static HolderScanner scanner;
  return scanner.holders(ino);
}

}  // namespace sockscope::probes
