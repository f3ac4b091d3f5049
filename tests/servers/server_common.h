/* What every test server in tests/servers/ shares: its options, its listener,
 * its ready file and how it serves one connection. The servers are the real
 * programs the integration tests trace (issue #11): each waits for
 * connections in one way (poll, select, epoll, a thread pool in accept(), a
 * listener passed over SCM_RIGHTS, io_uring), handles exactly --count of
 * them and exits 0.
 *
 * Readiness contract: the file named by --ready-file appears whole (written
 * beside it, then renamed) just before the server's waiting tasks enter
 * their wait call, and holds one line per task that will wait on the
 * listener: its thread id (the pid, for a single-threaded process). The
 * tests confirm the wait itself through /proc/TID/syscall.
 *
 * Serving a connection: read until the client's EOF, write "ok\n", close. */
#pragma once

#include <sys/types.h>

struct server_opts {
  int port;
  int ipv6;
  const char* ready_file;
  int count;
  int workers;   /* epoll_server */
  int exclusive; /* epoll_server */
  int threads;   /* threadpool_server */
};

/* Which options beyond the common ones a server takes. */
enum { OPT_WORKERS = 1, OPT_THREADS = 2 };

/* Parses argv; exits 2 with a usage line on anything wrong or missing. */
void parse_opts(int argc, char** argv, unsigned extras, struct server_opts* o);

/* A TCP listener on 127.0.0.1 (or ::1) port o->port with SO_REUSEADDR, in
 * listen(128); O_NONBLOCK when asked. Exits 1 on failure. */
int make_listener(const struct server_opts* o, int nonblock);

/* Writes the ready file: one line per tid. Exits 1 on failure. */
void write_ready_file(const char* path, const pid_t* tids, int n);

/* Reads until EOF, writes "ok\n" (a peer that has gone is no error), closes. */
void serve_connection(int fd);

/* perror(what) and exit 1. */
void die(const char* what) __attribute__((noreturn));
