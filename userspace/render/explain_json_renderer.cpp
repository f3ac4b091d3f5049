#include "render/explain_json_renderer.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/names.hpp"
#include "render/json_writer.hpp"
#include "render/renderer.hpp"
#include "render/story_words.hpp"

namespace sockscope::render {

using track::Connection;
using track::Lane;
using track::Step;
using track::StepKind;

namespace {

std::string_view lane_name(Lane l) {
  switch (l) {
    case Lane::Client: return "client";
    case Lane::Kernel: return "kernel";
    case Lane::Server: return "server";
  }
  return "unknown";
}

// key: value when `known`, else key: null.
template <class T>
void field_or_null(JsonWriter& w, std::string_view k, bool known, const T& v) {
  w.key(k);
  if (known) {
    w.value(v);
  } else {
    w.null();
  }
}

// A CLOCK_MONOTONIC time, then the same moment on the wall clock (the key
// ending in "ts_wall_ns" rather than "ts_ns"), both null when unknown.
void time_fields(JsonWriter& w, const WallClock& clock, std::string_view mono_key, std::string_view wall_key,
                 bool known, uint64_t mono_ns) {
  field_or_null(w, mono_key, known, mono_ns);
  field_or_null(w, wall_key, known, clock.wall_ns(mono_ns));
}

void task_fields(JsonWriter& w, std::string_view pid_key, std::string_view comm_key, const track::Task* t) {
  field_or_null(w, pid_key, t != nullptr, t ? t->pid : 0u);
  field_or_null(w, comm_key, t != nullptr, t ? std::string_view(t->comm) : std::string_view());
}

void backend_or_null(JsonWriter& w, std::string_view k, const std::optional<events::Backend>& b) {
  field_or_null(w, k, b.has_value(), events::backend_name(b.value_or(events::Backend::Tracepoint)));
}

// A step's own numbers, by kind: every step of a kind has the same keys.
void step_facts(JsonWriter& w, const Step& s) {
  switch (s.kind) {
    case StepKind::ChildState:
    case StepKind::ClientState:
      w.field("old_state", events::tcp_state_name(s.old_state));
      w.field("new_state", events::tcp_state_name(s.new_state));
      break;
    case StepKind::SynRecv:
    case StepKind::Established:
    case StepKind::SynackRetransmit:
      w.field("queue_len", s.queue_len);
      w.field("queue_max", s.queue_max);
      break;
    case StepKind::ConnectExit:
      w.field("ret", s.ret);
      field_or_null(w, "errno", s.ret < 0, s.ret < 0 ? events::errno_name(events::errno_of(s.ret)) : std::string());
      break;
    case StepKind::AcceptExit:
      w.field("ret", s.ret);
      field_or_null(w, "errno", s.ret < 0, s.ret < 0 ? events::errno_name(events::errno_of(s.ret)) : std::string());
      w.field("nonblocking", s.nonblocking);
      break;
    case StepKind::AcceptEnter: w.field("nonblocking", s.nonblocking); break;
    case StepKind::Dequeued:
      w.field("queue_len", s.queue_len);
      w.field("queue_max", s.queue_max);
      w.field("bytes_waiting", s.bytes_waiting);
      break;
    case StepKind::Packet:
      w.field("flags", events::tcp_flags_string(s.tcp_flags));
      w.field("len", s.payload_len);
      w.field("dropped", s.syn_dropped);
      field_or_null(w, "queue_len", s.syn_dropped, s.queue_len);
      field_or_null(w, "queue_max", s.syn_dropped, s.queue_max);
      break;
    case StepKind::ClientEstablished:
      w.field("old_state", events::tcp_state_name(s.old_state));
      w.field("new_state", events::tcp_state_name(s.new_state));
      field_or_null(w, "waiters", s.waiters.has_value(), s.waiters.value_or(0));
      break;
    case StepKind::Getsockopt:
      w.field("ret", s.ret);
      field_or_null(w, "errno", s.ret < 0, s.ret < 0 ? events::errno_name(events::errno_of(s.ret)) : std::string());
      w.field("so_error", s.so_error);
      field_or_null(w, "so_errno", s.so_error != 0, s.so_error != 0 ? events::errno_name(s.so_error) : std::string());
      break;
    case StepKind::ListenerClosed:
    case StepKind::ConnectEnter: break;
  }
}

// The client host's part (null when the client is not on this host).
void client_side_object(JsonWriter& w, const Connection& c, const WallClock& clock) {
  const track::ClientSide& cs = c.client_side;
  w.key("client_side");
  if (!cs.seen) {
    w.null();
    return;
  }
  const bool est = cs.established_ns != 0;
  w.begin_object_value();
  w.field("completed_by", track::completed_by_name(c.client_completed_by()));
  field_or_null(w, "ctx", est, events::ctx_name(cs.ctx));
  field_or_null(w, "cpu", est, cs.cpu);
  task_fields(w, "borrowed_pid", "borrowed_comm", est ? &cs.borrowed : nullptr);
  task_fields(w, "syn_pid", "syn_comm", cs.syn_tx_ns != 0 ? &cs.syn_task : nullptr);
  field_or_null(w, "syn_ctx", cs.syn_tx_ns != 0, events::ctx_name(cs.syn_ctx));
  w.field("syns_sent", cs.syns_sent);
  time_fields(w, clock, "syn_tx_ts_ns", "syn_tx_ts_wall_ns", cs.syn_tx_ns != 0, cs.syn_tx_ns);
  time_fields(w, clock, "synack_rx_ts_ns", "synack_rx_ts_wall_ns", cs.synack_rx_ns != 0, cs.synack_rx_ns);
  time_fields(w, clock, "ack_tx_ts_ns", "ack_tx_ts_wall_ns", cs.ack_tx_ns != 0, cs.ack_tx_ns);
  time_fields(w, clock, "established_ts_ns", "established_ts_wall_ns", est, cs.established_ns);
  time_fields(w, clock, "rst_rx_ts_ns", "rst_rx_ts_wall_ns", cs.rst_rx_ns != 0, cs.rst_rx_ns);
  field_or_null(w, "connect_ret", c.connect_ret.has_value(), c.connect_ret.value_or(0));
  const bool failed = c.connect_ret && *c.connect_ret < 0;
  field_or_null(w, "connect_errno", failed, failed ? events::errno_name(events::errno_of(*c.connect_ret)) : "");
  time_fields(w, clock, "connect_exit_ts_ns", "connect_exit_ts_wall_ns", cs.connect_exit_ns != 0, cs.connect_exit_ns);
  w.field("nonblocking", cs.nonblocking);
  w.key("waiters");
  if (!cs.waiters) {
    w.null();
  } else {
    w.begin_array_value();
    for (const events::Waiter& t : *cs.waiters) {
      w.begin_object();
      w.field("pid", t.pid);
      w.field("tid", t.tid);
      w.field("comm", t.comm_view());
      w.field("how", events::wait_how_name(t));
      w.end_object();
    }
    w.end_array();
  }
  field_or_null(w, "waiters_truncated", cs.waiters.has_value(), (cs.waiter_flags & SK_WAITERS_TRUNCATED) != 0);
  field_or_null(w, "so_error", cs.so_error.has_value(), cs.so_error.value_or(0));
  const bool so_failed = cs.so_error && *cs.so_error != 0;
  field_or_null(w, "so_errno", so_failed, so_failed ? events::errno_name(*cs.so_error) : "");
  time_fields(w, clock, "so_error_ts_ns", "so_error_ts_wall_ns", cs.so_error.has_value(), cs.so_error_ns);
  w.end_object();
}

void pids_array(JsonWriter& w, std::string_view k, const std::vector<uint32_t>& pids) {
  w.key(k);
  w.begin_array_value();
  for (uint32_t pid : pids) w.value(pid);
  w.end_array();
}

void steps_array(JsonWriter& w, const Connection& c, const WallClock& clock) {
  w.key("steps");
  w.begin_array_value();
  for (const Step& s : c.steps) {
    w.begin_object();
    w.field("ts_ns", s.ts_ns);
    w.field("ts_wall_ns", clock.wall_ns(s.ts_ns));
    w.field("kind", track::step_kind_name(s.kind));
    w.field("lane", lane_name(s.lane));
    w.key("packet");  // a packet's direction on the wire; null for calls and kernel steps
    if (s.arrow == Step::Arrow::None)
      w.null();
    else
      w.value(s.arrow == Step::Arrow::ToServer ? "to_server" : "to_client");
    w.field("text", step_text(s));
    w.field("ctx", events::ctx_name(s.ctx));
    w.field("cpu", s.cpu);
    w.field("pid", s.task.pid);
    w.field("comm", s.task.comm);
    w.field("backend", events::backend_name(s.backend));
    step_facts(w, s);
    w.end_object();
  }
  w.end_array();
}

// Opens a listen or bind_conflict record: the fields both begin with.
void record_head(JsonWriter& w, const WallClock& clock, std::string_view type, uint64_t ts_ns, uint32_t netns,
                 const track::Endpoint& local, const track::Task& task) {
  w.begin_object();
  w.field("type", type);
  w.field("ts_ns", ts_ns);
  w.field("ts_wall_ns", clock.wall_ns(ts_ns));
  w.field("netns", netns);
  w.field("family", events::family_name(local.family));
  w.field("local", local.str());
  w.field("pid", task.pid);
  w.field("comm", task.comm);
}

}  // namespace

void ExplainJsonRenderer::end_record() {
  line_ += '\n';
  if (line_.size() >= kBatchBytes) flush();
}

void ExplainJsonRenderer::flush() {
  os_.write(line_.data(), static_cast<std::streamsize>(line_.size()));
  line_.clear();
}

void ExplainJsonRenderer::listener(const track::Listener& l) {
  JsonWriter w(line_);
  record_head(w, clock_, "listen", l.listen_ns, l.netns, l.local, l.owner);
  w.field("backlog", l.backlog);
  field_or_null(w, "ino", l.ino != 0, l.ino);
  pids_array(w, "listener_pids", l.pids);
  w.field("backend", events::backend_name(l.backend));
  w.field("explanation", describe(l));
  w.end_object();
  end_record();
}

void ExplainJsonRenderer::bind_conflict(const track::BindConflict& b) {
  JsonWriter w(line_);
  record_head(w, clock_, "bind_conflict", b.ts_ns, b.netns, b.wanted, b.caller);
  w.field("errno", events::errno_name(b.err));
  task_fields(w, "holder_pid", "holder_comm", b.holder ? &*b.holder : nullptr);
  w.field("holder_listening", b.holder_listening);
  w.field("explanation", describe(b));
  w.end_object();
  end_record();
}

void ExplainJsonRenderer::connection(const Connection& c) {
  JsonWriter w(line_);
  w.begin_object();
  w.field("type", "connection");
  w.field("netns", c.netns);
  w.field("client_netns", c.client_netns);
  w.field("family", events::family_name(c.server.family));
  w.field("client", c.client.str());
  w.field("server", c.server.str());
  w.field("outcome", track::outcome_name(c.outcome));
  w.field("side", track::side_name(c.side()));
  w.field("completed_by", track::completed_by_name(c.completed_by()));
  // Where the handshake completed is only known once it did.
  field_or_null(w, "ctx", c.established, events::ctx_name(c.ctx));
  field_or_null(w, "cpu", c.established, c.cpu);
  task_fields(w, "borrowed_pid", "borrowed_comm", c.established ? &c.borrowed : nullptr);
  field_or_null(w, "borrowed_role", c.established, track::borrowed_role_name(c.borrowed_role()));
  field_or_null(w, "rx_ifname", !c.rx_ifname.empty(), std::string_view(c.rx_ifname));
  task_fields(w, "listener_pid", "listener_comm", c.listener ? &c.listener->owner : nullptr);
  w.field("listener_state", track::owner_state_name(c.listener_state));
  field_or_null(w, "listener_ino", c.listener_ino != 0, c.listener_ino);
  pids_array(w, "listener_pids", c.listener_pids);
  w.key("waiters");
  if (c.waiters) {
    std::vector<events::Waiter> hows;
    for (const track::WaiterFact& f : *c.waiters) hows.push_back(f.how);
    write_waiters(w, hows);
  } else {
    w.null();
  }
  field_or_null(w, "waiters_complete", c.waiters.has_value(), c.waiters_complete);
  field_or_null(w, "idle_epoll", c.waiters.has_value(), c.idle_epoll);
  task_fields(w, "client_pid", "client_comm", c.client_task ? &*c.client_task : nullptr);
  field_or_null(w, "connect_ret", c.connect_ret.has_value(), c.connect_ret.value_or(0));
  w.field("syns", c.syns);
  w.field("syns_dropped", c.syns_dropped);
  w.field("synack_retransmits", c.synack_retransmits);
  time_fields(w, clock_, "first_syn_ts_ns", "first_syn_ts_wall_ns", c.first_syn_ns != 0, c.first_syn_ns);
  time_fields(w, clock_, "established_ts_ns", "established_ts_wall_ns", c.established, c.established_ns);
  time_fields(w, clock_, "accept_ts_ns", "accept_ts_wall_ns", c.accepted, c.accept_ns);
  field_or_null(w, "handshake_ns", c.established && c.first_syn_ns != 0, c.handshake_ns());
  field_or_null(w, "accept_delay_ns", c.established && c.accepted, c.accept_delay_ns());
  w.field("queue_len", c.queue_len);
  w.field("queue_max", c.queue_max);
  field_or_null(w, "queue_len_after_accept", c.accepted, c.queue_len_after_accept);
  field_or_null(w, "bytes_before_accept", c.accepted, c.bytes_before_accept);
  field_or_null(w, "accept_fd", c.accepted && c.accept_fd >= 0, c.accept_fd);
  field_or_null(w, "accept_pid", c.accepted, c.acceptor.pid);
  field_or_null(w, "accept_tid", c.accepted && c.acceptor.tid != 0, c.acceptor.tid);
  field_or_null(w, "accept_comm", c.accepted, std::string_view(c.acceptor.comm));
  const std::string_view via = track::accept_via_name(c.accept_via);
  field_or_null(w, "accept_via", c.accepted && !via.empty(), via);
  field_or_null(w, "accept_nonblocking", c.accepted, c.accept_nonblocking);
  w.key("backends");
  w.begin_object_value();
  backend_or_null(w, "syn_recv", c.backends.syn_recv);
  backend_or_null(w, "established", c.backends.established);
  backend_or_null(w, "accept", c.backends.accept);
  w.end_object();
  client_side_object(w, c, clock_);
  w.field("records_lost", c.records_lost);
  w.field("verdict", verdict(c));
  steps_array(w, c, clock_);
  w.end_object();
  end_record();
}

void ExplainJsonRenderer::summary(const ExplainSummary& s) {
  JsonWriter w(line_);
  w.begin_object();
  w.field("type", "summary");
  write_summary(w, s.trace);
  w.field("connections", s.connections);
  w.field("evicted", s.evicted);
  w.field("open_peak", s.open_peak);
  w.end_object();
  end_record();
  flush();
}

}  // namespace sockscope::render
