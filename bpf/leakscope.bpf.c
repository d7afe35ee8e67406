// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * leakscope's kernel side: sampled allocation capture for one CPython process.
 *
 * - Objects: every object is born at _Py_NewReference (called or inlined),
 *   freelist reuse included. Each birth costs a few reads and one map delete;
 *   only sampled births (byte-weighted) walk the Python stack. Deaths are not
 *   probed: user space checks sampled objects' memory (refcount, type) and the
 *   next birth at the same address retires a sample here.
 * - Native: libc's malloc family, paired with free; in free-threaded builds
 *   also PyMem's mimalloc entries (what GIL builds take from pymalloc/malloc).
 * - GC: pause times from the collector's entry/return or USDT probes.
 * - Growth: sampled page faults of the target (a perf software event, no
 *   breakpoint), counted by Python stack: where new memory is first touched.
 *
 * BPF captures; user space symbolizes and analyses.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>

#include "leakscope.h"

static __always_inline int ls_read(void *reader, void *dst, __u32 size, __u64 addr)
{
	return bpf_probe_read_user(dst, size, (const void *)addr);
}
#define LS_INLINE static __always_inline
#include "pywalk.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";



/* Set by user space before load. */
const volatile __u32 target_tgid = 0;
/* Not const: the walker reads it through a plain pointer, which would let the
 * compiler fold a const object's fields to their zero initializer. */
struct ls_py_offsets py = {};
const volatile struct ls_type_offsets types = {};
/* Exponential draws with mean --sample-bytes, so sampling is byte-weighted
 * (Poisson) without floating point here. Writable: the overhead budget may
 * change the sampling rate while tracing. */
__s64 countdown_draws[LS_COUNTDOWN_DRAWS] = {};
/* Their mean, copied into each sample: user space weighs a sample by the
 * distance it was drawn with, which the budget may have changed since. */
__u64 sample_mean = 0;

/* &_PyRuntime in the target. */
const volatile __u64 runtime_addr = 0;
/* pymalloc's POOL_SIZE: pools are aligned to it. */
const volatile __u64 pool_bytes = 0;

__u64 next_seq = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LS_ERR_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} errors SEC(".maps");

/* Everything a probe hit updates, in one per-CPU value: one lookup per hit. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ls_cpu_state);
} cpu_state SEC(".maps");

/* Type object -> what sizing an instance needs: read once per type, not per birth. */
struct type_sizes {
	__u64 basicsize, itemsize, gc_header;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct type_sizes);
} type_cache SEC(".maps");

/* Sampled live allocations by address, one map per family. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, __u64);
	__type(value, struct ls_sample);
} live_objects SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, __u64);
	__type(value, struct ls_sample);
} live_native SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct ls_stack);
} stacks SEC(".maps");

/* Native (C) stacks of sampled native blocks, walked by the kernel through
 * frame pointers: what a C extension called malloc from. */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 4096);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, LS_MAX_NATIVE_FRAMES * sizeof(__u64));
} native_stacks SEC(".maps");

#define RING_BYTES (1u << 22)
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RING_BYTES);
} samples SEC(".maps");

/* Samples wake user space only once an eighth of the ring waits (it drains the
 * ring on a timer otherwise): a wakeup is an interrupt on the target's CPU,
 * outside the programs' measured run time. */
static __always_inline __u64 ring_wakeup(void)
{
	return bpf_ringbuf_query(&samples, BPF_RB_AVAIL_DATA) >= RING_BYTES / 8 ? BPF_RB_FORCE_WAKEUP
										 : BPF_RB_NO_WAKEUP;
}

