// Least privilege (issue #13): what sockscope holds once everything is
// attached, read from /proc/PID/status; that it runs without root given the
// capabilities README names (capsh, as nobody); and that the file it creates
// cannot be turned against anyone by a planted symlink.
#include <bpf/bpf.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "../support/trace_run.hpp"
#include "probes/system.hpp"

using namespace sockscope::testing;
using sockscope::probes::cap_bit;

namespace {

int next_port() {
  static int port = 13600 + (getpid() % 50) * 20;
  return port++;
}

// A field of /proc/PID/status ("CapEff", "NoNewPrivs"), as text.
std::string status_field(pid_t pid, const std::string& name) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(name + ":", 0) == 0) return line.substr(line.find_first_not_of(" \t", name.size() + 1));
  FAIL("no " << name << " in /proc/" << pid << "/status");
  return "";
}
uint64_t cap_field(pid_t pid, const std::string& name) { return std::stoull(status_field(pid, name), nullptr, 16); }

// Whether this kernel wants CAP_BPF (or CAP_SYS_ADMIN) for a lookup in a map
// already open: found out here on a map of our own, in a child that lowers
// its effective set, as sockscope does for its own.
bool maps_need_cap_bpf() {
  const int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "capprobe", 4, 8, 1, nullptr);
  REQUIRE(fd >= 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (syscall(SYS_capget, &hdr, data) != 0) _exit(3);
    data[CAP_BPF / 32].effective &= ~(1u << (CAP_BPF % 32));
    data[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
    if (syscall(SYS_capset, &hdr, data) != 0) _exit(3);
    uint32_t key = 0;
    uint64_t value = 0;
    _exit(bpf_map_lookup_elem(fd, &key, &value) == 0 ? 0 : errno == EPERM ? 1 : 2);
  }
  int st = 0;
  waitpid(child, &st, 0);
  close(fd);
  REQUIRE(WIFEXITED(st));
  REQUIRE(WEXITSTATUS(st) <= 1);
  return WEXITSTATUS(st) == 1;
}

// One connection to `port` on loopback: the tutorial's pair. Their pids.
std::pair<pid_t, pid_t> one_connection(int port) {
  Process r({RECEIVER_BIN, "--host", "127.0.0.1", "--port", std::to_string(port)});
  REQUIRE(r.wait_stdout("listen backlog"));
  Process s({SENDER_BIN, "--host", "127.0.0.1", "--port", std::to_string(port), "--timeout", "20"});
  REQUIRE(s.wait() == 0);
  REQUIRE(r.wait() == 0);
  return {r.pid(), s.pid()};
}

std::vector<std::string> backend_args() {
  if (const char* b = forced_backend()) return {"--backend", b};
  return {};
}

}  // namespace

TEST_CASE("after attach, trace holds no capability and explain only what reading /proc/PID/fd needs", "[privileges]") {
  const std::string sub = GENERATE("trace", "explain");
  INFO(sub);
  const uint64_t bpf = maps_need_cap_bpf() ? cap_bit(CAP_BPF) : 0;
  const uint64_t want = bpf | (sub == "explain" ? cap_bit(CAP_SYS_PTRACE) | cap_bit(CAP_DAC_READ_SEARCH) : 0);
  const int port = next_port();
  const std::string ready = ready_path(), out = temp_path("caps");
  std::vector<std::string> argv = {SOCKSCOPE_BIN,  "-v",  sub,      "--json",
                                   "--ready-file", ready, "--port", std::to_string(port)};
  for (const auto& a : backend_args()) argv.push_back(a);
  Process tracer(argv, out);
  REQUIRE(wait_ready(tracer, ready, 20s));
  // The ready file appears only once the capabilities are dropped.
  CHECK(cap_field(tracer.pid(), "CapEff") == want);
  CHECK(cap_field(tracer.pid(), "CapPrm") == want);
  CHECK(cap_field(tracer.pid(), "CapInh") == 0);
  CHECK(cap_field(tracer.pid(), "CapAmb") == 0);
  CHECK(cap_field(tracer.pid(), "CapBnd") == want);
  CHECK(status_field(tracer.pid(), "NoNewPrivs") == "1");
  // And it goes on working: the connection is traced, nothing lost.
  const auto pair = one_connection(port);
  const pid_t receiver = pair.first, sender = pair.second;
  tracer.signal(SIGINT);
  REQUIRE(tracer.wait(10s) == 0);
  const std::string err = tracer.stderr_text();
  INFO(err);
  CHECK(err.find("capabilities after attach: " + sockscope::probes::capability_names(want) + " kept") !=
        std::string::npos);
  Records rs = read_records(out);
  REQUIRE(!rs.empty());
  CHECK(rs.back()["lost_total"] == 0);
  if (sub == "explain") {
    json c = one(
        rs, [](const json& r) { return r.value("type", "") == "connection"; }, "the connection");
    CHECK(c["client_pid"] == sender);
    CHECK(c["accept_pid"] == receiver);
    CHECK(c["listener_pids"] == json::array({receiver}));
  } else {
    CHECK(!select(rs, [&](const json& r) {
             return r.value("pid", 0) == receiver && is(r, "syscall", "accept");
           }).empty());
  }
  unlink(out.c_str());
  unlink(ready.c_str());
}

