// Unit tests for events::decode and events::Event: the checked copy of one
// raw ring-buffer record (struct sk_event) into the C++ value type.
#include <catch2/catch.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <tuple>
#include <vector>

#include "event_builder.hpp"
#include "events/decode.hpp"
#include "events/event.hpp"

using sockscope::events::Backend;
using sockscope::events::decode;
using sockscope::events::Dir;
using sockscope::events::Event;
using sockscope::events::ExecCtx;
using sockscope::events::Kind;
using sockscope::events::Layer;
using sockscope::events::Phase;
using sockscope::events::WaitVia;
using sockscope::test::RawEvent;
using namespace std::string_view_literals;

namespace {

std::array<uint8_t, 16> bytes16(uint8_t first) {
  std::array<uint8_t, 16> a{};
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<uint8_t>(first + i);
  return a;
}

}  // namespace

TEST_CASE("decode: the raw record is 192 bytes, 488 with its waiters", "[decode]") {
  CHECK(sizeof(sk_event) == 192);
  CHECK(sockscope::events::raw_event_size() == 192);
  CHECK(RawEvent().bytes().size() == 192);
  CHECK(sockscope::events::raw_event_waiters_size() == 488);
}

TEST_CASE("decode: every field round-trips", "[decode]") {
  RawEvent b;
  b.kind(SK_SYS_ACCEPT)
      .ts(0x0102030405060708ULL)
      .dur(0x1112131415161718ULL)
      .sock(0xffff888012345678ULL)
      .ret(-0x2122232425262728LL)
      .pid(101)
      .tid(102)
      .cpu(103)
      .netns(4026531840u)
      .fd(-105)
      .backlog(106)
      .queue(107, 108)
      .ifindex(109)
      .seq(0xfedcba98u)
      .ack(0x89abcdefu)
      .owner(110, 0x104, SK_OWNER_KNOWN | SK_OWNER_IN_ACCEPT)
      .v6("fd00::1", 0xfff1, "fd00::2", 0xfff2)
      .payload(0xfff3)
      .window(0xfff4)
      .ctx(SK_CTX_IRQ)
      .phase(SK_PHASE_ENTER)
      .states(11, 12)
      .flags(0xa5)
      .dir(SK_DIR_TX)
      .backend(SK_BACKEND_KPROBE)
      .comm("receiver")
      .ifname("veth0");
  // The addresses are overwritten byte by byte so that every byte differs.
  const auto s = bytes16(0x30), d = bytes16(0x50);
  std::memcpy(b.raw().saddr, s.data(), 16);
  std::memcpy(b.raw().daddr, d.data(), 16);
  // The reserved byte carries nothing; decode ignores it.
  b.raw().reserved8 = 0xef;
  b.raw().rx_queued = 0xdeadbeef;
  b.raw().sock_ino = 0xcafef00d;
  b.raw().value = -111;
  b.raw().lsk = 0xffff888087654321ULL;
  b.raw().via = SK_WAIT_IO_URING;

  const auto raw = b.bytes();
  const auto got = decode(raw);
  REQUIRE(got.has_value());
  const Event& e = *got;

  CHECK(e.ts_ns == 0x0102030405060708ULL);
  CHECK(e.dur_ns == 0x1112131415161718ULL);
  CHECK(e.sock == 0xffff888012345678ULL);
  CHECK(e.ret == -0x2122232425262728LL);
  CHECK(e.kind == Kind::SysAccept);
  CHECK(e.pid == 101);
  CHECK(e.tid == 102);
  CHECK(e.cpu == 103);
  CHECK(e.netns == 4026531840u);
  CHECK(e.fd == -105);
  CHECK(e.backlog == 106);
  CHECK(e.queue_len == 107);
  CHECK(e.queue_max == 108);
  CHECK(e.ifindex == 109);
  CHECK(e.seq == 0xfedcba98u);
  CHECK(e.ack_seq == 0x89abcdefu);
  CHECK(e.owner_pid == 110);
  CHECK(e.owner_state == 0x104);
  CHECK(e.rx_queued == 0xdeadbeefu);
  CHECK(e.sock_ino == 0xcafef00du);
  CHECK(e.value == -111);
  CHECK(e.lsk == 0xffff888087654321ULL);
  CHECK(e.via == WaitVia::IoUring);
  CHECK_FALSE(e.waiters.read);
  CHECK(e.family == AF_INET6);
  CHECK(e.sport == 0xfff1);
  CHECK(e.dport == 0xfff2);
  CHECK(e.payload_len == 0xfff3);
  CHECK(e.window == 0xfff4);
  CHECK(e.ctx == ExecCtx::Irq);
  CHECK(e.phase == Phase::Enter);
  CHECK(e.old_state == 11);
  CHECK(e.new_state == 12);
  CHECK(e.tcp_flags == 0xa5);
  CHECK(e.dir == Dir::Tx);
  CHECK(e.backend == Backend::Kprobe);
  CHECK(e.owner_flags == (SK_OWNER_KNOWN | SK_OWNER_IN_ACCEPT));
  CHECK(e.owner_known());
  CHECK(e.saddr == s);
  CHECK(e.daddr == d);
  CHECK(e.comm_view() == "receiver"sv);
  CHECK(e.ifname_view() == "veth0"sv);
  CHECK(e.layer() == Layer::Syscall);
}

