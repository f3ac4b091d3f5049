#include "probes/tracer.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <future>
#include <span>
#include <thread>
#include <type_traits>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "events/decode.hpp"
#include "probes/system.hpp"
#include "sockscope.h"
#include "sockscope_bpf.skel.h"

namespace sockscope::probes {

namespace {

std::string errstr(int err) { return std::strerror(err < 0 ? -err : err); }

// The wake functions that tell a wait-queue entry's kind (bpf/common.bpf.h,
// enum sk_wake_fn, in that order). A kernel without one (io_uring not
// built) leaves it 0: its entries are reported as unknown.
constexpr std::array<std::string_view, SK_WAKE_FNS> kWakeFns = {"autoremove_wake_function",
                                                                "woken_wake_function",
                                                                "default_wake_function",
                                                                "ep_poll_callback",
                                                                "pollwake",
                                                                "io_poll_wake"};

// page_offset_base and vmemmap_base: the direct map and the struct page
// array, where the kernel randomises them (bpf/packets.bpf.c, read_packet).
constexpr std::array<std::string_view, 2> kPageSymbols = {"page_offset_base", "vmemmap_base"};

}  // namespace

void install_libbpf_logger() {
  libbpf_set_print([](enum libbpf_print_level level, const char* fmt, va_list args) -> int {
    if (level == LIBBPF_DEBUG && !spdlog::should_log(spdlog::level::trace)) return 0;
    // Whole: a verifier log comes as one message, and its end says why.
    va_list again;
    va_copy(again, args);
    const int n = std::vsnprintf(nullptr, 0, fmt, again);
    va_end(again);
    std::string buf(n > 0 ? static_cast<std::size_t>(n) + 1 : 1, '\0');
    std::vsnprintf(buf.data(), buf.size(), fmt, args);
    std::string_view msg(buf.data(), buf.size() - 1);
    while (!msg.empty() && msg.back() == '\n') msg.remove_suffix(1);
    spdlog::debug("libbpf: {}", msg);
    return 0;
  });
}

std::vector<bpf_program*> hook_programs(const ::sockscope_bpf& skel, Hook hook, Backend backend) {
  const auto& p = skel.progs;
  // fentry/fexit first, kprobe/kretprobe second (bpf/funcs.bpf.c).
  const auto pick = [backend](std::vector<bpf_program*> fentry,
                              std::vector<bpf_program*> kprobe) -> std::vector<bpf_program*> {
    switch (backend) {
      case Backend::Fentry: return fentry;
      case Backend::Kprobe: return kprobe;
      case Backend::Tracepoint: break;
    }
    return {};
  };
  switch (hook) {
    case SK_HOOK_BIND:
      return pick({p.fexit_inet_bind, p.fexit_inet6_bind},
                  {p.kprobe_inet_bind, p.kretprobe_inet_bind, p.kprobe_inet6_bind, p.kretprobe_inet6_bind});
    case SK_HOOK_LISTEN: return pick({p.fexit_inet_listen}, {p.kprobe_inet_listen, p.kretprobe_inet_listen});
    case SK_HOOK_SYN:
      return pick({p.fentry_tcp_conn_request, p.fexit_tcp_conn_request},
                  {p.kprobe_tcp_conn_request, p.kretprobe_tcp_conn_request});
    case SK_HOOK_ESTABLISHED:
      return pick({p.fexit_inet_csk_complete_hashdance},
                  {p.kprobe_inet_csk_complete_hashdance, p.kretprobe_inet_csk_complete_hashdance});
    case SK_HOOK_ACCEPT:
      return pick({p.fexit_inet_csk_accept}, {p.kprobe_inet_csk_accept, p.kretprobe_inet_csk_accept});
    case SK_HOOKS: break;  // the count, not a hook
  }
  return {};
}

void Tracer::SkelDeleter::operator()(::sockscope_bpf* s) const { sockscope_bpf__destroy(s); }
void Tracer::LinkDeleter::operator()(bpf_link* l) const { bpf_link__destroy(l); }
void Tracer::RingDeleter::operator()(ring_buffer* r) const { ring_buffer__free(r); }

void Tracer::open_and_load(const TraceConfig& config, const WakeAddresses& wake) {
  skel_.reset(sockscope_bpf__open());
  if (!skel_) throw TraceError(fmt::format("cannot open the BPF object: {}", errstr(errno)));

  // Filters are read-only data, fixed before load so the verifier can prune.
  auto* ro = skel_->rodata;
  ro->filter_by_task = config.filter_by_task();
  ro->follow_children = config.follow_children;
  ro->explain_mode = config.explain;
  ro->pcap_on = config.pcap;
  ro->pcap_snaplen = config.pcap_snaplen;
  ro->ksym_page_offset_base = pages_[0];
  ro->ksym_vmemmap_base = pages_[1];
  explain_ = config.explain;
  // Only explain holds packets (bpf/common.bpf.h, folds): trace's map is a stub.
  if (!config.explain) bpf_map__set_max_entries(skel_->maps.folds, 1);
  std::memset(ro->targ_comm, 0, sizeof(ro->targ_comm));
  std::memcpy(ro->targ_comm, config.comm.data(), std::min(config.comm.size(), sizeof(ro->targ_comm) - 1));
  ro->targ_family = config.family;
  if (config.ports.size() > SK_MAX_FILTER_PORTS)
    throw TraceError(fmt::format("at most {} --port filters", SK_MAX_FILTER_PORTS));
  ro->targ_nports = static_cast<uint32_t>(config.ports.size());
  for (std::size_t i = 0; i < config.ports.size(); i++) ro->targ_ports[i] = config.ports[i];
  bpf_map__set_max_entries(skel_->maps.events, config.ringbuf_bytes);
  static_assert(std::extent_v<decltype(ro->wake_fns)> == std::tuple_size_v<WakeAddresses>);
  for (std::size_t i = 0; i < wake.size(); ++i) ro->wake_fns[i] = wake[i];
  if (!wake[SK_WAKE_AUTOREMOVE] || !wake[SK_WAKE_EPOLL])
    spdlog::warn("/proc/kallsyms has no wake function addresses: who waits on a listener will be unknown");

  // Only the chosen backend's function programs load: on a kernel that
  // refuses fentry, loading one would fail the whole object.
  for (const HookChoice& c : choices_)
    for (Backend b : {Backend::Fentry, Backend::Kprobe})
      for (bpf_program* p : hook_programs(*skel_, c.spec->hook, b)) bpf_program__set_autoload(p, c.chosen == b);

  if (int err = sockscope_bpf__load(skel_.get()); err) {
    if (err == -EPERM)
      throw TraceError(fmt::format("the kernel refused to load the BPF programs ({}); run as root", errstr(err)));
    // The verifier's refusals are EACCES (and EINVAL): the log says why.
    if (err == -EACCES)
      throw TraceError(
          fmt::format("the kernel's verifier refused a BPF program ({}); run with -vv for its log", errstr(err)));
    throw TraceError(
        fmt::format("loading the BPF programs failed: {} (run with -v for the verifier log)", errstr(err)));
  }
}

Tracer::Tracer(const TraceConfig& config, Sink sink, RawSink raw) : sink_(std::move(sink)), raw_sink_(std::move(raw)) {
  // Reading /proc/kallsyms is the kernel formatting ~70,000 symbols up to the
  // last wake function (30-40 ms): done on a second thread, beside the
  // backend probes, it is ready by the time the object is opened.
  auto wake_scan = std::async(std::launch::async, [] { return kernel_symbols(kWakeFns); });
  // --pcap: where struct pages' memory is (a packet's data is in pages).
  auto page_scan =
      std::async(config.pcap ? std::launch::async : std::launch::deferred, [] { return kernel_symbols(kPageSymbols); });
  choices_ = choose_backends(config.backend);
  const WakeAddresses wake = wake_scan.get();
  if (config.pcap) pages_ = page_scan.get();
  try {
    open_and_load(config, wake);
  } catch (const TraceError& e) {
    // The probes said yes, the verifier said no: on auto, fall back to the
    // tracepoint path rather than not tracing at all.
    bool function_probes = false;
    for (const HookChoice& c : choices_) function_probes |= c.chosen != Backend::Tracepoint;
    if (config.backend || !function_probes) throw;
    spdlog::warn("{}; falling back to tracepoints for every hook", e.what());
    for (HookChoice& c : choices_) c.chosen = Backend::Tracepoint;
    open_and_load(config, wake);
  }
  for (const HookChoice& c : choices_) spdlog::debug("backend {}", describe_choice(c));

  for (uint32_t pid : config.pids) add_pid(pid);

  std::string cgroup = cgroup2_mount();
  bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) {
    if (!bpf_program__autoload(prog)) continue;  // another backend serves its hook
    const char* sec = bpf_program__section_name(prog);
    bpf_link* link = nullptr;
    if (prog == skel_->progs.sock_ops) {
      if (cgroup.empty()) {
        spdlog::warn("no cgroup v2 mount: the kernel's SYN-in records (syn_recv) are off");
        continue;
      }
      int fd = open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) throw TraceError(fmt::format("cannot open the cgroup v2 root {}: {}", cgroup, errstr(errno)));
      link = bpf_program__attach_cgroup(prog, fd);
      int saved = errno;
      close(fd);
      errno = saved;
      sec = "sock_ops on the cgroup v2 root";
    } else {
      link = bpf_program__attach(prog);
      if (!link && prog == skel_->progs.io_uring_complete) {
        // A kernel built without io_uring has no such tracepoint.
        spdlog::warn("no io_uring:io_uring_complete tracepoint: accepts through io_uring are not seen");
        continue;
      }
    }
    if (!link) throw TraceError(fmt::format("cannot attach {}: {}", sec, errstr(errno)));
    spdlog::debug("attached {}", sec);
    const bool function_probe =
        bpf_program__type(prog) == BPF_PROG_TYPE_KPROBE || bpf_program__type(prog) == BPF_PROG_TYPE_TRACING;
    (function_probe ? function_links_ : links_).emplace_back(link);
  }

  // Now that the function probes report, the tracepoint path steps aside
  // for their hooks (see hook_backend in bpf/common.bpf.h).
  static_assert(std::extent_v<decltype(sockscope_bpf::sockscope_bpf__bss::hook_backend)> == kHooks);
  for (const HookChoice& c : choices_)
    skel_->bss->hook_backend[static_cast<std::size_t>(c.spec->hook)] = static_cast<uint8_t>(record_backend(c.chosen));

  ring_.reset(ring_buffer__new(bpf_map__fd(skel_->maps.events), &Tracer::on_record, this, nullptr));
  if (!ring_) throw TraceError(fmt::format("cannot set up the ring buffer: {}", errstr(errno)));
}

