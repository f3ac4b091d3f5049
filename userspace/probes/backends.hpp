// Which backend each hook gets on the running kernel: fentry/fexit, then
// kprobe/kretprobe, then the tracepoint path. Decided by trying: a trivial
// program is loaded and attached to the very function the hook probes.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/event.hpp"
#include "sockscope.h"

namespace sockscope::probes {

enum class Backend { Fentry, Kprobe, Tracepoint };
// How the records (and the BPF side's hook_backend[]) name the choice.
events::Backend record_backend(Backend b);
// The record's name: "fentry" | "kprobe" | "tracepoint".
std::string_view backend_name(Backend b);

// The logical hooks with function-probe backends: bpf/sockscope.h's enum
// sk_hook itself (SK_HOOK_BIND, ...), which also indexes the BPF side's
// hook_backend[]. A switch over it must name every hook.
using Hook = ::sk_hook;
inline constexpr std::size_t kHooks = SK_HOOKS;

// What doctor shows of a hook. Its BPF programs are the skeleton's, picked
// by hook_programs() (tracer.hpp).
struct HookSpec {
  Hook hook;
  std::string_view name;                          // "bind", "listen", "syn", "established", "accept"
  std::vector<std::string_view> functions;        // kernel functions probed
  std::string_view fallback;                      // what the tracepoint path uses instead
  std::vector<std::string_view> fallback_events;  // tracefs events it needs ("sock/inet_sock_set_state")
};
// In enum sk_hook order: hook_specs()[i].hook == i.
const std::array<HookSpec, kHooks>& hook_specs();

struct Availability {
  bool ok = false;
  std::string why;  // what worked, or what failed
};

struct HookChoice {
  const HookSpec* spec = nullptr;
  Backend chosen = Backend::Tracepoint;
  Availability fentry, kprobe, tracepoint;
};

// Probes every hook (root needed) and picks, per hook, the first backend in
// fentry, kprobe, tracepoint order that is available; with `forced`, that
// one for every hook. Throws TraceError when a forced backend is missing.
std::vector<HookChoice> choose_backends(std::optional<Backend> forced);

// "tracepoint (fentry: ...; kprobe: ...)": the one-line reason for -v.
std::string describe_choice(const HookChoice& c);

}  // namespace sockscope::probes
