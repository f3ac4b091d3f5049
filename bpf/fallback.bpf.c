// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel layer from hooks that every kernel since 4.16 offers, kprobes
 * and fentry or not:
 *  - sock:inet_sock_set_state: every TCP state change; CLOSE->LISTEN is the
 *    kernel's listen, a child's SYN_RECV->ESTABLISHED the completed
 *    handshake (the child is already on the listener's accept queue then:
 *    inet_csk_complete_hashdance runs before tcp_rcv_state_process).
 *  - sock_ops on the root cgroup (sockops.bpf.c): the request socket made
 *    when a SYN comes in, and the connecting socket once its port is chosen.
 */
#include "common.bpf.h"

static __always_inline void remember_listener(struct sock *sk, __u32 netns, __u16 port)
{
	__u64 skv = (__u64)sk;
	struct listener_info l = {
	    .task = bpf_get_current_task(),
	    .tgid = current_tgid(),
	};
	bpf_map_update_elem(&listeners, &skv, &l, BPF_ANY);

	learn_listener(sk, netns, port);
}

static __always_inline void forget_listener(__u64 sk, __u32 netns, __u16 port)
{
	bpf_map_delete_elem(&listeners, &sk);
	struct port_key k = {.netns = netns, .port = port};
	struct port_listeners *pl = bpf_map_lookup_elem(&port_listeners, &k);
	if (!pl)
		return;
#pragma unroll
	for (int i = 0; i < SK_PORT_LISTENERS; i++)
		if (pl->sk[i] == sk)
			pl->sk[i] = 0;
}

/* A reserved record for a state change; the caller adds to it and submits. */
static __always_inline struct sk_event *state_record(__u32 kind, __u8 ctxk, struct sock *sk,
						     int oldstate, int newstate,
						     const struct sk_tuple *t)
{
	struct sk_event *e = reserve_event(kind, ctxk);
	if (!e)
		return NULL;
	e->sk = (__u64)sk;
	e->old_state = oldstate;
	e->new_state = newstate;
	put_tuple(e, t);
	return e;
}

/* The 4-tuple of a tracepoint whose record has family, sport, dport, saddr,
 * daddr, saddr_v6 and daddr_v6 (sock:inet_sock_set_state and
 * tcp:tcp_retransmit_synack). The address arrays are copied with a helper:
 * the verifier does not allow loads through a ctx pointer plus an offset. */
#define TP_TUPLE(ctx, sk)                                                                          \
	({                                                                                         \
		struct sk_tuple t_ = {.family = (ctx)->family,                                     \
				      .sport = (ctx)->sport,                                       \
				      .dport = (ctx)->dport,                                       \
				      .netns = sock_netns(sk)};                                    \
		if (t_.family == AF_INET) {                                                        \
			bpf_probe_read_kernel(t_.saddr, 4, (ctx)->saddr);                          \
			bpf_probe_read_kernel(t_.daddr, 4, (ctx)->daddr);                          \
		} else {                                                                           \
			bpf_probe_read_kernel(t_.saddr, 16, (ctx)->saddr_v6);                      \
			bpf_probe_read_kernel(t_.daddr, 16, (ctx)->daddr_v6);                      \
		}                                                                                  \
		t_;                                                                                \
	})

/* Does a story tell this state change (explain_mode)? The listener's own
 * (listen, close), the client's leaving SYN_SENT, a request or child socket
 * leaving SYN_RECV other than by completing (SYN_RECV->ESTABLISHED is told
 * by the established record), and a child's changes while it waits in the
 * accept queue: no file yet (sk_socket), and not one of the closing states,
 * which only come after a close(). A connected socket's later changes, and
 * a child's once accept() has taken it, tell nothing the story has. */
static __always_inline bool state_told(const struct sock *sk, int oldstate, int newstate)
{
	if (newstate == TCP_LISTEN || oldstate == TCP_LISTEN)
		return newstate != TCP_SYN_RECV;
	if (oldstate == TCP_SYN_SENT)
		return true;
	if (oldstate == TCP_SYN_RECV)
		return newstate != TCP_ESTABLISHED;
	if (oldstate != TCP_ESTABLISHED && oldstate != TCP_CLOSE_WAIT)
		return false;
	return !BPF_CORE_READ(sk, sk_socket);
}

