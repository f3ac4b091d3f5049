/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one contract between the BPF programs and userspace.
 *
 * Fixed-width fields only, no pointers that userspace dereferences: every
 * record that crosses the ring buffer is a struct sk_event, and userspace
 * copies it (after a size check) into its own C++ value type.
 * Field order is chosen so that the struct has no implicit padding.
 */
#ifndef SOCKSCOPE_H
#define SOCKSCOPE_H

/* The BPF side has the kernel's own types from vmlinux.h; userspace takes
 * __u8..__u64 from the UAPI headers. */
#ifndef __bpf__
#include <linux/types.h>
#endif

#define SK_COMM_LEN	    16
#define SK_IFNAME_LEN	    16
#define SK_MAX_FILTER_PORTS 16

/* What happened. Values are part of the ABI between the BPF object and the
 * userspace decoder, which are always built together; names are what JSON
 * consumers see (see userspace/events/names.cpp). */
enum sk_event_kind {
	/* syscall layer: the program's own calls */
	SK_SYS_SOCKET = 1,
	SK_SYS_BIND = 2,
	SK_SYS_LISTEN = 3,
	SK_SYS_CONNECT = 4,
	SK_SYS_ACCEPT = 5,
	SK_SYS_CLOSE = 6,
	SK_SYS_GETSOCKOPT = 7, /* getsockopt(SOL_SOCKET, SO_ERROR): value = the error read */
	/* kernel layer: what the TCP stack did */
	SK_K_BIND = 16,		  /* the port is bound (inet_bind / inet6_bind) */
	SK_K_LISTEN = 17,	  /* the socket is listening (inet_listen) */
	SK_K_SYN_RECV = 18,	  /* SYN in: request socket made, SYN-ACK on its way */
	SK_K_ESTABLISHED = 19,	  /* final ACK in: child established and queued */
	SK_K_ACCEPT = 20,	  /* child taken off the accept queue */
	SK_K_STATE = 21,	  /* any TCP state change */
	SK_K_SYNACK_RETRANS = 22, /* the SYN-ACK timer fired: the final ACK is late or lost */
	/* SK_K_ESTABLISHED and SK_K_STATE SYN_SENT->ESTABLISHED records carry
	 * SK_WAITERS_READ: they are struct sk_event_waiters (below). */
	/* packet layer */
	SK_PKT_TCP = 32,
	/* --pcap: a packet's own bytes (struct sk_event_raw), for the pcapng
	 * file only: never a story's or trace's record. */
	SK_PKT_RAW = 33,
};

/* Where a kernel event ran. */
enum sk_exec_ctx {
	SK_CTX_PROCESS = 0,
	SK_CTX_SOFTIRQ = 1,
	SK_CTX_IRQ = 2,
};

/* Syscall records for calls that may block (accept, connect) come twice:
 * once when the call begins and once when it returns. */
enum sk_phase {
	SK_PHASE_EXIT = 0,
	SK_PHASE_ENTER = 1,
};

enum sk_dir {
	SK_DIR_NONE = 0,
	SK_DIR_RX = 1,
	SK_DIR_TX = 2,
};

/* Which kind of probe produced the record. */
enum sk_backend {
	SK_BACKEND_TRACEPOINT = 0,
	SK_BACKEND_SOCK_OPS = 1,
	SK_BACKEND_FENTRY = 2,
	SK_BACKEND_KPROBE = 3,
};

/* The logical hooks that have a function-probe backend (fentry/fexit or
 * kprobe/kretprobe) besides the tracepoint fallback; indexes hook_backend. */
enum sk_hook {
	SK_HOOK_BIND = 0,	 /* inet_bind, inet6_bind */
	SK_HOOK_LISTEN = 1,	 /* inet_listen */
	SK_HOOK_SYN = 2,	 /* tcp_conn_request: SYN in, request socket made */
	SK_HOOK_ESTABLISHED = 3, /* inet_csk_complete_hashdance: child queued */
	SK_HOOK_ACCEPT = 4,	 /* inet_csk_accept */
	SK_HOOKS = 5,
};

/* Why a record was lost, and how many were sent: indexes the per-CPU
 * `drops` array. Userspace checks what it received against SK_COUNT_SENT. */
enum sk_drop_cause {
	SK_DROP_RINGBUF_FULL = 0,  /* bpf_ringbuf_reserve failed */
	SK_DROP_INFLIGHT_FULL = 1, /* a syscall entry could not be remembered */
	SK_DROP_TRACKED_FULL = 2,  /* a filtered socket could not be remembered */
	SK_COUNT_SENT = 3,	   /* not a loss: ring-buffer records submitted */
	SK_DROP_CAUSES = 4,
};

