// libFuzzer target: one ring-buffer record of arbitrary bytes and size, as
// the reader takes it (events::Expander: the record, the packets folded into
// it, a call's entry, its dequeue), each event then written as trace writes
// it, JSON and text; or, an SK_PKT_RAW record (--pcap), the packet into a
// pcapng frame with its comment. Nothing the kernel could send, or fail to, may crash or
// reach undefined behaviour (built with ASan and UBSan).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <sstream>
#include <vector>

#include "events/decode.hpp"
#include "render/json_renderer.hpp"
#include "render/packet_capture.hpp"
#include "render/text_renderer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static sockscope::events::Expander expander;
  static std::ostringstream out;
  // A wall clock west of UTC, for the JSON's ts_wall_ns (which wraps for the
  // wildest ts_ns) and a timeline of times of day beside the default one.
  static constexpr sockscope::render::WallClock clock{1'772'323'200'000'000'000, -5 * 3600};
  static sockscope::render::JsonRenderer json(out, clock);
  static sockscope::render::TextRenderer text(out, /*colour=*/true);
  static sockscope::render::TextRenderer wall(out, /*colour=*/false,
                                              sockscope::render::TimeColumn(sockscope::render::TimeStyle::Wall, clock));
  // A copy of exactly `size` bytes, so that ASan sees any read past them.
  std::vector<std::byte> raw(size);
  if (size) std::memcpy(raw.data(), data, size);
  expander.expand(std::span<const std::byte>(raw), [&](const sockscope::events::Event& e) {
    json.event(e);
    text.event(e);
    wall.event(e);
  });
  json.flush();
  text.flush();
  wall.flush();
  // --pcap's records (SK_PKT_RAW): decoded, their comments written, each
  // frame into pcapng; held at most 16 (explain's final ACKs wait).
  static sockscope::events::RawPacket packet;
  static sockscope::render::PacketCapture capture(out, [] {
    sockscope::render::CaptureConfig c;
    c.verdicts = true;
    c.max_held = 16;
    return c;
  }());
  if (sockscope::events::decode_raw(raw, packet)) {
    capture.packet(packet);
    capture.tick(packet.packet.ts_ns);
  }
  out.str(std::string());
  return 0;
}
