// Loads a recording made with `sockscope trace --json` (JSON Lines written by
// render::JsonRenderer) back into events::Event values, so that tests can
// replay what the real kernel reported through the tracker.
//
// Strict: every key of a record must be one the renderer writes, and every
// name (layer, event, ctx, family, state, flag letter, task state, ...) must be
// one it produces; anything else throws std::runtime_error naming the file and
// line. Nothing is guessed. The {"layer":"meta","event":"summary"} record that
// ends a recording is skipped.
//
// The JSON has no owner_flags: they are rebuilt from what the renderer writes
// only when they are set (SK_OWNER_KNOWN: owner_pid is present; SK_OWNER_IN_ACCEPT:
// owner_in_accept; SK_LISTENER_FOUND: a packet, or a kernel syn_recv, established
// or synack_retransmit record, carries queue_len).
#pragma once

#include <arpa/inet.h>
#include <linux/types.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "events/event.hpp"
#include "events/names.hpp"
#include "sockscope.h"

namespace sockscope::test {

namespace replay_detail {

using events::Event;
using events::Kind;
using nlohmann::json;

[[noreturn]] inline void fail(const std::string& what) { throw std::runtime_error("recording: " + what); }

inline const json& require(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) fail(std::string("missing field \"") + key + "\"");
  return *it;
}

inline std::string str(const json& v, const char* key) {
  if (!v.is_string()) fail(std::string("field \"") + key + "\" is not a string");
  return v.get<std::string>();
}

// An integer field, range-checked against T.
template <typename T>
T integer(const json& v, const char* key) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<T>::max())) fail(std::string("field \"") + key + "\" too big");
    return static_cast<T>(u);
  }
  if (v.is_number_integer()) {
    const auto s = v.get<int64_t>();
    if constexpr (std::numeric_limits<T>::is_signed) {
      if (s < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          s > static_cast<int64_t>(std::numeric_limits<T>::max()))
        fail(std::string("field \"") + key + "\" out of range");
    } else {
      if (s < 0) fail(std::string("field \"") + key + "\" is negative");
      if (static_cast<uint64_t>(s) > static_cast<uint64_t>(std::numeric_limits<T>::max()))
        fail(std::string("field \"") + key + "\" too big");
    }
    return static_cast<T>(s);
  }
  fail(std::string("field \"") + key + "\" is not an integer");
}

template <std::size_t N>
void copy_bounded(std::array<char, N>& dst, const std::string& s, const char* key) {
  if (s.size() > N) fail(std::string("field \"") + key + "\" longer than " + std::to_string(N) + ": " + s);
  dst.fill('\0');
  std::memcpy(dst.data(), s.data(), s.size());
}

inline Kind kind_of(const std::string& layer, const std::string& name) {
  static const std::pair<std::pair<std::string_view, std::string_view>, Kind> kinds[] = {
      {{"syscall", "socket"}, Kind::SysSocket},
      {{"syscall", "bind"}, Kind::SysBind},
      {{"syscall", "listen"}, Kind::SysListen},
      {{"syscall", "connect"}, Kind::SysConnect},
      {{"syscall", "accept"}, Kind::SysAccept},
      {{"syscall", "close"}, Kind::SysClose},
      {{"kernel", "bind"}, Kind::Bind},
      {{"kernel", "listen"}, Kind::Listen},
      {{"kernel", "syn_recv"}, Kind::SynRecv},
      {{"kernel", "established"}, Kind::Established},
      {{"kernel", "accept"}, Kind::Accept},
      {{"kernel", "state"}, Kind::State},
      {{"kernel", "synack_retransmit"}, Kind::SynackRetransmit},
      {{"packet", "tcp"}, Kind::Tcp},
  };
  for (const auto& [key, kind] : kinds)
    if (key.first == layer && key.second == name) return kind;
  fail("unknown event \"" + name + "\" in layer \"" + layer + "\"");
}

inline events::ExecCtx ctx_of(const std::string& s) {
  if (s == "process") return events::ExecCtx::Process;
  if (s == "softirq") return events::ExecCtx::Softirq;
  if (s == "irq") return events::ExecCtx::Irq;
  fail("unknown ctx \"" + s + "\"");
}

inline uint16_t family_of(const std::string& s) {
  if (s == "ipv4") return AF_INET;
  if (s == "ipv6") return AF_INET6;
  fail("unknown family \"" + s + "\"");
}

inline events::Backend backend_of(const std::string& s) {
  if (s == "tracepoint") return events::Backend::Tracepoint;
  if (s == "sock_ops") return events::Backend::SockOps;
  if (s == "fentry") return events::Backend::Fentry;
  if (s == "kprobe") return events::Backend::Kprobe;
  fail("unknown backend \"" + s + "\"");
}

