/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Structures shared by the BPF programs and the user-space loader.
 * Plain fixed-width types only: this header is compiled by clang for the
 * BPF target and by g++ for user space.
 *
 * IMPORTANT: when adding a field to ls_py_offsets, also fill it in
 * user/python/layout.cpp (PyLayout::bpf_offsets); nothing else needs to change:
 * the BPF side reads offsets only through this struct.
 */
#ifndef LEAKSCOPE_H
#define LEAKSCOPE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define LS_MAX_FRAMES 128
#define LS_MAX_THREADS_WALK 64 /* thread-list entries searched per lookup */
#define LS_COUNTDOWN_DRAWS 64  /* precomputed exponential draws for sampling */
#define LS_MAX_NATIVE_FRAMES 32 /* user-space return addresses kept per native stack */

/* How a frame stores its position in the bytecode. */
enum ls_frame_kind {
	LS_FRAME_OBJECT = 1, /* 3.8-3.10: PyFrameObject with int f_lasti */
	LS_FRAME_INTERP = 2, /* 3.11+: _PyInterpreterFrame with an instruction pointer */
};

/* Everything the in-kernel walker needs about one interpreter build.
 * Offsets are in bytes from the start of the named struct. */
struct ls_py_offsets {
	__u32 runtime_interp_head;    /* _PyRuntime.interpreters.head */
	__u32 interp_threads_head;    /* PyInterpreterState.tstate_head / threads.head */
	__u32 tstate_next;            /* PyThreadState.next */
	__u32 tstate_thread_id;       /* PyThreadState.thread_id (pthread_self == fs base) */
	__u32 tstate_frame;           /* ->frame (<=3.10), ->cframe (3.11/3.12), ->current_frame (3.13+) */
	__s32 cframe_current_frame;   /* _PyCFrame.current_frame, or -1 when tstate_frame is the frame */
	__u32 frame_kind;             /* enum ls_frame_kind */
	__u32 frame_previous;         /* f_back / previous */
	__u32 frame_code;             /* f_code / f_executable */
	__u32 frame_lasti;            /* LS_FRAME_OBJECT: int f_lasti */
	__u32 lasti_unit;             /* LS_FRAME_OBJECT: bytes per f_lasti unit (1 or 2) */
	__u32 frame_instr_ptr;        /* LS_FRAME_INTERP: prev_instr / instr_ptr */
	__u32 frame_owner;            /* LS_FRAME_INTERP: owner (char) */
	__u32 owner_skip_from;        /* owners >= this are C-stack shim frames (0xff: none) */
	__u32 code_adaptive;          /* LS_FRAME_INTERP: co_code_adaptive */
	__s32 frame_tlbc_index;       /* 3.14t: int32 index of the thread's bytecode copy; -1: none */
	__s32 code_tlbc;              /* 3.14t: _PyCodeArray *co_tlbc {size, entries[]}; -1: none */
	__u64 code_mask;              /* f_executable mask: ~3 for 3.14 stack refs */
};

/* One Python frame as captured. */
struct ls_frame {
	__u64 code;   /* PyCodeObject* in the target */
	__s32 offset; /* byte offset of the current instruction in the bytecode; <0: not started */
	__u8 owner;   /* LS_FRAME_INTERP: frame owner (generator frames are 1) */
	__u8 pad[3];
};

enum ls_stack_flags {
	LS_STACK_TRUNCATED = 1,   /* deeper than LS_MAX_FRAMES */
	LS_STACK_READ_FAILED = 2, /* a read of target memory failed mid-walk */
	LS_STACK_NO_THREAD = 4,   /* no PyThreadState found for the thread */
	LS_STACK_CYCLE = 8,       /* user space: the frame chain loops back; walked once */
};

struct ls_stack {
	__u32 depth; /* frames used, innermost first */
	__u32 flags; /* enum ls_stack_flags */
	struct ls_frame frames[LS_MAX_FRAMES];
};

/* Allocation families: memory is only ever paired within one family. */
enum ls_family {
	LS_FAMILY_OBJECT = 0, /* Python objects (GIL builds: <= 512 bytes), born at _Py_NewReference */
	LS_FAMILY_NATIVE = 1, /* libc malloc family blocks (large objects, C extensions) */
	LS_FAMILY_COUNT,
};
/* ls_sample.family of a pymalloc pool refill: not an allocation family (no
 * live map, no totals, no seq); addr is the new pool's first block, size the
 * size class's block size, read from the pool's header, stack_id the stack. */
#define LS_POOL_REFILL 2
/* struct pool_header's szidx: after ref, freeblock, nextpool, prevpool, arenaindex. */
#define LS_POOL_HEADER_SZIDX 36

/* In GIL builds objects larger than this come from malloc and are counted by
 * the native family; free-threaded builds take every object from mimalloc. */
