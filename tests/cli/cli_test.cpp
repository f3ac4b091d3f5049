// Bad input gets one clear line on stderr and a non-zero exit, before
// anything is loaded. These run the real binary; they need no root.
#include <bpf/libbpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "../support/process.hpp"

using namespace sockscope::testing;

namespace {

struct Outcome {
  int code;
  std::string err;
};

Outcome run(std::vector<std::string> args, bool as_nobody = false) {
  if (as_nobody) {
    // setpriv is util-linux, on every Debian: drop to nobody for this run.
    args.insert(args.begin(), {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"});
  }
  Process p(args);
  auto code = p.wait();
  REQUIRE(code);
  return {*code, p.stderr_text()};
}

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

pid_t unused_pid() {
  for (pid_t p = 4000000; p > 1000; p -= 7919) {
    struct stat st {};
    if (stat(("/proc/" + std::to_string(p)).c_str(), &st) != 0) return p;
  }
  return 4194303;
}

}  // namespace

TEST_CASE("bad input: one line and a non-zero exit", "[cli]") {
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string says;
  };
  auto c = GENERATE(
      Case{{"trace", "--bogus"}, 2, "sockscope: error: The following argument was not expected: --bogus"},
      Case{{"trace", "--port", "70000"}, 2, "sockscope: error: --port: Value 70000 not in range 1 to 65535"},
      Case{{"trace", "--port", "0"}, 2, "not in range"}, Case{{"trace", "--port", "http"}, 2, "--port"},
      Case{{"trace", "-4", "-6"}, 2, "excludes"},
      Case{{"trace", "--port", "1",  "--port", "2",  "--port", "3",  "--port", "4",  "--port", "5",  "--port",
            "6",     "--port", "7",  "--port", "8",  "--port", "9",  "--port", "10", "--port", "11", "--port",
            "12",    "--port", "13", "--port", "14", "--port", "15", "--port", "16", "--port", "17"},
           1,
           "sockscope: error: --port: at most 16 ports"},
      Case{{"trace", "--color", "pink"}, 2, "--color"}, Case{{"trace", "--ringbuf-size", "3"}, 2, "power of two"},
      Case{{"trace", "--comm", "a-name-longer-than-15"}, 1, "longer than the kernel's 15-character"},
      Case{{"trace", "--", "/nonexistent/command"},
           127,
           "sockscope: error: cannot run /nonexistent/command: No such file or directory"},
      Case{{"trace", "--", "no-such-command-here"},
           127,
           "sockscope: error: cannot run no-such-command-here: command not found"},
      Case{{"trace", "--user", "nobody"}, 2, "--user"},
      Case{{"trace", "--user", "no-such-user-here", "--", "true"},
           1,
           "sockscope: error: --user no-such-user-here: no such user"},
      Case{{"frobnicate"}, 2, "sockscope: error:"}, Case{{}, 2, "sockscope: error: A subcommand is required"},
      Case{{"trace", "--backend", "ebpf"}, 2, "--backend"}, Case{{"explain", "--backend", ""}, 2, "--backend"},
      Case{{"doctor", "--bogus"}, 2, "sockscope: error: The following argument was not expected: --bogus"},
      Case{{"explain", "--format", "svg"}, 2, "--format"},
      Case{{"explain", "--json", "--format", "text"}, 2, "excludes"},
      Case{{"explain", "--timeout", "0"}, 2, "--timeout"}, Case{{"explain", "--timeout", "soon"}, 2, "--timeout"},
      Case{{"explain", "--port", "65536"}, 2, "sockscope: error: --port: Value 65536 not in range 1 to 65535"},
      // --time: one of its names, and only for the text outputs (JSON has both clocks).
      Case{{"trace", "--time", "bogus"}, 2, "sockscope: error: --time: bogus not in {rel,mono,wall}"},
      Case{{"explain", "--time", "bogus"}, 2, "sockscope: error: --time: bogus not in {rel,mono,wall}"},
      Case{{"trace", "--time", "wall", "--json"}, 2, "sockscope: error: --json excludes --time"},
      Case{{"explain", "--json", "--time", "mono"}, 2, "sockscope: error: --json excludes --time"},
      Case{{"explain", "--format", "json", "--time", "rel"}, 2, "sockscope: error: --time: only for --format text"},
      Case{{"explain", "--time", "wall", "--format", "mermaid"}, 2, "sockscope: error: --time: only for --format text"},
      // --pcap, --snaplen, --duration, --count.
      Case{{"trace", "--snaplen", "100"}, 2, "sockscope: error: --snaplen requires --pcap"},
      Case{{"explain", "--pcap", "/tmp/x.pcapng", "--snaplen", "0"}, 2, "--snaplen"},
      Case{
          {"trace", "--pcap", "/tmp/x.pcapng", "--snaplen", "8193"}, 2, "--snaplen: Value 8193 not in range 1 to 8192"},
      Case{{"trace", "--pcap"}, 2, "--pcap"}, Case{{"trace", "--duration", "0"}, 2, "--duration"},
      Case{{"explain", "--duration", "soon"}, 2, "--duration"}, Case{{"trace", "--count", "0"}, 2, "--count"},
      Case{{"explain", "--count", "-1"}, 2, "--count"},
      Case{{"explain", "--", "/nonexistent/command"},
           127,
           "sockscope: error: cannot run /nonexistent/command: No such file or directory"});
  std::vector<std::string> argv = {SOCKSCOPE_BIN};
  argv.insert(argv.end(), c.args.begin(), c.args.end());
  Outcome o = run(argv);
  INFO("stderr: " << o.err);
  CHECK(o.code == c.code);
  CHECK(count_lines(o.err) == 1);
  CHECK(o.err.find(c.says) != std::string::npos);
  CHECK(o.err.rfind("sockscope: error: ", 0) == 0);
}

TEST_CASE("a pid that does not exist", "[cli]") {
  const std::string sub = GENERATE("trace", "explain");
  pid_t p = unused_pid();
  Outcome o = run({SOCKSCOPE_BIN, sub, "--pid", std::to_string(p)});
  INFO("stderr: " << o.err);
  CHECK(o.code == 1);
  CHECK(o.err == "sockscope: error: --pid " + std::to_string(p) + ": no such process\n");
}

TEST_CASE("without privileges: one line naming what is missing", "[cli]") {
  const std::string sub = GENERATE("trace", "explain");
  Outcome o = run({SOCKSCOPE_BIN, sub}, /*as_nobody=*/geteuid() == 0);
  INFO("stderr: " << o.err);
  CHECK(o.code == 1);
  CHECK(o.err ==
        "sockscope: error: tracing needs root (or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN): run it with sudo\n");
}

TEST_CASE("help: each subcommand's --help prints usage and exits 0", "[cli]") {
  const std::string sub = GENERATE("trace", "explain");
  Process p({SOCKSCOPE_BIN, sub, "--help"});
  auto line = p.wait_stdout("--port");
  CHECK(line);
  CHECK(p.wait() == 0);
}

TEST_CASE("doctor without privileges says what it could not probe", "[cli]") {
  std::vector<std::string> argv = {SOCKSCOPE_BIN, "doctor"};
  if (geteuid() == 0) argv.insert(argv.begin(), {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"});
  Process p(argv);
  auto line = p.wait_stdout("hooks        not probed");
  REQUIRE(line);
  CHECK(line->find("needs root") != std::string::npos);
  CHECK(p.wait() == 1);
}

TEST_CASE("version: sockscope's version and the libbpf it runs with", "[cli]") {
  const std::string out = "/tmp/sockscope-cli-test-" + std::to_string(getpid()) + "-version";
  Process p({SOCKSCOPE_BIN, "--version"}, out);
  CHECK(p.wait() == 0);
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  unlink(out.c_str());
  // SOCKSCOPE_VERSION: CMake's project VERSION; libbpf: the same shared
  // library this test runs with.
  CHECK(text.str() == std::string("sockscope ") + SOCKSCOPE_VERSION + "\nlibbpf " +
                          std::to_string(libbpf_major_version()) + "." + std::to_string(libbpf_minor_version()) + "\n");
  CHECK(p.stderr_text().empty());
}

TEST_CASE("a ready file that cannot be written: one line and exit 1, before anything is attached", "[cli]") {
  struct Case {
    std::string path;
    std::string says;
  };
  const std::string sub = GENERATE("trace", "explain");
  auto c = GENERATE(
      Case{"/nonexistent-dir/ready",
           "sockscope: error: --ready-file /nonexistent-dir/ready: cannot write in /nonexistent-dir: No such file or "
           "directory\n"},
      Case{"/tmp", "sockscope: error: --ready-file /tmp: cannot replace: Is a directory\n"});
  // As nobody too: the path is checked before the privileges.
  const bool as_nobody = GENERATE(false, true);
  Outcome o = run({SOCKSCOPE_BIN, sub, "--port", "9", "--ready-file", c.path}, as_nobody && geteuid() == 0);
  INFO("stderr: " << o.err);
  CHECK(o.code == 1);
  CHECK(o.err == c.says);
}

TEST_CASE("a pcap file that cannot be written: one line and exit 1, and a run that fails leaves none behind", "[cli]") {
  const std::string sub = GENERATE("trace", "explain");
  Outcome o = run({SOCKSCOPE_BIN, sub, "--port", "9", "--pcap", "/nonexistent-dir/out.pcapng"});
  INFO("stderr: " << o.err);
  CHECK(o.code == 1);
  CHECK(o.err == "sockscope: error: --pcap /nonexistent-dir/out.pcapng: cannot create it: No such file or directory\n");
  // Created, then the run fails (no such pid): the file is removed, not left
  // half-written.
  const std::string path = "/tmp/sockscope-cli-" + std::to_string(getpid()) + ".pcapng";
  o = run({SOCKSCOPE_BIN, sub, "--pid", std::to_string(unused_pid()), "--pcap", path});
  INFO("stderr: " << o.err);
  CHECK(o.code == 1);
  CHECK(count_lines(o.err) == 1);
  CHECK(access(path.c_str(), F_OK) != 0);
}
