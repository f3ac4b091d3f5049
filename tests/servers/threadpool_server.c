/* A thread pool: --threads threads all blocked in accept() on one listener
 * (issue #11: several tasks waiting in accept). The main thread waits on a
 * condition variable until --count connections are served, then exits 0.
 * The ready file lists the pool threads' tids. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_common.h"

static struct {
  pthread_mutex_t lock;
  pthread_cond_t changed;
  int lfd;
  int started; /* threads that have written their tid */
  int served;
  pid_t* tids;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};

static void* acceptor(void* arg) {
  (void)arg;
  pthread_mutex_lock(&pool.lock);
  pool.tids[pool.started++] = gettid();
  pthread_cond_broadcast(&pool.changed);
  pthread_mutex_unlock(&pool.lock);
  for (;;) {
    int fd = accept(pool.lfd, NULL, NULL);
    if (fd < 0) die("accept");
    serve_connection(fd);
    pthread_mutex_lock(&pool.lock);
    pool.served++;
    pthread_cond_broadcast(&pool.changed);
    pthread_mutex_unlock(&pool.lock);
  }
  return NULL;
}

int main(int argc, char** argv) {
  struct server_opts o;
  parse_opts(argc, argv, OPT_THREADS, &o);
  pool.lfd = make_listener(&o, 0);
  pool.tids = calloc(o.threads, sizeof(pid_t));
  if (!pool.tids) die("calloc");
  for (int i = 0; i < o.threads; i++) {
    pthread_t t;
    if ((errno = pthread_create(&t, NULL, acceptor, NULL)) != 0) die("pthread_create");
  }
  pthread_mutex_lock(&pool.lock);
  while (pool.started < o.threads) pthread_cond_wait(&pool.changed, &pool.lock);
  write_ready_file(o.ready_file, pool.tids, o.threads);
  while (pool.served < o.count) pthread_cond_wait(&pool.changed, &pool.lock);
  pthread_mutex_unlock(&pool.lock);
  /* Returning from main ends the threads still in accept(). */
  return 0;
}
