// The BPF object as the loader (probes/tracer.cpp) relies on it, checked
// without root: the skeleton is opened, never loaded. What a kernel would
// only refuse as root (a program missing, of the wrong type, on the wrong
// function, or loading with no hook to answer for it) fails here.
#include <catch2/catch.hpp>

#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "probes/backends.hpp"
#include "probes/tracer.hpp"
#include "sockscope.h"
#include "sockscope_bpf.skel.h"

using namespace sockscope::probes;

namespace {

using Skeleton = std::unique_ptr<sockscope_bpf, decltype(&sockscope_bpf__destroy)>;

Skeleton open_skeleton() {
  Skeleton skel(sockscope_bpf__open(), &sockscope_bpf__destroy);
  REQUIRE(skel);
  return skel;
}

// "fexit/inet_bind" -> {"fexit", "inet_bind"}; "sockops" -> {"sockops", ""}.
std::pair<std::string, std::string> section_of(const bpf_program* p) {
  const std::string sec = bpf_program__section_name(p);
  const auto slash = sec.find('/');
  if (slash == std::string::npos) return {sec, ""};
  return {sec.substr(0, slash), sec.substr(slash + 1)};
}

bool is_function_probe(const bpf_program* p) {
  const auto t = bpf_program__type(p);
  return t == BPF_PROG_TYPE_TRACING || t == BPF_PROG_TYPE_KPROBE;
}

constexpr Backend kFunctionBackends[] = {Backend::Fentry, Backend::Kprobe};

}  // namespace

TEST_CASE("hook_specs are enum sk_hook, in its order", "[skeleton]") {
  const auto& specs = hook_specs();
  STATIC_REQUIRE(std::tuple_size_v<std::remove_cvref_t<decltype(specs)>> == SK_HOOKS);
  std::set<std::string_view> names;
  for (uint32_t i = 0; i < SK_HOOKS; i++) {
    CAPTURE(i);
    CHECK(static_cast<uint32_t>(specs[i].hook) == i);
    CHECK_FALSE(specs[i].functions.empty());
    CHECK(names.insert(specs[i].name).second);
  }
}

TEST_CASE("every hook has its programs on each function-probe backend", "[skeleton]") {
  const Skeleton skel = open_skeleton();
  for (const HookSpec& spec : hook_specs()) {
    for (Backend backend : kFunctionBackends) {
      CAPTURE(spec.name, backend_name(backend));
      const auto progs = hook_programs(*skel, spec.hook, backend);
      REQUIRE_FALSE(progs.empty());
      std::set<std::string> covered;
      for (const bpf_program* p : progs) {
        REQUIRE(p != nullptr);
        const auto [kind, function] = section_of(p);
        CAPTURE(bpf_program__name(p), bpf_program__section_name(p));
        if (backend == Backend::Fentry) {
          CHECK(bpf_program__type(p) == BPF_PROG_TYPE_TRACING);
          REQUIRE((kind == "fentry" || kind == "fexit"));
          CHECK(bpf_program__expected_attach_type(p) == (kind == "fentry" ? BPF_TRACE_FENTRY : BPF_TRACE_FEXIT));
        } else {
          CHECK(bpf_program__type(p) == BPF_PROG_TYPE_KPROBE);
          CHECK((kind == "kprobe" || kind == "kretprobe"));
        }
        // The backend was chosen by probing exactly these functions.
        CHECK(std::find(spec.functions.begin(), spec.functions.end(), function) != spec.functions.end());
        covered.insert(function);
      }
      // ... and every function probed has a program that reports it.
      CHECK(covered.size() == spec.functions.size());
    }
    CHECK(hook_programs(*skel, spec.hook, Backend::Tracepoint).empty());
  }
}