/* Owner flags (SYN, established and SYN-ACK retransmit records of a
 * listener's children, and SYN packets arriving at a listener). */
#define SK_OWNER_IN_ACCEPT 0x1	/* a thread of the owner was blocked in accept() on it */
#define SK_OWNER_KNOWN	   0x2	/* owner_pid and owner_state are valid */
#define SK_LISTENER_FOUND  0x4	/* queue_len and queue_max are the listener's */
#define SK_WAITERS_READ	   0x8	/* the socket's wait queue was read: a struct sk_event_waiters */
#define SK_NONBLOCK	   0x10 /* accept, connect syscall records: the file was O_NONBLOCK */
/* explain: an accept or connect exit that stands for its entry too (no
 * entry record was sent: the call began dur_ns before). */
#define SK_ENTER_FOLDED 0x20
/* explain: an accept exit followed by the dequeue it made (struct
 * sk_dequeue), in place of an SK_K_ACCEPT record of its own. */
#define SK_DEQUEUE_FOLDED 0x40

/* tcp_flags: byte 13 of the TCP header (RFC 9293, RFC 3168), bit for bit. */
#define SK_TCP_FIN 0x01
#define SK_TCP_SYN 0x02
#define SK_TCP_RST 0x04
#define SK_TCP_PSH 0x08
#define SK_TCP_ACK 0x10
#define SK_TCP_URG 0x20
#define SK_TCP_ECE 0x40
#define SK_TCP_CWR 0x80

/* owner_state: the owner's task_struct::__state (::state before 5.14), copied
 * as is. The bits are include/linux/sched.h's, in the layout they have had
 * since 4.14 (commit 8ef9925b02c2 moved TASK_DEAD from 0x40 to 0x80), which
 * every kernel sockscope runs on has (its ring buffer needs 5.8):
 *   0x000 TASK_RUNNING          on a CPU or runnable
 *   0x001 TASK_INTERRUPTIBLE    sleeping: accept(), epoll_wait(), ...
 *   0x002 TASK_UNINTERRUPTIBLE  sleeping, signals wait (disk I/O, locks)
 *   0x004 __TASK_STOPPED        SIGSTOP, SIGTSTP: TASK_STOPPED is 0x104
 *   0x008 __TASK_TRACED         stopped under ptrace: TASK_TRACED was
 *                               TASK_WAKEKILL | __TASK_TRACED (0x108) before
 *                               5.19 (commit 31cae1eaae4f), 0x8 since
 *   0x080 TASK_DEAD             the task has exited (a zombie group leader)
 *   0x100 TASK_WAKEKILL         with the above: fatal signals wake it
 * 0x10 and 0x20 (EXIT_DEAD, EXIT_ZOMBIE) are exit_state's values and never
 * appear in __state: they mean nothing here. */
#define SK_TASK_RUNNING		0x000
#define SK_TASK_INTERRUPTIBLE	0x001
#define SK_TASK_UNINTERRUPTIBLE 0x002
#define SK_TASK_STOPPED		0x004
#define SK_TASK_TRACED		0x008
#define SK_TASK_DEAD		0x080
#define SK_TASK_WAKEKILL	0x100

/* How a task waits on a socket: which kind of entry it has on the socket's
 * wait queue (sk->sk_wq->wait), told apart by the entry's wake function. */
enum sk_wait_via {
	SK_WAIT_UNKNOWN = 0,  /* an entry whose wake function sockscope does not know */
	SK_WAIT_TASK = 1,     /* the task sleeps on the socket itself: accept(), connect() */
	SK_WAIT_EPOLL = 2,    /* an epoll instance watches it; the task waits in epoll_wait() */
	SK_WAIT_POLL = 3,     /* the task's poll()/select() table watches it */
	SK_WAIT_IO_URING = 4, /* an io_uring request is armed on it (the ring's task) */
};

/* Kernel addresses of the wake functions that tell a wait-queue entry's kind
 * (from /proc/kallsyms, set by userspace in the rodata array wake_fns, in
 * this order; 0 = not found: such entries are reported as unknown). */
