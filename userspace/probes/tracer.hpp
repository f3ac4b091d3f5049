// Owns the BPF skeleton: open -> set filters -> load -> attach, ring-buffer
// polling, lost-record counters, and clean detach (RAII).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "events/decode.hpp"
#include "events/event.hpp"
#include "events/loss.hpp"
#include "probes/backends.hpp"
#include "probes/error.hpp"
#include "sockscope.h"

struct sockscope_bpf;  // the generated skeleton
struct bpf_link;
struct bpf_program;
struct ring_buffer;

namespace sockscope::probes {

// How many --port filters the kernel side holds.
inline constexpr std::size_t kMaxFilterPorts = SK_MAX_FILTER_PORTS;

// The function programs that serve `hook` on `backend` (fentry/fexit, or
// kprobe/kretprobe; none for the tracepoint path), through the skeleton's
// typed members: a BPF program renamed or removed is a compile error here.
std::vector<bpf_program*> hook_programs(const ::sockscope_bpf& skel, Hook hook, Backend backend);

struct TraceConfig {
  std::vector<uint32_t> pids;    // tgids to trace (--pid)
  std::string comm;              // --comm, at most 15 bytes
  std::vector<uint16_t> ports;   // --port, local or remote
  uint16_t family = 0;           // AF_INET, AF_INET6 or 0 for both
  bool follow_children = false;  // a spawned command: trace what it forks
  uint32_t ringbuf_bytes = 8u << 20;
  std::optional<Backend> backend;  // --backend; nullopt: the best each hook has
  // explain: the kernel sends only the records a story is made of
  // (bpf/common.bpf.h, explain_mode); trace: every record.
  bool explain = false;
  // --pcap: the kernel also sends each traced packet's bytes to the
  // RawSink, from its IP header on: its headers, or pcap_snaplen bytes if
  // more (--snaplen, at most SK_PCAP_MAX).
  bool pcap = false;
  uint32_t pcap_snaplen = 0;

  // Sockets are selected by their owner task (any of pids, comm, or a spawned command).
  bool filter_by_task() const { return !pids.empty() || !comm.empty() || follow_children; }
};

class Tracer {
 public:
  using Sink = std::function<void(const events::Event&)>;
  // --pcap: each packet's bytes (TraceConfig::pcap_snaplen), in ring order
  // with the events; the bytes are valid during the call only.
  using RawSink = std::function<void(const events::RawPacket&)>;

  // Loads and attaches every probe; throws TraceError on any failure, with
  // nothing left attached.
  Tracer(const TraceConfig& config, Sink sink, RawSink raw = {});
  ~Tracer();  // detach()es
  // Every program detached: from here on the kernel sends nothing, so a
  // drain() after it reads the last record, and losses() is final.
  void detach();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  // Start tracing one more process (and, with follow_children, its children).
  void add_pid(uint32_t tgid);
  // Deliver what is ready, waiting up to timeout_ms; returns records handled.
  int poll(int timeout_ms);
  // Deliver everything already in the ring buffer without waiting (and,
  // explain, the packets the kernel still holds: tracing ends).
  int drain();
  events::LossCounts losses() const;
  // Whether this process can read the tracer's maps now (the loss counters,
  // the held packets): before Linux 6.5, with unprivileged BPF disabled,
  // every bpf() call needs CAP_BPF, even on a map already open.
  bool maps_readable() const;
  uint64_t delivered() const { return delivered_; }
  std::size_t attached_count() const { return links_.size() + function_links_.size(); }
  // The backend each hook got, and why.
  const std::vector<HookChoice>& backends() const { return choices_; }

 private:
  static int on_record(void* self, void* data, std::size_t size);
  // Delivers the packets the kernel holds for flows quiet since quiet_since_ns
  // (CLOCK_MONOTONIC), taking them out: no record came to carry them
  // (explain; bpf/common.bpf.h, folds). poll() calls it now and then.
  void sweep_held(uint64_t quiet_since_ns);

  struct SkelDeleter {
    void operator()(::sockscope_bpf* s) const;
  };
  struct LinkDeleter {
    void operator()(bpf_link* l) const;
  };
  struct RingDeleter {
    void operator()(ring_buffer* r) const;
  };

  // The wake functions' addresses, in enum sk_wake_fn order (0: not found).
  using WakeAddresses = std::array<uint64_t, SK_WAKE_FNS>;
  void open_and_load(const TraceConfig& config, const WakeAddresses& wake);

  Sink sink_;
  RawSink raw_sink_;
  events::RawPacket raw_;
  std::vector<HookChoice> choices_;
  std::unique_ptr<::sockscope_bpf, SkelDeleter> skel_;
  std::vector<std::unique_ptr<bpf_link, LinkDeleter>> links_;           // tracepoints, raw_tp, sock_ops
  std::vector<std::unique_ptr<bpf_link, LinkDeleter>> function_links_;  // fentry/fexit, kprobe/kretprobe
  std::unique_ptr<ring_buffer, RingDeleter> ring_;
  events::Expander expander_;  // each record, as the events it stands for
  bool explain_ = false;
  std::array<uint64_t, 2> pages_{};  // --pcap: page_offset_base's and vmemmap_base's addresses
  uint64_t swept_at_ = 0;
  std::vector<sk_fold_key> held_keys_;
  std::array<events::Event, SK_FOLD_SLOTS> held_;
  uint64_t delivered_ = 0;
  uint64_t undecodable_ = 0;
  uint64_t received_ = 0;  // ring-buffer records read, decodable or not
};

// Route libbpf's own log through spdlog (debug level).
void install_libbpf_logger();

}  // namespace sockscope::probes
