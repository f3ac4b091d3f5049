/* Accepts through io_uring (IORING_OP_ACCEPT, liburing): no accept syscall
 * at all; the task waits in io_uring_enter() for the completion (issue #11:
 * "io_uring"). Each connection is then read and closed with plain read(),
 * send() and close(). */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <unistd.h>

#include "server_common.h"

int main(int argc, char** argv) {
  struct server_opts o;
  parse_opts(argc, argv, 0, &o);
  int lfd = make_listener(&o, 0);
  struct io_uring ring;
  int rc = io_uring_queue_init(4, &ring, 0);
  if (rc < 0) {
    errno = -rc;
    die("io_uring_queue_init");
  }
  pid_t self = getpid();
  for (int i = 0; i < o.count; i++) {
    struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_accept(sqe, lfd, NULL, NULL, 0);
    if (i == 0) write_ready_file(o.ready_file, &self, 1);
    /* Submits the accept and waits for its completion in one io_uring_enter(). */
    rc = io_uring_submit_and_wait(&ring, 1);
    if (rc < 0) {
      errno = -rc;
      die("io_uring_submit_and_wait");
    }
    struct io_uring_cqe* cqe;
    rc = io_uring_peek_cqe(&ring, &cqe);
    if (rc < 0) {
      errno = -rc;
      die("io_uring_peek_cqe");
    }
    int fd = cqe->res;
    io_uring_cqe_seen(&ring, cqe);
    if (fd < 0) {
      errno = -fd;
      die("IORING_OP_ACCEPT");
    }
    serve_connection(fd);
  }
  io_uring_queue_exit(&ring);
  return 0;
}
