// JSON Lines: one object per event, the documented, stable interface
// (README "JSON schema"). Field names never change meaning.
#pragma once

#include <array>
#include <cstdint>
#include <ostream>
#include <string>

#include "render/clock.hpp"
#include "render/renderer.hpp"

namespace sockscope::render {

// Lines are held in one buffer and written 64 KiB at a time, on flush(),
// with the summary, and on destruction: one write per batch, not per event.
//
// event() is trace --json's hot path (one call per kernel record, a million
// a second in a connection storm): it writes straight into the batch buffer
// through a raw pointer, with room for a whole line reserved once per
// record, rather than through JsonWriter's checked appends. Its output is
// byte for byte what JsonWriter would write (tests/unit/json_renderer_test
// compares the two on every kind of record).
class JsonRenderer final : public Renderer {
 public:
  static constexpr std::size_t kBatchBytes = 64 * 1024;
  // Every record's ts_wall_ns is its ts_ns on `clock`.
  JsonRenderer(std::ostream& os, const WallClock& clock);
  ~JsonRenderer() override { flush(); }
  JsonRenderer(const JsonRenderer&) = delete;
  JsonRenderer& operator=(const JsonRenderer&) = delete;

  void event(const events::Event& e) override;
  void summary(const Summary& s) override;
  void flush() override;

 private:
  // Room for n more bytes at buf_.data() + len_ (grows only past a batch
  // plus the longest line, which steady state never does).
  char* reserve(std::size_t n);

  std::ostream& os_;
  WallClock clock_;
  std::string buf_;      // sized once; bytes [0, len_) are the held lines
  std::size_t len_ = 0;  // no allocation per event
  std::string scratch_;  // escaped strings that are not plain ASCII (rare)

  // An address as a JSON string, formatted again only when it changes (a
  // storm's records carry the same few addresses).
  class AddressText {
   public:
    std::string_view text(uint16_t family, const std::array<uint8_t, 16>& addr);

   private:
    uint16_t family_ = 0;
    std::array<uint8_t, 16> addr_{};
    char text_[64] = {};
    std::size_t len_ = 0;  // 0: nothing formatted yet (a formatted one is at least "")
  };
  AddressText saddr_, daddr_;
};

}  // namespace sockscope::render
