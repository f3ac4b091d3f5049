// sender: the client half of the classic sockets tutorial. It walks through
// socket() -> connect() -> write() -> read() -> close(), printing one line
// per step, including the ephemeral local address chosen by connect().
#include "demo_common.hpp"

#include <sys/time.h>

#include <cmath>
#include <csignal>
#include <cstdlib>

namespace {

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 10000;
  std::string message = "hello, world!";
  double timeout = 30.0;  // seconds; 0 = wait forever
};

constexpr double kMaxTimeout = 1e6;  // keeps the timeval conversion in range

void set_receive_timeout(int fd, double seconds) {
  if (seconds <= 0) return;  // default: block forever
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(seconds);
  tv.tv_usec = static_cast<suseconds_t>(std::lround((seconds - static_cast<double>(tv.tv_sec)) * 1e6));
  if (tv.tv_usec >= 1000000) {
    tv.tv_sec += 1;
    tv.tv_usec -= 1000000;
  }
  if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1;  // tiny but non-zero
  demo::check(::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), "setsockopt");
}

// Reads `want` bytes, or less if the peer closes first. The sender then
// closes first, so the TIME_WAIT is on its ephemeral port, not the receiver's.
std::string read_reply(int fd, size_t want) {
  std::string data;
  char buf[4096];
  while (data.size() < want) {
    ssize_t n = demo::retry_eintr([&] { return ::read(fd, buf, sizeof buf); });
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) throw demo::SysError("read: timed out");
    demo::check(n, "read");
    if (n == 0) return data;
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

int run(const Options& opt) {
  demo::Address remote;
  demo::parse_address(opt.host, opt.port, remote);  // validated by the CLI

  demo::Fd sock(demo::check(::socket(remote.family(), SOCK_STREAM, 0), "socket"));
  demo::say("socket fd=" + std::to_string(sock.get()));
  set_receive_timeout(sock.get(), opt.timeout);

  demo::check(::connect(sock.get(), remote.sa(), remote.len), "connect");
  demo::Address local;
  local.len = sizeof local.storage;
  demo::check(::getsockname(sock.get(), local.sa(), &local.len), "getsockname");
  demo::say("connect " + demo::format_address(remote) + " ok (local " + demo::format_address(local) + ")");

  demo::write_all(sock.get(), opt.message);
  demo::say("sent " + std::to_string(opt.message.size()) + " bytes");

  const std::string reply = read_reply(sock.get(), std::string("ack: ").size() + opt.message.size());
  demo::say("received " + std::to_string(reply.size()) + " bytes: " + demo::quoted(reply));

  sock.reset();
  demo::say("done");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  demo::init_output("sender");
  std::signal(SIGPIPE, SIG_IGN);

  Options opt;
  CLI::App app{"Connect, send one message and print the reply."};
  app.add_option("--host", opt.host, "Numeric IPv4/IPv6 address to connect to (IPv6 if it contains ':')")
      ->capture_default_str()
      ->check(demo::numeric_host());
  app.add_option("--port", opt.port, "TCP port to connect to")->capture_default_str()->check(CLI::Range(1, 65535));
  app.add_option("--message", opt.message, "Message to send")->capture_default_str();
  app.add_option("--timeout", opt.timeout, "Seconds to wait for the reply (0 = forever)")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            char* end = nullptr;
            const double v = std::strtod(text.c_str(), &end);
            if (text.empty() || *end != '\0' || !(v >= 0 && v <= kMaxTimeout))
              return "expected seconds between 0 and " + std::to_string(static_cast<int>(kMaxTimeout)) + ", got " +
                     text;
            return {};
          },
          "SECONDS"));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return demo::handle_parse_error(app, e, "sender");
  }

  try {
    return run(opt);
  } catch (const std::exception& e) {
    demo::complain(e.what());
    return 1;
  }
}
