// --pcap: the pcapng writer's bytes, and the comments and order of what the
// capture writes, from synthetic records (the real thing: explain_test.cpp's
// E3 --pcap, read back by tshark).
#include <sys/syscall.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "event_builder.hpp"
#include "events/decode.hpp"
#include "render/packet_capture.hpp"
#include "render/pcapng_writer.hpp"
#include "render/story_words.hpp"

using namespace sockscope;
using sockscope::test::RawEvent;

namespace {

uint32_t u32_at(const std::vector<std::byte>& b, std::size_t at) {
  uint32_t v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}
uint16_t u16_at(const std::vector<std::byte>& b, std::size_t at) {
  uint16_t v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}

std::vector<std::byte> bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int x : v) out.push_back(static_cast<std::byte>(x));
  return out;
}

// A block's options from `at` to its trailing length: code -> value.
std::vector<std::pair<uint16_t, std::string>> options(const std::vector<std::byte>& b, std::size_t at) {
  std::vector<std::pair<uint16_t, std::string>> out;
  while (at + 4 <= b.size() - 4) {
    const uint16_t code = u16_at(b, at), len = u16_at(b, at + 2);
    if (code == 0) break;
    out.emplace_back(code, std::string(reinterpret_cast<const char*>(b.data() + at + 4), len));
    at += 4 + (len + 3) / 4 * 4;
  }
  return out;
}

// Every enhanced packet block of a pcapng stream: its interface and comment.
struct Epb {
  uint32_t interface;
  uint64_t ts;
  uint32_t caplen, len;
  std::string comment;
  uint32_t flags = 0;
};
std::vector<Epb> packets_of(const std::string& file, std::size_t* idbs = nullptr) {
  std::vector<std::byte> b(file.size());
  std::memcpy(b.data(), file.data(), file.size());
  std::vector<Epb> out;
  if (idbs) *idbs = 0;
  for (std::size_t at = 0; at < b.size();) {
    const uint32_t type = u32_at(b, at), total = u32_at(b, at + 4);
    REQUIRE(total % 4 == 0);
    REQUIRE(at + total <= b.size());
    REQUIRE(u32_at(b, at + total - 4) == total);
    if (type == 1 && idbs) ++*idbs;
    if (type == 6) {
      Epb e{u32_at(b, at + 8), uint64_t{u32_at(b, at + 12)} << 32 | u32_at(b, at + 16), u32_at(b, at + 20),
            u32_at(b, at + 24), ""};
      std::vector<std::byte> block(b.begin() + at, b.begin() + at + total);
      for (const auto& [code, value] : options(block, 28 + (e.caplen + 3) / 4 * 4)) {
        if (code == 1) e.comment = value;
        if (code == 2) std::memcpy(&e.flags, value.data(), 4);
      }
      out.push_back(e);
    }
    at += total;
  }
  return out;
}

// The IPv4 and TCP headers of a segment 127.0.0.1:sport -> 127.0.0.1:dport.
std::vector<std::byte> headers(uint16_t sport, uint16_t dport, uint8_t flags) {
  std::vector<std::byte> h(40);
  h[0] = std::byte{0x45};
  h[3] = std::byte{40};
  h[9] = std::byte{6};
  h[12] = h[16] = std::byte{127};
  h[15] = h[19] = std::byte{1};
  h[20] = std::byte(sport >> 8);
  h[21] = std::byte(sport & 0xff);
  h[22] = std::byte(dport >> 8);
  h[23] = std::byte(dport & 0xff);
  h[32] = std::byte{0x50};
  h[33] = std::byte{flags};
  return h;
}

