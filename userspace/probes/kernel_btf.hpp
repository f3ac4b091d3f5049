// The BTF ids of a few kernel functions, for fentry/fexit feature probes.
//
// Hand-written rather than libbpf's btf__load_vmlinux_btf: that builds a full
// btf object (an index of every type, 5 MiB and more) which the probes would
// throw away, and libbpf parses the kernel's BTF again when it loads the
// skeleton. A probe needs only the ids of the functions it attaches to: one
// pass over the type section, comparing the names of FUNC records, finds them
// (linux/btf.h's format: header, type records with kind-dependent trailing
// data, string section).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace sockscope::probes {

// For each name, the id of the first BTF_KIND_FUNC record so named (what
// libbpf's btf__find_by_name_kind returns), or 0 when there is none. nullopt
// when `raw` is not BTF of this machine's byte order, or is malformed before
// the last name is found (the scan stops there).
std::optional<std::vector<uint32_t>> btf_func_ids(std::span<const std::byte> raw,
                                                  std::span<const std::string_view> names);

// The same for the running kernel's BTF (/sys/kernel/btf/vmlinux); nullopt
// when it is missing or unreadable.
std::optional<std::vector<uint32_t>> kernel_func_ids(std::span<const std::string_view> names);

}  // namespace sockscope::probes
