/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel-only helpers shared by every sockscope BPF object: the maps, the
 * load-time filters, event reservation and the execution-context capture.
 *
 * The .bpf.c files are compiled separately and linked by `bpftool gen object`.
 * Maps and filter globals are defined here as __weak so that each object
 * carries an identical definition and the linker merges them into one.
 */
#ifndef SOCKSCOPE_COMMON_BPF_H
#define SOCKSCOPE_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "sockscope.h"

#define AF_INET	    2
#define AF_INET6    10
#define SOCK_STREAM 1
#define S_IFMT	    00170000
#define S_IFSOCK    0140000
#define ETH_P_IP    0x0800
#define ETH_P_IPV6  0x86DD

/* ---- load-time filters (rodata, set by userspace before load; 0 = off) ---- */

/* Only sockets of traced tasks (traced_tgids, or targ_comm) are reported. */
const volatile bool filter_by_task __weak = false;
/* Children forked by traced tasks become traced (spawned commands). */
const volatile bool follow_children __weak = false;
const volatile char targ_comm[SK_COMM_LEN] __weak = {};
const volatile __u16 targ_family __weak = 0;
const volatile __u32 targ_nports __weak = 0;
const volatile __u16 targ_ports[SK_MAX_FILTER_PORTS] __weak = {};

/* explain: the kernel sends only the records a connection's story is made
 * of (userspace/track ignores the rest: socket(), listen()'s syscall, the
 * close() of a connected socket, and state changes the stories do not tell).
 * trace sends every record. */
const volatile bool explain_mode __weak = false;

/* Which backend serves each hook (enum sk_hook -> enum sk_backend), written
 * by userspace once the function probes are attached: the tracepoint path
 * stays quiet for a hook a function probe serves (0: the tracepoint path). */
volatile __u8 hook_backend[SK_HOOKS] __weak = {};

static __always_inline bool fallback_serves(__u32 hook)
{
	return hook < SK_HOOKS && hook_backend[hook] == SK_BACKEND_TRACEPOINT;
}

/* Kernel addresses of the wake functions (enum sk_wake_fn, sockscope.h). */
const volatile __u64 wake_fns[SK_WAKE_FNS] __weak = {};

/* ---- maps ---- */

/* What a function probe on inet_csk_accept saw, per thread, for the
 * syscall-exit path to report with the new fd (only the syscall knows it).
 * LRU-bounded: an in-kernel accept with no syscall exit ages out. */
struct accept_seen {
	__u64 ts;
	__u64 child;
	__u32 queue_len;
	__u32 queue_max;
	__u32 rx_queued;
	__u8 backend;
	__u8 pad[3];
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct accept_seen);
} accept_reported SEC(".maps") __weak;

/* Every record for userspace; size set by userspace (--ringbuf-size). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps") __weak;

/* Lost records, per cause (enum sk_drop_cause), per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SK_DROP_CAUSES);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps") __weak;

/* Whether this CPU is serving a softirq or a hardirq right now. */
struct cpu_ctx {
	__u32 softirq_vec; /* vector + 1 while in a softirq, 0 outside */
	__u32 hardirq_depth;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_ctx);
} cpu_ctxs SEC(".maps") __weak;

/* Task filter: tgids to trace (--pid, spawned command and its children).
 * Bounded: userspace adds at most SK_MAX_PIDS; children are removed on exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u8);
} traced_tgids SEC(".maps") __weak;

struct port_key {
	__u32 netns;
	__u16 port; /* host byte order */
	__u16 pad;
};

/* Task filter: local endpoints (netns, port) of the traced tasks' sockets,
 * so that softirq work on them (which runs in any task's context) is kept.
 * LRU: an entry whose close was missed is evicted, never leaked. */
struct tracked_sock {
	__u64 sk;
	__u32 tgid;
	__u32 pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct port_key);
	__type(value, struct tracked_sock);
} tracked_ports SEC(".maps") __weak;

/* Listening sockets: the owner (the task that called listen()), read for
 * the owner's state. LRU-bounded; keyed by socket, since several listen on
 * one port (SO_REUSEPORT groups, 0.0.0.0:P beside [::]:P). */
struct listener_info {
	__u64 task; /* task_struct of the owner, checked against tgid before use */
	__u32 tgid;
	__u32 pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct listener_info);
} listeners SEC(".maps") __weak;

/* The listening sockets on each (netns, port), for the paths that know a
 * port but not the socket (a SYN on the wire, a child's state change). */
#define SK_PORT_LISTENERS 8
struct port_listeners {
	__u64 sk[SK_PORT_LISTENERS];
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct port_key);
	__type(value, struct port_listeners);
} port_listeners SEC(".maps") __weak;