TEST_CASE("without root: nobody with CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN and CAP_DAC_READ_SEARCH traces",
          "[privileges]") {
  const int port = next_port();
  const std::string ready = ready_path(), out = temp_path("nobody");
  std::string cmd = std::string("exec ") + SOCKSCOPE_BIN + " -v trace --json --ready-file " + ready + " --port " +
                    std::to_string(port);
  for (const auto& a : backend_args()) cmd += " " + a;
  const std::string caps = "cap_bpf,cap_perfmon,cap_net_admin,cap_dac_read_search";
  // capsh execs bash, which execs sockscope: the pid is sockscope's.
  Process tracer({"capsh", "--caps=" + caps + "+eip cap_setpcap,cap_setuid,cap_setgid+ep", "--keep=1", "--user=nobody",
                  "--addamb=" + caps, "--", "-c", cmd},
                 out);
  REQUIRE(wait_ready(tracer, ready, 20s));
  CHECK(status_field(tracer.pid(), "Uid").rfind("65534\t", 0) == 0);
  // Nothing kept that it does not need: no CAP_SETPCAP for the bounding set,
  // so no_new_privs.
  CHECK(cap_field(tracer.pid(), "CapEff") == (maps_need_cap_bpf() ? cap_bit(CAP_BPF) : 0));
  CHECK(status_field(tracer.pid(), "NoNewPrivs") == "1");
  const auto pair = one_connection(port);
  const pid_t receiver = pair.first, sender = pair.second;
  tracer.signal(SIGINT);
  REQUIRE(tracer.wait(10s) == 0);
  INFO(tracer.stderr_text());
  Records rs = read_records(out);
  REQUIRE(!rs.empty());
  CHECK(rs.back()["lost_total"] == 0);
  CHECK(!select(rs, [&](const json& r) { return r.value("pid", 0) == sender && is(r, "syscall", "connect"); }).empty());
  CHECK(!select(rs, [&](const json& r) { return r.value("pid", 0) == receiver && is(r, "kernel", "listen"); }).empty());
  unlink(out.c_str());
  unlink(ready.c_str());
}

TEST_CASE("without root and CAP_DAC_READ_SEARCH: one line says tracefs is closed and what opens it", "[privileges]") {
  const std::string tracefs = "/sys/kernel/tracing";
  struct stat st {};
  REQUIRE(stat((tracefs + "/events").c_str(), &st) == 0);
  REQUIRE(stat(tracefs.c_str(), &st) == 0);
  if ((st.st_mode & S_IXOTH) != 0) {
    WARN("tracefs is open to others here: nothing to refuse, nothing checked");
    return;
  }
  const std::string caps = "cap_bpf,cap_perfmon,cap_net_admin";
  Process tracer({"capsh", "--caps=" + caps + "+eip cap_setpcap,cap_setuid,cap_setgid+ep", "--keep=1", "--user=nobody",
                  "--addamb=" + caps, "--", "-c", std::string("exec ") + SOCKSCOPE_BIN + " trace --json"},
                 "/dev/null");
  REQUIRE(tracer.wait(20s) == 1);
  CHECK(tracer.stderr_text() == "sockscope: error: tracefs (" + tracefs +
                                    ") is closed to this user, and attaching a tracepoint reads its id there: run as "
                                    "root, or add CAP_DAC_READ_SEARCH\n");
}

TEST_CASE("the ready file: a planted symlink is replaced, not followed, and the file is 0644", "[privileges]") {
  const std::string ready = ready_path(), victim = temp_path("victim");
  { std::ofstream(victim) << "precious\n"; }
  REQUIRE(chmod(victim.c_str(), 0600) == 0);
  REQUIRE(symlink(victim.c_str(), ready.c_str()) == 0);
  std::vector<std::string> argv = {SOCKSCOPE_BIN, "trace", "--json", "--ready-file", ready, "--port", "9"};
  for (const auto& a : backend_args()) argv.push_back(a);
  Process tracer(argv, "/dev/null");
  REQUIRE(wait_until([&] {
    struct stat st {};
    return lstat(ready.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  }));
  struct stat st {};
  REQUIRE(lstat(ready.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0644);
  CHECK(st.st_uid == 0);
  std::ifstream v(victim);
  std::string line;
  CHECK((std::getline(v, line) && line == "precious"));
  REQUIRE(stat(victim.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  tracer.signal(SIGINT);
  REQUIRE(tracer.wait(10s) == 0);
  unlink(ready.c_str());
  unlink(victim.c_str());
}
