#include "render/pcapng_writer.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace sockscope::render {
namespace pcapng {
namespace {

constexpr uint32_t kSectionHeader = 0x0A0D0D0A;
constexpr uint32_t kInterfaceDescription = 1;
constexpr uint32_t kEnhancedPacket = 6;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr uint16_t kOptEnd = 0, kOptComment = 1;
constexpr uint16_t kShbUserAppl = 4;
constexpr uint16_t kIfName = 2, kIfDescription = 3, kIfTsresol = 9;
constexpr uint16_t kEpbFlags = 2;

class Block {
 public:
  explicit Block(uint32_t type) {
    u32(type);
    u32(0);  // total length, set by done()
  }
  void u16(uint16_t v) { bytes(&v, sizeof(v)); }
  void u32(uint32_t v) { bytes(&v, sizeof(v)); }
  void u64(uint64_t v) { bytes(&v, sizeof(v)); }
  void bytes(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    b_.insert(b_.end(), b, b + n);
  }
  void pad() {
    while (b_.size() % 4) b_.push_back(std::byte{0});
  }
  void option(uint16_t code, const void* value, std::size_t len) {
    u16(code);
    u16(static_cast<uint16_t>(len));
    bytes(value, len);
    pad();
  }
  void option(uint16_t code, std::string_view s) {
    // An option's length is 16 bits: a longer comment is cut.
    option(code, s.data(), std::min<std::size_t>(s.size(), 0xFFFC));
  }
  std::vector<std::byte> done(bool options) {
    if (options) option(kOptEnd, nullptr, 0);
    const auto total = static_cast<uint32_t>(b_.size() + 4);
    u32(total);
    std::memcpy(b_.data() + 4, &total, sizeof(total));
    return std::move(b_);
  }

 private:
  std::vector<std::byte> b_;
};

}  // namespace

std::vector<std::byte> section_header(std::string_view application) {
  Block b(kSectionHeader);
  b.u32(kByteOrderMagic);
  b.u16(1);             // major
  b.u16(0);             // minor
  b.u64(~uint64_t{0});  // section length: not given
  b.option(kShbUserAppl, application);
  return b.done(true);
}

std::vector<std::byte> interface_description(uint16_t linktype, uint32_t snaplen, std::string_view name,
                                             std::string_view description) {
  Block b(kInterfaceDescription);
  b.u16(linktype);
  b.u16(0);
  b.u32(snaplen);
  b.option(kIfName, name);
  b.option(kIfDescription, description);
  const uint8_t nanoseconds = 9;
  b.option(kIfTsresol, &nanoseconds, 1);
  return b.done(true);
}

std::vector<std::byte> enhanced_packet(uint32_t interface, uint64_t ts_ns, std::span<const std::byte> data,
                                       uint32_t original_len, PacketDirection dir, std::string_view comment) {
  Block b(kEnhancedPacket);
  b.u32(interface);
  b.u32(static_cast<uint32_t>(ts_ns >> 32));
  b.u32(static_cast<uint32_t>(ts_ns));
  b.u32(static_cast<uint32_t>(data.size()));
  b.u32(original_len);
  b.bytes(data.data(), data.size());
  b.pad();
  const bool options = !comment.empty() || dir != PacketDirection::Unknown;
  if (!comment.empty()) b.option(kOptComment, comment);
  if (dir != PacketDirection::Unknown) {
    const auto flags = static_cast<uint32_t>(dir);
    b.option(kEpbFlags, &flags, sizeof(flags));
  }
  return b.done(options);
}

}  // namespace pcapng

PcapngWriter::PcapngWriter(std::ostream& out, std::string_view application, uint32_t snaplen)
    : out_(out), snaplen_(snaplen) {
  put(pcapng::section_header(application));
}

uint32_t PcapngWriter::interface(uint32_t netns, uint32_t ifindex, std::string_view name) {
  const auto [it, added] = ids_.try_emplace({netns, ifindex}, static_cast<uint32_t>(ids_.size()));
  if (added)
    put(pcapng::interface_description(kLinktypeRaw, snaplen_, name,
                                      fmt::format("{} (ifindex {}) in network namespace {}", name, ifindex, netns)));
  return it->second;
}

void PcapngWriter::packet(uint32_t interface, uint64_t ts_ns, std::span<const std::byte> data, uint32_t original_len,
                          PacketDirection dir, std::string_view comment) {
  put(pcapng::enhanced_packet(interface, ts_ns, data, original_len, dir, comment));
  ++packets_;
}

void PcapngWriter::put(const std::vector<std::byte>& block) {
  out_.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(block.size()));
}

}  // namespace sockscope::render
