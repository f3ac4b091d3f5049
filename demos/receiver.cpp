// receiver: the server half of the classic sockets tutorial. It walks through
// socket() -> bind() -> listen() -> accept() -> read() -> write() -> close(),
// printing one line per step, and can stop itself (SIGSTOP) after bind or
// listen so a tracer can observe the socket in that intermediate state.
#include "demo_common.hpp"

#include <climits>
#include <csignal>

namespace {

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 10000;
  int backlog = 128;
  std::string pause_after;  // "", "bind" or "listen"
  int count = 1;
  bool reuseaddr = false;
};

void maybe_pause(const Options& opt, std::string_view stage) {
  if (opt.pause_after != stage) return;
  const auto pid = std::to_string(::getpid());
  demo::say("paused after " + std::string(stage) + " (kill -CONT " + pid + " to resume)");
  ::raise(SIGSTOP);
  demo::say("resumed");
}

void serve_one(int listen_fd) {
  demo::Address peer;
  peer.len = sizeof peer.storage;
  demo::Fd conn(demo::check(demo::retry_eintr([&] { return ::accept(listen_fd, peer.sa(), &peer.len); }), "accept"));
  demo::say("accept fd=" + std::to_string(conn.get()) + " from " + demo::format_address(peer));

  char buf[4096];
  ssize_t n = demo::check(demo::retry_eintr([&] { return ::read(conn.get(), buf, sizeof buf); }), "read");
  std::string message(buf, static_cast<size_t>(n));
  demo::say("received " + std::to_string(n) + " bytes: " + demo::quoted(message));

  const std::string reply = "ack: " + message;
  demo::write_all(conn.get(), reply);
  demo::say("replied " + std::to_string(reply.size()) + " bytes");

  // Wait for the sender to close first: the side that closes first keeps the
  // port in TIME_WAIT for a minute, and it should not be the receiver's port.
  // An error here (a reset) ends the wait as well as EOF does.
  while (demo::retry_eintr([&] { return ::read(conn.get(), buf, sizeof buf); }) > 0) {
  }
}  // conn closed here

int run(const Options& opt) {
  demo::Address addr;
  demo::parse_address(opt.host, opt.port, addr);  // validated by the CLI

  demo::Fd sock(demo::check(::socket(addr.family(), SOCK_STREAM, 0), "socket"));
  demo::say("socket fd=" + std::to_string(sock.get()));

  if (opt.reuseaddr) {
    int one = 1;
    demo::check(::setsockopt(sock.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), "setsockopt");
  }

  demo::check(::bind(sock.get(), addr.sa(), addr.len), "bind");
  demo::say("bind " + demo::format_address(addr) + " ok");
  maybe_pause(opt, "bind");

  demo::check(::listen(sock.get(), opt.backlog), "listen");
  demo::say("listen backlog=" + std::to_string(opt.backlog) + " ok");
  maybe_pause(opt, "listen");

  for (int i = 0; i < opt.count; ++i) serve_one(sock.get());

  sock.reset();
  demo::say("done");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  demo::init_output("receiver");
  std::signal(SIGPIPE, SIG_IGN);

  Options opt;
  CLI::App app{"Accept connections, read one message each and reply \"ack: <message>\"."};
  app.add_option("--host", opt.host, "Numeric IPv4/IPv6 address to bind (IPv6 if it contains ':')")
      ->capture_default_str()
      ->check(demo::numeric_host());
  app.add_option("--port", opt.port, "TCP port to bind")->capture_default_str()->check(CLI::Range(1, 65535));
  app.add_option("--backlog", opt.backlog, "listen() backlog")->capture_default_str()->check(CLI::Range(0, 65535));
  app.add_option("--pause-after", opt.pause_after, "Stop (SIGSTOP) after this step")
      ->check(CLI::IsMember({"bind", "listen"}));
  app.add_option("--count", opt.count, "Number of connections to serve before exiting")
      ->capture_default_str()
      ->check(CLI::Range(1, INT_MAX));
  app.add_flag("--reuseaddr", opt.reuseaddr, "Set SO_REUSEADDR before bind");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return demo::handle_parse_error(app, e, "receiver");
  }

  try {
    return run(opt);
  } catch (const std::exception& e) {
    demo::complain(e.what());
    return 1;
  }
}
