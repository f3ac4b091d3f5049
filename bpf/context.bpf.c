// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Execution context and the task filter's bookkeeping.
 *
 * Which context a probe runs in (process, softirq, hardirq) is not something a
 * tracepoint program can ask: __preempt_count is a per-CPU symbol that is not
 * in kallsyms without CONFIG_KALLSYMS_ALL, and the trace_entry flags are
 * overwritten before BPF runs. So each CPU keeps a flag, set and cleared by
 * the irq tracepoints, that the other programs read.
 */
#include "common.bpf.h"

static __always_inline struct cpu_ctx *this_cpu_ctx(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&cpu_ctxs, &zero);
}

SEC("tracepoint/irq/softirq_entry")
int softirq_entry(struct trace_event_raw_softirq *ctx)
{
	struct cpu_ctx *c = this_cpu_ctx();
	if (c)
		c->softirq_vec = ctx->vec + 1;
	return 0;
}

SEC("tracepoint/irq/softirq_exit")
int softirq_exit(struct trace_event_raw_softirq *ctx)
{
	struct cpu_ctx *c = this_cpu_ctx();
	if (c)
		c->softirq_vec = 0;
	return 0;
}

SEC("tracepoint/irq/irq_handler_entry")
int irq_handler_entry(void *ctx)
{
	struct cpu_ctx *c = this_cpu_ctx();
	if (c)
		c->hardirq_depth++;
	return 0;
}

SEC("tracepoint/irq/irq_handler_exit")
int irq_handler_exit(void *ctx)
{
	struct cpu_ctx *c = this_cpu_ctx();
	if (c && c->hardirq_depth)
		c->hardirq_depth--;
	return 0;
}

/* Follow the children of traced processes (threads share the tgid already).
 * raw_tp gives the child's task_struct, so its tgid, not only its pid. */
SEC("raw_tp/sched_process_fork")
int BPF_PROG(sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	if (!follow_children)
		return 0;
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	if (ptgid == ctgid || !bpf_map_lookup_elem(&traced_tgids, &ptgid))
		return 0;
	__u8 one = 1;
	bpf_map_update_elem(&traced_tgids, &ctgid, &one, BPF_ANY);
	return 0;
}

/* A process that exits stops being traced, so that a later process reusing
 * its pid is not. */
SEC("tracepoint/sched/sched_process_exit")
int sched_process_exit(void *ctx)
{
	if (!filter_by_task)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if ((__u32)id != tgid)
		return 0;
	bpf_map_delete_elem(&traced_tgids, &tgid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
