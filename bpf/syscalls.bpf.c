// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The syscall layer: socket, bind, listen, connect, accept/accept4 and close
 * of TCP sockets, from the syscalls:sys_enter_* / sys_exit_* tracepoints.
 * Entry and exit are paired through `inflight`, keyed by thread id.
 *
 * Also, from the same hooks, the kernel-layer records that need the syscall's
 * file descriptor to find their socket: `bind` (the address the kernel really
 * bound) and `accept` (the child taken off the accept queue).
 */
#include "common.bpf.h"

static __always_inline __u32 current_tid(void)
{
	return (__u32)bpf_get_current_pid_tgid();
}

static __always_inline void remember(struct inflight *in)
{
	__u32 tid = current_tid();
	in->ts = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&inflight, &tid, in, BPF_ANY))
		count_drop(SK_DROP_INFLIGHT_FULL);
}

/* Fetch and forget this thread's entry for `kind`. */
static __always_inline bool recall(__u32 kind, struct inflight *out)
{
	__u32 tid = current_tid();
	struct inflight *in = bpf_map_lookup_elem(&inflight, &tid);
	if (!in || in->kind != kind)
		return false;
	__builtin_memcpy(out, in, sizeof(*out));
	bpf_map_delete_elem(&inflight, &tid);
	return true;
}

/* Read a user sockaddr (AF_INET or AF_INET6) into a tuple's local or
 * remote half. Returns false for other families. */
static __always_inline bool read_user_sockaddr(const void *uaddr, struct sk_tuple *t, bool local)
{
	__u16 family = 0;
	if (bpf_probe_read_user(&family, sizeof(family), uaddr))
		return false;
	__u8 *addr = local ? t->saddr : t->daddr;
	__u16 port;
	if (family == AF_INET) {
		struct sockaddr_in sin = {};
		bpf_probe_read_user(&sin, sizeof(sin), uaddr);
		port = bpf_ntohs(sin.sin_port);
		__builtin_memcpy(addr, &sin.sin_addr, 4);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 sin6 = {};
		bpf_probe_read_user(&sin6, sizeof(sin6), uaddr);
		port = bpf_ntohs(sin6.sin6_port);
		__builtin_memcpy(addr, &sin6.sin6_addr, 16);
	} else {
		return false;
	}
	t->family = family;
	if (local)
		t->sport = port;
	else
		t->dport = port;
	return true;
}

static __always_inline struct sk_event *syscall_event(__u32 kind, const struct inflight *in,
						      long ret)
{
	struct sk_event *e = reserve_event(kind, SK_CTX_PROCESS);
	if (!e)
		return NULL;
	e->fd = in->fd;
	e->ret = ret;
	e->sk = in->sk;
	e->owner_flags = in->flags;
	if (in->ts)
		e->dur_ns = e->ts_ns - in->ts;
	return e;
}

/* ---- socket(AF_INET/AF_INET6, SOCK_STREAM, 0/IPPROTO_TCP) ---- */

