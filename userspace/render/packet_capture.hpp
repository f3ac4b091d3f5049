// --pcap: the traced connections' packets in a pcapng file (pcapng_writer),
// each with a comment saying who was behind it: the process that sent it
// and the call it was in, or the kernel (softirq, which CPU) and the
// listener it worked for, with that listener's owner's state at that
// moment. On the handshake's final ACK, explain's verdict.
//
// Packets are written in the order they came, each once: a loopback packet
// (seen leaving and arriving on `lo`) is one frame whose comment tells both.
// A frame waits, at most, for its arrival on loopback (loopback_wait_ns) and,
// explain, a final ACK for its story's verdict; the frames after it wait
// with it, max_held of them at most (past that the oldest is written as it
// is, and its comment says the verdict was not known yet).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <ostream>
#include <string>
#include <unordered_map>
#include <vector>

#include "events/decode.hpp"
#include "render/pcapng_writer.hpp"
#include "track/story.hpp"

namespace sockscope::render {

struct CaptureConfig {
  std::string application = "sockscope";  // the section header's shb_userappl
  int64_t wall_offset_ns = 0;             // CLOCK_REALTIME - CLOCK_MONOTONIC: the JSON's ts_wall_ns - ts_ns
  uint32_t snaplen = 0;                   // --snaplen (0: headers only), for the interface blocks
  bool verdicts = false;                  // explain: each final ACK waits for its story's verdict
  std::size_t max_held = 65536;
  uint64_t loopback_wait_ns = 200'000'000;
};

struct CaptureStats {
  uint64_t frames = 0;              // written
  uint64_t verdicts = 0;            // final ACKs written with their story's verdict
  uint64_t written_early = 0;       // written before their verdict, to bound memory
  uint64_t unmatched_arrivals = 0;  // a loopback arrival whose departure was not seen (or written already)
};

class PacketCapture {
 public:
  PacketCapture(std::ostream& out, CaptureConfig cfg);

  void packet(const events::RawPacket& p);
  // explain: a connection's story, as it is told.
  void connection(const track::Connection& c);
  // Now, CLOCK_MONOTONIC: loopback packets whose arrival did not come in
  // time are written with what was seen.
  void tick(uint64_t now_ns);
  // Everything held is written (tracing has ended; tell the stories first).
  void finish();

  const CaptureStats& stats() const { return stats_; }
  bool good() const { return writer_.good(); }

  // One packet's part of a comment: "sent by sender (pid 4243) in connect()
  // on CPU 0", "received by the kernel, softirq on CPU 1, for listener
  // receiver (pid 4242), which was stopped". for_listener: name the
  // listener the packet was handled for, when the record found one.
  static std::string observation(const events::RawPacket& p, bool for_listener);

 private:
  struct FlowKey {
    uint16_t family = 0;
    std::array<uint8_t, 16> a{}, b{};
    uint16_t pa = 0, pb = 0;
    bool operator==(const FlowKey&) const = default;
  };
  struct FlowHash {
    std::size_t operator()(const FlowKey& k) const;
  };
  struct Flow {
    std::array<uint8_t, 16> client{};  // the SYN's source
    uint16_t client_port = 0;
    bool synack = false;
    uint64_t final_ack = 0;  // the frame's number + 1 (0: not seen)
    std::string verdict;     // told before its final ACK came
  };
  struct Frame {
    uint64_t ts_ns = 0;  // CLOCK_MONOTONIC
    uint32_t netns = 0, ifindex = 0;
    std::string ifname;
    std::vector<std::byte> bytes;
    uint32_t len = 0;
    PacketDirection dir = PacketDirection::Unknown;
    std::string comment;
    // A loopback departure awaiting its arrival: the packet's identity.
    bool awaiting_arrival = false;
    events::Event identity;
    bool awaiting_verdict = false;
  };

  static FlowKey flow_key(uint16_t family, const std::array<uint8_t, 16>& s, uint16_t sport,
                          const std::array<uint8_t, 16>& d, uint16_t dport, bool* from_a);
  // The flow's handshake as this packet moves it; its flow when the packet
  // is the final ACK arriving (frame number `no`).
  Flow* follow(const events::Event& p, uint64_t no, bool arriving);
  void await_verdict(Frame& f, Flow& flow);
  void attach_verdict(Frame& f, const std::string& verdict);
  void write_ready();
  void write_front();

  PcapngWriter writer_;
  CaptureConfig cfg_;
  CaptureStats stats_;
  std::deque<Frame> held_;
  uint64_t first_no_ = 0;  // the number of held_.front()
  std::unordered_map<FlowKey, Flow, FlowHash> flows_;
};

}  // namespace sockscope::render
