// Shared helpers for the sockscope demo programs (receiver, sender):
// prefixed line output, an RAII file descriptor, system-call error
// reporting, and numeric IPv4/IPv6 address parsing and formatting.
#pragma once

#include <CLI/CLI.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace demo {

// ---------------------------------------------------------------------------
// Output: every line is prefixed with "<name>[<pid>]: ".

inline std::string& prefix_storage() {
  static std::string prefix;
  return prefix;
}

inline const std::string& prefix() { return prefix_storage(); }

// Sets the prefix and makes stdout line-buffered so each step shows up
// immediately, even when stdout is a pipe or a file.
inline void init_output(std::string_view program) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  prefix_storage() = std::string(program) + "[" + std::to_string(::getpid()) + "]: ";
}

// Prints one prefixed line to stdout and flushes it.
inline void say(const std::string& line) {
  std::fputs((prefix() + line + "\n").c_str(), stdout);
  std::fflush(stdout);
}

// Prints one prefixed line to stderr.
inline void complain(const std::string& line) {
  std::fputs((prefix() + line + "\n").c_str(), stderr);
  std::fflush(stderr);
}

// Renders bytes as a double-quoted, single-line string (escaping quotes,
// backslashes and non-printable bytes).
inline std::string quoted(std::string_view bytes) {
  std::string out = "\"";
  for (unsigned char c : bytes) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out += static_cast<char>(c);
        } else {
          char buf[5];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        }
    }
  }
  return out + "\"";
}

// ---------------------------------------------------------------------------
// Errors: a failing call throws SysError; main() reports it as one line on
// stderr ("<call>: <reason>") and exits with status 1.

class SysError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void fail(std::string_view call, int err = errno) {
  throw SysError(std::string(call) + ": " + std::strerror(err));
}

// Returns rc, or throws SysError naming `call` if rc < 0.
template <typename T>
T check(T rc, std::string_view call) {
  if (rc < 0) fail(call);
  return rc;
}

// Runs a system call, retrying it while it fails with EINTR.
template <typename F>
auto retry_eintr(F&& f) {
  for (;;) {
    auto rc = f();
    if (rc >= 0 || errno != EINTR) return rc;
  }
}

// Writes all of `data`, coping with short writes and EINTR.
inline void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = check(retry_eintr([&] { return ::write(fd, data.data(), data.size()); }), "write");
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// ---------------------------------------------------------------------------
// RAII file descriptor (move-only).

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// ---------------------------------------------------------------------------
// Addresses: numeric IPv4 ("127.0.0.1") or IPv6 ("::1") literals only.
// A host containing ':' is treated as IPv6.

struct Address {
  sockaddr_storage storage{};
  socklen_t len = 0;

  int family() const { return storage.ss_family; }
  sockaddr* sa() { return reinterpret_cast<sockaddr*>(&storage); }
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// Parses a numeric host and port; returns false if the host is not a valid
// literal for its family.
inline bool parse_address(const std::string& host, uint16_t port, Address& out) {
  out = Address{};
  if (host.find(':') != std::string::npos) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    if (::inet_pton(AF_INET6, host.c_str(), &sin6->sin6_addr) != 1) return false;
    out.len = sizeof(sockaddr_in6);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out.storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &sin->sin_addr) != 1) return false;
    out.len = sizeof(sockaddr_in);
  }
  return true;
}

// Formats as "1.2.3.4:port" or "[::1]:port".
inline std::string format_address(const Address& addr) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (addr.family() == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&addr.storage);
    ::inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(sin6->sin6_port));
  }
  if (addr.family() == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&addr.storage);
    ::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(sin->sin_port));
  }
  return "<family " + std::to_string(addr.family()) + ">";
}

// CLI11 validator accepting numeric IPv4/IPv6 host literals.
inline CLI::Validator numeric_host() {
  return CLI::Validator(
      [](std::string& host) -> std::string {
        Address unused;
        if (parse_address(host, 0, unused)) return {};
        return "not a numeric IPv4/IPv6 address: " + host;
      },
      "IP", "numeric IP address");
}

// ---------------------------------------------------------------------------
// CLI11 parse-error handling: help goes to stdout with exit 0; any other
// error is one line on stderr ("<program>: error: ...") with exit 2.

inline int handle_parse_error(const CLI::App& app, const CLI::ParseError& e, std::string_view program) {
  if (dynamic_cast<const CLI::CallForHelp*>(&e) != nullptr || dynamic_cast<const CLI::CallForAllHelp*>(&e) != nullptr) {
    return app.exit(e);  // prints the help text to stdout, returns 0
  }
  std::string msg = e.what();
  for (char& c : msg)
    if (c == '\n' || c == '\r') c = ' ';
  std::fprintf(stderr, "%.*s: error: %s\n", static_cast<int>(program.size()), program.data(), msg.c_str());
  return 2;
}

}  // namespace demo
