#include "probes/system.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
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

bool has_capability(int cap) { return (capabilities().effective & cap_bit(cap)) != 0; }

// capset with these three sets (64 bits each, as two 32-bit words).
void capset_all(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<uint32_t>(effective >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(permitted >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(inheritable >> (32 * i));
  }
  if (syscall(SYS_capset, &hdr, data) != 0)
    throw TraceError(fmt::format("cannot set capabilities: {}", std::strerror(errno)));
}

// The highest capability this kernel knows.
int last_cap() {
  std::ifstream f("/proc/sys/kernel/cap_last_cap");
  int n = 40;
  f >> n;
  return n;
}

constexpr std::array<std::string_view, 41> kCapNames = {"CAP_CHOWN",
                                                        "CAP_DAC_OVERRIDE",
                                                        "CAP_DAC_READ_SEARCH",
                                                        "CAP_FOWNER",
                                                        "CAP_FSETID",
                                                        "CAP_KILL",
                                                        "CAP_SETGID",
                                                        "CAP_SETUID",
                                                        "CAP_SETPCAP",
                                                        "CAP_LINUX_IMMUTABLE",
                                                        "CAP_NET_BIND_SERVICE",
                                                        "CAP_NET_BROADCAST",
                                                        "CAP_NET_ADMIN",
                                                        "CAP_NET_RAW",
                                                        "CAP_IPC_LOCK",
                                                        "CAP_IPC_OWNER",
                                                        "CAP_SYS_MODULE",
                                                        "CAP_SYS_RAWIO",
                                                        "CAP_SYS_CHROOT",
                                                        "CAP_SYS_PTRACE",
                                                        "CAP_SYS_PACCT",
                                                        "CAP_SYS_ADMIN",
                                                        "CAP_SYS_BOOT",
                                                        "CAP_SYS_NICE",
                                                        "CAP_SYS_RESOURCE",
                                                        "CAP_SYS_TIME",
                                                        "CAP_SYS_TTY_CONFIG",
                                                        "CAP_MKNOD",
                                                        "CAP_LEASE",
                                                        "CAP_AUDIT_WRITE",
                                                        "CAP_AUDIT_CONTROL",
                                                        "CAP_SETFCAP",
                                                        "CAP_MAC_OVERRIDE",
                                                        "CAP_MAC_ADMIN",
                                                        "CAP_SYSLOG",
                                                        "CAP_WAKE_ALARM",
                                                        "CAP_BLOCK_SUSPEND",
                                                        "CAP_AUDIT_READ",
                                                        "CAP_PERFMON",
                                                        "CAP_BPF",
                                                        "CAP_CHECKPOINT_RESTORE"};

bool exists(const char* path) { return access(path, F_OK) == 0; }

}  // namespace

namespace {

// Where the first filesystem of this type is mounted, "" where none is.
std::string mount_of(std::string_view fs_type) {
  std::ifstream mounts("/proc/self/mounts");
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream in(line);
    std::string dev, dir, type;
    in >> dev >> dir >> type;
    if (type == fs_type) return dir;
  }
  return "";
}

}  // namespace

std::string cgroup2_mount() { return mount_of("cgroup2"); }

CapabilitySets capabilities() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return {};
  return {uint64_t{data[1].effective} << 32 | data[0].effective, uint64_t{data[1].permitted} << 32 | data[0].permitted};
}

void set_effective(uint64_t effective) {
  const CapabilitySets now = capabilities();
  capset_all(effective & now.permitted, now.permitted, 0);
}

Restricted restrict_capabilities(uint64_t keep) {
  const CapabilitySets now = capabilities();
  keep &= now.permitted;
  // The bounding set first, while CAP_SETPCAP may still be held: no exec
  // can give back what is dropped from it.
  const bool bounding = (now.effective & cap_bit(CAP_SETPCAP)) != 0;
  if (bounding)
    for (int cap = 0; cap <= last_cap(); ++cap)
      if (!(keep & cap_bit(cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
        throw TraceError(fmt::format("cannot drop {} from the bounding set: {}", capability_names(cap_bit(cap)),
                                     std::strerror(errno)));
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  capset_all(keep, keep, 0);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    throw TraceError(fmt::format("cannot set no_new_privs: {}", std::strerror(errno)));
  return {keep, bounding};
}

std::string capability_names(uint64_t mask) {
  std::string out;
  for (int cap = 0; cap < 64; ++cap) {
    if (!(mask & cap_bit(cap))) continue;
    if (!out.empty()) out += ", ";
    out += cap < static_cast<int>(kCapNames.size()) ? std::string(kCapNames[static_cast<size_t>(cap)])
                                                    : fmt::format("capability {}", cap);
  }
  return out.empty() ? "none" : out;
}

bool privileged() {
  constexpr int kCapBpf = 39, kCapPerfmon = 38;
  return geteuid() == 0 || has_capability(CAP_SYS_ADMIN) ||
         (has_capability(kCapBpf) && has_capability(kCapPerfmon) && has_capability(CAP_NET_ADMIN));
}

void check_system() {
  if (!privileged())
    throw TraceError("tracing needs root (or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN): run it with sudo");
  const std::string tracefs = mount_of("tracefs");
  if (!exists("/sys/kernel/btf/vmlinux"))
    throw TraceError("this kernel has no BTF (/sys/kernel/btf/vmlinux is missing; it needs CONFIG_DEBUG_INFO_BTF=y)");
  // libbpf resolves tracepoint ids through tracefs; mount it where it is
  // missing (not where it is mounted but closed to this user: that is the
  // attach's error to tell).
  if (tracefs.empty()) {
    if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0)
      throw TraceError(
          fmt::format("tracefs is not mounted and mounting it on /sys/kernel/tracing failed: {}", errstr(errno)));
    spdlog::debug("mounted tracefs on /sys/kernel/tracing");
  } else if (faccessat(AT_FDCWD, (tracefs + "/events").c_str(), X_OK, AT_EACCESS) != 0 && errno == EACCES) {
    // Mode 0700 by default: the tracepoints' ids (which attaching them
    // needs) are root's to read, or a holder of CAP_DAC_READ_SEARCH's.
    throw TraceError(
        fmt::format("tracefs ({}) is closed to this user, and attaching a tracepoint reads its id there: "
                    "run as root, or add CAP_DAC_READ_SEARCH",
                    tracefs));
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
template std::array<uint64_t, 2> kernel_symbols<2>(const std::array<std::string_view, 2>&);

}  // namespace sockscope::probes