enum sk_wake_fn {
	SK_WAKE_AUTOREMOVE = 0, /* autoremove_wake_function: accept() (prepare_to_wait) */
	SK_WAKE_WOKEN = 1,	/* woken_wake_function: connect(), sk_wait_event() */
	SK_WAKE_DEFAULT = 2,	/* default_wake_function */
	SK_WAKE_EPOLL = 3,	/* ep_poll_callback: an epoll instance watching the socket */
	SK_WAKE_POLL = 4,	/* pollwake: poll(), select() */
	SK_WAKE_IO_URING = 5,	/* io_poll_wake: an io_uring poll/accept armed on it */
	SK_WAKE_FNS = 6,
};
/* One task waiting on a socket when the kernel woke it. */
struct sk_waiter {
	__u32 tgid;
	__u32 tid;
	__s32 syscall;	/* the syscall the task was in (the arch's number), -1: none */
	__u32 state;	/* the task's __state: SK_TASK_* */
	__u8 via;	/* enum sk_wait_via */
	__u8 exclusive; /* WQ_FLAG_EXCLUSIVE: woken one at a time (accept, EPOLLEXCLUSIVE) */
	__u16 pad;
	char comm[SK_COMM_LEN];
};

/* Waiter flags. */
#define SK_WAITERS_TRUNCATED  0x1 /* more waiters than SK_MAX_WAITERS, or the walk's bound hit */
#define SK_WAITERS_UNKNOWN    0x2 /* an entry of a kind sockscope cannot read (counted in entries) */
#define SK_WAITERS_IDLE_EPOLL 0x4 /* an epoll instance watched it with nobody in epoll_wait() */

#define SK_MAX_WAITERS 8

struct sk_waiters {
	__u8 count;    /* valid entries of w[] */
	__u8 flags;    /* SK_WAITERS_* */
	__u16 entries; /* wait-queue entries walked on the socket */
	__u32 pad;
	struct sk_waiter w[SK_MAX_WAITERS];
};

struct sk_event {
	__u64 ts_ns;  /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 dur_ns; /* syscall exit: time since the call began */
	__u64 sk;     /* kernel address of the socket: an opaque id */
	__s64 ret;    /* syscall return value (negative errno on failure) */
	__u32 kind;   /* enum sk_event_kind */
	__u32 pid;    /* tgid of the task whose context the event ran in */
	__u32 tid;
	__u32 cpu;
	__u32 netns;	 /* network namespace inode number */
	__s32 fd;	 /* the syscall's socket fd (socket(): the new fd) */
	__u32 backlog;	 /* listen: requested (syscall) or effective (kernel) */
	__u32 queue_len; /* accept queue length after the event */
	__u32 queue_max; /* accept queue maximum (sk_max_ack_backlog) */
	__u32 ifindex;
	__u32 seq;
	__u32 ack_seq;
	__u32 owner_pid;   /* listener owner (tgid), with SK_OWNER_KNOWN */
	__u32 owner_state; /* owner's task __state at that moment: SK_TASK_* */
	__u16 family;	   /* AF_INET or AF_INET6 */
	__u16 sport;	   /* host byte order; local port for kernel events */
	__u16 dport;
	__u16 payload_len; /* packet: TCP payload bytes */
	__u16 window;
	__u8 via;    /* SK_K_ACCEPT: enum sk_wait_via, how the acceptor took it (task, io_uring) */
	__u8 folded; /* explain: struct sk_pkt entries after the record (and its waiters) */
	__u8 ctx;    /* enum sk_exec_ctx */
	__u8 phase;  /* enum sk_phase */
	__u8 old_state; /* TCP_* of the kernel's enum (include/net/tcp_states.h) */
	__u8 new_state;
	__u8 tcp_flags;	  /* SK_TCP_* */
	__u8 dir;	  /* enum sk_dir */
	__u8 backend;	  /* enum sk_backend */
	__u8 owner_flags; /* SK_OWNER_* */
	__u8 saddr[16];	  /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
	char comm[SK_COMM_LEN];
	char ifname[SK_IFNAME_LEN];
	__u32 rx_queued; /* accept: bytes already in the child's receive queue */
	__u32 sock_ino;	 /* listen, and a listener's children: the listener's socket inode */
	__s32 value;	 /* getsockopt(SO_ERROR): the error the program read;
			  * accept: the syscall's number (accept or accept4) */
	__u64 lsk;	 /* a listener's children: the listening socket (0: unknown) */
};

/* A record with SK_WAITERS_READ: the record, then who waited on its socket
 * (the listener for SK_K_ESTABLISHED, the connecting socket for a client's
 * SYN_SENT->ESTABLISHED) at that moment, before the kernel woke them. */
struct sk_event_waiters {
	struct sk_event ev;
	struct sk_waiters waiters;
};

/* The dequeue an accept() made, folded into its exit record (explain_mode,
 * SK_DEQUEUE_FOLDED): the SK_K_ACCEPT record's own fields; the rest are the
 * exit's (its task, tuple, fd = the exit's return value). */
