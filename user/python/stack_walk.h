// SPDX-License-Identifier: BSD-2-Clause
// A thread's whole Python frame chain, walked in user space with the same
// walker the BPF programs run (bpf/pywalk.h), bounded whatever the target's
// memory says: at most max_frames frames, and a chain that loops back on
// itself is walked once (LS_STACK_CYCLE).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "leakscope.h"
#include "proc/memory.h"

namespace leakscope::python {

// A deep recursion is walked in LS_MAX_FRAMES chunks up to this many frames.
constexpr size_t kMaxWalkFrames = 65536;

struct WalkedStack {
    std::vector<ls_frame> frames;  // innermost first
    uint32_t flags = 0;            // enum ls_stack_flags
};

WalkedStack walk_stack(const proc::MemoryReader& mem, const ls_py_offsets& offsets, uint64_t tstate,
                       size_t max_frames = kMaxWalkFrames);

}  // namespace leakscope::python
