// A pcapng file, written as it goes (the format of
// draft-ietf-opsawg-pcapng: a section header block, an interface description
// block per interface, an enhanced packet block per packet). Our own writer:
// Debian's libpcap (1.10) reads pcapng but writes only the pcap format
// (pcap_dump_open), which has no per-packet comments.
// Little-endian, the byte order of every host sockscope runs on (x86-64).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sockscope::render {

// LINKTYPE_RAW: each packet begins with its IPv4 or IPv6 header.
inline constexpr uint16_t kLinktypeRaw = 101;

// epb_flags' inbound/outbound bits.
enum class PacketDirection : uint32_t { Unknown = 0, Inbound = 1, Outbound = 2 };

// The blocks' bytes, for the writer and its tests.
namespace pcapng {
std::vector<std::byte> section_header(std::string_view application);
// if_tsresol is 9: timestamps in nanoseconds.
std::vector<std::byte> interface_description(uint16_t linktype, uint32_t snaplen, std::string_view name,
                                             std::string_view description);
std::vector<std::byte> enhanced_packet(uint32_t interface, uint64_t ts_ns, std::span<const std::byte> data,
                                       uint32_t original_len, PacketDirection dir, std::string_view comment);
}  // namespace pcapng

class PcapngWriter {
 public:
  // Writes the section header at once.
  PcapngWriter(std::ostream& out, std::string_view application, uint32_t snaplen);

  // The id of the interface `ifindex` in network namespace `netns`: its
  // description block is written the first time it is asked for.
  uint32_t interface(uint32_t netns, uint32_t ifindex, std::string_view name);

  // One packet: ts_ns is nanoseconds since the epoch (CLOCK_REALTIME).
  void packet(uint32_t interface, uint64_t ts_ns, std::span<const std::byte> data, uint32_t original_len,
              PacketDirection dir, std::string_view comment);

  uint64_t packets() const { return packets_; }
  std::size_t interfaces() const { return ids_.size(); }
  void flush() { out_.flush(); }
  bool good() const { return static_cast<bool>(out_); }

 private:
  void put(const std::vector<std::byte>& block);
  std::ostream& out_;
  uint32_t snaplen_;
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> ids_;
  uint64_t packets_ = 0;
};

}  // namespace sockscope::render