TEST_CASE("decode: the other enum values round-trip", "[decode]") {
  const auto e = RawEvent()
                     .kind(SK_PKT_TCP)
                     .ctx(SK_CTX_SOFTIRQ)
                     .phase(SK_PHASE_EXIT)
                     .dir(SK_DIR_RX)
                     .backend(SK_BACKEND_SOCK_OPS)
                     .event();
  CHECK(e.kind == Kind::Tcp);
  CHECK(e.ctx == ExecCtx::Softirq);
  CHECK(e.phase == Phase::Exit);
  CHECK(e.dir == Dir::Rx);
  CHECK(e.backend == Backend::SockOps);

  const auto f = RawEvent().kind(SK_K_STATE).backend(SK_BACKEND_FENTRY).event();
  CHECK(f.ctx == ExecCtx::Process);
  CHECK(f.dir == Dir::None);
  CHECK(f.backend == Backend::Fentry);
  CHECK(f.owner_flags == 0);
  CHECK_FALSE(f.owner_known());
  CHECK(RawEvent().kind(SK_K_STATE).backend(SK_BACKEND_TRACEPOINT).event().backend == Backend::Tracepoint);
}

TEST_CASE("decode: IPv4 addresses sit in the first 4 bytes", "[decode]") {
  const auto e = RawEvent().kind(SK_K_ESTABLISHED).v4("127.0.0.1", 10000, "10.1.2.3", 51946).event();
  CHECK(e.family == AF_INET);
  CHECK(e.saddr == std::array<uint8_t, 16>{127, 0, 0, 1});
  CHECK(e.daddr == std::array<uint8_t, 16>{10, 1, 2, 3});
  CHECK(e.sport == 10000);
  CHECK(e.dport == 51946);
}

TEST_CASE("decode: an unaligned buffer decodes", "[decode]") {
  const auto raw = RawEvent().kind(SK_K_LISTEN).ts(0x1122334455667788ULL).pid(7).backlog(128).bytes();
  std::vector<std::byte> buf(raw.size() + 1);
  std::memcpy(buf.data() + 1, raw.data(), raw.size());
  const auto e = decode(std::span<const std::byte>(buf.data() + 1, raw.size()));
  REQUIRE(e.has_value());
  CHECK(e->kind == Kind::Listen);
  CHECK(e->ts_ns == 0x1122334455667788ULL);
  CHECK(e->pid == 7);
  CHECK(e->backlog == 128);
}

TEST_CASE("decode: wrong sizes are rejected", "[decode]") {
  auto raw = RawEvent().kind(SK_K_STATE).bytes();
  REQUIRE(decode(raw).has_value());
  const std::size_t size =
      GENERATE(std::size_t{0}, std::size_t{1}, std::size_t{175}, std::size_t{177}, std::size_t{352});
  CAPTURE(size);
  raw.resize(size);
  CHECK_FALSE(decode(raw).has_value());
}

TEST_CASE("decode: unknown kinds are rejected", "[decode]") {
  const uint32_t kind = GENERATE(0u, 8u, 15u, 23u, 31u, 33u, 99u, 0xffffffffu);
  CAPTURE(kind);
  CHECK_FALSE(decode(RawEvent().kind(kind).bytes()).has_value());
}

