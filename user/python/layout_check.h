// SPDX-License-Identifier: BSD-2-Clause
// Checks a PyLayout against a live process before anything trusts it: a wrong
// table must fail here, loudly, rather than make the tracer read garbage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "proc/memory.h"
#include "python/layout.h"

namespace leakscope::python {

// Thread states of the interpreter at the head of _PyRuntime's list, in list
// order, at most `max`. Stops at the first unreadable link.
std::vector<uint64_t> thread_states(const PyLayout& layout, const proc::MemoryReader& mem,
                                    uint64_t runtime_addr, size_t max = 256);

// Throws Error(Errc::LayoutMismatch) naming the first check that failed:
// interpreter list, thread list (back-links, thread ids), GIL and GC state,
// the code object on a frame, and for 3.13+ the sizes the layout relies on
// against the target's _Py_DebugOffsets.
void check_layout(const PyLayout& layout, const proc::MemoryReader& mem, uint64_t runtime_addr);

}  // namespace leakscope::python
