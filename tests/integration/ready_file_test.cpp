// --ready-file, the readiness contract the tests and scripts wait on: the file
// appears once every probe is attached, before a spawned command runs, and
// whole (renamed into place, nothing left beside it).
#include <catch2/catch.hpp>
#include <filesystem>

#include "../support/trace_run.hpp"

using namespace sockscope::testing;

TEST_CASE("the ready file exists before the spawned command runs", "[ready]") {
  const std::string sub = GENERATE("trace", "explain");
  const std::string ready = ready_path();
  // `test -e` exits 0 only if the file is there when it runs; sockscope exits
  // with the command's exit code.
  Process p({SOCKSCOPE_BIN, sub, "--port", "9", "--ready-file", ready, "--", "test", "-e", ready}, "/dev/null");
  const auto code = p.wait(30s);
  INFO("stderr: " << p.stderr_text());
  CHECK(code == 0);
  CHECK(access(ready.c_str(), F_OK) == 0);
  unlink(ready.c_str());
  // Built with append: GCC 12 at -O3 takes `"." + std::string&&` for an
  // overlapping memcpy (a false -Wrestrict).
  std::string temp_prefix(1, '.');
  temp_prefix.append(std::filesystem::path(ready).filename().string()).append(1, '.');
  for (const auto& entry : std::filesystem::directory_iterator("/tmp"))
    CHECK(entry.path().filename().string().rfind(temp_prefix, 0) == std::string::npos);
}
