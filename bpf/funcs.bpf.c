// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Function probes on the kernel's own socket functions, for kernels that
 * allow them: one handler per hook, with thin fentry/fexit and
 * kprobe/kretprobe wrappers around it. Userspace loads and attaches the
 * best backend each hook really has (fentry, then kprobe) and falls back to
 * the tracepoint path (syscalls.bpf.c, fallback.bpf.c) otherwise; it sets
 * hook_backend[] so that exactly one path reports each hook.
 *
 * The records are the tracepoint path's, field for field; only `backend`
 * (and a few nanoseconds of timing) tells them apart.
 */
#include "common.bpf.h"
#include "skb.bpf.h"

/* A kprobe's arguments, kept per thread for its kretprobe. LRU: a return
 * that never comes (a dying thread) cannot leak an entry. */
struct call_args {
	__u64 a0;
	__u64 a1;
	__u32 qlen;
	__u32 pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct call_args);
} func_args SEC(".maps");

static __always_inline void save_args(__u64 a0, __u64 a1, __u32 qlen)
{
	__u64 tid = bpf_get_current_pid_tgid();
	struct call_args a = {.a0 = a0, .a1 = a1, .qlen = qlen};
	bpf_map_update_elem(&func_args, &tid, &a, BPF_ANY);
}

static __always_inline bool take_args(struct call_args *out)
{
	__u64 tid = bpf_get_current_pid_tgid();
	struct call_args *a = bpf_map_lookup_elem(&func_args, &tid);
	if (!a)
		return false;
	*out = *a;
	bpf_map_delete_elem(&func_args, &tid);
	return true;
}

static __always_inline bool is_tcp(const struct sock *sk)
{
	return sk && BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP &&
	       BPF_CORE_READ(sk, sk_type) == SOCK_STREAM;
}

/* bind() and listen() as the socket layer returns them: the TCP socket of
 * a call that succeeded in a traced task and passes the filters (it is then
 * tracked, and its tuple in *t), or NULL. */
static __always_inline struct sock *traced_call_sock(struct socket *sock, long ret,
						     struct sk_tuple *t)
{
	if (ret != 0 || !task_traced())
		return NULL;
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!is_tcp(sk))
		return NULL;
	read_tuple(sk, t);
	if (!family_passes(t->family) || !ports_pass(t->sport, t->dport))
		return NULL;
	track_endpoint(t->netns, t->sport, (__u64)sk);
	return sk;
}

/* ---- bind: inet_bind, inet6_bind ---- */

static __always_inline int handle_bind(struct socket *sock, long ret, __u8 backend)
{
	struct sk_tuple t = {};
	struct sock *sk = traced_call_sock(sock, ret, &t);
	if (!sk)
		return 0;
	struct sk_event *e = reserve_event(SK_K_BIND, SK_CTX_PROCESS);
	if (!e)
		return 0;
	e->sk = (__u64)sk;
	e->fd = -1;
	/* The fd, when the bind came from the bind() syscall. */
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct inflight *in = bpf_map_lookup_elem(&inflight, &tid);
	if (in && in->kind == SK_SYS_BIND && in->sk == (__u64)sk)
		e->fd = in->fd;
	e->backend = backend;
	put_tuple(e, &t);
	submit_event(e);
	return 0;
}

SEC("fexit/inet_bind")
int BPF_PROG(fexit_inet_bind, struct socket *sock, struct sockaddr *uaddr, int addr_len, int ret)
{
	return handle_bind(sock, ret, SK_BACKEND_FENTRY);
}

SEC("fexit/inet6_bind")
int BPF_PROG(fexit_inet6_bind, struct socket *sock, struct sockaddr *uaddr, int addr_len, int ret)
{
	return handle_bind(sock, ret, SK_BACKEND_FENTRY);
}

SEC("kprobe/inet_bind")
int BPF_KPROBE(kprobe_inet_bind, struct socket *sock)
{
	save_args((__u64)sock, 0, 0);
	return 0;
}

SEC("kretprobe/inet_bind")
int BPF_KRETPROBE(kretprobe_inet_bind, int ret)
{
	struct call_args a;
	return take_args(&a) ? handle_bind((struct socket *)a.a0, ret, SK_BACKEND_KPROBE) : 0;
}

