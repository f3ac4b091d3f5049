// --pcap FILE: the file, created before anything is loaded, and the capture
// that writes it (render/packet_capture.hpp). Nothing half-done: a run that
// fails before it ends removes the file it created.
#pragma once

#include <fstream>
#include <optional>
#include <string>

#include "cli/trace_command.hpp"
#include "render/clock.hpp"
#include "render/packet_capture.hpp"

namespace sockscope::cli {

class CaptureFile {
 public:
  // Creates (or truncates) path; throws probes::TraceError, one line, when it cannot.
  CaptureFile(std::string path, const render::CaptureConfig& cfg);
  ~CaptureFile();  // removes the file unless finish() ran
  CaptureFile(const CaptureFile&) = delete;
  CaptureFile& operator=(const CaptureFile&) = delete;

  render::PacketCapture& capture() { return *capture_; }
  // Writes every frame still held and closes the file; throws
  // probes::TraceError when a write failed (a full disk).
  void finish();
  const std::string& path() const { return path_; }
  const render::CaptureStats& capture_stats() const { return capture_->stats(); }

 private:
  std::string path_;
  std::ofstream out_;
  std::optional<render::PacketCapture> capture_;
  bool finished_ = false;
};

// The capture's configuration for these options: explain's (verdicts)
// holds each final ACK for its story.
render::CaptureConfig capture_config(const TraceOptions& opts, const render::WallClock& clock, bool verdicts);

// The --pcap line of the closing summary on stderr: "wrote 12 packets to
// out.pcapng (3 final ACKs with their verdicts)".
std::string describe(const CaptureFile& f);

}  // namespace sockscope::cli