/* Threads blocked in accept(), per listening socket: how many. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} accepting SEC(".maps") __weak;

/* Network namespace inode numbers by netns cookie. sock_ops programs can only
 * ask for the cookie (bpf_get_netns_cookie); every other record names the
 * namespace by inode number. Filled when a socket starts listening. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u32);
} netns_by_cookie SEC(".maps") __weak;

/* ---- helpers ---- */

/* Lost records, n at once (a folded record counts as those it stood for). */
static __always_inline void count_drops(__u32 cause, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(&drops, &cause);
	if (c)
		__sync_fetch_and_add(c, n);
}

static __always_inline void count_drop(__u32 cause)
{
	count_drops(cause, 1);
}

static __always_inline __u8 exec_ctx(void)
{
	__u32 zero = 0;
	struct cpu_ctx *c = bpf_map_lookup_elem(&cpu_ctxs, &zero);
	if (!c)
		return SK_CTX_PROCESS;
	if (c->hardirq_depth)
		return SK_CTX_IRQ;
	if (c->softirq_vec)
		return SK_CTX_SOFTIRQ;
	return SK_CTX_PROCESS;
}

/* The current task. sock_ops programs may not call bpf_get_current_pid_tgid
 * or bpf_get_current_comm before Linux 6.10 ("unknown func" on 6.1, "cannot
 * use helper" on 6.12), so sockops.bpf.c, built with SK_SOCK_OPS, reads the
 * task_struct instead; every other program uses the helpers, which cost a
 * fraction of those reads on paths that run for every packet. */
#ifdef SK_SOCK_OPS
static __always_inline __u64 current_id(void)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	return ((__u64)BPF_CORE_READ(t, tgid) << 32) | (__u32)BPF_CORE_READ(t, pid);
}

static __always_inline void current_comm(char comm[SK_COMM_LEN])
{
	struct task_struct *t = (void *)bpf_get_current_task();
	bpf_core_read_str(comm, SK_COMM_LEN, &t->comm);
}
#else
static __always_inline __u64 current_id(void)
{
	return bpf_get_current_pid_tgid();
}

static __always_inline void current_comm(char comm[SK_COMM_LEN])
{
	bpf_get_current_comm(comm, SK_COMM_LEN);
}
#endif

static __always_inline __u32 current_tgid(void)
{
	return current_id() >> 32;
}

static __always_inline bool comm_matches(void)
{
	char comm[SK_COMM_LEN] = {};
	current_comm(comm);
#pragma unroll
	for (int i = 0; i < SK_COMM_LEN; i++) {
		if (comm[i] != targ_comm[i])
			return false;
		if (comm[i] == 0)
			return true;
	}
	return true;
}

/* Is the current task one we trace? True when no task filter is set. */
static __always_inline bool task_traced(void)
{
	if (!filter_by_task)
		return true;
	__u32 tgid = current_tgid();
	if (bpf_map_lookup_elem(&traced_tgids, &tgid))
		return true;
	return targ_comm[0] && comm_matches();
}

static __always_inline bool family_passes(__u16 family)
{
	return !targ_family || family == targ_family;
}

static __always_inline bool ports_pass(__u16 a, __u16 b)
{
	if (!targ_nports)
		return true;
#pragma unroll
	for (int i = 0; i < SK_MAX_FILTER_PORTS; i++) {
		if (i >= targ_nports)
			break;
		if (targ_ports[i] == a || targ_ports[i] == b)
			return true;
	}
	return false;
}

/* Task filter for events that may run in a borrowed context: kept when the
 * local endpoint belongs to a traced task, or when the traced task itself
 * is running it (process context). */
static __always_inline bool endpoint_traced(__u32 netns, __u16 lport, __u8 ctx)
{
	if (!filter_by_task)
		return true;
	struct port_key k = {.netns = netns, .port = lport};
	if (bpf_map_lookup_elem(&tracked_ports, &k))
		return true;
	return ctx == SK_CTX_PROCESS && task_traced();
}

static __always_inline void track_endpoint(__u32 netns, __u16 lport, __u64 sk)
{
	if (!filter_by_task || !lport)
		return;
	struct port_key k = {.netns = netns, .port = lport};
	struct tracked_sock v = {.sk = sk, .tgid = current_tgid()};
	if (bpf_map_update_elem(&tracked_ports, &k, &v, BPF_ANY))
		count_drop(SK_DROP_TRACKED_FULL);
}

