#include "cli/doctor_command.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <iostream>

#include <fmt/format.h>

#include "probes/backends.hpp"
#include "probes/error.hpp"
#include "probes/system.hpp"

namespace sockscope::cli {

namespace {

std::string yes_no(const probes::Availability& a) { return a.why.empty() ? "-" : a.ok ? "yes" : "no"; }

}  // namespace

CLI::App* add_doctor_command(CLI::App& app) {
  return app.add_subcommand("doctor", "What this kernel offers: BTF, privileges, and each hook's backends");
}

int run_doctor() {
  utsname u{};
  uname(&u);
  const bool btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
  const bool root = probes::privileged();
  const std::string cgroup = probes::cgroup2_mount();
  auto& out = std::cout;
  out << fmt::format("{:<12} {} {} ({})\n", "kernel", u.sysname, u.release, u.machine);
  out << fmt::format("{:<12} {}\n", "BTF", btf ? "/sys/kernel/btf/vmlinux" : "missing (needs CONFIG_DEBUG_INFO_BTF=y)");
  out << fmt::format(
      "{:<12} {}\n", "privileges",
      root ? (geteuid() == 0 ? "root" : "capabilities (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN)") : "missing: run as root");
  out << fmt::format("{:<12} {}\n", "cgroup v2",
                     cgroup.empty() ? "not mounted (no syn records on the tracepoint path)" : cgroup);
  if (!btf || !root) {
    out << "hooks        not probed: " << (!root ? "probing loads BPF programs, which needs root" : "no BTF") << "\n";
    return 1;
  }
  try {
    probes::check_system();  // mounts tracefs where missing
    const auto choices = probes::choose_backends(std::nullopt);
    out << fmt::format("\n{:<12} {:<32} {:<7} {:<7} {:<11} {}\n", "hook", "kernel functions", "fentry", "kprobe",
                       "tracepoint", "chosen");
    for (const auto& c : choices)
      out << fmt::format("{:<12} {:<32} {:<7} {:<7} {:<11} {}\n", c.spec->name,
                         fmt::format("{}", fmt::join(c.spec->functions, ", ")), yes_no(c.fentry), yes_no(c.kprobe),
                         yes_no(c.tracepoint), probes::backend_name(c.chosen));
    out << "\nwhy:\n";
    for (const auto& c : choices) {
      out << fmt::format("  {}\n", c.spec->name);
      out << fmt::format("    fentry:     {}\n", c.fentry.why);
      out << fmt::format("    kprobe:     {}\n", c.kprobe.why);
      out << fmt::format("    tracepoint: {}{}\n", c.tracepoint.ok ? "" : "missing: ", c.tracepoint.why);
    }
  } catch (const probes::TraceError& e) {
    out << "hooks        " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace sockscope::cli
