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
// Root, CAP_SYS_ADMIN, or CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN.
bool privileged();

// Checks privileges, BTF and tracefs (mounting tracefs where missing).
// Throws TraceError naming what is missing.
void check_system();

// The version of the libbpf this process runs with ("1.1"), which may be newer
// than the one it was built against.
std::string libbpf_version();

// Kernel addresses of the named functions, from /proc/kallsyms (0 for a
// name it lacks, and for all when the addresses are hidden, e.g. by
// kptr_restrict without root). One pass over the file.
template <std::size_t N>
std::array<uint64_t, N> kernel_symbols(const std::array<std::string_view, N>& names);

}  // namespace sockscope::probes
