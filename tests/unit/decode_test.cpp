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

TEST_CASE("decode: the raw record is 192 bytes, 488 with its waiters, and a folded packet 88", "[decode]") {
  CHECK(sizeof(sk_pkt) == 88);
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

// ---- packets folded into a record (explain: struct sk_pkt) ----

namespace {

sk_pkt held_packet(uint64_t ts, uint16_t sport, uint16_t dport, uint8_t flags, uint8_t dir) {
  sk_pkt p;
  std::memset(&p, 0, sizeof p);
  p.ts_ns = ts;
  p.pid = 0;
  p.tid = 0;
  p.cpu = 1;
  p.ctx = SK_CTX_SOFTIRQ;
  p.netns = 4026531840u;
  p.ifindex = 1;
  p.family = AF_INET;
  p.sport = sport;
  p.dport = dport;
  p.tcp_flags = flags;
  p.dir = dir;
  std::memcpy(p.comm, "swapper/1", 9);
  std::memcpy(p.ifname, "lo", 2);
  return p;
}

using Folded = std::array<Event, SK_MAX_FOLDED>;

}  // namespace

TEST_CASE("decode: packets folded into a record come out as the packet records they stand for, in time order",
          "[decode]") {
  // The child queued (server 127.0.0.1:10000, client 127.0.0.2:40000), and
  // the final ACK going out (client to server: reversed against the record)
  // and coming in, held from two CPUs and taken in the other order.
  sk_pkt out = held_packet(100, 40000, 10000, SK_TCP_ACK, SK_DIR_TX);
  out.owner_flags = SK_PKT_REVERSED;
  out.pid = 4242;
  out.tid = 4243;
  out.ctx = SK_CTX_PROCESS;
  std::memcpy(out.comm, "sender", 7);
  sk_pkt in = held_packet(90, 40000, 10000, SK_TCP_ACK, SK_DIR_RX);
  in.owner_flags = SK_PKT_REVERSED;
  in.payload_len = 5;
  in.cpu = 0;
  const auto raw = RawEvent()
                       .kind(SK_K_ESTABLISHED)
                       .ts(200)
                       .v4("127.0.0.1", 10000, "127.0.0.2", 40000)
                       .waiter(7, 8, 43, SK_WAIT_TASK, "receiver")
                       .folded(out)
                       .folded(in)
                       .bytes();
  REQUIRE(raw.size() == 488 + 2 * 88);
  const auto rec = decode(raw);
  REQUIRE(rec.has_value());
  CHECK(rec->folded == 2);
  CHECK(rec->kind == Kind::Established);
  CHECK(rec->waiters.count == 1);
  Folded got;
  REQUIRE(sockscope::events::decode_folded(raw, *rec, got) == 2);
  // Time order: the ACK in (90) was taken after the one out (100).
  const Event& first = got[0];
  CHECK(first.ts_ns == 90);
  CHECK(first.kind == Kind::Tcp);
  CHECK(first.dir == Dir::Rx);
  CHECK(first.payload_len == 5);
  CHECK(first.cpu == 0);
  CHECK(first.ctx == ExecCtx::Softirq);
  CHECK(first.comm_view() == "swapper/1"sv);
  CHECK(first.ifname_view() == "lo"sv);
  CHECK(first.netns == 4026531840u);
  CHECK(first.family == AF_INET);
  // Reversed: from the record's daddr (the client) to its saddr.
  CHECK(first.sport == 40000);
  CHECK(first.dport == 10000);
  CHECK(first.saddr == rec->daddr);
  CHECK(first.daddr == rec->saddr);
  CHECK(first.owner_flags == 0);
  const Event& second = got[1];
  CHECK(second.ts_ns == 100);
  CHECK(second.dir == Dir::Tx);
  CHECK(second.pid == 4242);
  CHECK(second.tid == 4243);
  CHECK(second.ctx == ExecCtx::Process);
  CHECK(second.comm_view() == "sender"sv);
  CHECK(second.tcp_flags == SK_TCP_ACK);
}

TEST_CASE("decode: a folded packet the record's way round, and a SYN with its listener's queue", "[decode]") {
  sk_pkt syn = held_packet(10, 10000, 40000, SK_TCP_SYN, SK_DIR_RX);
  syn.owner_flags = SK_LISTENER_FOUND;
  syn.queue_len = 3;
  syn.queue_max = 4;
  // A packet record whose source is the record's source.
  const auto raw = RawEvent().kind(SK_PKT_TCP).ts(20).v4("10.0.0.1", 10000, "10.0.0.2", 40000).folded(syn).bytes();
  const auto rec = decode(raw);
  REQUIRE(rec.has_value());
  Folded got;
  REQUIRE(sockscope::events::decode_folded(raw, *rec, got) == 1);
  CHECK(got[0].saddr == rec->saddr);
  CHECK(got[0].daddr == rec->daddr);
  CHECK(got[0].listener_found());
  CHECK(got[0].queue_len == 3);
  CHECK(got[0].queue_max == 4);
}

TEST_CASE("decode: IPv4 packets folded into a dual-stack socket's record are IPv4", "[decode]") {
  sk_pkt syn = held_packet(10, 40000, 10000, SK_TCP_SYN, SK_DIR_RX);
  syn.owner_flags = SK_PKT_REVERSED;
  const auto raw =
      RawEvent().kind(SK_K_SYN_RECV).v6("::ffff:127.0.0.1", 10000, "::ffff:127.0.0.3", 40000).folded(syn).bytes();
  const auto rec = decode(raw);
  REQUIRE(rec.has_value());
  Folded got;
  REQUIRE(sockscope::events::decode_folded(raw, *rec, got) == 1);
  CHECK(got[0].family == AF_INET);
  const std::array<uint8_t, 16> client{127, 0, 0, 3}, server{127, 0, 0, 1};
  CHECK(got[0].saddr == client);
  CHECK(got[0].daddr == server);
}

TEST_CASE("decode: a folded packet whose ports are not the record's flow is left out", "[decode]") {
  // What a slot of a deleted flow, reused by another, would show.
  const auto raw = RawEvent()
                       .kind(SK_K_SYN_RECV)
                       .v4("127.0.0.1", 10000, "127.0.0.2", 40000)
                       .folded(held_packet(1, 40001, 10000, SK_TCP_SYN, SK_DIR_RX))
                       .folded(held_packet(2, 10000, 40000, SK_TCP_SYN | SK_TCP_ACK, SK_DIR_TX))
                       .bytes();
  const auto rec = decode(raw);
  REQUIRE(rec.has_value());
  Folded got;
  REQUIRE(sockscope::events::decode_folded(raw, *rec, got) == 1);
  CHECK(got[0].ts_ns == 2);
}

TEST_CASE("decode: a record's size must match the packets it says it carries", "[decode]") {
  auto raw = RawEvent().kind(SK_K_STATE).folded(held_packet(1, 1, 2, SK_TCP_SYN, SK_DIR_TX)).bytes();
  CHECK(decode(raw).has_value());
  raw.pop_back();
  CHECK_FALSE(decode(raw).has_value());
  // More than SK_MAX_FOLDED: refused, whatever the size.
  RawEvent many;
  many.kind(SK_K_STATE);
  for (int i = 0; i < SK_MAX_FOLDED + 1; ++i) many.folded(held_packet(1, 1, 2, SK_TCP_SYN, SK_DIR_TX));
  CHECK_FALSE(decode(many.bytes()).has_value());
}

TEST_CASE("decode: the packets the kernel holds for a flow, as userspace takes them out", "[decode]") {
  sk_fold_key key;
  std::memset(&key, 0, sizeof key);
  key.family = AF_INET;
  const uint8_t a[4] = {127, 0, 0, 1}, b[4] = {127, 0, 0, 2};
  std::memcpy(key.a, a, 4);
  std::memcpy(key.b, b, 4);
  key.aport = 10000;
  key.bport = 40000;
  sk_fold fold;
  std::memset(&fold, 0, sizeof fold);
  // SYN out from b (the client), held; the SYN-ACK back from a, held; a
  // slot being written and a free one with an old packet: not delivered.
  fold.p[0] = held_packet(50, 40000, 10000, SK_TCP_SYN, SK_DIR_TX);
  fold.p[0].owner_flags = SK_PKT_KEY_B;
  fold.p[0].state = SK_SLOT_HELD;
  fold.p[2] = held_packet(40, 10000, 40000, SK_TCP_SYN | SK_TCP_ACK, SK_DIR_TX);
  fold.p[2].state = SK_SLOT_HELD;
  fold.p[3] = held_packet(60, 10000, 40000, SK_TCP_SYN | SK_TCP_ACK, SK_DIR_RX);
  fold.p[3].state = SK_SLOT_WRITING;
  fold.p[5] = held_packet(70, 40000, 10000, SK_TCP_ACK, SK_DIR_RX);
  std::array<Event, SK_FOLD_SLOTS> got;
  REQUIRE(sockscope::events::decode_held(key, fold, got) == 2);
  const std::array<uint8_t, 16> a16{127, 0, 0, 1}, b16{127, 0, 0, 2};
  CHECK(got[0].ts_ns == 40);
  CHECK(got[0].tcp_flags == (SK_TCP_SYN | SK_TCP_ACK));
  CHECK(got[0].saddr == a16);
  CHECK(got[0].daddr == b16);
  CHECK(got[1].ts_ns == 50);
  CHECK(got[1].saddr == b16);
  CHECK(got[1].daddr == a16);
  CHECK(got[1].sport == 40000);
  CHECK(got[1].family == AF_INET);
  CHECK(got[1].owner_flags == 0);
}

TEST_CASE("decode: an accept exit with its entry and its dequeue folded in, as the three records they stand for",
          "[decode]") {
  sk_dequeue d{};
  d.ts_ns = 990;
  d.sk = 0xffff888011112222ULL;
  d.queue_len = 2;
  d.queue_max = 128;
  d.rx_queued = 11;
  d.backend = SK_BACKEND_FENTRY;
  d.via = SK_WAIT_TASK;
  auto b = RawEvent()
               .kind(SK_SYS_ACCEPT)
               .phase(SK_PHASE_EXIT)
               .ts(1000)
               .dur(400)
               .ret(7)
               .fd(3)
               .sock(0xffff888033334444ULL)
               .pid(50)
               .tid(51)
               .cpu(1)
               .comm("receiver")
               .value(288)
               .nonblocking()
               .v4("127.0.0.1", 10000, "127.0.0.2", 40000)
               .dequeue(d);
  b.raw().owner_flags |= SK_ENTER_FOLDED;
  const auto raw = b.bytes();
  REQUIRE(raw.size() == 224);
  const auto exit = decode(raw);
  REQUIRE(exit.has_value());
  CHECK(exit->enter_folded());
  CHECK(exit->dequeue_folded());
  CHECK(exit->dequeue.ts_ns == 990);

  const Event enter = sockscope::events::entry_of(*exit);
  CHECK(enter.kind == Kind::SysAccept);
  CHECK(enter.phase == Phase::Enter);
  CHECK(enter.ts_ns == 600);
  CHECK(enter.dur_ns == 0);
  CHECK(enter.ret == 0);
  CHECK(enter.tid == 51);
  CHECK(enter.value == 288);
  CHECK(enter.nonblocking());
  CHECK_FALSE(enter.enter_folded());
  CHECK_FALSE(enter.dequeue_folded());

  const Event dq = sockscope::events::dequeue_of(*exit);
  CHECK(dq.kind == Kind::Accept);
  CHECK(dq.ts_ns == 990);
  CHECK(dq.sock == 0xffff888011112222ULL);
  CHECK(dq.fd == 7);
  CHECK(dq.queue_len == 2);
  CHECK(dq.queue_max == 128);
  CHECK(dq.rx_queued == 11);
  CHECK(dq.backend == Backend::Fentry);
  CHECK(dq.via == WaitVia::Task);
  CHECK(dq.tid == 51);
  CHECK(dq.comm_view() == "receiver"sv);
  CHECK(dq.sport == 10000);
  CHECK(dq.dport == 40000);
  CHECK(dq.owner_flags == 0);
}

TEST_CASE("decode: the folding flags only on the records that fold", "[decode]") {
  // A dequeue only after an accept exit; an entry only in an accept or connect exit.
  auto state = RawEvent().kind(SK_K_STATE);
  state.raw().owner_flags = SK_DEQUEUE_FOLDED;
  CHECK_FALSE(decode(state.bytes()).has_value());
  auto entry = RawEvent().kind(SK_SYS_ACCEPT).phase(SK_PHASE_ENTER);
  entry.raw().owner_flags = SK_ENTER_FOLDED;
  CHECK_FALSE(decode(entry.bytes()).has_value());
  auto bind = RawEvent().kind(SK_SYS_BIND);
  bind.raw().owner_flags = SK_ENTER_FOLDED;
  CHECK_FALSE(decode(bind.bytes()).has_value());
  auto connect = RawEvent().kind(SK_SYS_CONNECT).ts(10).dur(4);
  connect.raw().owner_flags = SK_ENTER_FOLDED;
  const auto c = decode(connect.bytes());
  REQUIRE(c.has_value());
  CHECK(sockscope::events::entry_of(*c).ts_ns == 6);
}