/* Thread id -> PyThreadState*, revalidated on every use. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} tstate_cache SEC(".maps");

/* Pending sampled malloc calls: thread id -> requested size. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} pending_malloc SEC(".maps");

/* GC collections in progress: thread id -> start time. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} gc_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ls_gc_stats);
} gc_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ls_stack);
} stack_scratch SEC(".maps");

/* Sampled page faults: stack id -> faults seen. Sized by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u64);
} fault_sites SEC(".maps");

static __always_inline void count_error(__u32 err)
{
	__u64 *c = bpf_map_lookup_elem(&errors, &err);

	if (c)
		*c += 1;
}

static __always_inline struct ls_cpu_state *this_cpu(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cpu_state, &zero);
}

static __always_inline bool is_target(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

/* Register holding the probed argument; the cookie names it (enum ls_reg).
 * The context cannot be indexed by a variable, and the compiler would fold a
 * plain switch into exactly that: each case reads through its own barrier. */
#define LS_REG_CASE(id, field)                      \
	case id:                                    \
		v = ctx->field;                     \
		asm volatile("" : "+r"(v));         \
		return v;

static __always_inline __u64 reg_value(struct pt_regs *ctx, __u64 reg)
{
	__u64 v;

	switch (reg) {
	LS_REG_CASE(LS_REG_R15, r15)
	LS_REG_CASE(LS_REG_R14, r14)
	LS_REG_CASE(LS_REG_R13, r13)
	LS_REG_CASE(LS_REG_R12, r12)
	LS_REG_CASE(LS_REG_BP, bp)
	LS_REG_CASE(LS_REG_BX, bx)
	LS_REG_CASE(LS_REG_R11, r11)
	LS_REG_CASE(LS_REG_R10, r10)
	LS_REG_CASE(LS_REG_R9, r9)
	LS_REG_CASE(LS_REG_R8, r8)
	LS_REG_CASE(LS_REG_AX, ax)
	LS_REG_CASE(LS_REG_CX, cx)
	LS_REG_CASE(LS_REG_DX, dx)
	LS_REG_CASE(LS_REG_SI, si)
	LS_REG_CASE(LS_REG_DI, di)
	}
	return 0;
}

/* Counts an allocation of size bytes; true when it is sampled. */
static __always_inline bool take_sample(struct ls_cpu_state *cpu, __u32 family, __u64 size)
{
	struct ls_family_stats *fs = &cpu->family[family & 1];

	fs->events += 1;
	fs->bytes += size;
	cpu->countdown -= (__s64)size;
	if (cpu->countdown > 0)
		return false;
	cpu->countdown = countdown_draws[bpf_get_prandom_u32() & (LS_COUNTDOWN_DRAWS - 1)];
	fs->samples += 1;
	return true;
}

/* The PyThreadState of the current thread: matched by pthread_self(), which is
 * the fs base on x86-64 glibc, in the interpreter's thread list. */
static __always_inline __u64 current_tstate(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 fsbase = BPF_CORE_READ(task, thread.fsbase);
	__u64 *cached = bpf_map_lookup_elem(&tstate_cache, &tid);
	__u64 ts = 0, interp = 0, thread_id = 0;

	if (cached && !ls_read(NULL, &thread_id, sizeof(thread_id), *cached + py.tstate_thread_id) &&
	    thread_id == fsbase)
		return *cached;

	if (!runtime_addr ||
	    ls_read(NULL, &interp, sizeof(interp), runtime_addr + py.runtime_interp_head) ||
	    !interp || ls_read(NULL, &ts, sizeof(ts), interp + py.interp_threads_head))
		return 0;
	for (int i = 0; i < LS_MAX_THREADS_WALK && ts; i++) {
		if (ls_read(NULL, &thread_id, sizeof(thread_id), ts + py.tstate_thread_id))
			return 0;
		if (thread_id == fsbase) {
			bpf_map_update_elem(&tstate_cache, &tid, &ts, BPF_ANY);
			return ts;
		}
		if (ls_read(NULL, &ts, sizeof(ts), ts + py.tstate_next))
			return 0;
	}
	return 0;
}

