#include "render/packet_capture.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <tuple>

#include <fmt/format.h>

#include "events/names.hpp"
#include "render/story_words.hpp"

namespace sockscope::render {
namespace {

using events::Dir;
using events::ExecCtx;

constexpr std::size_t kMaxFlows = 65536;

// An IPv4-mapped IPv6 address (a dual-stack socket's) as the IPv4 one its
// packets carry.
void normalise(uint16_t& family, std::array<uint8_t, 16>& a) {
  static constexpr std::array<uint8_t, 12> kMapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (family == AF_INET6 && std::equal(kMapped.begin(), kMapped.end(), a.begin())) {
    family = AF_INET;
    std::copy(a.begin() + 12, a.end(), a.begin());
    std::fill(a.begin() + 4, a.end(), 0);
  }
}

std::string_view ctx_words(ExecCtx c) {
  switch (c) {
    case ExecCtx::Softirq: return "softirq";
    case ExecCtx::Irq: return "hardirq";
    case ExecCtx::Process: return "process context";
  }
  return "";
}

std::string_view owner_state_words(track::OwnerState s) {
  using track::OwnerState;
  switch (s) {
    case OwnerState::Stopped: return ", which was stopped";
    case OwnerState::Traced: return ", which was stopped under ptrace";
    case OwnerState::BlockedInAccept: return ", which was blocked in accept()";
    case OwnerState::Running: return ", which was running";
    case OwnerState::Sleeping: return ", which was sleeping, not in accept() on it";
    case OwnerState::Dead: return ", which was exiting";
    default: return "";
  }
}

bool same_packet(const events::Event& a, const events::Event& b) {
  return a.netns == b.netns && a.ifindex == b.ifindex && a.family == b.family && a.saddr == b.saddr &&
         a.daddr == b.daddr && a.sport == b.sport && a.dport == b.dport && a.seq == b.seq && a.ack_seq == b.ack_seq &&
         a.tcp_flags == b.tcp_flags && a.payload_len == b.payload_len;
}

constexpr std::string_view kNoVerdict = " (written before its story was told: no verdict)";

}  // namespace

std::size_t PacketCapture::FlowHash::operator()(const FlowKey& k) const {
  std::size_t h = k.family * 1000003u ^ (std::size_t{k.pa} << 16 | k.pb);
  for (uint8_t x : k.a) h = h * 31 + x;
  for (uint8_t x : k.b) h = h * 31 + x;
  return h;
}

PacketCapture::PacketCapture(std::ostream& out, CaptureConfig cfg)
    : writer_(out, cfg.application, cfg.snaplen ? std::max<uint32_t>(cfg.snaplen, 120) : 120), cfg_(cfg) {}

PacketCapture::FlowKey PacketCapture::flow_key(uint16_t family, const std::array<uint8_t, 16>& s, uint16_t sport,
                                               const std::array<uint8_t, 16>& d, uint16_t dport, bool* from_a) {
  uint16_t fs = family, fd = family;
  std::array<uint8_t, 16> a = s, b = d;
  normalise(fs, a);
  normalise(fd, b);
  FlowKey k;
  k.family = fs;
  const bool s_first = std::tie(a, sport) <= std::tie(b, dport);
  k.a = s_first ? a : b;
  k.pa = s_first ? sport : dport;
  k.b = s_first ? b : a;
  k.pb = s_first ? dport : sport;
  if (from_a) *from_a = s_first;
  return k;
}

PacketCapture::Flow* PacketCapture::follow(const events::Event& p, uint64_t no, bool arriving) {
  const bool syn = p.tcp_flags & SK_TCP_SYN, ack = p.tcp_flags & SK_TCP_ACK, rst = p.tcp_flags & SK_TCP_RST;
  bool from_a = false;
  const FlowKey k = flow_key(p.family, p.saddr, p.sport, p.daddr, p.dport, &from_a);
  const std::array<uint8_t, 16>& src = from_a ? k.a : k.b;
  if (syn && !ack) {
    if (flows_.size() >= kMaxFlows) {
      // Forget every flow but those whose final ACK waits for its verdict.
      std::erase_if(flows_, [&](const auto& kv) {
        const uint64_t f = kv.second.final_ack;
        return f == 0 || f - 1 < first_no_ || !held_[f - 1 - first_no_].awaiting_verdict;
      });
    }
    Flow& f = flows_[k];
    if (f.client != src || f.client_port != p.sport || f.final_ack) f = Flow{src, p.sport, false, 0, {}};
    return nullptr;
  }
  const auto it = flows_.find(k);
  if (it == flows_.end()) return nullptr;
  Flow& f = it->second;
  const bool from_client = f.client == src && f.client_port == p.sport;
  if (syn && ack && !from_client) f.synack = true;
  if (!arriving || !from_client || !f.synack || f.final_ack || !ack || syn || rst) return nullptr;
  f.final_ack = no + 1;
  return &f;
}

void PacketCapture::await_verdict(Frame& f, Flow& flow) {
  if (!cfg_.verdicts) return;
  if (flow.verdict.empty()) {
    f.awaiting_verdict = true;
    return;
  }
  attach_verdict(f, flow.verdict);  // the story was told first
  flow.verdict.clear();
}

void PacketCapture::attach_verdict(Frame& f, const std::string& verdict) {
  f.comment += "; verdict: ";
  f.comment += verdict;
  f.awaiting_verdict = false;
  ++stats_.verdicts;
}

std::string PacketCapture::observation(const events::RawPacket& p, bool for_listener) {
  const events::Event& e = p.packet;
  std::string s;
  if (e.dir == Dir::Tx) {
    if (e.ctx == ExecCtx::Process) {
      const std::string_view call = events::packet_syscall_name(p.syscall);
      s = fmt::format("sent by {} (pid {}){} on CPU {}", e.comm_view(), e.pid,
                      call.empty() ? std::string() : fmt::format(" in {}()", call), e.cpu);
    } else {
      s = fmt::format("sent by the kernel, {} on CPU {}", ctx_words(e.ctx), e.cpu);
    }
  } else if (e.ctx == ExecCtx::Process) {
    s = fmt::format("received by the kernel in the context of {} (pid {}) on CPU {}", e.comm_view(), e.pid, e.cpu);
  } else {
    s = fmt::format("received by the kernel, {} on CPU {}", ctx_words(e.ctx), e.cpu);
  }
  if (for_listener && (e.owner_flags & events::kListenerFound)) {
    const uint16_t port = e.dir == Dir::Tx ? e.sport : e.dport;
    if (e.owner_flags & events::kOwnerKnown)
      s += fmt::format(", for listener {} (pid {}) on port {}{}", p.owner_comm_view(), e.owner_pid, port,
                       owner_state_words(track::classify_owner(e.owner_state, e.owner_flags)));
    else
      s += fmt::format(", for the listener on port {}", port);
  }
  return s;
}

void PacketCapture::packet(const events::RawPacket& p) {
  const events::Event& e = p.packet;
  const bool arriving = e.dir == Dir::Rx;
  const bool syn = e.tcp_flags & SK_TCP_SYN, ack = e.tcp_flags & SK_TCP_ACK;
  if (p.loopback && arriving) {
    // The packet that just left on this loopback device: one frame for both.
    for (std::size_t i = held_.size(); i-- > 0;) {
      Frame& f = held_[i];
      if (!f.awaiting_arrival || !same_packet(f.identity, e)) continue;
      Flow* final_ack = follow(e, first_no_ + i, true);
      f.comment += "; ";
      f.comment += observation(p, final_ack || (syn && !ack));
      f.awaiting_arrival = false;
      f.dir = PacketDirection::Unknown;
      if (final_ack) await_verdict(f, *final_ack);
      write_ready();
      return;
    }
    ++stats_.unmatched_arrivals;
    return;
  }
  const uint64_t no = first_no_ + held_.size();
  Flow* final_ack = follow(e, no, arriving);
  Frame f;
  f.ts_ns = e.ts_ns;
  f.netns = e.netns;
  f.ifindex = e.ifindex;
  f.ifname = e.ifname_view();
  f.bytes.assign(p.bytes.begin(), p.bytes.end());
  f.len = p.len;
  f.dir = arriving ? PacketDirection::Inbound : PacketDirection::Outbound;
  f.comment = observation(p, final_ack || (arriving && syn && !ack) || (!arriving && syn && ack));
  f.awaiting_arrival = p.loopback;
  f.identity = e;
  if (final_ack) await_verdict(f, *final_ack);
  held_.push_back(std::move(f));
  if (held_.size() > cfg_.max_held) write_front();
  write_ready();
}

void PacketCapture::connection(const track::Connection& c) {
  const FlowKey k = flow_key(c.client.family, c.client.addr, c.client.port, c.server.addr, c.server.port, nullptr);
  const auto it = flows_.find(k);
  if (it == flows_.end()) return;
  Flow& f = it->second;
  if (!f.final_ack) {
    f.verdict = verdict(c);
    return;
  }
  const uint64_t no = f.final_ack - 1;
  if (no >= first_no_ && no - first_no_ < held_.size() && held_[no - first_no_].awaiting_verdict)
    attach_verdict(held_[no - first_no_], verdict(c));
  flows_.erase(it);
  write_ready();
}

void PacketCapture::tick(uint64_t now_ns) {
  for (Frame& f : held_)
    if (f.awaiting_arrival && now_ns - f.ts_ns > cfg_.loopback_wait_ns) f.awaiting_arrival = false;
  write_ready();
}

void PacketCapture::finish() {
  while (!held_.empty()) write_front();
  writer_.flush();
}

void PacketCapture::write_ready() {
  while (!held_.empty() && !held_.front().awaiting_arrival && !held_.front().awaiting_verdict) write_front();
}

void PacketCapture::write_front() {
  Frame& f = held_.front();
  if (f.awaiting_verdict) {
    f.comment += kNoVerdict;
    ++stats_.written_early;
  }
  const uint32_t id = writer_.interface(f.netns, f.ifindex, f.ifname);
  writer_.packet(id, f.ts_ns + static_cast<uint64_t>(cfg_.wall_offset_ns), f.bytes, f.len, f.dir, f.comment);
  ++stats_.frames;
  held_.pop_front();
  ++first_no_;
}

}  // namespace sockscope::render
