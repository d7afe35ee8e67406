// SPDX-License-Identifier: BSD-2-Clause
#include "python/stack_walk.h"

#include <algorithm>
#include <unordered_set>

namespace leakscope::python {
namespace {

int ls_read(void* reader, void* dst, __u32 size, __u64 addr) {
    return static_cast<const proc::MemoryReader*>(reader)->read(addr, dst, size) ? 0 : -1;
}

}  // namespace
}  // namespace leakscope::python

// The same walker the BPF programs run, reading through a MemoryReader.
namespace leakscope::python {
#include "pywalk.h"
}

namespace leakscope::python {
namespace {

struct ChainBound {
    size_t frames;  // frames in the chain before it ends or comes back to one already seen
    bool cycle;
};

// The walker itself keeps no memory of where it has been (the BPF verifier
// bounds it by LS_MAX_FRAMES); here a chain can be walked much deeper, so
// loops are found first by following the links alone.
ChainBound chain_bound(const proc::MemoryReader& mem, const ls_py_offsets& o, uint64_t first, size_t max) {
    std::unordered_set<uint64_t> seen;
    for (uint64_t f = first; f && seen.size() < max;) {
        if (!seen.insert(f).second) return {seen.size(), true};
        auto next = mem.read_ptr(f + o.frame_previous);
        if (!next) break;
        f = *next;
    }
    return {seen.size(), false};
}

}  // namespace

WalkedStack walk_stack(const proc::MemoryReader& mem, const ls_py_offsets& o, uint64_t tstate, size_t max_frames) {
    WalkedStack out;
    void* reader = const_cast<proc::MemoryReader*>(&mem);
    const __s64 first = ls_first_frame(reader, &o, tstate);
    if (first < 0) {
        out.flags = LS_STACK_READ_FAILED;
        return out;
    }
    const ChainBound bound = chain_bound(mem, o, static_cast<uint64_t>(first), max_frames);
    if (bound.cycle) out.flags |= LS_STACK_CYCLE;
    __u64 frame = static_cast<__u64>(first);
    ls_stack chunk{};
    bool cut = false;
    while (frame && out.frames.size() < bound.frames) {
        chunk.depth = 0;
        out.flags |= ls_walk_frames(reader, &o, &frame, &chunk);
        const size_t keep = std::min<size_t>(chunk.depth, bound.frames - out.frames.size());
        out.frames.insert(out.frames.end(), chunk.frames, chunk.frames + keep);
        cut = keep < chunk.depth;
        if (out.flags & LS_STACK_READ_FAILED || chunk.depth == 0) break;
    }
    if ((frame || cut) && !(out.flags & (LS_STACK_READ_FAILED | LS_STACK_CYCLE))) out.flags |= LS_STACK_TRUNCATED;
    return out;
}

}  // namespace leakscope::python
