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

/* --pcap: whether each packet's bytes are sent, and how many are kept from
 * its IP header on (--snaplen; its IP and TCP headers always). */
const volatile bool pcap_on = false;
const volatile __u32 pcap_snaplen = 0;

#define IFF_LOOPBACK_ 0x8

/* Where a packet's bytes are put together, one per execution context. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, struct sk_event_raw);
} raw_out SEC(".maps");

/* The addresses of the kernel's page_offset_base and vmemmap_base (from
 * /proc/kallsyms; 0: not randomised, the x86-64 defaults hold): where a
 * struct page's memory is in the direct map. */
const volatile __u64 ksym_page_offset_base = 0;
const volatile __u64 ksym_vmemmap_base = 0;

/* An skb fragment: struct skb_frag since Linux 6.9 (netmem: a struct page
 * pointer, or a net_iov with bit 0 set), struct bio_vec before. */
struct skb_frag___new {
	unsigned long netmem;
	unsigned int len;
	unsigned int offset;
} __attribute__((preserve_access_index));
struct bio_vec___old {
	struct page *bv_page;
	unsigned int bv_len;
	unsigned int bv_offset;
} __attribute__((preserve_access_index));

#define SK_PCAP_FRAGS 4 /* fragments read after the linear part */

/* Copies the first bytes of the packet, from its IP header, into out: its
 * headers, or pcap_snaplen bytes if more; from the linear part, then the
 * page fragments (where TCP puts the data it sends). Returns how many. */
static __always_inline __u32 read_packet(struct sk_buff *skb, const struct pkt *p, __u8 *out)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u32 nh = BPF_CORE_READ(skb, network_header);
	__u32 tail = BPF_CORE_READ(skb, tail);
	__u32 want = pcap_snaplen > p->hdr_len ? pcap_snaplen : p->hdr_len;
	if (want > p->ip_len)
		want = p->ip_len;
	if (want > SK_PCAP_MAX)
		want = SK_PCAP_MAX;
	__u32 n = tail > nh ? tail - nh : 0;
	if (n > want)
		n = want;
	/* Bounds the verifier sees (before 6.x it learns none from comparing
	 * two registers): barrier_var stops the compiler dropping the masks. */
	barrier_var(n);
	n &= SK_PCAP_MAX * 2 - 1;
	if (bpf_probe_read_kernel(out, n, head + nh))
		return 0;
	if (n >= want)
		return n;
	struct skb_shared_info *sh = (void *)(head + BPF_CORE_READ(skb, end));
	__u8 nr = BPF_CORE_READ(sh, nr_frags);
	__u64 pob = 0xffff888000000000ULL, vmb = 0xffffea0000000000ULL;
	if (ksym_page_offset_base)
		bpf_probe_read_kernel(&pob, sizeof(pob), (void *)ksym_page_offset_base);
	if (ksym_vmemmap_base)
		bpf_probe_read_kernel(&vmb, sizeof(vmb), (void *)ksym_vmemmap_base);
	void *frags = (void *)sh + bpf_core_field_offset(struct skb_shared_info, frags);
	const bool netmem = bpf_core_type_exists(struct skb_frag___new);
	const __u64 fsize = netmem ? bpf_core_type_size(struct skb_frag___new)
				   : bpf_core_type_size(struct bio_vec___old);
#pragma unroll
	for (int i = 0; i < SK_PCAP_FRAGS; i++) {
		if (i >= nr || n >= want)
			break;
		__u64 page;
		__u32 flen, foff;
		if (netmem) {
			struct skb_frag___new *f = frags + i * fsize;
			page = BPF_CORE_READ(f, netmem);
			flen = BPF_CORE_READ(f, len);
			foff = BPF_CORE_READ(f, offset);
			if (page & 1) /* a net_iov: device memory, no page */
				break;
		} else {
			struct bio_vec___old *f = frags + i * fsize;
			page = (__u64)BPF_CORE_READ(f, bv_page);
			flen = BPF_CORE_READ(f, bv_len);
			foff = BPF_CORE_READ(f, bv_offset);
		}
		if (page < vmb)
			break;
		__u64 addr = pob + ((page - vmb) / bpf_core_type_size(struct page)) * 4096 + foff;
		__u32 take = want - n;
		if (take > flen)
			take = flen;
		__u32 at = n;
		barrier_var(at);
		barrier_var(take);
		at &= SK_PCAP_MAX - 1;
		take &= SK_PCAP_MAX - 1;
		if (bpf_probe_read_kernel(out + at, take, (void *)addr))
			break;
		n = at + take;
	}
	return n;
}

/* --pcap: the packet as the device has it, with who it was sent or received
 * for: any segment of a traced flow, not only the handshake's. */
static __always_inline void send_raw(struct sk_buff *skb, const struct pkt *p, __u8 dir, __u8 ctxk,
				     struct net_device *dev)
{
	__u32 slot = ctxk;
	struct sk_event_raw *r = bpf_map_lookup_elem(&raw_out, &slot);
	if (!r)
		return;
	__builtin_memset(r, 0, sizeof(r->ev) + sizeof(r->raw));
	struct sk_event *e = &r->ev;
	fill_event(e, SK_PKT_RAW, ctxk);
	put_tuple(e, &p->t);
	e->dir = dir;
	e->tcp_flags = p->flags;
	e->seq = p->seq;
	e->ack_seq = p->ack_seq;
	e->window = p->window;
	e->payload_len = p->payload_len;
	e->ifindex = BPF_CORE_READ(dev, ifindex);
	BPF_CORE_READ_STR_INTO(&e->ifname, dev, name);
	/* The listener on the local port, if any: a handshake packet's comment
	 * names it and its owner's state. */
	put_listener(e, p->t.netns, dir == SK_DIR_TX ? p->t.sport : p->t.dport);
	if (e->owner_flags & SK_OWNER_KNOWN) {
		__u64 lskv = e->lsk;
		struct listener_info *l = bpf_map_lookup_elem(&listeners, &lskv);
		if (l) {
			struct task_struct *owner = (struct task_struct *)l->task;
			BPF_CORE_READ_STR_INTO(&r->raw.owner_comm, owner, comm);
		}
	}
	r->raw.syscall = ctxk == SK_CTX_PROCESS
			     ? task_syscall((struct task_struct *)bpf_get_current_task())
			     : -1;
	r->raw.len = p->ip_len;
	r->raw.loopback = (BPF_CORE_READ(dev, flags) & IFF_LOOPBACK_) != 0;
	__u32 caplen = 0;
	/* A loopback packet arriving is the one just sent: its bytes went then. */
	if (!(r->raw.loopback && dir == SK_DIR_RX))
		caplen = read_packet(skb, p, r->data);
	barrier_var(caplen);
	caplen &= SK_PCAP_MAX * 2 - 1;
	r->raw.caplen = caplen;
	__u64 total = sizeof(r->ev) + sizeof(r->raw) + caplen;
	if (total > sizeof(*r))
		return;
	if (bpf_ringbuf_output(&events, r, total, 0))
		count_drop(SK_DROP_RINGBUF_FULL);
	else
		count_drop(SK_COUNT_SENT);
}

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
	if (pcap_on)
		send_raw(skb, &p, dir, ctxk, dev);
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