static __always_inline __u64 mix(__u64 h, __u64 v)
{
	h ^= v;
	h *= 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

/* Walks the current Python stack into the stacks map; returns its id (0 on failure). */
static __always_inline __u64 capture_stack(__u32 *flags_out)
{
	__u32 zero = 0;
	struct ls_stack *st = bpf_map_lookup_elem(&stack_scratch, &zero);
	__u64 tstate, frame, h = 0xcbf29ce484222325ull;
	__s64 first;

	if (!st)
		return 0;
	st->depth = 0;
	st->flags = 0;
	tstate = current_tstate();
	if (!tstate) {
		st->flags = LS_STACK_NO_THREAD;
		count_error(LS_ERR_NO_THREAD_STATE);
	} else {
		first = ls_first_frame(NULL, &py, tstate);
		frame = first < 0 ? 0 : (__u64)first;
		if (first < 0)
			st->flags |= LS_STACK_READ_FAILED;
		else
			st->flags |= ls_walk_frames(NULL, &py, &frame, st);
		if (frame && !(st->flags & LS_STACK_READ_FAILED))
			st->flags |= LS_STACK_TRUNCATED;
	}
	if (st->flags & LS_STACK_TRUNCATED)
		count_error(LS_ERR_STACK_TRUNCATED);
	if (st->flags & LS_STACK_READ_FAILED)
		count_error(LS_ERR_STACK_READ_FAILED);

	for (int i = 0; i < LS_MAX_FRAMES; i++) {
		if (i >= st->depth)
			break;
		h = mix(h, st->frames[i].code);
		h = mix(h, (__u64)(__u32)st->frames[i].offset);
	}
	h = mix(h, st->depth | ((__u64)st->flags << 32));
	if (!h)
		h = 1;
	if (bpf_map_update_elem(&stacks, &h, st, BPF_NOEXIST) && !bpf_map_lookup_elem(&stacks, &h)) {
		count_error(LS_ERR_STACK_MAP_FULL);
		return 0;
	}
	*flags_out = st->flags;
	return h;
}

static __always_inline void store_sample(void *live, __u32 family, __u64 addr, __u64 size, __u64 type,
					 __s32 native_stack_id, __u64 now)
{
	struct ls_sample s = {
		.addr = addr,
		.seq = __sync_fetch_and_add(&next_seq, 1) + 1,
		.type = type,
		.ts_ns = now,
		.size = size > 0xffffffffull ? 0xffffffffu : (__u32)size,
		.family = family,
		.tid = (__u32)bpf_get_current_pid_tgid(),
		.sample_bytes = sample_mean,
		.native_stack_id = native_stack_id,
	};

	s.stack_id = capture_stack(&s.stack_flags);
	if (bpf_map_update_elem(live, &addr, &s, BPF_ANY)) {
		count_error(LS_ERR_LIVE_MAP_FULL);
		return;
	}
	if (bpf_ringbuf_output(&samples, &s, sizeof(s), ring_wakeup())) {
		bpf_map_delete_elem(live, &addr);
		count_error(LS_ERR_EVENT_RING_FULL);
	}
}

/* Stores a sample and counts how long that took (stack walk, map and ring
 * writes): the budget's measure of what sampling more densely costs. */
static __always_inline void record_sample(void *live, __u32 family, __u64 addr, __u64 size, __u64 type,
					  __s32 native_stack_id)
{
	struct ls_cpu_state *cpu = this_cpu();
	__u64 start = bpf_ktime_get_ns();

	store_sample(live, family, addr, size, type, native_stack_id, start);
	if (cpu)
		cpu->family[family & 1].sample_ns += bpf_ktime_get_ns() - start;
}

/* Shallow size of a new object: basic size, items, and the GC header. */
static __always_inline __u64 object_size(__u64 op, __u64 *type_out)
{
	struct type_sizes *cached, sizes = {};
	__u64 type = 0, flags = 0;
	__s64 n = 0;

	if (ls_read(NULL, &type, sizeof(type), op + types.object_type) || !type)
		return 0;
	cached = bpf_map_lookup_elem(&type_cache, &type);
	if (cached) {
		sizes = *cached;
	} else {
		if (ls_read(NULL, &sizes.basicsize, sizeof(sizes.basicsize), type + types.basicsize) ||
		    ls_read(NULL, &sizes.itemsize, sizeof(sizes.itemsize), type + types.itemsize) ||
		    ls_read(NULL, &flags, sizeof(flags), type + types.flags))
			return 0;
		sizes.gc_header = (flags & LS_TPFLAGS_HAVE_GC) ? types.gc_header : 0;
		bpf_map_update_elem(&type_cache, &type, &sizes, BPF_ANY);
	}
	if (sizes.itemsize) {
		if (ls_read(NULL, &n, sizeof(n), op + types.var_size))
			return 0;
		if (n < 0) /* ints keep their sign in ob_size before 3.12 */
			n = -n;
		if (n > (1ll << 32))
			n = 1ll << 32;
		if (!types.malloc_above && sizes.itemsize * (__u64)n > LS_BIRTH_ITEMS_MAX)
			n = 0;
	}
	*type_out = type;
	return sizes.basicsize + sizes.itemsize * (__u64)n + sizes.gc_header;
}

/* A Python object is born (new or off a freelist). Cookie: the register holding it (enum ls_reg). */
SEC("uprobe")
int ls_object_new(struct pt_regs *ctx)
{
	struct ls_cpu_state *cpu;
	__u64 op, size, type = 0;

	if (!is_target() || !(cpu = this_cpu()))
		return 0;
	op = reg_value(ctx, bpf_get_attach_cookie(ctx));
	/* A birth at a sampled address means that sample died unseen. */
	if (bpf_map_lookup_elem(&live_objects, &op)) {
		bpf_map_delete_elem(&live_objects, &op);
		cpu->family[LS_FAMILY_OBJECT].reused += 1;
	}
	size = object_size(op, &type);
	if (!size) {
		count_error(LS_ERR_READ_FAILED);
		return 0;
	}
	if (types.malloc_above && size > types.malloc_above) /* the native family counts these bytes */
		return 0;
	if (take_sample(cpu, LS_FAMILY_OBJECT, size))
		record_sample(&live_objects, LS_FAMILY_OBJECT, op, size, type, -1);
	return 0;
}

static __always_inline void native_request(__u64 size)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct ls_cpu_state *cpu = this_cpu();

	if (cpu && take_sample(cpu, LS_FAMILY_NATIVE, size))
		bpf_map_update_elem(&pending_malloc, &tid, &size, BPF_ANY);
}

