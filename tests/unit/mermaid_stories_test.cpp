// The Mermaid of the recorded experiments (tests/unit/fixtures), each
// recording replayed through the real tracker and each connection drawn by
// the real MermaidRenderer: every line of every story within its width and
// as full as it can be (the wrapping is greedy), and E5's third connection
// exact.
//
// And, hidden ([.mermaid-stories]: it writes files rather than checking
// anything), the diagrams tests/mermaid/render.sh renders in Chromium: E3
// (paused.jsonl: the receiver stopped after listen()), E5 (backlog.jsonl:
// backlog 1, three senders, the third's SYNs dropped) and the veth pair
// (veth.jsonl, veth6.jsonl), one file a connection:
// $SOCKSCOPE_MERMAID_OUT/<recording>-<n>.mmd.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "render/mermaid_renderer.hpp"
#include "replay.hpp"
#include "tracker_harness.hpp"

using sockscope::render::MermaidRenderer;
using sockscope::test::fixture;
using sockscope::test::Harness;
using sockscope::test::load_recording;

namespace {

// The text of a statement ("Note over C,S: ", "C->>K: ", "participant C as "
// and the rest) and the width its lines are wrapped to; 0 for a line that is
// not wrapped.
std::size_t width_of_statement(const std::string& line, std::string& text) {
  static const std::pair<const char*, std::size_t> kinds[] = {{"participant C as ", MermaidRenderer::kParticipantWidth},
                                                              {"participant S as ", MermaidRenderer::kParticipantWidth},
                                                              {"Note over C: ", MermaidRenderer::kNoteWidth},
                                                              {"Note over K: ", MermaidRenderer::kNoteWidth},
                                                              {"Note over S: ", MermaidRenderer::kNoteWidth},
                                                              {"Note over C,S: ", MermaidRenderer::kNoteWidth},
                                                              {"C->>K: ", MermaidRenderer::kLabelWidth},
                                                              {"K->>C: ", MermaidRenderer::kLabelWidth}};
  for (const auto& [prefix, width] : kinds) {
    if (line.rfind(prefix, 0) != 0) continue;
    text = line.substr(std::string_view(prefix).size());
    return width;
  }
  return 0;
}

std::size_t code_points(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char ch) { return (ch & 0xC0) != 0x80; }));
}

}  // namespace

TEST_CASE("mermaid: every recorded story's lines fit their width, each as full as it can be", "[explain][mermaid]") {
  const std::string name = GENERATE(as<std::string>{}, "paused", "paused6", "blocked", "refused", "listener_closed",
                                    "backlog", "veth", "veth6");
  CAPTURE(name);
  Harness h;
  h.replay(load_recording(fixture(name + ".jsonl")));
  REQUIRE(!h.connections.empty());
  for (const auto& c : h.connections) {
    std::ostringstream os;
    MermaidRenderer(os).connection(c);
    std::istringstream lines(os.str());
    std::size_t wrapped = 0;
    for (std::string line; std::getline(lines, line);) {
      CAPTURE(line);
      std::string text;
      const std::size_t width = width_of_statement(line, text);
      if (width == 0) continue;
      std::vector<std::string> parts;
      for (std::size_t at = 0;;) {
        const std::size_t br = text.find("<br/>", at);
        parts.push_back(text.substr(at, br - at));
        if (br == std::string::npos) break;
        at = br + 5;
      }
      wrapped += parts.size() > 1;
      for (std::size_t i = 0; i < parts.size(); ++i) {
        CAPTURE(parts[i]);
        CHECK(!parts[i].empty());
        // At most the width, unless one word.
        if (code_points(parts[i]) > width) CHECK(parts[i].find(' ') == std::string::npos);
        // Greedy: the next line's first word (a kernel note's "[softirq
        // cpu0]" is one) would not have fit on this one.
        if (i + 1 < parts.size()) {
          const std::string& after = parts[i + 1];
          const std::string next = after.substr(0, after.rfind('[', 0) == 0 ? after.find(']') + 1 : after.find(' '));
          CHECK(code_points(parts[i]) + 1 + code_points(next) > width);
        }
      }
    }
    CHECK(wrapped >= 1);  // the verdict at least
  }
}

// E5's third connection: its first two SYNs dropped at the full queue (backlog
// 1), the third let in once the receiver, resumed, was in accept().
TEST_CASE("mermaid: E5's third connection, from the recording, exact", "[explain][mermaid]") {
  Harness h;
  h.replay(load_recording(fixture("backlog.jsonl")));
  const auto& c = sockscope::test::by_client_port(h.connections, 39754);
  std::ostringstream os;
  MermaidRenderer(os).connection(c);
  // clang-format off
  CHECK(os.str() == R"(sequenceDiagram
participant C as client 127.0.0.1:39754 (pid 30063 sender)
participant K as kernel (server host)
participant S as server 127.0.0.1:10000 (pid 30057 receiver)
Note over C: +0.000 ms connect() begins
C->>K: SYN, dropped: accept queue full<br/>(2 queued, backlog 1)
C->>K: SYN, dropped: accept queue full<br/>(2 queued, backlog 1)
Note over S: +1808.193 ms accept() begins
C->>K: SYN
Note over K: +2055.283 ms SYN_RECV: request socket made<br/>[softirq cpu0]
K->>C: SYN-ACK
C->>K: ACK
Note over K: +2055.336 ms ESTABLISHED: child queued (1 of 1)<br/>[softirq cpu0]
Note over C: +2055.363 ms connect() = 0
Note over S: +2055.466 ms accept() = 4
Note over K: +2055.478 ms dequeued (0 left), 2 bytes waiting<br/>[process cpu1]
C->>K: FIN
K->>C: FIN
Note over C,S: The handshake for 127.0.0.1:39754 → 127.0.0.1:10000 was<br/>completed by the kernel (softirq on CPU 0, receiving on<br/>lo, borrowing the context of ksoftirqd/0 (pid 14), the<br/>kernel's softirq thread) 2.06 s after the first SYN, and<br/>the kernel queued the connection for accept(). The<br/>kernel dropped 2 SYNs from the client because the accept<br/>queue was full (2 queued, backlog 1), the client kept<br/>retransmitting it. The listening process, receiver (pid<br/>30057), was blocked in accept(), the kernel's work woke<br/>it. The connection waited in the accept queue (1 of 1)<br/>for 129 us, until accept() in receiver (pid 30057)<br/>returned it as fd 4, 2 bytes had already arrived.

)");
  // clang-format on
}

TEST_CASE("mermaid: write the experiments' diagrams for the browser test", "[.mermaid-stories]") {
  const char* dir = std::getenv("SOCKSCOPE_MERMAID_OUT");
  REQUIRE(dir != nullptr);
  for (const std::string name : {"paused", "backlog", "veth", "veth6"}) {
    Harness h;
    h.replay(load_recording(fixture(name + ".jsonl")));
    REQUIRE(!h.connections.empty());
    for (std::size_t i = 0; i < h.connections.size(); ++i) {
      std::ostringstream os;
      MermaidRenderer(os).connection(h.connections[i]);
      const std::string path = std::string(dir) + "/" + name + "-" + std::to_string(i + 1) + ".mmd";
      std::ofstream out(path);
      out << os.str();
      out.close();
      REQUIRE(out.good());
    }
  }
}
