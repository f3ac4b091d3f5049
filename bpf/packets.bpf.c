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

/* Holds a handshake packet for the next record of its flow (explain_mode;
 * common.bpf.h, folds). The final ACK going out is never held: after the
 * client's socket is established nothing more is told of the client host's
 * side of the flow, so no record would come to carry it. False when the
 * packet is to be sent by itself: not one that is held, its slot is taken
 * (a retransmission: it carries the held ones out), no room, or its flow
 * was deleted while it was written (a record took the flow's other packets
 * meanwhile; the copy left in the deleted entry is never sent, or fails
 * userspace's port check if the entry was reused by another flow). */
static __always_inline bool fold_packet(const struct pkt *p, __u8 dir, __u8 ctxk,
					struct net_device *dev)
{
	__u32 kind;
	if ((p->flags & (SK_TCP_SYN | SK_TCP_ACK)) == SK_TCP_SYN)
		kind = 0;
	else if (p->flags & SK_TCP_SYN)
		kind = 1;
	else if (dir == SK_DIR_RX && !(p->flags & (SK_TCP_FIN | SK_TCP_RST)))
		kind = 2;
	else
		return false;
	struct sk_fold_key k;
	bool from_b = make_fold_key(&p->t, &k);
	struct sk_fold *f = bpf_map_lookup_elem(&folds, &k);
	if (!f) {
		__u32 zero = 0;
		struct sk_fold *z = bpf_map_lookup_elem(&fold_zero, &zero);
		if (!z)
			return false;
		bpf_map_update_elem(&folds, &k, z, BPF_NOEXIST);
		f = bpf_map_lookup_elem(&folds, &k);
		if (!f)
			return false;
	}
	struct sk_pkt *s = &f->p[(kind * 2 + (dir == SK_DIR_RX)) % SK_FOLD_SLOTS];
	if (__sync_val_compare_and_swap(&s->state, SK_SLOT_FREE, SK_SLOT_WRITING) != SK_SLOT_FREE)
		return false;
	__u64 id = current_id();
	s->ts_ns = bpf_ktime_get_ns();
	s->pid = id >> 32;
	s->tid = (__u32)id;
	s->cpu = bpf_get_smp_processor_id();
	s->ctx = ctxk;
	s->netns = p->t.netns;
	s->family = p->t.family;
	s->sport = p->t.sport;
	s->dport = p->t.dport;
	s->tcp_flags = p->flags;
	s->dir = dir;
	s->payload_len = p->payload_len;
	s->ifindex = BPF_CORE_READ(dev, ifindex);
	s->owner_flags = from_b ? SK_PKT_KEY_B : 0;
	s->queue_len = 0;
	s->queue_max = 0;
	/* A SYN coming in: its listener's accept queue (see handle_packet). */
	if (kind == 0 && dir == SK_DIR_RX) {
		struct sock *lsk = find_listener(p->t.netns, p->t.dport, p->t.family, NULL);
		if (lsk) {
			s->owner_flags |= SK_LISTENER_FOUND;
			s->queue_len = BPF_CORE_READ(lsk, sk_ack_backlog);
			s->queue_max = BPF_CORE_READ(lsk, sk_max_ack_backlog);
		}
	}
	current_comm(s->comm);
	BPF_CORE_READ_STR_INTO(&s->ifname, dev, name);
	/* A fully ordered atomic: the fields are written before it says so. */
	__sync_val_compare_and_swap(&s->state, SK_SLOT_WRITING, SK_SLOT_HELD);
	return bpf_map_lookup_elem(&folds, &k) == f;
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
	if (explain_mode && fold_packet(&p, dir, ctxk, dev))
		return 0;

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
	submit_folding(e, sizeof(*e), &p.t, ctxk);
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