TEST_CASE("decode: out-of-range enum fields are rejected", "[decode]") {
  SECTION("ctx") {
    CHECK(decode(RawEvent().kind(SK_K_STATE).ctx(2).bytes()).has_value());
    CHECK_FALSE(decode(RawEvent().kind(SK_K_STATE).ctx(3).bytes()).has_value());
    CHECK_FALSE(decode(RawEvent().kind(SK_K_STATE).ctx(255).bytes()).has_value());
  }
  SECTION("phase") {
    CHECK(decode(RawEvent().kind(SK_SYS_ACCEPT).phase(1).bytes()).has_value());
    CHECK_FALSE(decode(RawEvent().kind(SK_SYS_ACCEPT).phase(2).bytes()).has_value());
    CHECK_FALSE(decode(RawEvent().kind(SK_SYS_ACCEPT).phase(255).bytes()).has_value());
  }
  SECTION("dir") {
    CHECK(decode(RawEvent().kind(SK_PKT_TCP).dir(2).bytes()).has_value());
    CHECK_FALSE(decode(RawEvent().kind(SK_PKT_TCP).dir(3).bytes()).has_value());
    CHECK_FALSE(decode(RawEvent().kind(SK_PKT_TCP).dir(255).bytes()).has_value());
  }
  SECTION("backend") {
    CHECK(decode(RawEvent().kind(SK_K_STATE).backend(3).bytes()).has_value());
    CHECK_FALSE(decode(RawEvent().kind(SK_K_STATE).backend(4).bytes()).has_value());
    CHECK_FALSE(decode(RawEvent().kind(SK_K_STATE).backend(255).bytes()).has_value());
  }
}

TEST_CASE("decode: a 16-byte comm without NUL gives all 16 characters", "[decode]") {
  const auto e = RawEvent().kind(SK_SYS_SOCKET).comm("abcdefghijklmnop").ifname("0123456789abcdef").event();
  REQUIRE(e.comm[15] == 'p');
  CHECK(e.comm_view() == "abcdefghijklmnop"sv);
  CHECK(e.comm_view().size() == 16);
  CHECK(e.ifname_view() == "0123456789abcdef"sv);
}

TEST_CASE("decode: comm stops at the first NUL", "[decode]") {
  RawEvent b;
  b.kind(SK_SYS_SOCKET).comm("ab");
  b.raw().comm[3] = 'x';  // garbage after the terminator is not shown
  const auto e = b.event();
  CHECK(e.comm_view() == "ab"sv);
  CHECK(RawEvent().kind(SK_SYS_SOCKET).event().comm_view().empty());
  CHECK(RawEvent().kind(SK_SYS_SOCKET).event().ifname_view().empty());
}

TEST_CASE("Event::layer for every kind", "[decode]") {
  struct Row {
    uint32_t raw;
    Kind kind;
    Layer layer;
  };
  const Row row = GENERATE(values<Row>({
      {SK_SYS_SOCKET, Kind::SysSocket, Layer::Syscall},
      {SK_SYS_BIND, Kind::SysBind, Layer::Syscall},
      {SK_SYS_LISTEN, Kind::SysListen, Layer::Syscall},
      {SK_SYS_CONNECT, Kind::SysConnect, Layer::Syscall},
      {SK_SYS_ACCEPT, Kind::SysAccept, Layer::Syscall},
      {SK_SYS_CLOSE, Kind::SysClose, Layer::Syscall},
      {SK_K_BIND, Kind::Bind, Layer::Kernel},
      {SK_K_LISTEN, Kind::Listen, Layer::Kernel},
      {SK_K_SYN_RECV, Kind::SynRecv, Layer::Kernel},
      {SK_K_ESTABLISHED, Kind::Established, Layer::Kernel},
      {SK_K_ACCEPT, Kind::Accept, Layer::Kernel},
      {SK_K_STATE, Kind::State, Layer::Kernel},
      {SK_K_SYNACK_RETRANS, Kind::SynackRetransmit, Layer::Kernel},
      {SK_PKT_TCP, Kind::Tcp, Layer::Packet},
  }));
  CAPTURE(row.raw);
  // The C and C++ enums agree.
  CHECK(static_cast<uint32_t>(row.kind) == row.raw);
  const auto e = RawEvent().kind(row.raw).event();
  CHECK(e.kind == row.kind);
  CHECK(e.layer() == row.layer);
}

