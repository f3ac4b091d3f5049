// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sock_ops on the root cgroup: the request socket made when a SYN comes in
 * (it has no state-change tracepoint), and the connecting socket once its
 * local port is chosen. Its own object, built with SK_SOCK_OPS: this program
 * type may not call the current-task helpers the others use (common.bpf.h).
 */
#define SK_SOCK_OPS 1
#include "common.bpf.h"

static __always_inline struct sock *sock_ops_sk(struct bpf_sock_ops *ctx)
{
	struct bpf_sock *bs = ctx->sk;
	__u64 addr = 0;
	if (!bs)
		return NULL;
	bpf_probe_read_kernel(&addr, sizeof(addr), &bs);
	return (struct sock *)addr;
}

/* The socket the kernel runs this program for, request sockets included:
 * the context is the kernel's struct bpf_sock_ops_kern, whose address a
 * copy through the stack gives as a plain number. */
static __always_inline struct sock *sock_ops_kern_sk(struct bpf_sock_ops *ctx)
{
	struct bpf_sock_ops *c = ctx;
	__u64 kctx = 0;
	bpf_probe_read_kernel(&kctx, sizeof(kctx), &c);
	return BPF_CORE_READ((struct bpf_sock_ops_kern *)kctx, sk);
}

SEC("sockops")
int sock_ops(struct bpf_sock_ops *ctx)
{
	/* Every context field is loaded once, up front: the verifier rejects
	 * loads through a ctx pointer plus an offset, which the compiler makes
	 * when a load sits in a branch. */
	__u32 op = ctx->op, fullsock = ctx->is_fullsock, family = ctx->family;
	__u32 lport = ctx->local_port, rport = ctx->remote_port;
	__u32 l4 = ctx->local_ip4, r4 = ctx->remote_ip4;
	__u32 l6[4] = {ctx->local_ip6[0], ctx->local_ip6[1], ctx->local_ip6[2], ctx->local_ip6[3]};
	__u32 r6[4] = {ctx->remote_ip6[0], ctx->remote_ip6[1], ctx->remote_ip6[2],
		       ctx->remote_ip6[3]};

	if (op == BPF_SOCK_OPS_TCP_CONNECT_CB) {
		/* The local port is chosen by now, before the SYN goes out. */
		struct sock *sk = sock_ops_sk(ctx);
		if (sk && filter_by_task && task_traced())
			track_endpoint(sock_netns(sk), lport, (__u64)sk);
		return 1;
	}
	/* tcp_conn_request() calls TIMEOUT_INIT once for each request socket it
	 * makes (a SYN that was not dropped), before the SYN-ACK is sent. */
	if (op != BPF_SOCK_OPS_TIMEOUT_INIT || fullsock || !fallback_serves(SK_HOOK_SYN))
		return 1;

	/* remote_port holds the network-order port in its first two bytes. */
	struct sk_tuple t = {.family = family, .sport = lport, .dport = (__u16)bpf_ntohl(rport)};
	/* The request socket knows its listener (rsk_listener): its namespace, and the socket
	 * itself, learned here when it listened before tracing began. */
	struct request_sock *req = (void *)sock_ops_kern_sk(ctx);
	struct sock *lsk = req ? BPF_CORE_READ(req, __req_common.skc_listener) : NULL;
	if (lsk) {
		t.netns = sock_netns(lsk);
		learn_listener(lsk, t.netns, lport);
	} else {
		__u64 cookie = bpf_get_netns_cookie(ctx);
		__u32 *inum = bpf_map_lookup_elem(&netns_by_cookie, &cookie);
		t.netns = inum ? *inum : 0;
	}
	if (family == AF_INET) {
		__builtin_memcpy(t.saddr, &l4, 4);
		__builtin_memcpy(t.daddr, &r4, 4);
	} else {
		__builtin_memcpy(t.saddr, l6, 16);
		__builtin_memcpy(t.daddr, r6, 16);
	}
	report_syn_recv(&t, lsk, SK_BACKEND_SOCK_OPS);
	return 1;
}
