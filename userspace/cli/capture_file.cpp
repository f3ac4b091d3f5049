#include "cli/capture_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "probes/error.hpp"
#include "render/story_words.hpp"

namespace sockscope::cli {

CaptureFile::CaptureFile(std::string path, const render::CaptureConfig& cfg) : path_(std::move(path)) {
  out_.open(path_, std::ios::binary | std::ios::trunc);
  if (!out_) throw probes::TraceError(fmt::format("--pcap {}: cannot create it: {}", path_, std::strerror(errno)));
  capture_.emplace(out_, cfg);
  out_.flush();
  if (!out_) throw probes::TraceError(fmt::format("--pcap {}: cannot write it: {}", path_, std::strerror(errno)));
}

CaptureFile::~CaptureFile() {
  if (finished_) return;
  out_.close();
  std::remove(path_.c_str());
}

void CaptureFile::finish() {
  capture_->finish();
  out_.close();
  if (!out_) throw probes::TraceError(fmt::format("--pcap {}: writing it failed: {}", path_, std::strerror(errno)));
  finished_ = true;
}

render::CaptureConfig capture_config(const TraceOptions& opts, const render::WallClock& clock, bool verdicts) {
  render::CaptureConfig c;
  c.application = "sockscope " SOCKSCOPE_VERSION;
  c.wall_offset_ns = clock.realtime_offset_ns();
  c.snaplen = opts.snaplen;
  c.verdicts = verdicts;
  return c;
}

std::string describe(const CaptureFile& f) {
  const render::CaptureStats& s = f.capture_stats();
  std::string out = fmt::format("wrote {} to {}", render::plural(s.frames, "packet", "packets"), f.path());
  if (s.verdicts) out += fmt::format(" ({} with a verdict)", render::plural(s.verdicts, "final ACK", "final ACKs"));
  if (s.written_early) out += fmt::format("; {} written before their story was told, to bound memory", s.written_early);
  if (s.unmatched_arrivals)
    out += fmt::format("; {} loopback arrivals whose departure was not captured", s.unmatched_arrivals);
  return out;
}

}  // namespace sockscope::cli
