/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The Python frame walker. One copy of the logic, compiled twice: into the
 * BPF programs (reading the current task with bpf_probe_read_user) and into
 * user space for `leakscope dump` (reading with process_vm_readv). Version
 * differences come only from struct ls_py_offsets.
 *
 * The includer defines, before including this file:
 *   static int ls_read(void *reader, void *dst, __u32 size, __u64 addr);
 * returning 0 when all bytes were read.
 */
#ifndef LEAKSCOPE_PYWALK_H
#define LEAKSCOPE_PYWALK_H

#include "leakscope.h"

#ifndef LS_INLINE
#define LS_INLINE static inline
#endif

/* The innermost frame of a thread, 0 if it runs no Python code; -1 on a failed read. */
LS_INLINE __s64 ls_first_frame(void *reader, const struct ls_py_offsets *o, __u64 tstate)
{
	__u64 p = 0;

	if (ls_read(reader, &p, sizeof(p), tstate + o->tstate_frame))
		return -1;
	/* 3.11/3.12: tstate->cframe->current_frame */
	if (o->cframe_current_frame >= 0 && p) {
		if (ls_read(reader, &p, sizeof(p), p + (__u32)o->cframe_current_frame))
			return -1;
	}
	return (__s64)p;
}

/*
 * Where the bytecode instr_ptr points into starts: co_code_adaptive, or in
 * 3.14t a thread's own copy, co_tlbc->entries[tlbc_index] (entry 0 is
 * co_code_adaptive). 0 when a read fails or the index is out of range.
 */
LS_INLINE __u64 ls_bytecode_start(void *reader, const struct ls_py_offsets *o, __u64 f, __u64 code)
{
	__s32 index = 0;
	__u64 array = 0, size = 0, start = 0;

	if (o->frame_tlbc_index < 0)
		return code + o->code_adaptive;
	if (ls_read(reader, &index, sizeof(index), f + (__u32)o->frame_tlbc_index))
		return 0;
	if (index == 0)
		return code + o->code_adaptive;
	if (ls_read(reader, &array, sizeof(array), code + (__u32)o->code_tlbc) ||
	    ls_read(reader, &size, sizeof(size), array))
		return 0;
	if (index < 0 || (__u64)index >= size ||
	    ls_read(reader, &start, sizeof(start), array + 8 + 8 * (__u64)index))
		return 0;
	return start;
}

/*
 * Appends up to LS_MAX_FRAMES - out->depth frames, starting at *frame, to
 * out. On return *frame is the next frame not yet walked (0 at the end of the
 * chain), so a caller with room for more can call again.
 * Returns 0, or LS_STACK_READ_FAILED.
 */
LS_INLINE __u32 ls_walk_frames(void *reader, const struct ls_py_offsets *o, __u64 *frame,
			       struct ls_stack *out)
{
	for (int i = 0; i < LS_MAX_FRAMES; i++) {
		__u64 f = *frame, next = 0, code = 0;
		__s64 offset = -1;
		__u8 owner = 0;

		if (!f || out->depth >= LS_MAX_FRAMES)
			return 0;
		if (ls_read(reader, &next, sizeof(next), f + o->frame_previous) ||
		    ls_read(reader, &code, sizeof(code), f + o->frame_code))
			return LS_STACK_READ_FAILED;
		code &= o->code_mask;

		if (o->frame_kind == LS_FRAME_OBJECT) {
			__s32 lasti = 0;

			if (ls_read(reader, &lasti, sizeof(lasti), f + o->frame_lasti))
				return LS_STACK_READ_FAILED;
			offset = lasti < 0 ? -1 : (__s64)lasti * o->lasti_unit;
		} else {
			__u64 ip = 0, start = 0;

			if (ls_read(reader, &owner, sizeof(owner), f + o->frame_owner))
				return LS_STACK_READ_FAILED;
			/* Shim frames (3.12+) stand for C code; they have no source line. */
			if (owner >= o->owner_skip_from) {
				*frame = next;
				continue;
			}
			if (ls_read(reader, &ip, sizeof(ip), f + o->frame_instr_ptr))
				return LS_STACK_READ_FAILED;
			start = ls_bytecode_start(reader, o, f, code);
			offset = start ? (__s64)(ip - start) : -1;
			/* prev_instr is one code unit before the start at frame entry */
			if (offset < 0 || offset > 0x7fffffff)
				offset = -1;
		}

		__u32 d = out->depth;
		struct ls_frame *slot = &out->frames[d & (LS_MAX_FRAMES - 1)];
		slot->code = code;
		slot->offset = (__s32)offset;
		slot->owner = owner;
		out->depth = d + 1;
		*frame = next;
	}
	return 0;
}

#endif /* LEAKSCOPE_PYWALK_H */
