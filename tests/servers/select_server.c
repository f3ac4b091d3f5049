/* Waits in select() on the listener, then accept()s (issue #11: a waiter
 * "in poll", which covers select). */
#define _GNU_SOURCE
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_common.h"

int main(int argc, char** argv) {
  struct server_opts o;
  parse_opts(argc, argv, 0, &o);
  int lfd = make_listener(&o, 0);
  pid_t self = getpid();
  for (int i = 0; i < o.count; i++) {
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(lfd, &rd);
    if (i == 0) write_ready_file(o.ready_file, &self, 1);
    if (select(lfd + 1, &rd, NULL, NULL, NULL) != 1) die("select");
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) die("accept");
    serve_connection(fd);
  }
  return 0;
}
