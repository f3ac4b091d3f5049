#define _GNU_SOURCE
#include "server_common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void die(const char* what) {
  perror(what);
  exit(1);
}

static void usage(const char* prog, unsigned extras) {
  fprintf(stderr, "usage: %s --port N [--ipv6] --ready-file PATH --count K%s%s\n", prog,
          extras & OPT_WORKERS ? " [--workers W] [--exclusive]" : "", extras & OPT_THREADS ? " [--threads T]" : "");
  exit(2);
}

static int positive(const char* prog, unsigned extras, const char* s) {
  char* end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v <= 0 || v > 65535) usage(prog, extras);
  return (int)v;
}

void parse_opts(int argc, char** argv, unsigned extras, struct server_opts* o) {
  static const struct option longopts[] = {
      {"port", required_argument, NULL, 'p'},       {"ipv6", no_argument, NULL, '6'},
      {"ready-file", required_argument, NULL, 'r'}, {"count", required_argument, NULL, 'c'},
      {"workers", required_argument, NULL, 'w'},    {"exclusive", no_argument, NULL, 'x'},
      {"threads", required_argument, NULL, 't'},    {NULL, 0, NULL, 0},
  };
  *o = (struct server_opts){.workers = 2, .threads = 2};
  int c;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
      case 'p': o->port = positive(argv[0], extras, optarg); break;
      case '6': o->ipv6 = 1; break;
      case 'r': o->ready_file = optarg; break;
      case 'c': o->count = positive(argv[0], extras, optarg); break;
      case 'w':
        if (!(extras & OPT_WORKERS)) usage(argv[0], extras);
        o->workers = positive(argv[0], extras, optarg);
        break;
      case 'x':
        if (!(extras & OPT_WORKERS)) usage(argv[0], extras);
        o->exclusive = 1;
        break;
      case 't':
        if (!(extras & OPT_THREADS)) usage(argv[0], extras);
        o->threads = positive(argv[0], extras, optarg);
        break;
      default: usage(argv[0], extras);
    }
  }
  if (optind != argc || !o->port || !o->ready_file || !o->count) usage(argv[0], extras);
  /* A client that has gone before our reply must not kill us. */
  signal(SIGPIPE, SIG_IGN);
}

int make_listener(const struct server_opts* o, int nonblock) {
  int fd = socket(o->ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) die("socket");
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) die("setsockopt(SO_REUSEADDR)");
  int rc;
  if (o->ipv6) {
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(o->port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    rc = bind(fd, (struct sockaddr*)&a, sizeof(a));
  } else {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(o->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = bind(fd, (struct sockaddr*)&a, sizeof(a));
  }
  if (rc != 0) die("bind");
  if (listen(fd, 128) != 0) die("listen");
  return fd;
}

void write_ready_file(const char* path, const pid_t* tids, int n) {
  /* The temporary name is ".<name>.<pid>" beside the file, so the rename
   * stays within one directory (and one file system). */
  char dir_buf[PATH_MAX], base_buf[PATH_MAX], tmp[PATH_MAX];
  snprintf(dir_buf, sizeof(dir_buf), "%s", path);
  snprintf(base_buf, sizeof(base_buf), "%s", path);
  if (snprintf(tmp, sizeof(tmp), "%s/.%s.%d", dirname(dir_buf), basename(base_buf), (int)getpid()) >= (int)sizeof(tmp))
    die("ready file path");
  FILE* f = fopen(tmp, "w");
  if (!f) die(tmp);
  for (int i = 0; i < n; i++) fprintf(f, "%d\n", (int)tids[i]);
  if (fclose(f) != 0) die(tmp);
  if (rename(tmp, path) != 0) die("rename ready file");
}

void serve_connection(int fd) {
  char buf[512];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) {
  }
  if (n < 0) die("read");
  (void)!send(fd, "ok\n", 3, MSG_NOSIGNAL);
  close(fd);
}