// An SK_PKT_RAW record: the packet record, then struct sk_raw, then bytes.
std::vector<std::byte> raw_record(const RawEvent& ev, const sk_raw& r, const std::vector<std::byte>& data) {
  std::vector<std::byte> out = ev.bytes();
  REQUIRE(out.size() == sizeof(sk_event));
  const uint32_t kind = SK_PKT_RAW;
  std::memcpy(out.data() + offsetof(sk_event, kind), &kind, sizeof kind);
  const std::size_t at = out.size();
  out.resize(at + sizeof r);
  std::memcpy(out.data() + at, &r, sizeof r);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

constexpr uint16_t kClient = 40000, kServer = 10000;

// One loopback observation of a segment of the test's connection.
struct Seen {
  uint8_t flags;
  bool from_client;
  uint8_t dir;
  uint8_t ctx;
  uint64_t ts;
  int32_t syscall = -1;
  bool listener = false;  // the record found the listener (owner: receiver, pid 4242, stopped)
  uint32_t seq = 0;       // 0: the departure's time (an arrival's is 10 ns after it)
};

std::vector<std::byte> record(const Seen& s) {
  RawEvent ev;
  ev.ts(s.ts).cpu(1).netns(4026531840u).ctx(s.ctx).dir(s.dir).ifname("lo").ifindex(1).flags(s.flags);
  ev.seq(s.seq ? s.seq : static_cast<uint32_t>(s.dir == SK_DIR_RX ? s.ts - 10 : s.ts));
  ev.pid(4243).tid(4243).comm("sender");
  if (s.from_client)
    ev.v4("127.0.0.1", kClient, "127.0.0.1", kServer);
  else
    ev.v4("127.0.0.1", kServer, "127.0.0.1", kClient);
  if (s.listener) {
    ev.raw().owner_flags = SK_LISTENER_FOUND | SK_OWNER_KNOWN;
    ev.raw().owner_pid = 4242;
    ev.raw().owner_state = SK_TASK_STOPPED;
  }
  sk_raw r{};
  r.syscall = s.syscall;
  r.loopback = 1;
  r.len = 40;
  std::strcpy(r.owner_comm, "receiver");
  std::vector<std::byte> data;
  if (s.dir == SK_DIR_TX)
    data = s.from_client ? headers(kClient, kServer, s.flags) : headers(kServer, kClient, s.flags);
  r.caplen = static_cast<uint32_t>(data.size());
  return raw_record(ev, r, data);
}

void feed(render::PacketCapture& cap, const Seen& s) {
  const auto rec = record(s);
  events::RawPacket p;
  REQUIRE(events::decode_raw(rec, p));
  cap.packet(p);
}

// The tutorial's handshake on loopback, each packet leaving then arriving.
const std::vector<Seen> kHandshake = {
    {SK_TCP_SYN, true, SK_DIR_TX, SK_CTX_PROCESS, 1000, SYS_connect},
    {SK_TCP_SYN, true, SK_DIR_RX, SK_CTX_SOFTIRQ, 1010, -1, true},
    {SK_TCP_SYN | SK_TCP_ACK, false, SK_DIR_TX, SK_CTX_SOFTIRQ, 1020, -1, true},
    {SK_TCP_SYN | SK_TCP_ACK, false, SK_DIR_RX, SK_CTX_SOFTIRQ, 1030},
    {SK_TCP_ACK, true, SK_DIR_TX, SK_CTX_PROCESS, 1040, SYS_connect},
    {SK_TCP_ACK, true, SK_DIR_RX, SK_CTX_SOFTIRQ, 1050, -1, true},
};

track::Connection e3_story() {
  track::Connection c;
  c.netns = 4026531840u;
  c.server.family = c.client.family = AF_INET;
  c.server.addr = {127, 0, 0, 1};
  c.client.addr = {127, 0, 0, 1};
  c.server.port = kServer;
  c.client.port = kClient;
  c.established = true;
  c.ctx = events::ExecCtx::Softirq;
  c.cpu = 1;
  c.listener_state = track::OwnerState::Stopped;
  c.outcome = track::Outcome::Accepted;
  return c;
}

}  // namespace

TEST_CASE("pcapng: the section header's bytes", "[pcap]") {
  const auto b = render::pcapng::section_header("sockscope");
  // type, length 40, magic, version 1.0, section length -1, shb_userappl
  // "sockscope" (9 bytes, padded to 12), end of options, length again.
  const auto want = bytes({0x0a, 0x0d, 0x0d, 0x0a, 48,   0,    0,    0,    0x4d, 0x3c, 0x2b, 0x1a, 1,   0,   0,   0,
                           0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 4,    0,    9,    0,    's', 'o', 'c', 'k',
                           's',  'c',  'o',  'p',  'e',  0,    0,    0,    0,    0,    0,    0,    48,  0,   0,   0});
  CHECK(b.size() == 48);
  CHECK(b == want);
}