static __always_inline void untrack_endpoint(__u32 netns, __u16 lport, __u64 sk)
{
	if (!filter_by_task)
		return;
	struct port_key k = {.netns = netns, .port = lport};
	struct tracked_sock *v = bpf_map_lookup_elem(&tracked_ports, &k);
	if (v && v->sk == sk)
		bpf_map_delete_elem(&tracked_ports, &k);
}

/* What every record carries, into a zeroed one. */
static __always_inline void fill_event(struct sk_event *e, __u32 kind, __u8 ctx)
{
	__u64 id = current_id();
	e->kind = kind;
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->cpu = bpf_get_smp_processor_id();
	e->ctx = ctx;
	current_comm(e->comm);
}

/* Reserve a record and fill what every record carries. */
static __always_inline struct sk_event *reserve_event(__u32 kind, __u8 ctx)
{
	struct sk_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(SK_DROP_RINGBUF_FULL);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	fill_event(e, kind, ctx);
	return e;
}

/* Wake the reader once per 64 KiB of waiting records, not per record: a
 * wakeup costs the traced workload an irq_work (a self-IPI, and in a VM an
 * exit) each time. Edge-triggered: only the record whose bytes cross a
 * 64 KiB boundary of the waiting data wakes it, so a reader that is slow to
 * run is not woken again for every record meanwhile. A crossing missed in a
 * race between CPUs is made up at the next boundary, and userspace drains on
 * a short timer too, so a quiet stream still shows up at once (tracer.cpp). */
#define SK_WAKEUP_SHIFT 16
#define SK_RECORD_BYTES                                                                            \
	((sizeof(struct sk_event) + 8 + 7) & ~7ULL) /* with the ring's 8-byte header */

