// SPDX-License-Identifier: BSD-2-Clause
// The one walk of an interpreter's list of thread states, for reading stacks
// and for checking a layout against live memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "proc/memory.h"
#include "python/layout.h"

namespace leakscope::python {

// Each thread state gets checked with its predecessor (0 for the head) before
// it is taken; a check may throw to reject the list.
using ThreadStateCheck = std::function<void(uint64_t tstate, uint64_t prev)>;

// Thread states of interp, head first, at most max; a link that cannot be
// read ends the list. *cut is set when the list went on past max or looped
// back (corrupt memory): each thread state is taken once.
std::vector<uint64_t> thread_list(const proc::MemoryReader& mem, const PyLayout& layout, uint64_t interp,
                                  size_t max, const ThreadStateCheck& check = nullptr, bool* cut = nullptr);

}  // namespace leakscope::python
