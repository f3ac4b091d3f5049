// Names users see and script against: event, layer, context, TCP state,
// errno, tcpdump flag letters, addresses. One place, so text and JSON agree.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "events/event.hpp"

namespace sockscope::events {

std::string_view event_name(Kind k);   // "socket", "bind", "syn_recv", "tcp", ...
std::string_view layer_name(Layer l);  // "syscall" | "kernel" | "packet"
std::string_view ctx_name(ExecCtx c);  // "process" | "softirq" | "irq"
std::string_view dir_name(Dir d);      // "rx" | "tx" | ""
std::string_view backend_name(Backend b);
std::string_view family_name(uint16_t family);  // "ipv4" | "ipv6" | "unknown"
// TCP state without the TCP_ prefix: "ESTABLISHED", "SYN_RECV", ...; "UNKNOWN(n)" else.
std::string tcp_state_name(uint8_t state);
// The same for the states the kernel names, without a string: "" for any
// other (which tcp_state_name() writes as "UNKNOWN(n)").
std::string_view known_tcp_state_name(uint8_t state);
// Symbolic errno ("EADDRINUSE"); "E<n>" when the C library has no name.
std::string errno_name(int err);
// The errno of a failed call's return value (ret < 0): -ret, computed without
// overflow, and at most INT_MAX for a value the kernel never returns.
int errno_of(int64_t ret);
// tcpdump's letters: "S", "S.", ".", "P.", "F.", "R", "R.", "FP.".
std::string tcp_flags_string(uint8_t flags);
// The same into the caller's buffer, for the per-event paths: no allocation.
using FlagsBuffer = std::array<char, 8>;
std::string_view tcp_flags_string(uint8_t flags, FlagsBuffer& buf);
// A task's __state as a word: "running", "sleeping", "disk-sleep", "stopped", "traced", ...
std::string task_state_name(uint32_t state);
// The same for the states with a word, without a string: "" for any other
// (which task_state_name() writes as "state(0x...)").
std::string_view known_task_state_name(uint32_t state);
// How a waiter waited, as explain's JSON `how` names it: the syscall it was
// in when that is one that waits on sockets ("accept", "accept4",
// "epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select",
// "pselect6", "connect"), "io_uring" for a request armed by a ring, else
// "unknown".
std::string_view wait_how_name(const Waiter& w);
// The coarse kind: "accept", "epoll", "poll" (poll and select), "io_uring",
// "connect", "unknown".
enum class WaitKind : uint8_t { Accept, Epoll, Poll, IoUring, Connect, Unknown };
WaitKind wait_kind(const Waiter& w);
// A syscall's name from this architecture's number, for the ones above; "" else.
std::string_view wait_syscall_name(int32_t nr);
// The same and the calls that send, receive or end a connection's data
// ("write", "sendmsg", "recvfrom", "close", "shutdown", ...): what a task
// was in when its context sent a packet; "" else.
std::string_view packet_syscall_name(int32_t nr);
// Address only: "127.0.0.1", "::1".
std::string format_ip(uint16_t family, const std::array<uint8_t, 16>& addr);
// The same into the caller's buffer, for the per-event paths: no allocation.
using IpBuffer = std::array<char, 48>;
std::string_view format_ip(uint16_t family, const std::array<uint8_t, 16>& addr, IpBuffer& buf);
// Address and port: "127.0.0.1:10000", "[::1]:10000".
std::string format_endpoint(uint16_t family, const std::array<uint8_t, 16>& addr, uint16_t port);

}  // namespace sockscope::events
