/* A process pool like nginx's: the parent listens (nonblocking) and forks
 * --workers workers; each adds the listener to its own epoll instance
 * (EPOLLEXCLUSIVE with --exclusive), waits in epoll_wait() and accept4()s
 * until EAGAIN. --count is the total over all workers, kept in a shared
 * counter; the worker that completes the last connection exits 0, and the
 * parent, waiting in waitpid() the whole time, ends the others and exits 0.
 * The ready file lists the workers' pids. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server_common.h"

static void worker(const struct server_opts* o, int lfd, int* done, int ready_fd) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct epoll_event ev = {.events = EPOLLIN | (o->exclusive ? EPOLLEXCLUSIVE : 0), .data.fd = lfd};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0) die("epoll_ctl");
  pid_t self = getpid();
  if (write(ready_fd, &self, sizeof(self)) != sizeof(self)) die("write ready pipe");
  close(ready_fd);
  for (;;) {
    struct epoll_event got;
    if (epoll_wait(ep, &got, 1, -1) < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (;;) {
      int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN) break;
        die("accept4");
      }
      serve_connection(fd);
      if (__atomic_add_fetch(done, 1, __ATOMIC_SEQ_CST) >= o->count) _exit(0);
    }
  }
}

int main(int argc, char** argv) {
  struct server_opts o;
  parse_opts(argc, argv, OPT_WORKERS, &o);
  int lfd = make_listener(&o, 1);
  int* done = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (done == MAP_FAILED) die("mmap");
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) die("pipe2");
  pid_t* pids = calloc(o.workers, sizeof(pid_t));
  if (!pids) die("calloc");
  for (int i = 0; i < o.workers; i++) {
    pids[i] = fork();
    if (pids[i] < 0) die("fork");
    if (pids[i] == 0) {
      close(ready[0]);
      worker(&o, lfd, done, ready[1]);
    }
  }
  close(ready[1]);
  /* Each worker's pid arrives once its epoll instance holds the listener. */
  for (int i = 0; i < o.workers; i++) {
    pid_t p;
    if (read(ready[0], &p, sizeof(p)) != sizeof(p)) die("a worker died before it was ready");
  }
  write_ready_file(o.ready_file, pids, o.workers);
  int status = 0;
  pid_t first = wait(&status);
  if (first < 0) die("wait");
  for (int i = 0; i < o.workers; i++)
    if (pids[i] != first) kill(pids[i], SIGTERM);
  while (wait(NULL) > 0) {
  }
  free(pids);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