TEST_CASE("decode: a record with its socket's waiters", "[decode]") {
  sk_event_waiters r{};
  r.ev.kind = SK_K_ESTABLISHED;
  r.ev.owner_flags = SK_WAITERS_READ | SK_LISTENER_FOUND;
  r.waiters.count = 2;
  r.waiters.flags = SK_WAITERS_TRUNCATED | SK_WAITERS_IDLE_EPOLL;
  r.waiters.entries = 9;
  r.waiters.w[0] = sk_waiter{.tgid = 123,
                             .tid = 124,
                             .syscall = 232,
                             .state = 1,
                             .via = SK_WAIT_EPOLL,
                             .exclusive = 1,
                             .pad = 0,
                             .comm = "nginx"};
  r.waiters.w[1] = sk_waiter{.tgid = 125,
                             .tid = 125,
                             .syscall = -1,
                             .state = 0,
                             .via = SK_WAIT_IO_URING,
                             .exclusive = 0,
                             .pad = 0,
                             .comm = "ring"};
  std::vector<std::byte> raw(sizeof r);
  std::memcpy(raw.data(), &r, sizeof r);
  const auto e = decode(raw);
  REQUIRE(e.has_value());
  CHECK(e->kind == Kind::Established);
  REQUIRE(e->waiters.read);
  CHECK(e->waiters.truncated());
  CHECK(e->waiters.idle_epoll());
  CHECK_FALSE(e->waiters.unknown_entries());
  CHECK(e->waiters.entries == 9);
  REQUIRE(e->waiters.tasks().size() == 2);
  const auto& w0 = e->waiters.tasks()[0];
  CHECK(w0.pid == 123);
  CHECK(w0.tid == 124);
  CHECK(w0.syscall == 232);
  CHECK(w0.state == 1);
  CHECK(w0.via == WaitVia::Epoll);
  CHECK(w0.exclusive);
  CHECK(w0.comm_view() == "nginx"sv);
  CHECK(e->waiters.tasks()[1].via == WaitVia::IoUring);
  CHECK(e->waiters.tasks()[1].comm_view() == "ring"sv);

  // The flag promises the tail: a record of the plain size is rejected, and
  // so is a tail on a record without the flag, or an impossible count.
  CHECK_FALSE(decode(std::span(raw).first(sizeof(sk_event))).has_value());
  r.ev.owner_flags = SK_LISTENER_FOUND;
  std::memcpy(raw.data(), &r, sizeof r);
  CHECK_FALSE(decode(raw).has_value());
  r.ev.owner_flags = SK_WAITERS_READ;
  r.waiters.count = SK_MAX_WAITERS + 1;
  std::memcpy(raw.data(), &r, sizeof r);
  CHECK_FALSE(decode(raw).has_value());
}

TEST_CASE("decode_into: one Event reused record after record equals decode() of each", "[decode]") {
  using sockscope::events::decode_into;
  const std::vector<std::vector<std::byte>> records = {
      RawEvent().kind(SK_K_ESTABLISHED).pid(1).comm("first").bytes(),
      RawEvent()
          .kind(SK_K_ESTABLISHED)
          .waiters_read(SK_WAITERS_TRUNCATED, 5)
          .waiter(10, 11, 43, SK_WAIT_TASK, "three")
          .waiter(12, 13, 232, SK_WAIT_EPOLL, "waiters")
          .waiter(14, 15, 7, SK_WAIT_POLL, "here")
          .bytes(),
      RawEvent().kind(SK_K_ESTABLISHED).waiter(20, 21, 43, SK_WAIT_TASK, "one").bytes(),  // fewer than before
      RawEvent().kind(SK_PKT_TCP).ifname("lo").flags(0x12).bytes(),                       // none after some
      RawEvent().kind(99).bytes(),                                                        // rejected
      RawEvent().kind(SK_SYS_CLOSE).ret(-9).bytes(),
  };
  Event reused;
  for (const auto& raw : records) {
    const auto expected = decode(raw);
    const bool ok = decode_into(raw, reused);
    REQUIRE(ok == expected.has_value());
    if (!ok) continue;
    CHECK(reused.waiters == expected->waiters);
    const auto fields = [](const Event& e) {
      return std::tie(e.ts_ns, e.dur_ns, e.sock, e.ret, e.kind, e.pid, e.tid, e.cpu, e.netns, e.fd, e.backlog,
                      e.queue_len, e.queue_max, e.ifindex, e.seq, e.ack_seq, e.owner_pid, e.owner_state, e.rx_queued,
                      e.sock_ino, e.value, e.lsk, e.via, e.family, e.sport, e.dport, e.payload_len, e.window, e.ctx,
                      e.phase, e.old_state, e.new_state, e.tcp_flags, e.dir, e.backend, e.owner_flags, e.saddr, e.daddr,
                      e.comm, e.ifname);
    };
    CHECK(fields(reused) == fields(*expected));
  }
}
