// Which backend each hook's records come from in this run: the one
// SOCKSCOPE_TEST_BACKEND forces (tests/vm runs the suite once per backend),
// or, under the tracer's own choice (auto or unset), the one `sockscope
// doctor` reports as chosen, read off its table. The tracer and doctor make
// that choice with the same probes (probes::choose_backends), so a record
// naming another backend is a bug, not a different choice.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "process.hpp"
#include "trace_run.hpp"

namespace sockscope::testing {

// One row of doctor's hook table:
//
//   hook         kernel functions                 fentry  kprobe  tracepoint  chosen
//   bind         inet_bind, inet6_bind            no      no      yes         tracepoint
//   ...
//
// (the rows from the header to the first blank line; the kernel functions
// column may hold spaces, so the four last words are the backends' columns).
struct DoctorRow {
  std::string hook, fentry, kprobe, tracepoint, chosen;
};

inline std::vector<DoctorRow> parse_doctor_table(const std::string& text) {
  std::vector<DoctorRow> rows;
  std::istringstream in(text);
  std::string line;
  bool in_table = false;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string s; words >> s;) w.push_back(s);
    if (!in_table) {
      in_table = !w.empty() && w.front() == "hook" && w.back() == "chosen";
      continue;
    }
    if (w.empty()) break;
    INFO("doctor row: " << line);
    REQUIRE(w.size() >= 6);
    const auto n = w.size();
    rows.push_back({w[0], w[n - 4], w[n - 3], w[n - 2], w[n - 1]});
  }
  return rows;
}

// Runs `sockscope doctor`; its whole output in *text when asked for.
inline std::vector<DoctorRow> doctor_rows(std::string* text = nullptr) {
  const std::string path = "/tmp/sockscope-test-" + std::to_string(getpid()) + "-doctor.txt";
  Process doctor({SOCKSCOPE_BIN, "doctor"}, path);
  const auto rc = doctor.wait(60s);
  std::ifstream f(path);
  const std::string out((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  unlink(path.c_str());
  INFO("sockscope doctor said:\n" << out << doctor.stderr_text());
  REQUIRE(rc == 0);
  auto rows = parse_doctor_table(out);
  REQUIRE(rows.size() == 5);
  if (text) *text = out;
  return rows;
}

// doctor's choice per hook (hook -> chosen backend), from one run per test binary.
inline const std::map<std::string, std::string>& doctor_choices() {
  static std::optional<std::map<std::string, std::string>> cached;
  if (!cached) {
    std::map<std::string, std::string> table;
    for (const DoctorRow& r : doctor_rows()) table[r.hook] = r.chosen;
    for (const char* hook : {"bind", "listen", "syn", "established", "accept"}) {
      INFO("hook " << hook);
      REQUIRE(table.contains(hook));
    }
    cached = std::move(table);
  }
  return *cached;
}

// The backend `hook` ("listen", "syn", "established", "accept", as doctor
// names them) runs under in this test run.
inline std::string hook_backend(const std::string& hook) {
  if (const char* b = forced_backend()) return b;
  return doctor_choices().at(hook);
}

// The backend name a record made by `hook` carries: the hook's backend,
// except that the tracepoint path sees a request socket through sock_ops.
inline std::string record_backend(const std::string& hook) {
  const std::string b = hook_backend(hook);
  return hook == "syn" && b == "tracepoint" ? "sock_ops" : b;
}

}  // namespace sockscope::testing
