#include "render/json_renderer.hpp"

#include <array>
#include <charconv>
#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <type_traits>

#include "events/names.hpp"
#include "render/json_writer.hpp"

namespace sockscope::render {

using events::Event;
using events::Kind;
using events::Layer;

namespace {

// Room for one record's line without its waiters: ~30 keys (~330 bytes),
// ~25 numbers of at most 20 digits, names, two addresses of at most 45
// characters, and comm and ifname of 16 bytes each, at most 6 output bytes
// per input byte once escaped. Well under this.
constexpr std::size_t kLineBytes = 2048;
// One waiter: {"pid":…,"tid":…,"comm":…,"how":…}, comm escaped at worst.
constexpr std::size_t kWaiterBytes = 512;

// A piece of a line known once the process runs, e.g. `,"ctx":"softirq"`,
// padded so that it is copied whole, in a few stores, not through memcpy's
// loop over its length (the line's reserved room takes the overshoot).
struct Fragment {
  static constexpr std::size_t kCapacity = 64;
  std::array<char, kCapacity> text{};
  std::size_t len = 0;

  static Fragment of(std::initializer_list<std::string_view> parts) {
    Fragment f;
    for (std::string_view part : parts) {
      if (f.len + part.size() > kCapacity) throw std::length_error("JsonRenderer: fragment too long");
      std::memcpy(f.text.data() + f.len, part.data(), part.size());
      f.len += part.size();
    }
    return f;
  }
};

// The fragments of the fields that come from sockscope's own tables
// (events/names), one per value: names of printable ASCII, nothing to escape.
struct Fragments {
  static constexpr std::size_t kKinds = SK_PKT_TCP + 1;
  std::array<Fragment, kKinds> layer_and_event;  // by kind: `,"layer":"…","event":"…"`
  std::array<Fragment, 3> ctx;                   // by ExecCtx: `,"ctx":"…"`
  std::array<Fragment, 4> backend;               // by Backend: `,"backend":"…"`
  std::array<Fragment, 256> tcp_state;           // by state: `"…"`, empty for one with no name

  Fragments() {
    for (std::size_t k = 0; k < kKinds; ++k) {
      events::Event e;
      e.kind = static_cast<Kind>(k);
      layer_and_event[k] = Fragment::of(
          {R"(,"layer":")", events::layer_name(e.layer()), R"(","event":")", events::event_name(e.kind), R"(")"});
    }
    for (std::size_t c = 0; c < ctx.size(); ++c)
      ctx[c] = Fragment::of({R"(,"ctx":")", events::ctx_name(static_cast<events::ExecCtx>(c)), R"(")"});
    for (std::size_t b = 0; b < backend.size(); ++b)
      backend[b] = Fragment::of({R"(,"backend":")", events::backend_name(static_cast<events::Backend>(b)), R"(")"});
    for (std::size_t st = 0; st < tcp_state.size(); ++st)
      if (const auto name = events::known_tcp_state_name(static_cast<uint8_t>(st)); !name.empty())
        tcp_state[st] = Fragment::of({R"(")", name, R"(")"});
  }
};
static_assert(SK_CTX_IRQ == 2 && SK_BACKEND_KPROBE == 3, "Fragments: one per value");

const Fragments& fragments() {
  static const Fragments f;
  return f;
}

// Writes at a raw pointer into room reserve()d beforehand: no bounds
// checks, no size updates, each key a copy of a length known when compiling.
class Line {
 public:
  explicit Line(char* p) : p_(p) {}
  char* end() const { return p_; }