inline events::Phase phase_of(const std::string& s) {
  if (s == "enter") return events::Phase::Enter;
  if (s == "exit") return events::Phase::Exit;
  fail("unknown phase \"" + s + "\"");
}

inline events::Dir dir_of(const std::string& s) {
  if (s == "rx") return events::Dir::Rx;
  if (s == "tx") return events::Dir::Tx;
  if (s.empty()) return events::Dir::None;
  fail("unknown dir \"" + s + "\"");
}

// The kernel's enum (include/net/tcp_states.h), as names.cpp spells it.
inline uint8_t tcp_state_of(const std::string& s) {
  static constexpr std::string_view names[] = {"",          "ESTABLISHED", "SYN_SENT",     "SYN_RECV",      "FIN_WAIT1",
                                               "FIN_WAIT2", "TIME_WAIT",   "CLOSE",        "CLOSE_WAIT",    "LAST_ACK",
                                               "LISTEN",    "CLOSING",     "NEW_SYN_RECV", "BOUND_INACTIVE"};
  for (uint8_t i = 1; i < std::size(names); ++i)
    if (names[i] == s) return i;
  fail("unknown TCP state \"" + s + "\"");
}

// tcpdump's letters (print-tcp.c): F S R P . U E W; "none" for no flag.
inline uint8_t tcp_flags_of(const std::string& s) {
  if (s == "none") return 0;
  static constexpr std::pair<char, uint8_t> letters[] = {{'F', 0x01}, {'S', 0x02}, {'R', 0x04}, {'P', 0x08},
                                                         {'.', 0x10}, {'U', 0x20}, {'E', 0x40}, {'W', 0x80}};
  if (s.empty()) fail("empty TCP flags");
  uint8_t flags = 0;
  for (char c : s) {
    bool known = false;
    for (auto [letter, bit] : letters) {
      if (c != letter) continue;
      if (flags & bit) fail("TCP flag letter repeated in \"" + s + "\"");
      flags |= bit;
      known = true;
    }
    if (!known) fail("unknown TCP flag letter in \"" + s + "\"");
  }
  return flags;
}

// The owner's task __state from its name. A SIGSTOPped task reads as
// TASK_STOPPED (__TASK_STOPPED | TASK_WAKEKILL = 0x104), a traced one as
// __TASK_TRACED (0x8). Other names map to several states: refuse them.
inline uint32_t task_state_of(const std::string& s) {
  if (s == "running") return 0;
  if (s == "sleeping") return 0x1;
  if (s == "stopped") return 0x104;
  if (s == "traced") return 0x8;
  fail("unknown owner_state \"" + s + "\"");
}

inline void address(std::array<uint8_t, 16>& dst, uint16_t family, const std::string& s, const char* key) {
  dst.fill(0);
  if (inet_pton(family, s.c_str(), dst.data()) != 1) fail(std::string("bad address in \"") + key + "\": " + s);
}

inline uint64_t sock_of(const std::string& s) {
  if (s.size() < 3 || s.size() > 18 || s.compare(0, 2, "0x") != 0 ||
      s.find_first_not_of("0123456789abcdef", 2) != std::string::npos)
    fail("bad sock \"" + s + "\"");
  return std::stoull(s.substr(2), nullptr, 16);
}

