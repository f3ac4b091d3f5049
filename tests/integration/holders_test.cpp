// probes/holders: the processes that hold a listening socket, read from
// /proc as explain tells a story. A listener shared by fork() after
// listen() has two holders, both named.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "probes/holders.hpp"

using sockscope::probes::HolderScanner;

TEST_CASE("holders: a listener forked after listen() is held by the parent and the child", "[holders]") {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(fd, 8) == 0);
  struct stat st {};
  REQUIRE(fstat(fd, &st) == 0);
  const auto ino = static_cast<uint32_t>(st.st_ino);

  int gate[2];
  REQUIRE(pipe(gate) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // holds the listener (inherited) until the parent closes the gate
    close(gate[1]);
    char c;
    (void)!read(gate[0], &c, 1);
    _exit(0);
  }
  close(gate[0]);

  const auto self = static_cast<uint32_t>(getpid());
  std::vector<uint32_t> both{self, static_cast<uint32_t>(child)};
  std::sort(both.begin(), both.end());
  HolderScanner scanner;
  const auto t0 = HolderScanner::Clock::now();
  CHECK(scanner.holders(ino, t0) == both);
  CHECK(sockscope::probes::socket_holders(ino) == both);

  close(gate[1]);  // the child exits: only this process holds it now
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  // Within the interval the cached answer stands; after it, /proc is read again.
  CHECK(scanner.holders(ino, t0 + std::chrono::milliseconds(50)) == both);
  CHECK(scanner.scans() == 1);
  CHECK(scanner.holders(ino, t0 + std::chrono::milliseconds(150)) == std::vector<uint32_t>{self});
  CHECK(scanner.scans() == 2);
  close(fd);
  CHECK(scanner.holders(ino, t0 + std::chrono::milliseconds(300)).empty());
}
