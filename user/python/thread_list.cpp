// SPDX-License-Identifier: BSD-2-Clause
#include "python/thread_list.h"

namespace leakscope::python {

std::vector<uint64_t> thread_list(const proc::MemoryReader& mem, const PyLayout& L, uint64_t interp, size_t max,
                                  const ThreadStateCheck& check) {
    std::vector<uint64_t> out;
    uint64_t prev = 0;
    for (uint64_t ts = mem.read_ptr(interp + L.interp_threads_head).value_or(0); ts && out.size() < max;
         prev = ts, ts = mem.read_ptr(ts + L.tstate_next).value_or(0)) {
        if (check) check(ts, prev);
        out.push_back(ts);
    }
    return out;
}

}  // namespace leakscope::python
