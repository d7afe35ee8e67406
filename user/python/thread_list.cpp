// SPDX-License-Identifier: BSD-2-Clause
#include "python/thread_list.h"

#include <unordered_set>

namespace leakscope::python {

std::vector<uint64_t> thread_list(const proc::MemoryReader& mem, const PyLayout& L, uint64_t interp, size_t max,
                                  const ThreadStateCheck& check, bool* cut) {
    std::vector<uint64_t> out;
    std::unordered_set<uint64_t> seen;
    uint64_t prev = 0, ts = mem.read_ptr(interp + L.interp_threads_head).value_or(0);
    for (; ts && out.size() < max && seen.insert(ts).second;
         prev = ts, ts = mem.read_ptr(ts + L.tstate_next).value_or(0)) {
        if (check) check(ts, prev);
        out.push_back(ts);
    }
    if (cut && ts) *cut = true;
    return out;
}

}  // namespace leakscope::python
