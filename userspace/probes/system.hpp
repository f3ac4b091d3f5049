// What the tracer needs from the system before anything is loaded:
// privileges, BTF, tracefs, and where cgroup v2 is mounted.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sockscope::probes {

// The cgroup v2 mount, where sock_ops programs attach ("" when none).
std::string cgroup2_mount();
// Root, CAP_SYS_ADMIN, or CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN (tracefs,
// closed to others, asks CAP_DAC_READ_SEARCH besides: check_system).
bool privileged();

// Checks privileges, BTF and tracefs (mounting tracefs where missing).
// Throws TraceError naming what is missing.
void check_system();

// Capabilities as bit masks (1 << CAP_*).
constexpr uint64_t cap_bit(int cap) { return uint64_t{1} << cap; }
struct CapabilitySets {
  uint64_t effective = 0, permitted = 0;
};
CapabilitySets capabilities();
// Raises or lowers the effective set, within the permitted one.
void set_effective(uint64_t effective);
// Keeps only `keep` (of what is permitted) for good: the effective and
// permitted sets become `keep`, inheritable and ambient empty, the bounding
// set `keep` too where CAP_SETPCAP allows, and no_new_privs is set (so no
// exec gains any). Throws TraceError.
struct Restricted {
  uint64_t kept = 0;
  bool bounding = false;  // the bounding set was cut down too
};
Restricted restrict_capabilities(uint64_t keep);
// "CAP_BPF, CAP_KILL", or "none".
std::string capability_names(uint64_t mask);

// The version of the libbpf this process runs with ("1.1"), which may be newer
// than the one it was built against.
std::string libbpf_version();

// Kernel addresses of the named functions, from /proc/kallsyms (0 for a
// name it lacks, and for all when the addresses are hidden, e.g. by
// kptr_restrict without root). One pass over the file.
template <std::size_t N>
std::array<uint64_t, N> kernel_symbols(const std::array<std::string_view, N>& names);

}  // namespace sockscope::probes
