// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The packet layer: TCP handshake packets (SYN, SYN-ACK, the final ACK) plus
 * RST and FIN, as each device sends (net:net_dev_start_xmit, before the
 * driver owns the skb) and receives them (net:netif_receive_skb).
 *
 * On loopback every packet is seen twice, tx then rx, on `lo`; across a veth
 * pair the tx is in one namespace and the rx in the other.
 * Header layouts are the wire formats (UAPI), read as bytes.
 */
#include "common.bpf.h"
#include "skb.bpf.h"

/* Flows whose SYN was seen, per (netns, 4-tuple, direction), waiting for the
 * handshake's final ACK: the first segment without SYN in the SYN's
 * direction. LRU-bounded: flows that never complete are evicted. */
struct flow_key {
	__u32 netns;
	__u16 sport;
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
	__u8 dir;
	__u8 pad[3];
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct flow_key);
	__type(value, __u8);
} syn_seen SEC(".maps");

/* Is this segment part of what we report? SYN, SYN-ACK, RST, FIN always;
 * otherwise only the first segment after a SYN in the same direction. */
static __always_inline bool handshake_segment(const struct pkt *p, __u8 dir)
{
	struct flow_key k = {
	    .netns = p->t.netns, .sport = p->t.sport, .dport = p->t.dport, .dir = dir};
	__builtin_memcpy(k.saddr, p->t.saddr, 16);
	__builtin_memcpy(k.daddr, p->t.daddr, 16);

	if ((p->flags & (SK_TCP_SYN | SK_TCP_ACK)) == SK_TCP_SYN) {
		__u8 one = 1;
		bpf_map_update_elem(&syn_seen, &k, &one, BPF_ANY);
		return true;
	}
	if (p->flags & (SK_TCP_SYN | SK_TCP_FIN | SK_TCP_RST)) {
		if (p->flags & SK_TCP_RST)
			bpf_map_delete_elem(&syn_seen, &k);
		return true;
	}
	if (!bpf_map_lookup_elem(&syn_seen, &k))
		return false;
	bpf_map_delete_elem(&syn_seen, &k);
	return true;
}

static __always_inline int handle_packet(struct sk_buff *skb, __u8 dir)
{
	struct pkt p = {};
	if (!parse_tcp(skb, &p))
		return 0;
	if (!family_passes(p.t.family) || !ports_pass(p.t.sport, p.t.dport))
		return 0;
	struct net_device *dev = BPF_CORE_READ(skb, dev);
	p.t.netns = BPF_CORE_READ(dev, nd_net.net, ns.inum);
	__u8 ctxk = exec_ctx();
	__u16 lport = dir == SK_DIR_TX ? p.t.sport : p.t.dport;
	if (!endpoint_traced(p.t.netns, lport, ctxk))
		return 0;
	if (!handshake_segment(&p, dir))
		return 0;
	/* A FIN's story is the server's: one leaving a listener's port, or one
	 * arriving at it (explain_mode; the client host's FINs tell nothing). */
	if (explain_mode && (p.flags & (SK_TCP_FIN | SK_TCP_SYN | SK_TCP_RST)) == SK_TCP_FIN) {
		struct port_key k = {.netns = p.t.netns, .port = lport};
		if (!bpf_map_lookup_elem(&port_listeners, &k))
			return 0;
	}

	struct sk_event *e = reserve_event(SK_PKT_TCP, ctxk);
	if (!e)
		return 0;
	put_tuple(e, &p.t);
	e->dir = dir;
	e->tcp_flags = p.flags;
	e->seq = p.seq;
	e->ack_seq = p.ack_seq;
	e->window = p.window;
	e->payload_len = p.payload_len;
	e->ifindex = BPF_CORE_READ(dev, ifindex);
	/* A SYN coming in: how full the listener's accept queue is decides
	 * whether tcp_conn_request drops it (sk_acceptq_is_full: len > max).
	 * This runs before the TCP layer sees the packet. */
	if (dir == SK_DIR_RX && (p.flags & (SK_TCP_SYN | SK_TCP_ACK)) == SK_TCP_SYN)
		put_listener(e, p.t.netns, p.t.dport);
	BPF_CORE_READ_STR_INTO(&e->ifname, dev, name);
	submit_event(e);
	return 0;
}

SEC("tracepoint/net/netif_receive_skb")
int netif_receive_skb(struct trace_event_raw_net_dev_template *ctx)
{
	return handle_packet((struct sk_buff *)ctx->skbaddr, SK_DIR_RX);
}

SEC("tracepoint/net/net_dev_start_xmit")
int net_dev_start_xmit(struct trace_event_raw_net_dev_start_xmit *ctx)
{
	return handle_packet((struct sk_buff *)ctx->skbaddr, SK_DIR_TX);
}