Tracer::~Tracer() { detach(); }

void Tracer::detach() {
  // Function probes go first, one at a time: detaching kprobes from several
  // threads at once locked up both CPUs of a Linux 6.1 guest (soft lockup
  // in the detaching threads).
  function_links_.clear();
  // Detaching a tracepoint link waits for an RCU grace period (70-80 ms
  // each on the 6.18 host); one after another, 25 links took 1.7 s. Closed
  // from their own threads, the waits overlap.
  std::vector<std::thread> closers;
  closers.reserve(links_.size());
  for (auto& link : links_) closers.emplace_back([l = link.release()] { bpf_link__destroy(l); });
  for (auto& t : closers) t.join();
  links_.clear();
}

void Tracer::add_pid(uint32_t tgid) {
  uint8_t one = 1;
  if (bpf_map__update_elem(skel_->maps.traced_tgids, &tgid, sizeof(tgid), &one, sizeof(one), BPF_ANY))
    throw TraceError(fmt::format("cannot add pid {} to the filter: {}", tgid, errstr(errno)));
}

int Tracer::on_record(void* self, void* data, std::size_t size) {
  auto* t = static_cast<Tracer*>(self);
  const std::span record(static_cast<const std::byte*>(data), size);
  if (events::is_raw_packet(record)) {
    t->received_++;
    if (events::decode_raw(record, t->raw_)) {
      if (t->raw_sink_) t->raw_sink_(t->raw_);
    } else {
      t->undecodable_++;
    }
    return 0;
  }
  const std::size_t n = t->expander_.expand(std::span(static_cast<const std::byte*>(data), size), t->sink_);
  t->received_++;
  if (n == 0) t->undecodable_++;
  t->delivered_ += n;
  return 0;
}