  // Source text, e.g. `,"pid":`: the compiler turns the copy into stores.
  template <std::size_t N>
  void raw(const char (&s)[N]) {
    std::memcpy(p_, s, N - 1);
    p_ += N - 1;
  }
  void raw(const Fragment& f) {
    std::memcpy(p_, f.text.data(), Fragment::kCapacity);
    p_ += f.len;
  }
  void raw(std::string_view s) {
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  // A name from sockscope's own tables (events/names): printable ASCII with
  // no quote or backslash, so nothing to escape.
  void name(std::string_view s) {
    *p_++ = '"';
    raw(s);
    *p_++ = '"';
  }
  // A field whose value has its fragment in `table`, by number; a value
  // past the table (nothing the decoder lets through today) as key and name.
  template <std::size_t M, std::size_t N, class Name>
  void fragment_or(const std::array<Fragment, M>& table, std::size_t i, const char (&key)[N], Name&& name_of) {
    if (i < M) {
      raw(table[i]);
    } else {
      raw(key);
      name(name_of());
    }
  }
  // Bytes from the kernel (comm, ifname): escaped as JsonWriter does.
  void text(std::string_view s, std::string& scratch) {
    *p_++ = '"';
    bool plain = true;
    for (const char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      plain &= c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
    }
    if (plain) {
      raw(s);
    } else {
      scratch.clear();
      append_json_string_contents(scratch, s);
      raw(scratch);
    }
    *p_++ = '"';
  }
  template <class T>
  requires std::is_integral_v<T> &&(!std::is_same_v<T, bool>)void number(T v) {
    // The widest value fits: 20 digits, or a sign and 19.
    p_ = std::to_chars(p_, p_ + 24, v).ptr;
  }
  void boolean(bool b) {
    if (b) {
      raw("true");
    } else {
      raw("false");
    }
  }

 private:
  char* p_;
};

// A task's pid (its key written by the caller), then `,"tid":…,"comm":"…"`.
void pid_tid_comm(Line& w, uint32_t pid, uint32_t tid, std::string_view comm, std::string& scratch) {
  w.number(pid);
  w.raw(R"(,"tid":)");
  w.number(tid);
  w.raw(R"(,"comm":)");
  w.text(comm, scratch);
}

}  // namespace

std::string_view JsonRenderer::AddressText::text(uint16_t family, const std::array<uint8_t, 16>& addr) {
  if (!len_ || family != family_ || addr != addr_) {
    family_ = family;
    addr_ = addr;
    events::IpBuffer buf;
    const std::string_view ip = events::format_ip(family, addr, buf);
    static_assert(sizeof(text_) >= sizeof(buf) + 2);
    text_[0] = '"';
    std::memcpy(text_ + 1, ip.data(), ip.size());
    text_[ip.size() + 1] = '"';
    len_ = ip.size() + 2;
  }
  return {text_, len_};
}

JsonRenderer::JsonRenderer(std::ostream& os, const WallClock& clock) : os_(os), clock_(clock) {
  buf_.resize(kBatchBytes + kLineBytes);
}

char* JsonRenderer::reserve(std::size_t n) {
  if (buf_.size() - len_ < n) buf_.resize(len_ + n);
  return buf_.data() + len_;
}

void JsonRenderer::event(const Event& e) {
  Line w(reserve(kLineBytes));
  const Layer layer = e.layer();
  w.raw(R"({"ts_ns":)");
  w.number(e.ts_ns);
  w.raw(R"(,"ts_wall_ns":)");
  w.number(clock_.wall_ns(e.ts_ns));
  const Fragments& f = fragments();
  if (const auto k = static_cast<std::size_t>(e.kind); k < Fragments::kKinds) {
    w.raw(f.layer_and_event[k]);
  } else {
    w.raw(R"(,"layer":)");
    w.name(events::layer_name(layer));
    w.raw(R"(,"event":)");
    w.name(events::event_name(e.kind));
  }
  w.raw(R"(,"pid":)");
  pid_tid_comm(w, e.pid, e.tid, e.comm_view(), scratch_);
  w.raw(R"(,"cpu":)");
  w.number(e.cpu);
  w.fragment_or(f.ctx, static_cast<std::size_t>(e.ctx), R"(,"ctx":)", [&] { return events::ctx_name(e.ctx); });
  w.raw(R"(,"netns":)");
  w.number(e.netns);
  w.raw(R"(,"family":)");
  w.name(events::family_name(e.family));
  w.raw(R"(,"saddr":)");
  w.raw(saddr_.text(e.family, e.saddr));
  w.raw(R"(,"sport":)");
  w.number(e.sport);
  w.raw(R"(,"daddr":)");
  w.raw(daddr_.text(e.family, e.daddr));
  w.raw(R"(,"dport":)");
  w.number(e.dport);
  w.fragment_or(f.backend, static_cast<std::size_t>(e.backend), R"(,"backend":)",
                [&] { return events::backend_name(e.backend); });
  if (e.sock) {
    char hex[2 + 16] = {'0', 'x'};
    const auto end = std::to_chars(hex + 2, hex + sizeof hex, e.sock, 16).ptr;
    w.raw(R"(,"sock":)");
    w.name(std::string_view(hex, static_cast<std::size_t>(end - hex)));
  }
  // Names the tables may not hold come from the allocating functions.
  const auto tcp_state = [&w, &f](uint8_t s) {
    if (const Fragment& name = f.tcp_state[s]; name.len) {
      w.raw(name);
    } else {
      w.name(events::tcp_state_name(s));
    }
  };

  switch (layer) {
    case Layer::Syscall:
      w.raw(R"(,"phase":)");
      w.name(e.phase == events::Phase::Enter ? "enter" : "exit");
      w.raw(R"(,"fd":)");
      w.number(e.fd);
      if (e.phase == events::Phase::Exit) {
        w.raw(R"(,"ret":)");
        w.number(e.ret);
        if (e.ret < 0) {
          w.raw(R"(,"errno":)");
          w.name(events::errno_name(events::errno_of(e.ret)));
        }
        w.raw(R"(,"dur_ns":)");
        w.number(e.dur_ns);
      }
      if (e.kind == Kind::SysListen) {
        w.raw(R"(,"backlog":)");
        w.number(e.backlog);
      }
      break;
    case Layer::Kernel:
      if (e.kind == Kind::State || e.kind == Kind::Listen || e.kind == Kind::Established) {
        w.raw(R"(,"old_state":)");
        tcp_state(e.old_state);
        w.raw(R"(,"new_state":)");
        tcp_state(e.new_state);
      }
      if (e.kind == Kind::Bind || e.kind == Kind::Accept) {
        w.raw(R"(,"fd":)");
        w.number(e.fd);
      }
      if (e.kind == Kind::Listen) {
        w.raw(R"(,"backlog":)");
        w.number(e.backlog);
      }
      if (e.kind == Kind::Accept) {
        w.raw(R"(,"rx_queued":)");
        w.number(e.rx_queued);
      }
      if (e.kind == Kind::SynRecv || e.kind == Kind::Established || e.kind == Kind::Accept || e.kind == Kind::Listen ||
          e.kind == Kind::SynackRetransmit) {
        w.raw(R"(,"queue_len":)");
        w.number(e.queue_len);
        w.raw(R"(,"queue_max":)");
        w.number(e.queue_max);
      }
      if (e.owner_known()) {
        w.raw(R"(,"owner_pid":)");
        w.number(e.owner_pid);
        w.raw(R"(,"owner_state":)");
        if (const std::string_view name = events::known_task_state_name(e.owner_state); !name.empty()) {
          w.name(name);
        } else {
          w.name(events::task_state_name(e.owner_state));
        }
        w.raw(R"(,"owner_in_accept":)");
        w.boolean(e.owner_flags & events::kOwnerInAccept);
      }
      if (e.waiters.read) {  // who waited on the listener then (absent: not read)
        // The same objects as write_waiters(), which explain's JSON uses.
        const auto tasks = e.waiters.tasks();
        w.raw(R"(,"waiters":[)");
        len_ = static_cast<std::size_t>(w.end() - buf_.data());
        w = Line(reserve(kLineBytes + tasks.size() * kWaiterBytes));
        for (std::size_t i = 0; i < tasks.size(); ++i) {
          const events::Waiter& t = tasks[i];
          w.raw(i ? R"(,{"pid":)" : R"({"pid":)");
          pid_tid_comm(w, t.pid, t.tid, t.comm_view(), scratch_);
          w.raw(R"(,"how":)");
          w.name(events::wait_how_name(t));
          w.raw("}");
        }
        w.raw(R"(],"waiters_complete":)");
        w.boolean(!e.waiters.truncated() && !e.waiters.unknown_entries());
      }
      break;
    case Layer::Packet: {
      w.raw(R"(,"dir":)");
      w.name(events::dir_name(e.dir));
      w.raw(R"(,"ifname":)");
      w.text(e.ifname_view(), scratch_);
      w.raw(R"(,"ifindex":)");
      w.number(e.ifindex);
      events::FlagsBuffer flags;
      w.raw(R"(,"flags":)");
      w.name(events::tcp_flags_string(e.tcp_flags, flags));
      w.raw(R"(,"seq":)");
      w.number(e.seq);
      w.raw(R"(,"ack":)");
      w.number(e.ack_seq);
      w.raw(R"(,"win":)");
      w.number(e.window);
      w.raw(R"(,"len":)");
      w.number(e.payload_len);
      if (e.listener_found()) {  // a SYN arriving at a listener: its accept queue then
        w.raw(R"(,"queue_len":)");
        w.number(e.queue_len);
        w.raw(R"(,"queue_max":)");
        w.number(e.queue_max);
      }
      break;
    }
  }
  w.raw("}\n");
  len_ = static_cast<std::size_t>(w.end() - buf_.data());
  if (len_ >= kBatchBytes) flush();
}

void JsonRenderer::flush() {
  if (len_ == 0) return;
  os_.write(buf_.data(), static_cast<std::streamsize>(len_));
  len_ = 0;
}

void JsonRenderer::summary(const Summary& s) {
  std::string line;
  JsonWriter w(line);
  w.begin_object();
  w.field("layer", "meta");
  w.field("event", "summary");
  write_summary(w, s);
  w.end_object();
  line += '\n';
  std::memcpy(reserve(line.size()), line.data(), line.size());
  len_ += line.size();
  flush();
}

}  // namespace sockscope::render
