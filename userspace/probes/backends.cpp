#include "probes/backends.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "events/names.hpp"
#include "probes/error.hpp"
#include "probes/kernel_btf.hpp"

namespace sockscope::probes {

namespace {

std::string errstr(int err) { return std::strerror(err < 0 ? -err : err); }

// An fd closed on scope exit.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// "r0 = 0; exit": the smallest program the verifier accepts.
int load_trivial(bpf_prog_type type, const bpf_prog_load_opts* opts) {
  const bpf_insn insns[2] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  return bpf_prog_load(type, "sockscope_probe", "GPL", insns, 2, opts);
}

// The BTF ids of every function the hooks probe, from one pass over the
// kernel's BTF (kernel_btf.hpp: libbpf parses it in full when it loads the
// skeleton; a second full parse here cost as much again).
struct FunctionIds {
  std::vector<std::string_view> names;
  std::optional<std::vector<uint32_t>> ids;  // nullopt: no readable BTF

  std::optional<uint32_t> find(std::string_view func) const {
    for (std::size_t i = 0; ids && i < names.size(); ++i)
      if (names[i] == func) return (*ids)[i];
    return std::nullopt;
  }
};

FunctionIds hook_function_ids() {
  FunctionIds out;
  for (const HookSpec& spec : hook_specs())
    out.names.insert(out.names.end(), spec.functions.begin(), spec.functions.end());
  out.ids = kernel_func_ids(out.names);
  return out;
}

// fexit on `func`: its BTF id, a tracing program loaded against it, attached.
Availability probe_fentry(const FunctionIds& btf, std::string_view func) {
  if (!btf.ids) return {false, "the kernel has no BTF (/sys/kernel/btf/vmlinux)"};
  const uint32_t id = btf.find(func).value_or(0);
  if (id == 0) return {false, fmt::format("{} is not in the kernel's BTF (inlined, or in a module)", func)};
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FEXIT, .attach_btf_id = id);
  Fd prog{load_trivial(BPF_PROG_TYPE_TRACING, &opts)};
  if (prog.fd < 0) return {false, fmt::format("the kernel refused an fexit program on {}: {}", func, errstr(errno))};
  Fd link{bpf_raw_tracepoint_open(nullptr, prog.fd)};
  if (link.fd < 0) return {false, fmt::format("attaching fexit to {} failed: {}", func, errstr(errno))};
  return {true, fmt::format("fexit on {} loads and attaches", func)};
}

// The kprobe PMU's type and its retprobe bit, from sysfs.
std::optional<std::pair<int, int>> kprobe_pmu() {
  std::ifstream type_file("/sys/bus/event_source/devices/kprobe/type");
  int type = -1;
  if (!(type_file >> type)) return std::nullopt;
  std::ifstream fmt_file("/sys/bus/event_source/devices/kprobe/format/retprobe");
  std::string f;  // "config:0"
  int bit = 0;
  if (fmt_file >> f && f.rfind("config:", 0) == 0) bit = std::stoi(f.substr(7));
  return std::make_pair(type, bit);
}

// A kprobe and a kretprobe on `func` through the kprobe PMU, with a trivial
// program attached to each: what libbpf's attach does.
Availability probe_kprobe(std::string_view func) {
  auto pmu = kprobe_pmu();
  if (!pmu) return {false, "no kprobe PMU in /sys/bus/event_source/devices: the kernel has no kprobes"};
  Fd prog{load_trivial(BPF_PROG_TYPE_KPROBE, nullptr)};
  if (prog.fd < 0) return {false, fmt::format("the kernel refused a kprobe program: {}", errstr(errno))};
  const std::string name(func);
  for (bool ret : {false, true}) {
    perf_event_attr attr{};
    attr.size = sizeof(attr);
    attr.type = static_cast<uint32_t>(pmu->first);
    attr.config = ret ? (1ull << pmu->second) : 0;
    attr.config1 = reinterpret_cast<uint64_t>(name.c_str());
    attr.config2 = 0;
    Fd ev{static_cast<int>(syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC))};
    if (ev.fd < 0)
      return {false, fmt::format("a {} on {} cannot be placed: {}", ret ? "kretprobe" : "kprobe", func, errstr(errno))};
    if (ioctl(ev.fd, PERF_EVENT_IOC_SET_BPF, prog.fd) < 0)
      return {false, fmt::format("attaching a program to the {} on {} failed: {}", ret ? "kretprobe" : "kprobe", func,
                                 errstr(errno))};
  }
  return {true, fmt::format("kprobe and kretprobe on {} attach", func)};
}

// Every function of a hook must work; the first failure says why not.
template <typename Probe>
Availability probe_all(const HookSpec& spec, Probe probe, std::map<std::string, Availability>& cache) {
  Availability last;
  for (std::string_view f : spec.functions) {
    auto [it, fresh] = cache.try_emplace(std::string(f));
    if (fresh) it->second = probe(f);
    if (!it->second.ok) return it->second;
    last = it->second;
  }
  if (spec.functions.size() > 1) last.why = fmt::format("works on {}", fmt::join(spec.functions, " and "));
  return last;
}