SEC("tracepoint/sock/inet_sock_set_state")
int inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	struct sock *sk = (struct sock *)ctx->skaddr;
	int oldstate = ctx->oldstate, newstate = ctx->newstate;
	/* Filter first: in explain mode most changes are told by nothing. Only
	 * the established report (the tracepoint path's SYN_RECV->ESTABLISHED)
	 * and the endpoint bookkeeping of a task filter need the rest. */
	bool told = !explain_mode || state_told(sk, oldstate, newstate);
	bool established = oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED &&
			   fallback_serves(SK_HOOK_ESTABLISHED);
	if (!told && !established && !filter_by_task)
		return 0;
	struct sk_tuple t = TP_TUPLE(ctx, sk);

	__u8 ctxk = exec_ctx();
	bool keep = family_passes(t.family) && ports_pass(t.sport, t.dport) &&
		    endpoint_traced(t.netns, t.sport, ctxk);

	/* Bookkeeping does not depend on the filters. */
	if (newstate == TCP_LISTEN) {
		remember_listener(sk, t.netns, t.sport);
		__u64 cookie = BPF_CORE_READ(sk, __sk_common.skc_net.net, net_cookie);
		bpf_map_update_elem(&netns_by_cookie, &cookie, &t.netns, BPF_ANY);
	} else if (oldstate == TCP_LISTEN && newstate == TCP_CLOSE)
		forget_listener((__u64)sk, t.netns, t.sport);
	if (newstate == TCP_CLOSE)
		untrack_endpoint(t.netns, t.sport, (__u64)sk);
	if (!keep)
		return 0;
	/* A traced task changing a socket's state itself (listen(), connect(),
	 * close()) owns it, even when it was bound before tracing began. */
	if (filter_by_task && ctxk == SK_CTX_PROCESS && newstate != TCP_CLOSE && task_traced())
		track_endpoint(t.netns, t.sport, (__u64)sk);
	if (!told) {
		if (established)
			report_established(sk, NULL, &t, SK_BACKEND_TRACEPOINT);
		return 0;
	}

	/* A client's connection established: who waits on its socket (a
	 * blocking connect(), or poll/epoll after a non-blocking one) is about
	 * to be woken. */
	if (oldstate == TCP_SYN_SENT && newstate == TCP_ESTABLISHED) {
		struct sk_event_waiters *r = reserve_waiters_event(SK_K_STATE, ctxk, sk);
		if (!r)
			return 0;
		r->ev.sk = (__u64)sk;
		r->ev.old_state = oldstate;
		r->ev.new_state = newstate;
		put_tuple(&r->ev, &t);
		submit_folding(r, sizeof(*r), &t, ctxk);
		return 0;
	}

	struct sk_event *e = state_record(SK_K_STATE, ctxk, sk, oldstate, newstate, &t);
	if (!e)
		return 0;
	submit_folding(e, sizeof(*e), &t, ctxk);

	if (oldstate == TCP_CLOSE && newstate == TCP_LISTEN && fallback_serves(SK_HOOK_LISTEN)) {
		e = state_record(SK_K_LISTEN, ctxk, sk, oldstate, newstate, &t);
		if (!e)
			return 0;
		e->backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
		e->queue_max = e->backlog;
		e->sock_ino = sock_ino(sk);
		submit_event(e);
	} else if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED &&
		   fallback_serves(SK_HOOK_ESTABLISHED)) {
		report_established(sk, NULL, &t, SK_BACKEND_TRACEPOINT);
	}
	return 0;
}

/* The SYN-ACK timer fired for a request socket: the client's final ACK is
 * late, was lost, or was dropped because the accept queue was full. */
SEC("tracepoint/tcp/tcp_retransmit_synack")
int tcp_retransmit_synack(struct trace_event_raw_tcp_retransmit_synack *ctx)
{
	struct sock *lsk = (struct sock *)ctx->skaddr;
	struct sk_tuple t = TP_TUPLE(ctx, lsk);
	struct sk_event *e = listener_record(SK_K_SYNACK_RETRANS, &t, lsk);
	if (!e)
		return 0;
	e->sk = (__u64)ctx->req;
	e->old_state = TCP_SYN_RECV;
	e->new_state = TCP_SYN_RECV;
	submit_folding(e, sizeof(*e), &t, e->ctx);
	return 0;
}

/* bpf_sock_ops::sk is a PTR_TO_SOCKET that the verifier will not let us do
 * arithmetic on; copying it through the stack gives a plain address to read
 * the socket with bpf_probe_read_kernel. It is NULL for request sockets. */