SEC("kprobe/inet6_bind")
int BPF_KPROBE(kprobe_inet6_bind, struct socket *sock)
{
	save_args((__u64)sock, 0, 0);
	return 0;
}

SEC("kretprobe/inet6_bind")
int BPF_KRETPROBE(kretprobe_inet6_bind, int ret)
{
	struct call_args a;
	return take_args(&a) ? handle_bind((struct socket *)a.a0, ret, SK_BACKEND_KPROBE) : 0;
}

/* ---- listen: inet_listen ---- */

static __always_inline int handle_listen(struct socket *sock, long ret, __u8 backend)
{
	struct sk_tuple t = {};
	struct sock *sk = traced_call_sock(sock, ret, &t);
	if (!sk)
		return 0;
	struct sk_event *e = reserve_event(SK_K_LISTEN, SK_CTX_PROCESS);
	if (!e)
		return 0;
	e->sk = (__u64)sk;
	e->old_state = TCP_CLOSE;
	e->new_state = TCP_LISTEN;
	e->backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
	e->queue_max = e->backlog;
	e->queue_len = BPF_CORE_READ(sk, sk_ack_backlog);
	e->sock_ino = sock_ino(sk);
	e->backend = backend;
	put_tuple(e, &t);
	submit_event(e);
	return 0;
}

SEC("fexit/inet_listen")
int BPF_PROG(fexit_inet_listen, struct socket *sock, int backlog, int ret)
{
	return handle_listen(sock, ret, SK_BACKEND_FENTRY);
}

SEC("kprobe/inet_listen")
int BPF_KPROBE(kprobe_inet_listen, struct socket *sock)
{
	save_args((__u64)sock, 0, 0);
	return 0;
}

SEC("kretprobe/inet_listen")
int BPF_KRETPROBE(kretprobe_inet_listen, int ret)
{
	struct call_args a;
	return take_args(&a) ? handle_listen((struct socket *)a.a0, ret, SK_BACKEND_KPROBE) : 0;
}

/* ---- SYN in: tcp_conn_request ----
 * It drops a SYN while the accept queue is full, and otherwise hashes a
 * request socket into the SYN queue (icsk_accept_queue.qlen grows) and sends
 * the SYN-ACK. Comparing qlen before and after tells the two apart; a
 * SYN-cookie answer makes no request socket, as on the tracepoint path. */

static __always_inline __u32 syn_queue_len(const struct sock *sk)
{
	const struct inet_connection_sock *icsk = (const void *)sk;
	return BPF_CORE_READ(icsk, icsk_accept_queue.qlen.counter);
}

static __always_inline int handle_syn(struct sock *sk, struct sk_buff *skb, __u32 qlen_before,
				      __u8 backend)
{
	if (syn_queue_len(sk) <= qlen_before)
		return 0;
	struct pkt p = {};
	if (!parse_tcp(skb, &p))
		return 0;
	/* The listener's view: local = the SYN's destination. */
	struct sk_tuple t = {.family = p.t.family, .sport = p.t.dport, .dport = p.t.sport};
	__builtin_memcpy(t.saddr, p.t.daddr, 16);
	__builtin_memcpy(t.daddr, p.t.saddr, 16);
	t.netns = sock_netns(sk);
	learn_listener(sk, t.netns, t.sport);
	report_syn_recv(&t, sk, backend);
	return 0;
}