namespace {

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// How often explain looks for held packets no record came for, and how long
// a flow must have been quiet: a record about it comes within microseconds
// of its packets (the next step of the handshake), or not at all.
constexpr uint64_t kSweepEveryNs = 250'000'000;
constexpr uint64_t kHeldQuietNs = 500'000'000;

}  // namespace

void Tracer::sweep_held(uint64_t quiet_since_ns) {
  const int fd = bpf_map__fd(skel_->maps.folds);
  // The keys first: a key deleted under bpf_map_get_next_key restarts the walk.
  held_keys_.clear();
  sk_fold_key key{};
  const sk_fold_key* prev = nullptr;
  while (held_keys_.size() < bpf_map__max_entries(skel_->maps.folds) && bpf_map_get_next_key(fd, prev, &key) == 0) {
    held_keys_.push_back(key);
    prev = &held_keys_.back();
  }
  for (const sk_fold_key& k : held_keys_) {
    sk_fold f;
    if (bpf_map_lookup_elem(fd, &k, &f)) continue;
    // Quiet: no slot written since, and none being written or taken now.
    bool quiet = true;
    for (const sk_pkt& p : f.p)
      quiet = quiet && p.ts_ns <= quiet_since_ns && (p.state == SK_SLOT_FREE || p.state == SK_SLOT_HELD);
    if (!quiet || bpf_map_lookup_and_delete_elem(fd, &k, &f)) continue;
    const std::size_t n = events::decode_held(k, f, held_);
    for (std::size_t i = 0; i < n; ++i) {
      delivered_++;
      sink_(held_[i]);
    }
  }
}

