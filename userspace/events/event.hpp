// The C++ side of bpf/sockscope.h: one typed value per ring-buffer record.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace sockscope::events {

enum class Kind : uint32_t {
  SysSocket = 1,
  SysBind = 2,
  SysListen = 3,
  SysConnect = 4,
  SysAccept = 5,
  SysClose = 6,
  Bind = 16,
  Listen = 17,
  SynRecv = 18,
  Established = 19,
  Accept = 20,
  State = 21,
  SynackRetransmit = 22,
  Tcp = 32,
};

enum class Layer : uint8_t { Syscall, Kernel, Packet };
enum class ExecCtx : uint8_t { Process = 0, Softirq = 1, Irq = 2 };
enum class Phase : uint8_t { Exit = 0, Enter = 1 };
enum class Dir : uint8_t { None = 0, Rx = 1, Tx = 2 };
enum class Backend : uint8_t { Tracepoint = 0, SockOps = 1, Fentry = 2, Kprobe = 3 };

inline constexpr uint8_t kOwnerInAccept = 0x1;
inline constexpr uint8_t kOwnerKnown = 0x2;
inline constexpr uint8_t kListenerFound = 0x4;

struct Event {
  uint64_t ts_ns = 0;
  uint64_t dur_ns = 0;
  uint64_t sock = 0;
  int64_t ret = 0;
  Kind kind = Kind::State;
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint32_t cpu = 0;
  uint32_t netns = 0;
  int32_t fd = -1;
  uint32_t backlog = 0;
  uint32_t queue_len = 0;
  uint32_t queue_max = 0;
  uint32_t ifindex = 0;
  uint32_t seq = 0;
  uint32_t ack_seq = 0;
  uint32_t owner_pid = 0;
  uint32_t owner_state = 0;
  uint32_t rx_queued = 0;
  uint16_t family = 0;
  uint16_t sport = 0;
  uint16_t dport = 0;
  uint16_t payload_len = 0;
  uint16_t window = 0;
  ExecCtx ctx = ExecCtx::Process;
  Phase phase = Phase::Exit;
  uint8_t old_state = 0;
  uint8_t new_state = 0;
  uint8_t tcp_flags = 0;
  Dir dir = Dir::None;
  Backend backend = Backend::Tracepoint;
  uint8_t owner_flags = 0;
  std::array<uint8_t, 16> saddr{};
  std::array<uint8_t, 16> daddr{};
  std::array<char, 16> comm{};
  std::array<char, 16> ifname{};

  Layer layer() const;
  std::string_view comm_view() const;
  std::string_view ifname_view() const;
  bool owner_known() const { return owner_flags & kOwnerKnown; }
  bool listener_found() const { return owner_flags & kListenerFound; }
};

// Size of the kernel's record (struct sk_event); decode() rejects anything else.
std::size_t raw_event_size();

// Checked copy of one ring-buffer record: nullopt when the size is wrong or
// the kind is unknown. Never reinterprets the (possibly unaligned) input.
std::optional<Event> decode(std::span<const std::byte> raw);

}  // namespace sockscope::events