static __always_inline void native_release(__u64 addr)
{
	if (addr)
		bpf_map_delete_elem(&live_native, &addr);
}

/* Argument k of an allocator entry: the cookie names the register holding it
 * (LS_ALLOC_ARGS), so libc's malloc family and, in free-threaded builds,
 * PyMem's mimalloc entries (one argument later, after their ctx) share these. */
static __always_inline __u64 alloc_arg(struct pt_regs *ctx, int k)
{
	__u64 reg = (bpf_get_attach_cookie(ctx) >> (8 * k)) & 0xff;

	return reg ? reg_value(ctx, reg - 1) : 0;
}

SEC("uprobe")
int ls_malloc(struct pt_regs *ctx)
{
	if (is_target())
		native_request(alloc_arg(ctx, 0));
	return 0;
}

SEC("uprobe")
int ls_calloc(struct pt_regs *ctx)
{
	if (is_target())
		native_request(alloc_arg(ctx, 0) * alloc_arg(ctx, 1));
	return 0;
}

SEC("uprobe")
int ls_realloc(struct pt_regs *ctx)
{
	if (!is_target())
		return 0;
	native_release(alloc_arg(ctx, 0));
	native_request(alloc_arg(ctx, 1));
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(ls_malloc_return, __u64 addr)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *size;

	if (!is_target())
		return 0;
	/* A block handed out again was freed, even if that free was not seen. */
	if (addr)
		bpf_map_delete_elem(&live_native, &addr);
	size = bpf_map_lookup_elem(&pending_malloc, &tid);
	if (!size)
		return 0;
	__u64 bytes = *size;
	bpf_map_delete_elem(&pending_malloc, &tid);
	if (addr) {
		__s64 native = bpf_get_stackid(ctx, &native_stacks, BPF_F_USER_STACK | BPF_F_REUSE_STACKID);

		if (native < 0)
			count_error(LS_ERR_NATIVE_STACK_MISSED);
		record_sample(&live_native, LS_FAMILY_NATIVE, addr, bytes, 0, native < 0 ? -1 : (__s32)native);
	}
	return 0;
}