Availability probe_fallback(const HookSpec& spec) {
  for (std::string_view ev : spec.fallback_events) {
    struct stat st {};
    const std::string a = fmt::format("/sys/kernel/tracing/events/{}", ev);
    const std::string b = fmt::format("/sys/kernel/debug/tracing/events/{}", ev);
    if (stat(a.c_str(), &st) != 0 && stat(b.c_str(), &st) != 0)
      return {false, fmt::format("tracepoint {} not found in tracefs", ev)};
  }
  return {true, std::string(spec.fallback)};
}

}  // namespace

events::Backend record_backend(Backend b) {
  switch (b) {
    case Backend::Fentry: return events::Backend::Fentry;
    case Backend::Kprobe: return events::Backend::Kprobe;
    case Backend::Tracepoint: break;
  }
  return events::Backend::Tracepoint;
}

std::string_view backend_name(Backend b) { return events::backend_name(record_backend(b)); }

const std::array<HookSpec, kHooks>& hook_specs() {
  static const std::array<HookSpec, kHooks> specs = {{
      {SK_HOOK_BIND,
       "bind",
       {"inet_bind", "inet6_bind"},
       "syscalls:sys_exit_bind, reading the bound socket",
       {"syscalls/sys_exit_bind"}},
      {SK_HOOK_LISTEN,
       "listen",
       {"inet_listen"},
       "sock:inet_sock_set_state CLOSE -> LISTEN",
       {"sock/inet_sock_set_state"}},
      {SK_HOOK_SYN, "syn", {"tcp_conn_request"}, "sock_ops TIMEOUT_INIT on the request socket (cgroup v2 root)", {}},
      {SK_HOOK_ESTABLISHED,
       "established",
       {"inet_csk_complete_hashdance"},
       "sock:inet_sock_set_state SYN_RECV -> ESTABLISHED",
       {"sock/inet_sock_set_state"}},
      {SK_HOOK_ACCEPT,
       "accept",
       {"inet_csk_accept"},
       "syscalls:sys_exit_accept/accept4, the fd's socket",
       {"syscalls/sys_exit_accept", "syscalls/sys_exit_accept4"}},
  }};
  return specs;
}

std::vector<HookChoice> choose_backends(std::optional<Backend> forced) {
  std::map<std::string, Availability> fentry_cache, kprobe_cache;
  const FunctionIds ids = forced == Backend::Tracepoint ? FunctionIds{} : hook_function_ids();
  const auto fentry = [&](std::string_view f) { return probe_fentry(ids, f); };
  std::vector<HookChoice> out;
  for (const HookSpec& spec : hook_specs()) {
    HookChoice c;
    c.spec = &spec;
    c.tracepoint = probe_fallback(spec);
    // A forced tracepoint backend never loads a function program.
    if (forced != Backend::Tracepoint) {
      c.fentry = probe_all(spec, fentry, fentry_cache);
      if (forced != Backend::Fentry) c.kprobe = probe_all(spec, probe_kprobe, kprobe_cache);
    }
    if (forced) {
      const Availability& a = *forced == Backend::Fentry   ? c.fentry
                              : *forced == Backend::Kprobe ? c.kprobe
                                                           : c.tracepoint;
      if (!a.ok)
        throw TraceError(fmt::format("--backend {}: not available for the {} hook on this kernel: {}",
                                     backend_name(*forced), spec.name, a.why));
      c.chosen = *forced;
    } else if (c.fentry.ok) {
      c.chosen = Backend::Fentry;
    } else if (c.kprobe.ok) {
      c.chosen = Backend::Kprobe;
    } else if (c.tracepoint.ok) {
      c.chosen = Backend::Tracepoint;
    } else {
      throw TraceError(fmt::format("no backend for the {} hook: fentry: {}; kprobe: {}; tracepoint: {}", spec.name,
                                   c.fentry.why, c.kprobe.why, c.tracepoint.why));
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::string describe_choice(const HookChoice& c) {
  std::string s = fmt::format("{}: {}", c.spec->name, backend_name(c.chosen));
  if (c.chosen == Backend::Tracepoint) s += fmt::format(" ({})", c.tracepoint.why);
  std::vector<std::string> skipped;
  if (c.chosen != Backend::Fentry && !c.fentry.why.empty()) skipped.push_back("fentry: " + c.fentry.why);
  if (c.chosen == Backend::Tracepoint && !c.kprobe.why.empty()) skipped.push_back("kprobe: " + c.kprobe.why);
  if (!skipped.empty()) s += fmt::format("; not {}", fmt::join(skipped, "; "));
  return s;
}

}  // namespace sockscope::probes
