/* Waits in poll() on the listener, then accept()s: the event loop without
 * epoll (issue #11: a waiter "in poll"). */
#define _GNU_SOURCE
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_common.h"

int main(int argc, char** argv) {
  struct server_opts o;
  parse_opts(argc, argv, 0, &o);
  int lfd = make_listener(&o, 0);
  pid_t self = getpid();
  for (int i = 0; i < o.count; i++) {
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    if (i == 0) write_ready_file(o.ready_file, &self, 1);
    if (poll(&p, 1, -1) != 1) die("poll");
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) die("accept");
    serve_connection(fd);
  }
  return 0;
}
