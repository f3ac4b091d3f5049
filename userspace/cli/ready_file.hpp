// --ready-file PATH: a machine-readable "the probes are attached" for tests
// and scripts (as pwru has), instead of a sentence on stderr to match.
#pragma once

#include <string>

namespace sockscope::cli {

class ReadyFile {
 public:
  // Checks at once that PATH can be written, before anything is attached: a
  // temporary file is made beside it (so the rename in publish() stays on one
  // filesystem). An empty path means no ready file. Throws probes::TraceError
  // with a one-line message naming the path.
  explicit ReadyFile(std::string path);
  ~ReadyFile();  // removes the temporary file when never published
  ReadyFile(const ReadyFile&) = delete;
  ReadyFile& operator=(const ReadyFile&) = delete;

  // Makes PATH appear, complete, in one step (rename), so a watcher never
  // sees it half-written. Throws probes::TraceError when it cannot.
  void publish();
  // Takes a published file back (the session failed after all).
  void withdraw();

 private:
  std::string path_;
  std::string temp_;  // "" once renamed (or when there is no ready file)
  bool published_ = false;
  int fd_ = -1;
};

}  // namespace sockscope::cli