struct sk_dequeue {
	__u64 ts_ns;
	__u64 sk; /* the child */
	__u32 queue_len;
	__u32 queue_max;
	__u32 rx_queued;
	__u8 backend;
	__u8 via;
	__u8 pad[2];
};
struct sk_event_dequeue {
	struct sk_event ev;
	struct sk_dequeue dq;
};

/* Packets folded into a later record (explain_mode): the kernel holds a
 * flow's handshake packets (SYN, SYN-ACK, the final ACK, each way) and sends
 * them inside the next record about that flow: the request socket made, the
 * client's socket established, the child queued, a SYN-ACK retransmitted, a
 * state change, or a FIN, RST or repeated segment of the flow. The record
 * (struct sk_event, then struct sk_waiters when SK_WAITERS_READ, or struct
 * sk_dequeue when SK_DEQUEUE_FOLDED) is followed
 * by `folded` of these, and the packets came before it. Each is the packet
 * record it stands for, less what stories do not use (seq, ack_seq, window,
 * the listener's owner): its addresses are the record's, the other way round
 * with SK_PKT_REVERSED, as IPv4 when `family` says so and the record's are
 * IPv4-mapped IPv6. */
#define SK_PKT_REVERSED 0x80 /* sk_pkt.owner_flags: from the record's daddr to its saddr */

struct sk_pkt {
	__u64 ts_ns;
	__u32 pid;
	__u32 tid;
	__u32 netns;
	__u32 ifindex;
	__u32 queue_len; /* a SYN arriving: its listener's accept queue (SK_LISTENER_FOUND) */
	__u32 queue_max;
	__u32 state; /* the kernel's own while it holds the packet; 0 when sent */
	__u16 cpu;
	__u16 payload_len;
	__u16 sport; /* as the packet went: host byte order */
	__u16 dport;
	__u16 family;
	__u8 tcp_flags;
	__u8 dir;
	__u8 ctx;
	__u8 owner_flags; /* SK_LISTENER_FOUND, SK_PKT_REVERSED */
	__u8 pad[6];
	char comm[SK_COMM_LEN];
	char ifname[SK_IFNAME_LEN];
};

/* The most packets one record carries: a flow's six held ones and the
 * packet whose own record carries them. */
#define SK_MAX_FOLDED 7

/* Where the kernel holds them: the map `folds`, keyed by flow (its two
 * endpoints in a fixed order, IPv4-mapped addresses as IPv4, no
 * namespace), a slot per kind and direction (SYN, SYN-ACK, the final ACK
 * arriving; tx then rx), each slot's sk_pkt.state one of SK_SLOT_*. Userspace
 * takes out the held packets of a flow that no record came for. */
#define SK_FOLD_SLOTS	6
#define SK_SLOT_FREE	0
#define SK_SLOT_WRITING 1
#define SK_SLOT_HELD	2
#define SK_SLOT_TAKING	3
#define SK_PKT_KEY_B	0x40 /* sk_pkt.owner_flags while held: the packet went from b to a */

struct sk_fold_key {
	__u8 a[16];
	__u8 b[16];
	__u16 aport;
	__u16 bport;
	__u16 family;
	__u16 pad;
};
struct sk_fold {
	struct sk_pkt p[SK_FOLD_SLOTS];
};

/* --pcap: every TCP packet of a traced flow, as the device sent or received
 * it, from its IP header on (pcap_snaplen, rodata: 0 = none sent). The record
 * is struct sk_event (the packet record's fields: tuple, flags, seq, the
 * listener's owner where one listens on the local port) and struct sk_raw,
 * then raw.caplen bytes. A loopback packet's copy is sent once, when it is
 * sent: its arrival comes with caplen 0 (userspace writes one frame). */
#define SK_PCAP_MAX 8192 /* the most bytes kept of a packet (--snaplen) */

struct sk_raw {
	__u32 caplen;  /* bytes that follow: at most the snaplen (fewer where the skb's pages could
			  not be read) */
	__u32 len;     /* the packet's length from its IP header on */
	__s32 syscall; /* process context: the syscall the task was in (-1: none, or softirq) */
	__u8 loopback; /* the device is a loopback one (IFF_LOOPBACK) */
	__u8 pad[3];
	char owner_comm[SK_COMM_LEN]; /* the listener owner's command, with SK_OWNER_KNOWN */
};
struct sk_event_raw {
	struct sk_event ev;
	struct sk_raw raw;
	__u8 data[2 * SK_PCAP_MAX]; /* twice: each read's bound is the verifier's to see */
};

#endif /* SOCKSCOPE_H */