TEST_CASE("every function probe in the object belongs to exactly one hook and backend", "[skeleton]") {
  // The loader switches off the programs of the backends it did not choose;
  // a function probe no hook claims would load anyway and fail the whole
  // object on a kernel that refuses fentry or kprobes.
  const Skeleton skel = open_skeleton();
  std::map<const bpf_program*, int> claims;
  for (const HookSpec& spec : hook_specs())
    for (Backend backend : kFunctionBackends)
      for (const bpf_program* p : hook_programs(*skel, spec.hook, backend)) claims[p]++;

  std::size_t function_probes = 0;
  bpf_program* p = nullptr;
  bpf_object__for_each_program(p, skel->obj) {
    CAPTURE(bpf_program__name(p), bpf_program__section_name(p));
    if (is_function_probe(p)) {
      function_probes++;
      CHECK(claims[p] == 1);
    } else {
      // Everything else loads on every backend: what the tracepoint path
      // needs, which every supported kernel has.
      const auto t = bpf_program__type(p);
      CHECK((t == BPF_PROG_TYPE_TRACEPOINT || t == BPF_PROG_TYPE_RAW_TRACEPOINT || t == BPF_PROG_TYPE_SOCK_OPS));
      CHECK(claims.count(p) == 0);
    }
  }
  CHECK(function_probes == claims.size());
  // The loader attaches this one to the cgroup v2 root by hand.
  CHECK(bpf_program__type(skel->progs.sock_ops) == BPF_PROG_TYPE_SOCK_OPS);
}

TEST_CASE("the maps and globals the loader uses", "[skeleton]") {
  const Skeleton skel = open_skeleton();
  SECTION("events: a ring buffer the loader sizes (--ringbuf-size)") {
    CHECK(bpf_map__type(skel->maps.events) == BPF_MAP_TYPE_RINGBUF);
    REQUIRE(bpf_map__set_max_entries(skel->maps.events, 8u << 20) == 0);
    CHECK(bpf_map__max_entries(skel->maps.events) == 8u << 20);
  }
  SECTION("drops: one 8-byte counter per cause and CPU (Tracer::losses)") {
    CHECK(bpf_map__type(skel->maps.drops) == BPF_MAP_TYPE_PERCPU_ARRAY);
    CHECK(bpf_map__max_entries(skel->maps.drops) == SK_DROP_CAUSES);
    CHECK(bpf_map__key_size(skel->maps.drops) == sizeof(uint32_t));
    CHECK(bpf_map__value_size(skel->maps.drops) == sizeof(uint64_t));
  }
  SECTION("traced_tgids: tgid -> one byte (Tracer::add_pid)") {
    CHECK(bpf_map__type(skel->maps.traced_tgids) == BPF_MAP_TYPE_HASH);
    CHECK(bpf_map__key_size(skel->maps.traced_tgids) == sizeof(uint32_t));
    CHECK(bpf_map__value_size(skel->maps.traced_tgids) == sizeof(uint8_t));
  }
  SECTION("filters in rodata, hook_backend in bss") {
    REQUIRE(skel->rodata != nullptr);
    REQUIRE(skel->bss != nullptr);
    STATIC_REQUIRE(std::extent_v<decltype(sockscope_bpf::sockscope_bpf__rodata::targ_ports)> == kMaxFilterPorts);
    STATIC_REQUIRE(sizeof(sockscope_bpf::sockscope_bpf__rodata::targ_comm) == SK_COMM_LEN);
    STATIC_REQUIRE(std::extent_v<decltype(sockscope_bpf::sockscope_bpf__bss::hook_backend)> == kHooks);
    // Zero before userspace writes it: the tracepoint path serves every hook.
    for (std::size_t i = 0; i < kHooks; i++) CHECK(skel->bss->hook_backend[i] == SK_BACKEND_TRACEPOINT);
  }
}

TEST_CASE("a backend has the name its records carry", "[backends]") {
  CHECK(backend_name(Backend::Fentry) == "fentry");
  CHECK(backend_name(Backend::Kprobe) == "kprobe");
  CHECK(backend_name(Backend::Tracepoint) == "tracepoint");
  CHECK(static_cast<int>(record_backend(Backend::Fentry)) == SK_BACKEND_FENTRY);
  CHECK(static_cast<int>(record_backend(Backend::Kprobe)) == SK_BACKEND_KPROBE);
  CHECK(static_cast<int>(record_backend(Backend::Tracepoint)) == SK_BACKEND_TRACEPOINT);
}
