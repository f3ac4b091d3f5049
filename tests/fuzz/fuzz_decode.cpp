// libFuzzer target: one ring-buffer record of arbitrary bytes and size, as
// the reader takes it (events::Expander: the record, the packets folded into
// it, a call's entry, its dequeue), each event then written as trace writes
// it, JSON and text. Nothing the kernel could send, or fail to, may crash or
// reach undefined behaviour (built with ASan and UBSan).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <sstream>
#include <vector>

#include "events/decode.hpp"
#include "render/json_renderer.hpp"
#include "render/text_renderer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static sockscope::events::Expander expander;
  static std::ostringstream out;
  static sockscope::render::JsonRenderer json(out);
  static sockscope::render::TextRenderer text(out, /*colour=*/true);
  // A copy of exactly `size` bytes, so that ASan sees any read past them.
  std::vector<std::byte> raw(size);
  if (size) std::memcpy(raw.data(), data, size);
  expander.expand(std::span<const std::byte>(raw), [&](const sockscope::events::Event& e) {
    json.event(e);
    text.event(e);
  });
  json.flush();
  text.flush();
  out.str(std::string());
  return 0;
}