SEC("uprobe")
int ls_free(struct pt_regs *ctx)
{
	if (is_target())
		native_release(alloc_arg(ctx, 0));
	return 0;
}

static __always_inline void gc_begin(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();

	bpf_map_update_elem(&gc_start, &tid, &now, BPF_ANY);
}

static __always_inline void gc_end(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), zero = 0;
	__u64 *start = bpf_map_lookup_elem(&gc_start, &tid);
	struct ls_gc_stats *g = bpf_map_lookup_elem(&gc_stats, &zero);
	__u64 pause;

	if (!start || !g)
		return;
	pause = bpf_ktime_get_ns() - *start;
	bpf_map_delete_elem(&gc_start, &tid);
	__sync_fetch_and_add(&g->collections, 1);
	__sync_fetch_and_add(&g->pause_ns, pause);
	if (pause > g->max_pause_ns)
		g->max_pause_ns = pause;
}

SEC("uprobe")
int ls_gc_enter(struct pt_regs *ctx)
{
	if (is_target())
		gc_begin();
	return 0;
}

SEC("uretprobe")
int ls_gc_exit(struct pt_regs *ctx)
{
	if (is_target())
		gc_end();
	return 0;
}

SEC("usdt")
int ls_usdt_gc_start(struct pt_regs *ctx)
{
	if (is_target())
		gc_begin();
	return 0;
}

SEC("usdt")
int ls_usdt_gc_done(struct pt_regs *ctx)
{
	if (is_target())
		gc_end();
	return 0;
}

/* pymalloc took a new pool for a size class whose pools were all full: a
 * pool's worth of growth of that class. User space follows the pool from the
 * block returned, its first. */
SEC("uretprobe")
int BPF_KRETPROBE(ls_pool_refill, __u64 block)
{
	struct ls_sample s = {};
	__u32 szidx = 0;

	if (!is_target() || !block || !pool_bytes)
		return 0;
	if (ls_read(NULL, &szidx, sizeof(szidx), (block & ~(pool_bytes - 1)) + LS_POOL_HEADER_SZIDX)) {
		count_error(LS_ERR_READ_FAILED);
		return 0;
	}
	s.size = (szidx + 1) * 16; /* user space checks it is a size class */
	s.addr = block;
	s.family = LS_POOL_REFILL;
	s.native_stack_id = -1;
	s.stack_id = capture_stack(&s.stack_flags);
	if (bpf_ringbuf_output(&samples, &s, sizeof(s), ring_wakeup()))
		count_error(LS_ERR_EVENT_RING_FULL);
	return 0;
}

/* One in every --fault-period page faults of a target thread. */
SEC("perf_event")
int ls_page_fault(struct bpf_perf_event_data *ctx)
{
	__u64 zero = 0, *n, id;
	__u32 flags = 0;

	if (!is_target())
		return 0;
	id = capture_stack(&flags);
	if (!id)
		return 0;
	n = bpf_map_lookup_elem(&fault_sites, &id);
	if (!n) {
		bpf_map_update_elem(&fault_sites, &id, &zero, BPF_NOEXIST);
		n = bpf_map_lookup_elem(&fault_sites, &id);
	}
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		count_error(LS_ERR_SITE_MAP_FULL);
	return 0;
}

/* Does nothing: attached to leakscope's own code, it measures what a probe hit
 * costs by itself on this machine (the floor under every other program). */
SEC("uprobe")
int ls_calibrate(struct pt_regs *ctx)
{
	return 0;
}