TEST_CASE("pcapng: an interface block names the interface and its namespace, in nanoseconds", "[pcap]") {
  const auto b = render::pcapng::interface_description(render::kLinktypeRaw, 120, "lo", "lo in netns 1");
  CHECK(u32_at(b, 0) == 1);
  CHECK(u32_at(b, 4) == b.size());
  CHECK(u16_at(b, 8) == 101);  // LINKTYPE_RAW
  CHECK(u32_at(b, 12) == 120);
  const auto opts = options(b, 16);
  REQUIRE(opts.size() == 3);
  CHECK(opts[0] == std::pair<uint16_t, std::string>{2, "lo"});
  CHECK(opts[1] == std::pair<uint16_t, std::string>{3, "lo in netns 1"});
  CHECK(opts[2] == std::pair<uint16_t, std::string>{9, std::string(1, '\x09')});
}

TEST_CASE("pcapng: a packet block's bytes, padded, with its comment and direction", "[pcap]") {
  const auto data = bytes({0x45, 0x00, 0x01});
  const auto b =
      render::pcapng::enhanced_packet(2, 0x0000000100000002ull, data, 60, render::PacketDirection::Outbound, "hi");
  const auto want = bytes({6,    0, 0, 0, 56,  0,   0, 0,  // type, length
                           2,    0, 0, 0,                  // interface
                           1,    0, 0, 0, 2,   0,   0, 0,  // timestamp, high then low
                           3,    0, 0, 0, 60,  0,   0, 0,  // captured, original
                           0x45, 0, 1, 0,                  // data, padded
                           1,    0, 2, 0, 'h', 'i', 0, 0,  // opt_comment
                           2,    0, 4, 0, 2,   0,   0, 0,  // epb_flags: outbound
                           0,    0, 0, 0,                  // end of options
                           56,   0, 0, 0});
  CHECK(b == want);
  // No options at all: no end-of-options either.
  CHECK(render::pcapng::enhanced_packet(0, 0, data, 3, render::PacketDirection::Unknown, "").size() == 36);
}

TEST_CASE("decode_raw: a packet's bytes come with it, and wrong sizes are refused", "[pcap]") {
  const auto rec = record(kHandshake[0]);
  events::RawPacket p;
  REQUIRE(events::decode_raw(rec, p));
  CHECK(p.bytes.size() == 40);
  CHECK(p.len == 40);
  CHECK(p.loopback);
  CHECK(p.syscall == SYS_connect);
  CHECK(p.packet.kind == events::Kind::Tcp);
  CHECK(p.packet.sport == kClient);
  auto shorter = rec;
  shorter.pop_back();
  CHECK_FALSE(events::decode_raw(shorter, p));
  auto longer = rec;
  longer.push_back(std::byte{0});
  CHECK_FALSE(events::decode_raw(longer, p));
  // Not one: a plain packet record.
  CHECK_FALSE(events::is_raw_packet(RawEvent().kind(SK_PKT_TCP).bytes()));
  CHECK_FALSE(events::decode_raw(RawEvent().kind(SK_PKT_TCP).bytes(), p));
}

TEST_CASE(
    "capture: loopback packets are one frame each, commented on both ends, and the final ACK waits for the verdict",
    "[pcap]") {
  std::ostringstream out;
  render::CaptureConfig cfg;
  cfg.wall_offset_ns = 1'000'000;
  cfg.verdicts = true;
  render::PacketCapture cap(out, cfg);
  for (const Seen& s : kHandshake) feed(cap, s);
  // SYN and SYN-ACK written; the final ACK held for its story.
  std::size_t idbs = 0;
  CHECK(packets_of(out.str(), &idbs).size() == 2);
  CHECK(idbs == 1);
  const track::Connection c = e3_story();
  cap.connection(c);
  const auto frames = packets_of(out.str(), &idbs);
  REQUIRE(frames.size() == 3);
  CHECK(idbs == 1);
  const std::string listener = ", for listener receiver (pid 4242) on port 10000, which was stopped";
  CHECK(frames[0].comment ==
        "sent by sender (pid 4243) in connect() on CPU 1; received by the kernel, softirq on CPU 1" + listener);
  CHECK(frames[1].comment ==
        "sent by the kernel, softirq on CPU 1" + listener + "; received by the kernel, softirq on CPU 1");
  CHECK(frames[2].comment ==
        "sent by sender (pid 4243) in connect() on CPU 1; received by the kernel, softirq on CPU 1" + listener +
            "; verdict: " + render::verdict(c));
  // Timestamps: the departure's, on the wall clock; no direction for a
  // frame that both left and arrived.
  CHECK(frames[0].ts == 1000 + 1'000'000);
  CHECK(frames[2].ts == 1040 + 1'000'000);
  CHECK(frames[0].flags == 0);
  CHECK(frames[0].caplen == 40);
  cap.finish();
  CHECK(cap.stats().frames == 3);
  CHECK(cap.stats().verdicts == 1);
  CHECK(cap.stats().written_early == 0);
}