static __always_inline void submit_event(void *e)
{
	__u64 waiting = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	bool crossed =
	    waiting >= SK_RECORD_BYTES &&
	    (waiting >> SK_WAKEUP_SHIFT) != ((waiting - SK_RECORD_BYTES) >> SK_WAKEUP_SHIFT);
	bpf_ringbuf_submit(e, crossed ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	count_drop(SK_COUNT_SENT);
}

/* ---- reading sockets ---- */

static __always_inline __u32 sock_netns(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* A socket's 4-tuple, as the kernel holds it now. */
struct sk_tuple {
	__u32 netns;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u16 pad;
	__u8 saddr[16];
	__u8 daddr[16];
};

static __always_inline void read_tuple(const struct sock *sk, struct sk_tuple *t)
{
	t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	t->netns = sock_netns(sk);
	/* Explicit sizes: BPF_CORE_READ_INTO would copy sizeof(*dst), one byte. */
	if (t->family == AF_INET) {
		bpf_core_read(t->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(t->daddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(t->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(t->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

static __always_inline void put_tuple(struct sk_event *e, const struct sk_tuple *t)
{
	e->netns = t->netns;
	e->family = t->family;
	e->sport = t->sport;
	e->dport = t->dport;
	__builtin_memcpy(e->saddr, t->saddr, 16);
	__builtin_memcpy(e->daddr, t->daddr, 16);
}

/* ---- packets folded into later records (explain_mode) ----
 * A handshake's packets are held per flow and sent inside the next record
 * about that flow (sockscope.h, struct sk_pkt): the request socket made, the
 * client established, the child queued, a SYN-ACK retransmitted, a state
 * change, a packet that is not held. The flow is its two endpoints in a
 * fixed order, whatever the namespace, so that across a veth pair the
 * client's packets are held with the server's. Tracing programs may not
 * take a bpf_spin_lock: each held packet has a slot of its own (by kind and
 * direction) whose state moves 0 (free) -> 1 (being written) -> 2 (held)
 * -> 3 (being taken) -> 0 by compare-and-swap, so a packet is written by
 * one program and taken by one. A flow whose slots are all free again is
 * deleted; userspace sends on the packets of a flow that no record came
 * for (probes/tracer.cpp, sweep_held). */
/* A plain hash, not an LRU: a held packet is never evicted unseen. Full,
 * a packet is sent by itself. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct sk_fold_key);
	__type(value, struct sk_fold);
} folds SEC(".maps") __weak;

/* A new flow's empty slots, copied from here (never written). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sk_fold);
} fold_zero SEC(".maps") __weak;

/* A record with its folded packets is put together here, one per
 * execution context (a softirq may interrupt a process-context program). */
#define SK_FOLD_BUF (sizeof(struct sk_event_waiters) + 8 * sizeof(struct sk_pkt))
struct fold_buf {
	__u8 b[SK_FOLD_BUF];
	__u32 n;    /* take_held's count */
	__u32 busy; /* and the states of the slots it could not take */
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, struct fold_buf);
} fold_out SEC(".maps") __weak;

static __always_inline bool v4_mapped(const __u8 *a)
{
	__u64 lo;
	__u32 mid;
	__builtin_memcpy(&lo, a, 8);
	__builtin_memcpy(&mid, a + 8, 4);
	return !lo && mid == bpf_htonl(0xffff);
}

/* The flow of tuple t, and whether t's local end is the key's b. An
 * IPv4-mapped IPv6 socket (a dual-stack listener's child) is the IPv4 flow
 * its packets are. */
static __always_inline bool make_fold_key(const struct sk_tuple *t, struct sk_fold_key *k)
{
	/* Any fixed order will do: ports, then the addresses as two words.
	 * Straight-line on purpose: each branch here is a path the verifier
	 * walks through the rest of the program. */
	__u64 s0, s1, d0, d1;
	__builtin_memcpy(&s0, t->saddr, 8);
	__builtin_memcpy(&s1, t->saddr + 8, 8);
	__builtin_memcpy(&d0, t->daddr, 8);
	__builtin_memcpy(&d1, t->daddr + 8, 8);
	bool swap = t->sport != t->dport ? t->sport > t->dport : s0 != d0 ? s0 > d0 : s1 > d1;
	const __u8 *a = swap ? t->daddr : t->saddr, *b = swap ? t->saddr : t->daddr;
	__builtin_memset(k, 0, sizeof(*k));
	k->family = t->family;
	k->aport = swap ? t->dport : t->sport;
	k->bport = swap ? t->sport : t->dport;
	if (t->family == AF_INET6 && v4_mapped(t->saddr) && v4_mapped(t->daddr)) {
		k->family = AF_INET;
		__builtin_memcpy(k->a, a + 12, 4);
		__builtin_memcpy(k->b, b + 12, 4);
	} else if (t->family == AF_INET) {
		__builtin_memcpy(k->a, a, 4);
		__builtin_memcpy(k->b, b, 4);
	} else {
		__builtin_memcpy(k->a, a, 16);
		__builtin_memcpy(k->b, b, 16);
	}
	return swap;
}

/* Moves the flow's held packets into buf at off, as a record whose local
 * end is the key's b (swapped) or a carries them; deletes the flow once all
 * its slots are free. Returns how many. The count and the busy slots are
 * kept in buf, not in registers: the verifier then sees the same state after
 * each slot, taken or not, and walks the rest of the program once, not once
 * per combination (2^6 of them: too many for Linux 6.1's verifier). */
static __always_inline __u32 take_held(struct sk_fold_key *k, struct sk_fold *f,
				       struct fold_buf *buf, __u32 off, bool swapped)
{
	buf->n = 0;
	buf->busy = 0;
#pragma unroll
	for (int i = 0; i < SK_FOLD_SLOTS; i++) {
		struct sk_pkt *s = &f->p[i];
		if (__sync_val_compare_and_swap(&s->state, SK_SLOT_HELD, SK_SLOT_TAKING) !=
		    SK_SLOT_HELD) {
			*(volatile __u32 *)&buf->busy |= s->state;
			continue;
		}
		__u32 n = *(volatile __u32 *)&buf->n;
		struct sk_pkt *d = (void *)(buf->b + off + (n & 7) * sizeof(struct sk_pkt));
		__builtin_memcpy(d, s, sizeof(*d));
		d->state = 0;
		d->owner_flags =
		    (d->owner_flags & SK_LISTENER_FOUND) |
		    (!!(d->owner_flags & SK_PKT_KEY_B) != swapped ? SK_PKT_REVERSED : 0);
		s->state = SK_SLOT_FREE;
		*(volatile __u32 *)&buf->n = n + 1;
	}
	if (!*(volatile __u32 *)&buf->busy)
		bpf_map_delete_elem(&folds, k);
	return *(volatile __u32 *)&buf->n;
}

/* Submits the reserved record rec, of size bytes (a constant: struct
 * sk_event or sk_event_waiters) about tuple t, with the packets its flow
 * holds folded in (explain_mode); plainly when there are none. */
static __always_inline void submit_folding(void *rec, __u32 size, const struct sk_tuple *t,
					   __u8 ctxk)
{
	if (!explain_mode) {
		submit_event(rec);
		return;
	}
	struct sk_fold_key k;
	bool swapped = make_fold_key(t, &k);
	struct sk_fold *f = bpf_map_lookup_elem(&folds, &k);
	__u32 slot = ctxk;
	struct fold_buf *buf = f ? bpf_map_lookup_elem(&fold_out, &slot) : NULL;
	if (!buf) {
		submit_event(rec);
		return;
	}
	__u32 n = take_held(&k, f, buf, size, swapped);
	if (!n) {
		submit_event(rec);
		return;
	}
	__builtin_memcpy(buf->b, rec, size);
	((struct sk_event *)buf->b)->folded = n;
	bpf_ringbuf_discard(rec, BPF_RB_NO_WAKEUP);
	__u64 total = size + (__u64)(n & 7) * sizeof(struct sk_pkt);
	if (total > SK_FOLD_BUF)
		return;
	__u64 waiting = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	bool crossed = (waiting >> SK_WAKEUP_SHIFT) != ((waiting + total + 8) >> SK_WAKEUP_SHIFT);
	if (bpf_ringbuf_output(&events, buf->b, total,
			       crossed ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP))
		count_drops(SK_DROP_RINGBUF_FULL, n + 1);
	else
		count_drop(SK_COUNT_SENT);
}

/* A syscall between its entry and exit, per thread (syscalls.bpf.c; the
 * function probes read the fd from it). LRU: a thread that dies mid-call
 * cannot leak an entry. */
struct inflight {
	__u64 ts;
	__u64 sk;
	__u32 kind;
	__s32 fd;
	__u32 arg;	       /* listen: backlog; accept: the syscall's number */
	__u32 flags;	       /* record flags for the exit: SK_NONBLOCK */
	__u64 uptr;	       /* getsockopt: the user's optval */
	struct sk_tuple tuple; /* bind/connect: the user's address; close: the socket's */
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct inflight);
} inflight SEC(".maps") __weak;

/* The file behind a file descriptor of the current task, or NULL. */
static __always_inline struct file *fd_file(int fd)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

#define O_NONBLOCK_ 04000

/* The TCP socket behind an open file, or NULL when it is not an IPv4/IPv6
 * TCP socket. */
static __always_inline struct sock *tcp_sock_of_file(struct file *f)
{
	if (!f)
		return NULL;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return NULL;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return NULL;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return NULL;
	return sk;
}

/* The TCP socket behind a file descriptor of the current task, or NULL
 * when the fd is not an IPv4/IPv6 TCP socket. */
static __always_inline struct sock *tcp_sock_from_fd(int fd)
{
	return tcp_sock_of_file(fd_file(fd));
}

/* SK_NONBLOCK when the file is O_NONBLOCK. */
static __always_inline __u8 file_nonblock_flag(struct file *f)
{
	return BPF_CORE_READ(f, f_flags) & O_NONBLOCK_ ? SK_NONBLOCK : 0;
}

/* task_struct::state was renamed __state in 5.14. */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline __u32 task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

/* The inode number of a socket's file: what `ss -e`, lsof and /proc/PID/fd
 * ("socket:[N]") name it by. */
static __always_inline __u32 sock_ino(const struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
}

/* Puts listening socket sk in its port's slots (once), so that the paths
 * that know a port but not the socket find it. */
static __always_inline void learn_listener(struct sock *sk, __u32 netns, __u16 port)
{
	__u64 skv = (__u64)sk;
	struct port_key k = {.netns = netns, .port = port};
	struct port_listeners *pl = bpf_map_lookup_elem(&port_listeners, &k);
	if (!pl) {
		struct port_listeners fresh = {.sk = {skv}};
		bpf_map_update_elem(&port_listeners, &k, &fresh, BPF_NOEXIST);
		return;
	}
	/* A slot of its own, or a free one; a port with more listeners than
	 * slots has the rest found by nothing but their own records. */
	int free = -1;
#pragma unroll
	for (int i = 0; i < SK_PORT_LISTENERS; i++) {
		if (pl->sk[i] == skv)
			return;
		if (!pl->sk[i] && free < 0)
			free = i;
	}
	if (free >= 0)
		pl->sk[free & (SK_PORT_LISTENERS - 1)] = skv;
}

/* Which listening socket on (netns, port) a child or a SYN belongs to.
 * A child was queued on the listener whose accept-queue tail it is, at the
 * moment its state changes; otherwise the first of the family, or any. */
static __always_inline struct sock *find_listener(__u32 netns, __u16 port, __u16 family,
						  const struct sock *child)
{
	struct port_key k = {.netns = netns, .port = port};
	struct port_listeners *pl = bpf_map_lookup_elem(&port_listeners, &k);
	if (!pl)
		return NULL;
	__u64 same_family = 0, any = 0;
#pragma unroll
	for (int i = 0; i < SK_PORT_LISTENERS; i++) {
		__u64 s = pl->sk[i];
		if (!s)
			continue;
		struct inet_connection_sock *icsk = (void *)s;
		if (child) {
			struct request_sock *tail =
			    BPF_CORE_READ(icsk, icsk_accept_queue.rskq_accept_tail);
			if (tail && BPF_CORE_READ(tail, sk) == child)
				return (struct sock *)s;
		}
		if (!same_family &&
		    BPF_CORE_READ(icsk, icsk_inet.sk.__sk_common.skc_family) == family)
			same_family = s;
		if (!any)
			any = s;
	}
	return (struct sock *)(same_family ? same_family : any);
}

/* Accept-queue figures and the owner's state for the listener lsk. */
static __always_inline void put_listener_sk(struct sk_event *e, struct sock *lsk)
{
	if (!lsk)
		return;
	__u64 lskv = (__u64)lsk;
	e->owner_flags |= SK_LISTENER_FOUND;
	e->lsk = lskv;
	e->sock_ino = sock_ino(lsk);
	e->queue_len = BPF_CORE_READ(lsk, sk_ack_backlog);
	e->queue_max = BPF_CORE_READ(lsk, sk_max_ack_backlog);
	struct listener_info *l = bpf_map_lookup_elem(&listeners, &lskv);
	if (l) {
		struct task_struct *owner = (struct task_struct *)l->task;
		/* The saved task may have exited and been reused: trust it only
		 * while its tgid is still the owner's. */
		if (owner && BPF_CORE_READ(owner, tgid) == l->tgid) {
			e->owner_pid = l->tgid;
			e->owner_state = task_state(owner);
			e->owner_flags |= SK_OWNER_KNOWN;
		}
	}
	__u32 *waiting = bpf_map_lookup_elem(&accepting, &lskv);
	if (waiting && *waiting)
		e->owner_flags |= SK_OWNER_IN_ACCEPT;
}

/* The same for a listener known only by (netns, port). */
static __always_inline void put_listener(struct sk_event *e, __u32 netns, __u16 port)
{
	put_listener_sk(e, find_listener(netns, port, e->family, NULL));
}

/* ---- who waits on a socket ----
 * A socket's wait queue (sk->sk_wq->wait) holds one entry per waiter, and
 * the entry's wake function says what kind it is: a task asleep in accept()
 * or connect() itself (private = the task), an epoll instance watching it
 * (struct eppoll_entry: the tasks in epoll_wait() are on that instance's
 * own queue), a poll()/select() table (struct poll_wqueues: polling_task),
 * or an io_uring request (private = the request, its ring's task). Read at
 * the moment the kernel is about to wake them: what was, not a guess.
 * Walked with bpf_loop so that the verifier checks one step, not every
 * length of the queue. */
#define SK_WAIT_WALK	   32 /* wait-queue entries read on one socket */
#define SK_EPOLL_WAITERS   4  /* tasks read on one epoll instance's queue */
#define WQ_FLAG_EXCLUSIVE_ 0x01

/* One scratch set per execution context: a softirq may interrupt a
 * process-context program on the same CPU, never itself. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, struct sk_waiters);
} waiter_scratch SEC(".maps") __weak;

/* The syscall a task is in: its pt_regs sit at the top of its kernel stack
 * (x86-64: THREAD_SIZE 16 KiB, below a 16-byte pad with FRED). Trusted only
 * when the saved CS is a user one, i.e. the task entered from user space. */
static __always_inline __s32 task_syscall(struct task_struct *task)
{
	__u64 top = (__u64)BPF_CORE_READ(task, stack) + 16384;
	__u64 size = bpf_core_type_size(struct pt_regs);
#pragma unroll
	for (int pad = 0; pad <= 16; pad += 16) {
		struct pt_regs *regs = (struct pt_regs *)(top - pad - size);
		__u16 cs = 0;
		bpf_probe_read_kernel(&cs, sizeof(cs),
				      (void *)regs + bpf_core_field_offset(struct pt_regs, cs));
		if (cs == 0x33 || cs == 0x23)
			return (__s32)BPF_CORE_READ(regs, orig_ax);
	}
	return -1;
}

static __always_inline void add_waiter(struct sk_waiters *out, struct task_struct *task, __u8 via,
				       __u8 exclusive)
{
	if (!task) {
		out->flags |= SK_WAITERS_UNKNOWN;
		return;
	}
	__u32 n = out->count;
	if (n >= SK_MAX_WAITERS) {
		out->flags |= SK_WAITERS_TRUNCATED;
		return;
	}
	struct sk_waiter *w = &out->w[n & (SK_MAX_WAITERS - 1)];
	w->tgid = BPF_CORE_READ(task, tgid);
	w->tid = BPF_CORE_READ(task, pid);
	w->state = task_state(task);
	w->via = via;
	w->exclusive = exclusive;
	w->syscall = task_syscall(task);
	bpf_core_read_str(w->comm, sizeof(w->comm), &task->comm);
	out->count = n + 1;
}

/* io_kiocb::task became io_kiocb::tctx->task in 6.13. */
struct io_kiocb___pre613 {
	struct task_struct *task;
} __attribute__((preserve_access_index));

static __always_inline struct task_struct *io_req_task(void *req)
{
	struct io_kiocb *r = req;
	if (bpf_core_field_exists(r->tctx))
		return BPF_CORE_READ(r, tctx, task);
	return BPF_CORE_READ((struct io_kiocb___pre613 *)req, task);
}

struct wait_walk {
	__u64 head; /* &wq->wait.head */
	__u64 pos;
	__u32 slot;
};

static long walk_wait_entry(__u32 i, struct wait_walk *ww)
{
	if (!ww->pos || ww->pos == ww->head)
		return 1;
	__u32 slot = ww->slot;
	struct sk_waiters *out = bpf_map_lookup_elem(&waiter_scratch, &slot);
	if (!out)
		return 1;
	struct wait_queue_entry *we =
	    (void *)(ww->pos - bpf_core_field_offset(struct wait_queue_entry, entry));
	__u64 func = (__u64)BPF_CORE_READ(we, func);
	void *priv = BPF_CORE_READ(we, private);
	__u8 excl = BPF_CORE_READ(we, flags) & WQ_FLAG_EXCLUSIVE_;
	out->entries++;
	if (!func) {
		out->flags |= SK_WAITERS_UNKNOWN;
	} else if (func == wake_fns[SK_WAKE_AUTOREMOVE] || func == wake_fns[SK_WAKE_WOKEN] ||
		   func == wake_fns[SK_WAKE_DEFAULT]) {
		add_waiter(out, priv, SK_WAIT_TASK, excl);
	} else if (func == wake_fns[SK_WAKE_EPOLL]) {
		struct eppoll_entry *pe =
		    (void *)((__u64)we - bpf_core_field_offset(struct eppoll_entry, wait));
		struct eventpoll *ep = BPF_CORE_READ(pe, base, ep);
		__u64 head = (__u64)ep + bpf_core_field_offset(struct eventpoll, wq) +
			     bpf_core_field_offset(struct wait_queue_head, head);
		__u64 pos = (__u64)BPF_CORE_READ(ep, wq.head.next);
		int tasks = 0;
#pragma unroll
		for (int j = 0; j < SK_EPOLL_WAITERS; j++) {
			if (!pos || pos == head)
				break;
			struct wait_queue_entry *te =
			    (void *)(pos - bpf_core_field_offset(struct wait_queue_entry, entry));
			add_waiter(out, BPF_CORE_READ(te, private), SK_WAIT_EPOLL, excl);
			tasks++;
			pos = (__u64)BPF_CORE_READ(te, entry.next);
		}
		if (pos && pos != head)
			out->flags |= SK_WAITERS_TRUNCATED;
		if (!tasks)
			out->flags |= SK_WAITERS_IDLE_EPOLL;
	} else if (func == wake_fns[SK_WAKE_POLL]) {
		struct poll_wqueues *pwq = priv;
		add_waiter(out, BPF_CORE_READ(pwq, polling_task), SK_WAIT_POLL, excl);
	} else if (func == wake_fns[SK_WAKE_IO_URING]) {
		/* private is the request, its low bit a flag (IO_WQE_F_DOUBLE). */
		add_waiter(out, io_req_task((void *)((__u64)priv & ~3ULL)), SK_WAIT_IO_URING, excl);
	} else {
		out->flags |= SK_WAITERS_UNKNOWN;
	}
	ww->pos = (__u64)BPF_CORE_READ(we, entry.next);
	return 0;
}

/* Who waits on sk now, into this context's scratch set (NULL: none). */
static __always_inline struct sk_waiters *read_waiters(const struct sock *sk, __u8 ctxk)
{
	__u32 slot = ctxk;
	struct sk_waiters *out = bpf_map_lookup_elem(&waiter_scratch, &slot);
	if (!out)
		return NULL;
	__builtin_memset(out, 0, sizeof(*out));
	struct socket_wq *wq = BPF_CORE_READ(sk, sk_wq);
	if (!wq) {
		out->flags |= SK_WAITERS_UNKNOWN;
		return out;
	}
	struct wait_walk ww = {.slot = slot};
	ww.head = (__u64)wq + bpf_core_field_offset(struct socket_wq, wait) +
		  bpf_core_field_offset(struct wait_queue_head, head);
	ww.pos = (__u64)BPF_CORE_READ(wq, wait.head.next);
	bpf_loop(SK_WAIT_WALK, walk_wait_entry, &ww, 0);
	if (ww.pos && ww.pos != ww.head)
		out->flags |= SK_WAITERS_TRUNCATED;
	return out;
}

/* A record of sk's state change with who waited on sk (or, with lsk, on
 * the listener) then: struct sk_event_waiters, filled like reserve_event's
 * and with the waiters copied in. NULL when the ring buffer is full. */
static __always_inline struct sk_event_waiters *reserve_waiters_event(__u32 kind, __u8 ctxk,
								      const struct sock *waited_on)
{
	struct sk_waiters *w = waited_on ? read_waiters(waited_on, ctxk) : NULL;
	struct sk_event_waiters *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count_drop(SK_DROP_RINGBUF_FULL);
		return NULL;
	}
	__builtin_memset(&r->ev, 0, sizeof(r->ev));
	fill_event(&r->ev, kind, ctxk);
	r->ev.owner_flags = SK_WAITERS_READ;
	if (w) {
		__builtin_memcpy(&r->waiters, w, sizeof(r->waiters));
	} else {
		__builtin_memset(&r->waiters, 0, sizeof(r->waiters));
		r->waiters.flags = SK_WAITERS_UNKNOWN;
	}
	return r;
}

/* Do the filters keep a record of the listener's side of a handshake on
 * tuple t (whose local end is the listener)? */
static __always_inline bool listener_side_traced(const struct sk_tuple *t, __u8 ctxk)
{
	return family_passes(t->family) && ports_pass(t->sport, t->dport) &&
	       endpoint_traced(t->netns, t->sport, ctxk);
}

/* A record of the listener's side of a handshake (a request socket made, a
 * SYN-ACK retransmitted) on tuple t, whose local end is the listener lsk
 * (NULL: found by port): reserved when the filters keep it, with the tuple
 * and the listener's queue and owner filled in; NULL otherwise. */
static __always_inline struct sk_event *listener_record(__u32 kind, const struct sk_tuple *t,
							struct sock *lsk)
{
	__u8 ctxk = exec_ctx();
	if (!listener_side_traced(t, ctxk))
		return NULL;
	struct sk_event *e = reserve_event(kind, ctxk);
	if (!e)
		return NULL;
	put_tuple(e, t);
	put_listener_sk(e, lsk ? lsk : find_listener(t->netns, t->sport, t->family, NULL));
	return e;
}

/* A request socket made for a SYN (tcp_conn_request's work). */
static __always_inline void report_syn_recv(const struct sk_tuple *t, struct sock *lsk,
					    __u8 backend)
{
	struct sk_event *e = listener_record(SK_K_SYN_RECV, t, lsk);
	if (!e)
		return;
	e->backend = backend;
	submit_folding(e, sizeof(*e), t, e->ctx);
}

/* The final ACK processed: the child is established and on the accept queue
 * of lsk (NULL: the listener on its port whose queue ends with it), and the
 * tasks waiting on that listener are about to be woken. */
static __always_inline void report_established(struct sock *child, struct sock *lsk,
					       const struct sk_tuple *t, __u8 backend)
{
	__u8 ctxk = exec_ctx();
	if (!listener_side_traced(t, ctxk))
		return;
	if (!lsk)
		lsk = find_listener(t->netns, t->sport, t->family, child);
	struct sk_event_waiters *r = reserve_waiters_event(SK_K_ESTABLISHED, ctxk, lsk);
	if (!r)
		return;
	put_tuple(&r->ev, t);
	put_listener_sk(&r->ev, lsk);
	r->ev.sk = (__u64)child;
	r->ev.old_state = TCP_SYN_RECV;
	r->ev.new_state = TCP_ESTABLISHED;
	r->ev.backend = backend;
	submit_folding(r, sizeof(*r), t, ctxk);
}

/* A dequeue as accept() leaves it, now: the listener's queue after it (lsk
 * may be unknown: NULL) and the bytes that reached the child before
 * accept() returned it, received but not yet read. */
static __always_inline struct accept_seen accept_view(struct sock *lsk, struct sock *child,
						      __u8 backend)
{
	struct tcp_sock *tp = (struct tcp_sock *)child;
	struct accept_seen s = {
	    .ts = bpf_ktime_get_ns(),
	    .child = (__u64)child,
	    .rx_queued = BPF_CORE_READ(tp, rcv_nxt) - BPF_CORE_READ(tp, copied_seq),
	    .backend = backend,
	};
	if (lsk) {
		s.queue_len = BPF_CORE_READ(lsk, sk_ack_backlog);
		s.queue_max = BPF_CORE_READ(lsk, sk_max_ack_backlog);
	}
	return s;
}

#endif /* SOCKSCOPE_COMMON_BPF_H */
