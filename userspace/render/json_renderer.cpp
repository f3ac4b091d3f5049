#include "render/json_renderer.hpp"

#include <charconv>

#include "events/names.hpp"
#include "render/json_writer.hpp"

namespace sockscope::render {

using events::Event;
using events::Kind;
using events::Layer;

void JsonRenderer::event(const Event& e) {
  JsonWriter w(buf_);
  w.begin_object();
  w.field("ts_ns", e.ts_ns);
  w.field("layer", events::layer_name(e.layer()));
  w.field("event", events::event_name(e.kind));
  w.field("pid", e.pid);
  w.field("tid", e.tid);
  w.field("comm", e.comm_view());
  w.field("cpu", e.cpu);
  w.field("ctx", events::ctx_name(e.ctx));
  w.field("netns", e.netns);
  w.field("family", events::family_name(e.family));
  events::IpBuffer ip;
  w.field("saddr", events::format_ip(e.family, e.saddr, ip));
  w.field("sport", e.sport);
  w.field("daddr", events::format_ip(e.family, e.daddr, ip));
  w.field("dport", e.dport);
  w.field("backend", events::backend_name(e.backend));
  if (e.sock) {
    char hex[2 + 16] = {'0', 'x'};
    const auto end = std::to_chars(hex + 2, hex + sizeof hex, e.sock, 16).ptr;
    w.field("sock", std::string_view(hex, static_cast<std::size_t>(end - hex)));
  }

  switch (e.layer()) {
    case Layer::Syscall:
      w.field("phase", e.phase == events::Phase::Enter ? "enter" : "exit");
      w.field("fd", e.fd);
      if (e.phase == events::Phase::Exit) {
        w.field("ret", e.ret);
        if (e.ret < 0) w.field("errno", events::errno_name(static_cast<int>(-e.ret)));
        w.field("dur_ns", e.dur_ns);
      }
      if (e.kind == Kind::SysListen) w.field("backlog", e.backlog);
      break;
    case Layer::Kernel:
      if (e.kind == Kind::State || e.kind == Kind::Listen || e.kind == Kind::Established) {
        w.field("old_state", events::tcp_state_name(e.old_state));
        w.field("new_state", events::tcp_state_name(e.new_state));
      }
      if (e.kind == Kind::Bind || e.kind == Kind::Accept) w.field("fd", e.fd);
      if (e.kind == Kind::Listen) w.field("backlog", e.backlog);
      if (e.kind == Kind::Accept) w.field("rx_queued", e.rx_queued);
      if (e.kind == Kind::SynRecv || e.kind == Kind::Established || e.kind == Kind::Accept || e.kind == Kind::Listen ||
          e.kind == Kind::SynackRetransmit) {
        w.field("queue_len", e.queue_len);
        w.field("queue_max", e.queue_max);
      }
      if (e.owner_known()) {
        w.field("owner_pid", e.owner_pid);
        w.field("owner_state", events::task_state_name(e.owner_state));
        w.field("owner_in_accept", static_cast<bool>(e.owner_flags & events::kOwnerInAccept));
      }
      if (e.waiters.read) {  // who waited on the listener then (absent: not read)
        w.key("waiters");
        write_waiters(w, e.waiters.tasks());
        w.field("waiters_complete", !e.waiters.truncated() && !e.waiters.unknown_entries());
      }
      break;
    case Layer::Packet:
      w.field("dir", events::dir_name(e.dir));
      w.field("ifname", e.ifname_view());
      w.field("ifindex", e.ifindex);
      w.field("flags", events::tcp_flags_string(e.tcp_flags));
      w.field("seq", e.seq);
      w.field("ack", e.ack_seq);
      w.field("win", e.window);
      w.field("len", e.payload_len);
      if (e.listener_found()) {  // a SYN arriving at a listener: its accept queue then
        w.field("queue_len", e.queue_len);
        w.field("queue_max", e.queue_max);
      }
      break;
  }
  w.end_object();
  buf_ += '\n';
  if (buf_.size() >= kBatchBytes) flush();
}

void JsonRenderer::flush() {
  if (buf_.empty()) return;
  os_.write(buf_.data(), static_cast<std::streamsize>(buf_.size()));
  buf_.clear();
}

void JsonRenderer::summary(const Summary& s) {
  JsonWriter w(buf_);
  w.begin_object();
  w.field("layer", "meta");
  w.field("event", "summary");
  write_summary(w, s);
  w.end_object();
  buf_ += '\n';
  flush();
}

}  // namespace sockscope::render
