/* A non-blocking client, as curl connects (issue #11: "the client side"):
 * connect() returns EINPROGRESS, poll() waits for POLLOUT, getsockopt(
 * SO_ERROR) tells the outcome. Prints "connect=EINPROGRESS" (or
 * "connect=0" if it completed at once) and "so_error=<n>" on stdout. On
 * success it sends a line, shuts its side down, reads the server's reply
 * to EOF and exits 0; a connection that failed exits 3.
 *   nb_client --connect HOST:PORT   (HOST numeric; IPv6 as [::1]:PORT or ::1:PORT) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char* what) {
  perror(what);
  _exit(1);
}

static void usage(const char* prog) {
  fprintf(stderr, "usage: %s --connect HOST:PORT\n", prog);
  _exit(2);
}

int main(int argc, char** argv) {
  static const struct option longopts[] = {{"connect", required_argument, NULL, 'c'}, {NULL, 0, NULL, 0}};
  char target[256] = "";
  int c;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    if (c != 'c' || strlen(optarg) >= sizeof(target)) usage(argv[0]);
    strcpy(target, optarg);
  }
  char* colon = strrchr(target, ':');
  if (optind != argc || !colon || colon == target) usage(argv[0]);
  *colon = '\0';
  char *host = target, *port = colon + 1;
  size_t hl = strlen(host);
  if (host[0] == '[' && host[hl - 1] == ']') {
    host[hl - 1] = '\0';
    host++;
  }
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV}, *ai;
  int rc = getaddrinfo(host, port, &hints, &ai);
  if (rc != 0) {
    fprintf(stderr, "%s: %s\n", host, gai_strerror(rc));
    return 2;
  }

  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  const int connected = connect(fd, ai->ai_addr, ai->ai_addrlen);
  const int connect_errno = errno;
  freeaddrinfo(ai); /* every way out below, the failed connection's too */
  if (connected == 0) {
    printf("connect=0\n");
  } else if (connect_errno == EINPROGRESS) {
    printf("connect=EINPROGRESS\n");
  } else {
    errno = connect_errno;
    die("connect");
  }
  fflush(stdout);
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  if (poll(&p, 1, 10000) != 1) die("poll: no POLLOUT within 10 s");
  int so_error = 0;
  socklen_t len = sizeof(so_error);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) die("getsockopt(SO_ERROR)");
  printf("so_error=%d\n", so_error);
  fflush(stdout);
  if (so_error != 0) return 3;

  if (fcntl(fd, F_SETFL, 0) != 0) die("fcntl");
  if (write(fd, "hello\n", 6) != 6) die("write");
  if (shutdown(fd, SHUT_WR) != 0) die("shutdown");
  char buf[64];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) {
  }
  if (n < 0) die("read");
  close(fd);
  return 0;
}