#define LS_PYMALLOC_MAX 512
/* ob_size is set after an object's birth: the probe reads a stale one. Where
 * no allocator bound applies (malloc_above 0), items past this are taken for
 * garbage and the object sized without them; user space sizes it again. */
#define LS_BIRTH_ITEMS_MAX (1u << 20)

/* x86-64 struct pt_regs, as an index of 8-byte words: which register holds an
 * argument at a probe site. Passed to the program as the BPF cookie. */
enum ls_reg {
	LS_REG_R15 = 0, LS_REG_R14, LS_REG_R13, LS_REG_R12, LS_REG_BP, LS_REG_BX,
	LS_REG_R11, LS_REG_R10, LS_REG_R9, LS_REG_R8, LS_REG_AX, LS_REG_CX,
	LS_REG_DX, LS_REG_SI, LS_REG_DI,
};

/* Cookie of an allocator entry probe: the registers holding its arguments
 * (size; n, size; old, size; or the block for free), one byte each, as enum
 * ls_reg + 1 (0: no such argument). */
#define LS_ALLOC_ARGS(a, b) ((__u64)((a) + 1) | ((__u64)((b) + 1) << 8))
#define LS_ALLOC_ARG(a) ((__u64)((a) + 1))

/* Type object fields read at creation to size an object (same in 3.8-3.14 GIL builds). */
struct ls_type_offsets {
	__u32 object_type;   /* ob_type */
	__u32 var_size;      /* ob_size */
	__u32 basicsize;     /* tp_basicsize */
	__u32 itemsize;      /* tp_itemsize */
	__u32 flags;         /* tp_flags */
	__u32 gc_header;     /* bytes in front of a GC object (PyGC_Head, managed pre-header) */
	__u32 malloc_above;  /* objects larger than this are the native family's; 0: none are */
};
#define LS_TPFLAGS_HAVE_GC (1ul << 14)

/* A sampled allocation: the value of the live maps (by address), and the
 * event sent to user space through the ring buffer. */
struct ls_sample {
	__u64 addr;     /* object address / block address */
	__u64 seq;      /* matches the value in the live map while the sample lives */
	__u64 stack_id; /* key in the stacks map */
	__u64 type;     /* PyTypeObject* (objects), 0 (native) */
	__u64 ts_ns;    /* bpf_ktime_get_ns() */
	__u32 size;     /* bytes */
	__u32 family;   /* enum ls_family, or LS_POOL_REFILL */
	__u32 tid;
	__u32 stack_flags;
	__u64 sample_bytes; /* mean sampling distance when it was drawn: its weight */
	__s32 native_stack_id; /* native blocks: key in native_stacks (frame-pointer walk); -1: none */
	__u32 pad;
};

/* Totals kept per family in a per-CPU array, read by user space. */
struct ls_family_stats {
	__u64 events;       /* probe hits */
	__u64 bytes;        /* bytes allocated (all, not only sampled) */
	__u64 samples;      /* samples taken */
	__u64 reused;       /* sampled addresses reborn before user space saw them die */
	__u64 sample_ns;    /* time spent recording samples: what denser sampling costs more of */
};

/* Per-CPU state of the allocation probes. */
struct ls_cpu_state {
	__s64 countdown; /* bytes left before the next sample */
	struct ls_family_stats family[LS_FAMILY_COUNT];
};

struct ls_gc_stats {
	__u64 collections;
	__u64 pause_ns;
	__u64 max_pause_ns;
};

/*
 * Error and drop counters, shared vocabulary across the BPF boundary.
 * X(name, remedy shown to the user). The BPF side bumps counters[LS_ERR_name];
 * user space prints the non-zero ones with their remedy.
 */
#define LS_ERRORS(X)                                                                         \
	X(STACK_TRUNCATED, "stacks deeper than 128 frames were cut; outer frames are missing")   \
	X(STACK_READ_FAILED, "a frame could not be read (target memory changed under the walk)") \
	X(NO_THREAD_STATE, "no Python thread state for the allocating thread")                \
	X(STACK_MAP_FULL, "stack table full; raise --stack-storage")                            \
	X(LIVE_MAP_FULL, "live-allocation table full; raise --max-live or --sample-bytes")      \
	X(SITE_MAP_FULL, "site table full; raise --stack-storage")                              \
	X(EVENT_RING_FULL, "event ring buffer full; events were dropped")                       \
	X(READ_FAILED, "a read of target memory failed in a probe")                            \
	X(NATIVE_STACK_MISSED, "the native stack of a sampled block could not be captured; its Python frames are kept")

enum ls_error {
#define LS_ERR_ENUM(name, remedy) LS_ERR_##name,
	LS_ERRORS(LS_ERR_ENUM)
#undef LS_ERR_ENUM
	LS_ERR_COUNT
};

#endif /* LEAKSCOPE_H */