// One record; nullopt for the meta summary.
inline std::optional<Event> parse_record(const json& j) {
  if (!j.is_object()) fail("record is not an object");
  const std::string layer = str(require(j, "layer"), "layer");
  const std::string name = str(require(j, "event"), "event");
  if (layer == "meta") {
    if (name != "summary") fail("unknown meta record \"" + name + "\"");
    return std::nullopt;
  }

  Event e;
  e.kind = kind_of(layer, name);
  std::set<std::string> seen = {"layer", "event"};
  auto get = [&](const char* key) -> const json* {
    auto it = j.find(key);
    if (it == j.end()) return nullptr;
    seen.insert(key);
    return &*it;
  };
  auto need = [&](const char* key) -> const json& {
    seen.insert(key);
    return require(j, key);
  };

  // Common to every record.
  e.ts_ns = integer<uint64_t>(need("ts_ns"), "ts_ns");
  e.pid = integer<uint32_t>(need("pid"), "pid");
  e.tid = integer<uint32_t>(need("tid"), "tid");
  copy_bounded(e.comm, str(need("comm"), "comm"), "comm");
  e.cpu = integer<uint32_t>(need("cpu"), "cpu");
  e.ctx = ctx_of(str(need("ctx"), "ctx"));
  e.netns = integer<uint32_t>(need("netns"), "netns");
  e.family = family_of(str(need("family"), "family"));
  address(e.saddr, e.family, str(need("saddr"), "saddr"), "saddr");
  e.sport = integer<uint16_t>(need("sport"), "sport");
  address(e.daddr, e.family, str(need("daddr"), "daddr"), "daddr");
  e.dport = integer<uint16_t>(need("dport"), "dport");
  e.backend = backend_of(str(need("backend"), "backend"));
  if (const json* v = get("sock")) e.sock = sock_of(str(*v, "sock"));

  // Syscall records.
  if (const json* v = get("phase")) e.phase = phase_of(str(*v, "phase"));
  if (const json* v = get("fd")) e.fd = integer<int32_t>(*v, "fd");
  if (const json* v = get("ret")) e.ret = integer<int64_t>(*v, "ret");
  if (const json* v = get("errno")) {
    if (!j.contains("ret") || e.ret >= 0) fail("errno without a failed ret");
    if (str(*v, "errno") != events::errno_name(events::errno_of(e.ret)))
      fail("errno \"" + str(*v, "errno") + "\" does not match ret " + std::to_string(e.ret));
  }
  if (const json* v = get("dur_ns")) e.dur_ns = integer<uint64_t>(*v, "dur_ns");
  if (const json* v = get("backlog")) e.backlog = integer<uint32_t>(*v, "backlog");

  // Kernel records.
  if (const json* v = get("old_state")) e.old_state = tcp_state_of(str(*v, "old_state"));
  if (const json* v = get("new_state")) e.new_state = tcp_state_of(str(*v, "new_state"));
  if (const json* v = get("rx_queued")) e.rx_queued = integer<uint32_t>(*v, "rx_queued");
  const json* queue_len = get("queue_len");
  if (queue_len) e.queue_len = integer<uint32_t>(*queue_len, "queue_len");
  if (const json* v = get("queue_max")) e.queue_max = integer<uint32_t>(*v, "queue_max");
  if (const json* v = get("owner_pid")) {
    e.owner_pid = integer<uint32_t>(*v, "owner_pid");
    e.owner_flags |= SK_OWNER_KNOWN;
    e.owner_state = task_state_of(str(need("owner_state"), "owner_state"));
    const json& in_accept = need("owner_in_accept");
    if (!in_accept.is_boolean()) fail("owner_in_accept is not a boolean");
    if (in_accept.get<bool>()) e.owner_flags |= SK_OWNER_IN_ACCEPT;
  } else if (j.contains("owner_state") || j.contains("owner_in_accept")) {
    fail("owner_state or owner_in_accept without owner_pid");
  }
  if (queue_len && (e.kind == Kind::Tcp || e.kind == Kind::SynRecv || e.kind == Kind::Established ||
                    e.kind == Kind::SynackRetransmit))
    e.owner_flags |= SK_LISTENER_FOUND;

  // Packet records.
  if (const json* v = get("dir")) e.dir = dir_of(str(*v, "dir"));
  if (const json* v = get("ifname")) copy_bounded(e.ifname, str(*v, "ifname"), "ifname");
  if (const json* v = get("ifindex")) e.ifindex = integer<uint32_t>(*v, "ifindex");
  if (const json* v = get("flags")) e.tcp_flags = tcp_flags_of(str(*v, "flags"));
  if (const json* v = get("seq")) e.seq = integer<uint32_t>(*v, "seq");
  if (const json* v = get("ack")) e.ack_seq = integer<uint32_t>(*v, "ack");
  if (const json* v = get("win")) e.window = integer<uint16_t>(*v, "win");
  if (const json* v = get("len")) e.payload_len = integer<uint16_t>(*v, "len");

  for (const auto& [key, value] : j.items())
    if (!seen.contains(key)) fail("unknown field \"" + key + "\"");
  return e;
}

}  // namespace replay_detail

// One JSON line; nullopt for the meta summary. Throws on anything unknown.
inline std::optional<events::Event> parse_recorded_line(const std::string& line) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& ex) {
    replay_detail::fail(std::string("not JSON: ") + ex.what());
  }
  return replay_detail::parse_record(j);
}

// Every event of a recording, in file order (the meta summary skipped).
inline std::vector<events::Event> load_recording(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("recording: cannot open " + path);
  std::vector<events::Event> out;
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    try {
      if (auto e = parse_recorded_line(line)) out.push_back(*e);
    } catch (const std::runtime_error& ex) {
      throw std::runtime_error(path + ":" + std::to_string(n) + ": " + ex.what());
    }
  }
  return out;
}

}  // namespace sockscope::test
