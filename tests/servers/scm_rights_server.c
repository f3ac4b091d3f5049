/* A listener with two holders, the second given it over SCM_RIGHTS (issue
 * #11: "who owns"). The parent forks first, so the child inherits no copy of
 * the listener: the only one it holds is the one received over the unix
 * socketpair. The parent then creates the listener, sends it, keeps its own
 * copy open and waits in waitpid(); the child accept()s --count
 * connections and exits 0, and the parent exits with the child's status.
 * The ready file lists the child's pid. */
#define _GNU_SOURCE
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server_common.h"

static void send_fd(int sock, int fd) {
  char byte = 'L';
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } control = {0};
  struct msghdr msg = {
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf)};
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  if (sendmsg(sock, &msg, 0) != 1) die("sendmsg(SCM_RIGHTS)");
}

static int recv_fd(int sock) {
  char byte;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } control;
  struct msghdr msg = {
      .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf)};
  if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1) die("recvmsg(SCM_RIGHTS)");
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) die("no SCM_RIGHTS in the message");
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return fd;
}

int main(int argc, char** argv) {
  struct server_opts o;
  parse_opts(argc, argv, 0, &o);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) die("socketpair");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    close(sv[0]);
    int lfd = recv_fd(sv[1]);
    close(sv[1]);
    pid_t self = getpid();
    write_ready_file(o.ready_file, &self, 1);
    for (int i = 0; i < o.count; i++) {
      int fd = accept(lfd, NULL, NULL);
      if (fd < 0) die("accept");
      serve_connection(fd);
    }
    _exit(0);
  }
  close(sv[1]);
  int lfd = make_listener(&o, 0);
  send_fd(sv[0], lfd);
  close(sv[0]);
  int status;
  if (waitpid(child, &status, 0) != child) die("waitpid");
  close(lfd); /* held until here on purpose: the second holder */
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
