/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The IP and TCP headers of an skb, read as bytes in their wire formats:
 * the packet tracepoints and tcp_conn_request's SYN both need them.
 */
#ifndef SOCKSCOPE_SKB_BPF_H
#define SOCKSCOPE_SKB_BPF_H

#include "common.bpf.h"

struct pkt {
	struct sk_tuple t;
	__u32 seq;
	__u32 ack_seq;
	__u16 window;
	__u16 payload_len;
	__u16 hdr_len; /* the IP and TCP headers' */
	__u16 ip_len;  /* the packet's, from its IP header on */
	__u8 flags;    /* SK_TCP_* */
};

/* Parse the IP and TCP headers of an skb whose network header is set. */
static __always_inline bool parse_tcp(struct sk_buff *skb, struct pkt *p)
{
	__u16 proto = bpf_ntohs(BPF_CORE_READ(skb, protocol));
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	unsigned char *ip = head + nh;
	__u32 ip_hlen, ip_len;

	if (proto == ETH_P_IP) {
		__u8 h[20];
		if (bpf_probe_read_kernel(h, sizeof(h), ip))
			return false;
		if ((h[0] >> 4) != 4 || h[9] != IPPROTO_TCP)
			return false;
		/* Only the first fragment has the TCP header. */
		if ((((__u16)h[6] << 8) | h[7]) & 0x1fff)
			return false;
		ip_hlen = (h[0] & 0xf) * 4;
		ip_len = ((__u32)h[2] << 8) | h[3];
		p->t.family = AF_INET;
		__builtin_memcpy(p->t.saddr, &h[12], 4);
		__builtin_memcpy(p->t.daddr, &h[16], 4);
	} else if (proto == ETH_P_IPV6) {
		__u8 h[40];
		if (bpf_probe_read_kernel(h, sizeof(h), ip))
			return false;
		/* Extension headers before TCP are not followed. */
		if ((h[0] >> 4) != 6 || h[6] != IPPROTO_TCP)
			return false;
		ip_hlen = 40;
		ip_len = 40 + (((__u32)h[4] << 8) | h[5]);
		p->t.family = AF_INET6;
		__builtin_memcpy(p->t.saddr, &h[8], 16);
		__builtin_memcpy(p->t.daddr, &h[24], 16);
	} else {
		return false;
	}

	__u8 th[20];
	if (bpf_probe_read_kernel(th, sizeof(th), ip + ip_hlen))
		return false;
	p->t.sport = ((__u16)th[0] << 8) | th[1];
	p->t.dport = ((__u16)th[2] << 8) | th[3];
	p->seq = ((__u32)th[4] << 24) | ((__u32)th[5] << 16) | ((__u32)th[6] << 8) | th[7];
	p->ack_seq = ((__u32)th[8] << 24) | ((__u32)th[9] << 16) | ((__u32)th[10] << 8) | th[11];
	__u32 th_len = (th[12] >> 4) * 4;
	p->flags = th[13];
	p->window = ((__u16)th[14] << 8) | th[15];
	p->payload_len = ip_len > ip_hlen + th_len ? ip_len - ip_hlen - th_len : 0;
	p->hdr_len = ip_hlen + th_len;
	p->ip_len = ip_len;
	return true;
}

#endif /* SOCKSCOPE_SKB_BPF_H */