/* Softirq on one CPU does not nest: a per-CPU slot carries the entry's view
 * to the exit. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} syn_qlen SEC(".maps");

SEC("fentry/tcp_conn_request")
int BPF_PROG(fentry_tcp_conn_request, struct request_sock_ops *rsk_ops,
	     const struct tcp_request_sock_ops *af_ops, struct sock *sk, struct sk_buff *skb)
{
	__u32 zero = 0;
	__u32 *q = bpf_map_lookup_elem(&syn_qlen, &zero);
	if (q)
		*q = syn_queue_len(sk);
	return 0;
}

SEC("fexit/tcp_conn_request")
int BPF_PROG(fexit_tcp_conn_request, struct request_sock_ops *rsk_ops,
	     const struct tcp_request_sock_ops *af_ops, struct sock *sk, struct sk_buff *skb,
	     int ret)
{
	__u32 zero = 0;
	__u32 *q = bpf_map_lookup_elem(&syn_qlen, &zero);
	return q ? handle_syn(sk, skb, *q, SK_BACKEND_FENTRY) : 0;
}

SEC("kprobe/tcp_conn_request")
int BPF_KPROBE(kprobe_tcp_conn_request, struct request_sock_ops *rsk_ops,
	       const struct tcp_request_sock_ops *af_ops, struct sock *sk, struct sk_buff *skb)
{
	save_args((__u64)sk, (__u64)skb, syn_queue_len(sk));
	return 0;
}

SEC("kretprobe/tcp_conn_request")
int BPF_KRETPROBE(kretprobe_tcp_conn_request)
{
	struct call_args a;
	if (!take_args(&a))
		return 0;
	return handle_syn((struct sock *)a.a0, (struct sk_buff *)a.a1, a.qlen, SK_BACKEND_KPROBE);
}

/* ---- final ACK in: inet_csk_complete_hashdance ----
 * Called by tcp_check_req with the child tcp_v4/v6_syn_recv_sock made; it
 * moves the request socket to the accept queue and returns the child. On
 * return the queue holds it, as on the tracepoint path's SYN_RECV ->
 * ESTABLISHED. */

static __always_inline int handle_established(struct sock *lsk, struct sock *child, __u8 backend)
{
	if (!child)
		return 0;
	struct sk_tuple t = {};
	read_tuple(child, &t);
	report_established(child, lsk, &t, backend);
	return 0;
}

SEC("fexit/inet_csk_complete_hashdance")
int BPF_PROG(fexit_inet_csk_complete_hashdance, struct sock *sk, struct sock *child,
	     struct request_sock *req, bool own_req, struct sock *ret)
{
	return handle_established(sk, ret, SK_BACKEND_FENTRY);
}

SEC("kprobe/inet_csk_complete_hashdance")
int BPF_KPROBE(kprobe_inet_csk_complete_hashdance, struct sock *sk)
{
	save_args((__u64)sk, 0, 0);
	return 0;
}

SEC("kretprobe/inet_csk_complete_hashdance")
int BPF_KRETPROBE(kretprobe_inet_csk_complete_hashdance, struct sock *ret)
{
	struct call_args a;
	if (!take_args(&a))
		return 0;
	return handle_established((struct sock *)a.a0, ret, SK_BACKEND_KPROBE);
}

/* ---- accept: inet_csk_accept ----
 * Its signature changed in 6.10 ((sk, flags, err, kern) -> (sk, arg)): only
 * the first argument is declared, and the result comes from
 * bpf_get_func_ret (fexit) or the return register (kretprobe). The record
 * itself is written at the syscall's exit, which knows the new fd. */

static __always_inline int handle_accept(struct sock *lsk, struct sock *child, __u8 backend)
{
	if (!child || !task_traced())
		return 0;
	struct accept_seen s = accept_view(lsk, child, backend);
	__u64 tid = bpf_get_current_pid_tgid();
	bpf_map_update_elem(&accept_reported, &tid, &s, BPF_ANY);
	return 0;
}

SEC("fexit/inet_csk_accept")
int BPF_PROG(fexit_inet_csk_accept, struct sock *sk)
{
	__u64 ret = 0;
	bpf_get_func_ret(ctx, &ret);
	return handle_accept(sk, (struct sock *)ret, SK_BACKEND_FENTRY);
}

SEC("kprobe/inet_csk_accept")
int BPF_KPROBE(kprobe_inet_csk_accept, struct sock *sk)
{
	save_args((__u64)sk, 0, 0);
	return 0;
}

SEC("kretprobe/inet_csk_accept")
int BPF_KRETPROBE(kretprobe_inet_csk_accept, struct sock *ret)
{
	struct call_args a;
	return take_args(&a) ? handle_accept((struct sock *)a.a0, ret, SK_BACKEND_KPROBE) : 0;
}