SEC("tracepoint/syscalls/sys_enter_socket")
int sys_enter_socket(struct trace_event_raw_sys_enter *ctx)
{
	int family = ctx->args[0], type = ctx->args[1], protocol = ctx->args[2];
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if ((type & 0xf) != SOCK_STREAM || (protocol != 0 && protocol != IPPROTO_TCP))
		return 0;
	/* A new socket has no port yet: with a port filter it cannot match.
	 * No story tells socket() (explain_mode). */
	if (explain_mode || targ_nports || !family_passes(family) || !task_traced())
		return 0;
	struct inflight in = {.kind = SK_SYS_SOCKET, .fd = -1};
	in.tuple.family = family;
	remember(&in);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_socket")
int sys_exit_socket(struct trace_event_raw_sys_exit *ctx)
{
	struct inflight in;
	if (!recall(SK_SYS_SOCKET, &in))
		return 0;
	long ret = ctx->ret;
	in.fd = ret;
	struct sock *sk = ret >= 0 ? tcp_sock_from_fd(ret) : NULL;
	in.sk = (__u64)sk;
	if (sk)
		in.tuple.netns = sock_netns(sk);
	struct sk_event *e = syscall_event(SK_SYS_SOCKET, &in, ret);
	if (!e)
		return 0;
	put_tuple(e, &in.tuple);
	submit_event(e);
	return 0;
}

/* ---- bind ---- */

SEC("tracepoint/syscalls/sys_enter_bind")
int sys_enter_bind(struct trace_event_raw_sys_enter *ctx)
{
	int fd = ctx->args[0];
	struct sock *sk = tcp_sock_from_fd(fd);
	if (!sk || !task_traced())
		return 0;
	struct inflight in = {.kind = SK_SYS_BIND, .fd = fd, .sk = (__u64)sk};
	if (!read_user_sockaddr((void *)ctx->args[1], &in.tuple, true))
		return 0;
	if (!family_passes(BPF_CORE_READ(sk, __sk_common.skc_family)))
		return 0;
	in.tuple.netns = sock_netns(sk);
	remember(&in);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_bind")
int sys_exit_bind(struct trace_event_raw_sys_exit *ctx)
{
	struct inflight in;
	if (!recall(SK_SYS_BIND, &in))
		return 0;
	long ret = ctx->ret;
	struct sock *sk = (struct sock *)in.sk;
	struct sk_tuple bound = {};
	if (ret == 0)
		read_tuple(sk, &bound);
	/* The port filter sees both the asked-for port and, for port 0, the one
	 * the kernel picked. */
	if (!ports_pass(in.tuple.sport, bound.sport))
		return 0;

	struct sk_event *e = syscall_event(SK_SYS_BIND, &in, ret);
	if (e) {
		put_tuple(e, &in.tuple);
		submit_event(e);
	}
	if (ret != 0)
		return 0;
	track_endpoint(bound.netns, bound.sport, in.sk);
	if (!fallback_serves(SK_HOOK_BIND))
		return 0;
	e = reserve_event(SK_K_BIND, SK_CTX_PROCESS);
	if (!e)
		return 0;
	e->sk = in.sk;
	e->fd = in.fd;
	put_tuple(e, &bound);
	submit_event(e);
	return 0;
}

/* ---- listen ---- */

SEC("tracepoint/syscalls/sys_enter_listen")
int sys_enter_listen(struct trace_event_raw_sys_enter *ctx)
{
	int fd = ctx->args[0];
	struct sock *sk = tcp_sock_from_fd(fd);
	if (!sk || !task_traced())
		return 0;
	struct inflight in = {
	    .kind = SK_SYS_LISTEN, .fd = fd, .sk = (__u64)sk, .arg = ctx->args[1]};
	read_tuple(sk, &in.tuple);
	if (!family_passes(in.tuple.family) || !ports_pass(in.tuple.sport, 0))
		return 0;
	remember(&in);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_listen")
int sys_exit_listen(struct trace_event_raw_sys_exit *ctx)
{
	struct inflight in;
	if (!recall(SK_SYS_LISTEN, &in))
		return 0;
	struct sk_event *e = syscall_event(SK_SYS_LISTEN, &in, ctx->ret);
	if (!e)
		return 0;
	/* listen() on an unbound socket binds it: read the tuple afresh. */
	read_tuple((struct sock *)in.sk, &in.tuple);
	put_tuple(e, &in.tuple);
	e->backlog = in.arg;
	submit_event(e);
	return 0;
}

/* ---- connect ---- */

SEC("tracepoint/syscalls/sys_enter_connect")
int sys_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	int fd = ctx->args[0];
	struct file *f = fd_file(fd);
	struct sock *sk = tcp_sock_of_file(f);
	if (!sk || !task_traced())
		return 0;
	struct inflight in = {
	    .kind = SK_SYS_CONNECT, .fd = fd, .sk = (__u64)sk, .flags = file_nonblock_flag(f)};
	read_tuple(sk, &in.tuple);
	if (!read_user_sockaddr((void *)ctx->args[1], &in.tuple, false))
		return 0;
	in.tuple.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (!family_passes(in.tuple.family) || !ports_pass(in.tuple.dport, in.tuple.sport))
		return 0;
	remember(&in);
	/* explain: the exit stands for the entry too (SK_ENTER_FOLDED). */
	if (explain_mode)
		return 0;
	struct sk_event *e = syscall_event(SK_SYS_CONNECT, &in, 0);
	if (!e)
		return 0;
	e->phase = SK_PHASE_ENTER;
	e->dur_ns = 0;
	put_tuple(e, &in.tuple);
	submit_event(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int sys_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	struct inflight in;
	if (!recall(SK_SYS_CONNECT, &in))
		return 0;
	struct sk_event *e = syscall_event(SK_SYS_CONNECT, &in, ctx->ret);
	if (!e) {
		if (explain_mode) /* it stood for the entry too */
			count_drop(SK_DROP_RINGBUF_FULL);
		return 0;
	}
	/* The local address is known now (chosen during connect). */
	struct sk_tuple now = {};
	read_tuple((struct sock *)in.sk, &now);
	in.tuple.sport = now.sport;
	__builtin_memcpy(in.tuple.saddr, now.saddr, 16);
	put_tuple(e, &in.tuple);
	if (explain_mode)
		e->owner_flags |= SK_ENTER_FOLDED;
	submit_event(e);
	track_endpoint(in.tuple.netns, now.sport, in.sk);
	return 0;
}

/* ---- accept / accept4 ---- */

static __always_inline int accept_enter(struct trace_event_raw_sys_enter *ctx)
{
	int fd = ctx->args[0];
	struct file *f = fd_file(fd);
	struct sock *sk = tcp_sock_of_file(f);
	if (!sk || !task_traced())
		return 0;
	/* accept4(SOCK_NONBLOCK) says nothing of the listener: its own file's
	 * O_NONBLOCK decides whether this call waits. */
	struct inflight in = {.kind = SK_SYS_ACCEPT,
			      .fd = fd,
			      .sk = (__u64)sk,
			      .arg = (__u32)ctx->id,
			      .flags = file_nonblock_flag(f)};
	read_tuple(sk, &in.tuple);
	if (!family_passes(in.tuple.family) || !ports_pass(in.tuple.sport, 0))
		return 0;
	remember(&in);
	track_endpoint(in.tuple.netns, in.tuple.sport, in.sk);

	__u64 key = in.sk;
	__u32 one = 1;
	__u32 *waiting = bpf_map_lookup_elem(&accepting, &key);
	if (waiting)
		__sync_fetch_and_add(waiting, 1);
	else
		bpf_map_update_elem(&accepting, &key, &one, BPF_NOEXIST);

	/* explain: the exit stands for the entry too (SK_ENTER_FOLDED). */
	if (explain_mode)
		return 0;
	struct sk_event *e = syscall_event(SK_SYS_ACCEPT, &in, 0);
	if (!e)
		return 0;
	e->value = in.arg;
	e->phase = SK_PHASE_ENTER;
	e->dur_ns = 0;
	put_tuple(e, &in.tuple);
	submit_event(e);
	return 0;
}

/* The dequeue that gave this thread child: as a function probe on
 * inet_csk_accept saw it, or, when none did (an accept() that began before
 * it was attached, or the tracepoint path), the queue as it is now (at now). */
static __always_inline struct accept_seen dequeue_seen(struct sock *lsk, struct sock *child,
						       __u64 now)
{
	__u64 tid = bpf_get_current_pid_tgid();
	struct accept_seen *seen = bpf_map_lookup_elem(&accept_reported, &tid);
	struct accept_seen s;
	if (seen && seen->child == (__u64)child) {
		s = *seen;
		bpf_map_delete_elem(&accept_reported, &tid);
	} else {
		s = accept_view(lsk, child, SK_BACKEND_TRACEPOINT);
		s.ts = now;
	}
	return s;
}

/* explain: one record for the call, its entry and its dequeue: the exit
 * with SK_ENTER_FOLDED (when the entry was seen) and SK_DEQUEUE_FOLDED. */
static __always_inline int accept_exit_folded(const struct inflight *in, long ret,
					      struct sock *child, const struct sk_tuple *t,
					      bool began_traced)
{
	track_endpoint(t->netns, t->sport, (__u64)child);
	struct sk_event_dequeue *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_drops(SK_DROP_RINGBUF_FULL, began_traced ? 3 : 2);
		return 0;
	}
	__builtin_memset(r, 0, sizeof(*r));
	fill_event(&r->ev, SK_SYS_ACCEPT, SK_CTX_PROCESS);
	r->ev.fd = in->fd;
	r->ev.ret = ret;
	r->ev.sk = in->sk;
	r->ev.owner_flags = in->flags | SK_DEQUEUE_FOLDED | (began_traced ? SK_ENTER_FOLDED : 0);
	if (in->ts)
		r->ev.dur_ns = r->ev.ts_ns - in->ts;
	r->ev.value = in->arg;
	put_tuple(&r->ev, t);
	struct accept_seen s = dequeue_seen((struct sock *)in->sk, child, r->ev.ts_ns);
	r->dq.ts_ns = s.ts;
	r->dq.sk = (__u64)child;
	r->dq.queue_len = s.queue_len;
	r->dq.queue_max = s.queue_max;
	r->dq.rx_queued = s.rx_queued;
	r->dq.backend = s.backend;
	r->dq.via = SK_WAIT_TASK;
	submit_event(r);
	return 0;
}

static __always_inline int accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct inflight in = {};
	long ret = ctx->ret;
	bool began_traced = recall(SK_SYS_ACCEPT, &in);
	if (began_traced) {
		__u64 key = in.sk;
		__u32 *waiting = bpf_map_lookup_elem(&accepting, &key);
		if (waiting && *waiting)
			__sync_fetch_and_add(waiting, -1);
	}

	/* No story tells an accept() that took nothing (a nonblocking one's
	 * EAGAIN): explain hears only of those that return a connection. */
	if (explain_mode && ret < 0)
		return 0;
	struct sock *child = ret >= 0 ? tcp_sock_from_fd(ret) : NULL;
	struct sk_tuple t = {};
	if (child) {
		read_tuple(child, &t);
	} else if (began_traced) {
		t = in.tuple;
	} else {
		return 0;
	}
	if (!began_traced) {
		/* The accept() began before the probes were attached: no entry to
		 * pair with, but the exit alone names the connection. */
		if (!task_traced() || !family_passes(t.family) || !ports_pass(t.sport, t.dport))
			return 0;
		in.fd = -1;
		in.sk = (__u64)find_listener(t.netns, t.sport, t.family, NULL);
		in.arg = (__u32)ctx->id;
	}

	if (explain_mode && child)
		return accept_exit_folded(&in, ret, child, &t, began_traced);
	struct sk_event *e = syscall_event(SK_SYS_ACCEPT, &in, ret);
	if (!e)
		return 0;
	e->value = in.arg;
	put_tuple(e, &t);
	submit_event(e);
	if (!child)
		return 0;

	track_endpoint(t.netns, t.sport, (__u64)child);
	e = reserve_event(SK_K_ACCEPT, SK_CTX_PROCESS);
	if (!e)
		return 0;
	e->sk = (__u64)child;
	e->fd = ret;
	e->via = SK_WAIT_TASK;
	e->value = in.arg;
	put_tuple(e, &t);
	struct accept_seen s = dequeue_seen((struct sock *)in.sk, child, e->ts_ns);
	e->ts_ns = s.ts;
	e->queue_len = s.queue_len;
	e->queue_max = s.queue_max;
	e->rx_queued = s.rx_queued;
	e->backend = s.backend;
	submit_event(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_accept")
int sys_enter_accept(struct trace_event_raw_sys_enter *ctx)
{
	return accept_enter(ctx);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int sys_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return accept_exit(ctx);
}

SEC("tracepoint/syscalls/sys_enter_accept4")
int sys_enter_accept4(struct trace_event_raw_sys_enter *ctx)
{
	return accept_enter(ctx);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int sys_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return accept_exit(ctx);
}

/* ---- close ---- */

SEC("tracepoint/syscalls/sys_enter_close")
int sys_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	if (!task_traced())
		return 0;
	int fd = ctx->args[0];
	struct sock *sk = tcp_sock_from_fd(fd);
	if (!sk)
		return 0;
	/* A story tells close() only of a socket bound and never connected
	 * (explain_mode): its close frees the port, and nothing else says so. */
	if (explain_mode && BPF_CORE_READ(sk, __sk_common.skc_dport))
		return 0;
	struct inflight in = {.kind = SK_SYS_CLOSE, .fd = fd, .sk = (__u64)sk};
	read_tuple(sk, &in.tuple);
	if (!family_passes(in.tuple.family) || !ports_pass(in.tuple.sport, in.tuple.dport))
		return 0;
	remember(&in);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_close")
int sys_exit_close(struct trace_event_raw_sys_exit *ctx)
{
	struct inflight in;
	if (!recall(SK_SYS_CLOSE, &in))
		return 0;
	struct sk_event *e = syscall_event(SK_SYS_CLOSE, &in, ctx->ret);
	if (!e)
		return 0;
	put_tuple(e, &in.tuple);
	submit_event(e);
	return 0;
}

/* ---- getsockopt(SOL_SOCKET, SO_ERROR) ----
 * How a program that connected without blocking learns the outcome once
 * poll/epoll says the socket is writable. */

#define SOL_SOCKET_ 1
#define SO_ERROR_   4

SEC("tracepoint/syscalls/sys_enter_getsockopt")
int sys_enter_getsockopt(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[1] != SOL_SOCKET_ || ctx->args[2] != SO_ERROR_ || !task_traced())
		return 0;
	int fd = ctx->args[0];
	struct sock *sk = tcp_sock_from_fd(fd);
	if (!sk)
		return 0;
	struct inflight in = {
	    .kind = SK_SYS_GETSOCKOPT, .fd = fd, .sk = (__u64)sk, .uptr = ctx->args[3]};
	read_tuple(sk, &in.tuple);
	if (!family_passes(in.tuple.family) || !ports_pass(in.tuple.sport, in.tuple.dport))
		return 0;
	remember(&in);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_getsockopt")
int sys_exit_getsockopt(struct trace_event_raw_sys_exit *ctx)
{
	struct inflight in;
	if (!recall(SK_SYS_GETSOCKOPT, &in))
		return 0;
	struct sk_event *e = syscall_event(SK_SYS_GETSOCKOPT, &in, ctx->ret);
	if (!e)
		return 0;
	put_tuple(e, &in.tuple);
	if (ctx->ret == 0)
		bpf_probe_read_user(&e->value, sizeof(e->value), (void *)in.uptr);
	submit_event(e);
	return 0;
}

/* ---- accept through io_uring ----
 * IORING_OP_ACCEPT makes no accept syscall: the ring's task (or one of its
 * io-wq workers) dequeues the child, and the request completes with the new
 * fd. Its completion is where the fd is known, as the syscall exit is for
 * accept(); a function probe on inet_csk_accept (funcs.bpf.c) has kept the
 * dequeue's own view for it, per thread. */

#define IORING_OP_ACCEPT_ 13

SEC("tracepoint/io_uring/io_uring_complete")
int io_uring_complete(struct trace_event_raw_io_uring_complete *ctx)
{
	int res = ctx->res;
	if (res < 0 || !ctx->req)
		return 0;
	struct io_kiocb *req = ctx->req;
	if (BPF_CORE_READ(req, opcode) != IORING_OP_ACCEPT_ || !task_traced())
		return 0;
	struct sock *child = tcp_sock_from_fd(res);
	if (!child)
		return 0;
	struct sk_tuple t = {};
	read_tuple(child, &t);
	if (!family_passes(t.family) || !ports_pass(t.sport, t.dport))
		return 0;
	track_endpoint(t.netns, t.sport, (__u64)child);
	struct sk_event *e = reserve_event(SK_K_ACCEPT, SK_CTX_PROCESS);
	if (!e)
		return 0;
	e->sk = (__u64)child;
	e->fd = res;
	e->via = SK_WAIT_IO_URING;
	put_tuple(e, &t);
	struct sock *lsk = find_listener(t.netns, t.sport, t.family, NULL);
	struct accept_seen s = dequeue_seen(lsk, child, e->ts_ns);
	e->lsk = (__u64)lsk;
	e->ts_ns = s.ts;
	e->queue_len = s.queue_len;
	e->queue_max = s.queue_max;
	e->rx_queued = s.rx_queued;
	e->backend = s.backend;
	submit_event(e);
	return 0;
}
