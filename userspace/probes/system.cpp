#include "probes/system.hpp"

#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "probes/error.hpp"

namespace sockscope::probes {

namespace {

std::string errstr(int err) { return std::strerror(err < 0 ? -err : err); }

bool has_capability(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  return data[cap / 32].effective & (1u << (cap % 32));
}

bool exists(const char* path) { return access(path, F_OK) == 0; }

}  // namespace

std::string cgroup2_mount() {
  std::ifstream mounts("/proc/self/mounts");
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream in(line);
    std::string dev, dir, type;
    in >> dev >> dir >> type;
    if (type == "cgroup2") return dir;
  }
  return "";
}

bool privileged() {
  constexpr int kCapBpf = 39, kCapPerfmon = 38;
  return geteuid() == 0 || has_capability(CAP_SYS_ADMIN) ||
         (has_capability(kCapBpf) && has_capability(kCapPerfmon) && has_capability(CAP_NET_ADMIN));
}

void check_system() {
  if (!privileged())
    throw TraceError("tracing needs root (or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN): run it with sudo");
  if (!exists("/sys/kernel/btf/vmlinux"))
    throw TraceError("this kernel has no BTF (/sys/kernel/btf/vmlinux is missing; it needs CONFIG_DEBUG_INFO_BTF=y)");
  // libbpf resolves tracepoint ids through tracefs; mount it where it is missing.
  if (!exists("/sys/kernel/tracing/events") && !exists("/sys/kernel/debug/tracing/events")) {
    if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0)
      throw TraceError(
          fmt::format("tracefs is not mounted and mounting it on /sys/kernel/tracing failed: {}", errstr(errno)));
    spdlog::debug("mounted tracefs on /sys/kernel/tracing");
  }
}

std::string libbpf_version() { return fmt::format("{}.{}", libbpf_major_version(), libbpf_minor_version()); }

}  // namespace sockscope::probes

namespace sockscope::probes {

namespace {

// "ffffffff813d2580 T autoremove_wake_function" (modules add " [name]").
void scan_kallsyms(const std::string_view* names, uint64_t* out, std::size_t n) {
  std::ifstream in("/proc/kallsyms");
  std::string line;
  std::size_t found = 0;
  while (found < n && std::getline(in, line)) {
    const auto sp1 = line.find(' ');
    if (sp1 == std::string::npos || sp1 + 3 > line.size()) continue;
    std::string_view name = std::string_view(line).substr(sp1 + 3);
    if (auto tab = name.find_first_of(" \t"); tab != std::string_view::npos) name = name.substr(0, tab);
    for (std::size_t i = 0; i < n; ++i) {
      if (out[i] || name != names[i]) continue;
      uint64_t addr = 0;
      std::from_chars(line.data(), line.data() + sp1, addr, 16);
      out[i] = addr;
      if (addr) ++found;
    }
  }
}

}  // namespace

template <std::size_t N>
std::array<uint64_t, N> kernel_symbols(const std::array<std::string_view, N>& names) {
  std::array<uint64_t, N> out{};
  scan_kallsyms(names.data(), out.data(), N);
  return out;
}

template std::array<uint64_t, 6> kernel_symbols<6>(const std::array<std::string_view, 6>&);

}  // namespace sockscope::probes
