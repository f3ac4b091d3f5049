// Writes the fuzz targets' seed corpus (tests/fuzz/corpus) from the real
// recordings in tests/unit/fixtures:
//   make_corpus OUT_DIR
// decode/: each recording's records as the kernel sends them (struct
// sk_event, with its waiters when read), one file per shape (kind, phase,
// family, context, backend, flags), and explain's folded records built the
// way the kernel folds (a kernel record with the handshake packets of its
// flow before it, an accept exit with its entry and dequeue). tracker/: one
// file per recording that replays it whole, in order (fuzz_tracker's steps).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "events/decode.hpp"
#include "replay.hpp"

namespace {

using sockscope::events::Event;
using sockscope::events::Kind;

// What makes two records different seeds: their kind and the fields the
// decoder and the words branch on.
std::string fmt_shape(const Event& e) {
  std::string s;
  for (unsigned v : {static_cast<unsigned>(e.kind), unsigned(e.phase), unsigned(e.family), unsigned(e.ctx),
                     unsigned(e.backend), unsigned(e.owner_flags), unsigned(e.tcp_flags), unsigned(e.new_state),
                     unsigned(e.ret < 0), unsigned(e.waiters.count)})
    s += std::to_string(v) + "/";
  return s;
}

sk_event header(const Event& e) {
  sk_event r;
  std::memset(&r, 0, sizeof r);
  r.ts_ns = e.ts_ns, r.dur_ns = e.dur_ns, r.sk = e.sock, r.ret = e.ret, r.kind = static_cast<uint32_t>(e.kind);
  r.pid = e.pid, r.tid = e.tid, r.cpu = e.cpu, r.netns = e.netns, r.fd = e.fd, r.backlog = e.backlog;
  r.queue_len = e.queue_len, r.queue_max = e.queue_max, r.ifindex = e.ifindex, r.seq = e.seq, r.ack_seq = e.ack_seq;
  r.owner_pid = e.owner_pid, r.owner_state = e.owner_state, r.family = e.family, r.sport = e.sport, r.dport = e.dport;
  r.payload_len = e.payload_len, r.window = e.window, r.via = static_cast<uint8_t>(e.via);
  r.ctx = static_cast<uint8_t>(e.ctx), r.phase = static_cast<uint8_t>(e.phase), r.old_state = e.old_state;
  r.new_state = e.new_state, r.tcp_flags = e.tcp_flags, r.dir = static_cast<uint8_t>(e.dir);
  r.backend = static_cast<uint8_t>(e.backend), r.owner_flags = e.owner_flags;
  std::memcpy(r.saddr, e.saddr.data(), 16);
  std::memcpy(r.daddr, e.daddr.data(), 16);
  std::memcpy(r.comm, e.comm.data(), sizeof r.comm);
  std::memcpy(r.ifname, e.ifname.data(), sizeof r.ifname);
  r.rx_queued = e.rx_queued, r.sock_ino = e.sock_ino, r.value = e.value, r.lsk = e.lsk;
  return r;
}

template <typename T>
void append(std::vector<char>& out, const T& v) {
  const auto* p = reinterpret_cast<const char*>(&v);
  out.insert(out.end(), p, p + sizeof v);
}

// The record as the kernel sends it: with its waiters when it read them.
std::vector<char> encode(const Event& e, const sk_event& r) {
  std::vector<char> out;
  if (r.owner_flags & SK_WAITERS_READ) {
    sk_event_waiters w;
    std::memset(&w, 0, sizeof w);
    w.ev = r;
    w.waiters.flags = e.waiters.flags, w.waiters.entries = e.waiters.entries, w.waiters.count = e.waiters.count;
    for (std::size_t i = 0; i < e.waiters.count; ++i) {
      const auto& t = e.waiters.list[i];
      auto& o = w.waiters.w[i];
      o.tgid = t.pid, o.tid = t.tid, o.syscall = t.syscall, o.state = t.state;
      o.via = static_cast<uint8_t>(t.via), o.exclusive = t.exclusive;
      std::memcpy(o.comm, t.comm.data(), sizeof o.comm);
    }
    append(out, w);
  } else {
    append(out, r);
  }
  return out;
}

sk_pkt packet_of(const Event& p, const Event& rec) {
  sk_pkt k;
  std::memset(&k, 0, sizeof k);
  k.ts_ns = p.ts_ns, k.pid = p.pid, k.tid = p.tid, k.netns = p.netns, k.ifindex = p.ifindex;
  k.queue_len = p.queue_len, k.queue_max = p.queue_max, k.cpu = static_cast<uint16_t>(p.cpu);
  k.payload_len = p.payload_len, k.sport = p.sport, k.dport = p.dport, k.family = p.family;
  k.tcp_flags = p.tcp_flags, k.dir = static_cast<uint8_t>(p.dir), k.ctx = static_cast<uint8_t>(p.ctx);
  k.owner_flags =
      static_cast<uint8_t>((p.owner_flags & SK_LISTENER_FOUND) | (p.sport == rec.sport ? 0 : SK_PKT_REVERSED));
  std::memcpy(k.comm, p.comm.data(), sizeof k.comm);
  std::memcpy(k.ifname, p.ifname.data(), sizeof k.ifname);
  return k;
}

bool same_flow(const Event& a, const Event& b) {
  return a.family == b.family &&
         ((a.sport == b.sport && a.dport == b.dport) || (a.sport == b.dport && a.dport == b.sport));
}

void write(const std::filesystem::path& dir, const std::string& name, const std::vector<char>& bytes) {
  std::ofstream(dir / name, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus OUT_DIR\n");
    return 2;
  }
  const std::filesystem::path out = argv[1];
  std::filesystem::create_directories(out / "decode");
  std::filesystem::create_directories(out / "tracker");
  std::vector<std::filesystem::path> files;
  for (const auto& f : std::filesystem::directory_iterator(SOCKSCOPE_FIXTURES))
    if (f.path().extension() == ".jsonl") files.push_back(f.path());
  std::sort(files.begin(), files.end());  // fuzz_tracker numbers them in this order
  std::set<std::string> shapes;
  int decode_n = 0, folded_n = 0;
  sockscope::events::Expander check;
  auto keep = [&](const std::string& shape, const std::vector<char>& bytes) {
    // Every seed decodes: the fuzzer starts from records that reach the end.
    if (!check.expand(std::span(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()), [](const Event&) {}))
      throw std::runtime_error("a seed does not decode: " + shape);
    if (!shapes.insert(shape).second) return false;
    write(out / "decode", "seed-" + std::to_string(shapes.size()), bytes);
    return true;
  };
  for (std::size_t fi = 0; fi < files.size(); ++fi) {
    const std::vector<Event> evs = sockscope::test::load_recording(files[fi].string());
    std::vector<char> steps;
    for (std::size_t i = 0; i < evs.size() && i < 65536; ++i)
      steps.insert(steps.end(), {static_cast<char>(fi), static_cast<char>(i >> 8), static_cast<char>(i & 0xff), 0});
    write(out / "tracker", files[fi].stem().string(), steps);
    for (std::size_t i = 0; i < evs.size(); ++i) {
      const Event& e = evs[i];
      const sk_event r = header(e);
      decode_n += keep(fmt_shape(e), encode(e, r));
      // Explain's folding: a kernel record carries its flow's handshake
      // packets that came before it; an accept exit its entry and dequeue.
      if (e.kind == Kind::SynRecv || e.kind == Kind::Established || e.kind == Kind::State) {
        std::vector<sk_pkt> pkts;
        for (std::size_t j = i; j-- > 0 && pkts.size() < SK_MAX_FOLDED;)
          if (evs[j].kind == Kind::Tcp && same_flow(evs[j], e)) pkts.insert(pkts.begin(), packet_of(evs[j], e));
        if (pkts.empty()) continue;
        sk_event f = r;
        f.folded = static_cast<uint8_t>(pkts.size());
        std::vector<char> bytes = encode(e, f);
        for (const sk_pkt& p : pkts) append(bytes, p);
        folded_n += keep("folded " + fmt_shape(e) + " " + std::to_string(pkts.size()), bytes);
      } else if (e.kind == Kind::SysAccept && e.phase == sockscope::events::Phase::Exit && e.ret >= 0) {
        const auto dq = std::find_if(evs.begin() + static_cast<long>(i), evs.end(),
                                     [&](const Event& a) { return a.kind == Kind::Accept && a.tid == e.tid; });
        if (dq == evs.end()) continue;
        sk_event_dequeue d;
        std::memset(&d, 0, sizeof d);
        d.ev = r;
        d.ev.owner_flags |= SK_ENTER_FOLDED | SK_DEQUEUE_FOLDED;
        d.dq.ts_ns = dq->ts_ns, d.dq.sk = dq->sock, d.dq.queue_len = dq->queue_len, d.dq.queue_max = dq->queue_max;
        d.dq.rx_queued = dq->rx_queued, d.dq.backend = static_cast<uint8_t>(dq->backend);
        d.dq.via = static_cast<uint8_t>(dq->via);
        std::vector<char> bytes;
        append(bytes, d);
        folded_n += keep("dequeue " + fmt_shape(e), bytes);
      }
    }
  }
  // --pcap's records: each recorded packet as SK_PKT_RAW, its headers after
  // it (leaving; an arrival on loopback comes without them).
  int raw_n = 0;
  std::set<std::string> raw_shapes;
  for (const auto& file : files)
    for (const Event& e : sockscope::test::load_recording(file.string())) {
      if (e.kind != Kind::Tcp) continue;
      const bool loopback = e.ifname_view() == "lo";
      const std::string shape = fmt_shape(e) + (loopback ? " lo" : "");
      if (!raw_shapes.insert(shape).second) continue;
      sk_event r = header(e);
      r.kind = SK_PKT_RAW;
      sk_raw raw{};
      raw.loopback = loopback;
      raw.syscall = -1;
      std::vector<char> bytes;
      append(bytes, r);
      std::vector<char> data;
      if (!(loopback && e.dir == sockscope::events::Dir::Rx)) data.assign(e.family == AF_INET ? 40 : 60, 0);
      if (!data.empty()) data[0] = e.family == AF_INET ? 0x45 : 0x60;
      raw.caplen = static_cast<uint32_t>(data.size());
      raw.len = raw.caplen + e.payload_len;
      append(bytes, raw);
      bytes.insert(bytes.end(), data.begin(), data.end());
      sockscope::events::RawPacket p;
      if (!sockscope::events::decode_raw(std::span(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()), p))
        throw std::runtime_error("a raw seed does not decode: " + shape);
      write(out / "decode", "raw-" + std::to_string(++raw_n), bytes);
    }
  std::printf("make_corpus: %d records, %d folded ones and %d raw packets in %s/decode, %zu recordings in %s/tracker\n",
              decode_n, folded_n, raw_n, out.c_str(), files.size(), out.c_str());
  return 0;
}