TEST_CASE("capture: without verdicts (trace) nothing waits but a loopback arrival", "[pcap]") {
  std::ostringstream out;
  render::PacketCapture cap(out, render::CaptureConfig{});
  feed(cap, kHandshake[0]);
  CHECK(packets_of(out.str()).empty());  // its arrival may still come
  feed(cap, kHandshake[1]);
  CHECK(packets_of(out.str()).size() == 1);
  // A departure whose arrival never comes is written after the wait, as seen.
  feed(cap, kHandshake[2]);
  cap.tick(1020 + 100'000'000);
  CHECK(packets_of(out.str()).size() == 1);
  cap.tick(1020 + 300'000'000);
  const auto frames = packets_of(out.str());
  REQUIRE(frames.size() == 2);
  CHECK(frames[1].comment ==
        "sent by the kernel, softirq on CPU 1, for listener receiver (pid 4242) on port 10000, which was stopped");
  CHECK(frames[1].flags == 2);  // outbound
  // An arrival whose departure was not seen (or already written) is counted.
  feed(cap, kHandshake[3]);
  CHECK(cap.stats().unmatched_arrivals == 1);
  cap.finish();
  CHECK(cap.stats().frames == 2);
}

TEST_CASE("capture: a story told before its final ACK came gives the ACK its verdict at once", "[pcap]") {
  std::ostringstream out;
  render::CaptureConfig cfg;
  cfg.verdicts = true;
  render::PacketCapture cap(out, cfg);
  for (std::size_t i = 0; i < 4; ++i) feed(cap, kHandshake[i]);
  const track::Connection c = e3_story();
  cap.connection(c);
  feed(cap, kHandshake[4]);
  feed(cap, kHandshake[5]);
  const auto frames = packets_of(out.str());
  REQUIRE(frames.size() == 3);
  CHECK(frames[2].comment.ends_with("; verdict: " + render::verdict(c)));
}

TEST_CASE("capture: frames held past max_held are written without their verdict, and say so", "[pcap]") {
  std::ostringstream out;
  render::CaptureConfig cfg;
  cfg.verdicts = true;
  cfg.max_held = 2;
  render::PacketCapture cap(out, cfg);
  for (const Seen& s : kHandshake) feed(cap, s);
  // Data after the handshake, client to server and back: the held ACK is
  // pushed out.
  for (uint64_t ts = 2000; ts < 2006; ts += 2) {
    const auto seq = static_cast<uint32_t>(ts);
    feed(cap, {SK_TCP_ACK | SK_TCP_PSH, true, SK_DIR_TX, SK_CTX_PROCESS, ts, SYS_write, false, seq});
    feed(cap, {SK_TCP_ACK | SK_TCP_PSH, true, SK_DIR_RX, SK_CTX_SOFTIRQ, ts + 1, -1, false, seq});
  }
  const auto frames = packets_of(out.str());
  REQUIRE(frames.size() >= 3);
  CHECK(frames[2].comment.ends_with("(written before its story was told: no verdict)"));
  CHECK(cap.stats().written_early == 1);
  CHECK(frames.back().comment ==
        "sent by sender (pid 4243) in write() on CPU 1; received by the kernel, softirq on CPU 1");
  cap.finish();
  CHECK(cap.stats().frames == 6);
}
