#include "cli/ready_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "probes/error.hpp"

namespace sockscope::cli {

namespace {

probes::TraceError failure(const std::string& path, const std::string& what, int err) {
  return probes::TraceError(fmt::format("--ready-file {}: {}: {}", path, what, std::strerror(err)));
}

}  // namespace

ReadyFile::ReadyFile(std::string path) : path_(std::move(path)) {
  if (path_.empty()) return;
  struct stat st {};
  if (stat(path_.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) throw failure(path_, "cannot replace", EISDIR);
  const auto slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
  const std::string base = slash == std::string::npos ? path_ : path_.substr(slash + 1);
  std::string temp = (dir == "/" ? "" : dir) + "/." + base + ".XXXXXX";
  std::vector<char> name(temp.begin(), temp.end());
  name.push_back('\0');
  fd_ = mkstemp(name.data());
  if (fd_ < 0) throw failure(path_, "cannot write in " + dir, errno);
  temp_ = name.data();
}

ReadyFile::~ReadyFile() {
  if (fd_ >= 0) close(fd_);
  if (!temp_.empty()) unlink(temp_.c_str());
}

void ReadyFile::publish() {
  if (temp_.empty()) return;
  // mkstemp makes the file 0600; a watcher need not be root to see it.
  fchmod(fd_, 0644);
  if (close(fd_) != 0) {
    fd_ = -1;
    throw failure(path_, "cannot write " + temp_, errno);
  }
  fd_ = -1;
  if (rename(temp_.c_str(), path_.c_str()) != 0) throw failure(path_, "cannot rename " + temp_ + " to it", errno);
  temp_.clear();
  published_ = true;
}

void ReadyFile::withdraw() {
  if (published_) unlink(path_.c_str());
  published_ = false;
}

}  // namespace sockscope::cli