int Tracer::poll(int timeout_ms) {
  // The BPF side wakes us only for a batch (SK_WAKEUP_SHIFT): whatever is
  // waiting when the timeout ends is read then, so a trickle is late by at
  // most timeout_ms.
  int n = ring_buffer__poll(ring_.get(), timeout_ms);
  if (n == -EINTR) return 0;
  if (n < 0) throw TraceError(fmt::format("reading the ring buffer failed: {}", errstr(n)));
  if (n == 0) n = std::max(0, static_cast<int>(ring_buffer__consume(ring_.get())));
  if (explain_) {
    if (const uint64_t now = monotonic_ns(); now - swept_at_ >= kSweepEveryNs) {
      sweep_held(now - kHeldQuietNs);
      swept_at_ = now;
    }
  }
  return n;
}

int Tracer::drain() {
  int n = ring_buffer__consume(ring_.get());
  // Tracing ends: whatever the kernel still holds is all there will be.
  if (explain_) sweep_held(UINT64_MAX);
  return n < 0 ? 0 : n;
}

bool Tracer::maps_readable() const {
  const int ncpu = libbpf_num_possible_cpus();
  std::vector<uint64_t> per_cpu(static_cast<std::size_t>(ncpu > 0 ? ncpu : 1));
  uint32_t cause = SK_DROP_RINGBUF_FULL;
  return bpf_map__lookup_elem(skel_->maps.drops, &cause, sizeof(cause), per_cpu.data(),
                              per_cpu.size() * sizeof(uint64_t), 0) == 0;
}

events::LossCounts Tracer::losses() const {
  events::LossCounts out;
  out.undecodable = undecodable_;
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return out;
  std::vector<uint64_t> per_cpu(static_cast<std::size_t>(ncpu));
  auto sum = [&](uint32_t cause) -> uint64_t {
    if (bpf_map__lookup_elem(skel_->maps.drops, &cause, sizeof(cause), per_cpu.data(),
                             per_cpu.size() * sizeof(uint64_t), 0))
      return 0;
    uint64_t s = 0;
    for (auto v : per_cpu) s += v;
    return s;
  };
  out.sent = sum(SK_COUNT_SENT);
  out.received = received_;
  out.ringbuf_full = sum(SK_DROP_RINGBUF_FULL);
  out.inflight_full = sum(SK_DROP_INFLIGHT_FULL);
  out.tracked_full = sum(SK_DROP_TRACKED_FULL);
  return out;
}

}  // namespace sockscope::probes
