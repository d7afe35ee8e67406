// SPDX-License-Identifier: BSD-2-Clause
// `leakscope dump`: every thread's Python stack, read without stopping the target.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <vector>

#include "core/frame.h"
#include "python/symbolizer.h"
#include "python/target.h"

namespace leakscope::python {

struct ThreadDump {
    int64_t tid = -1;        // kernel thread id; -1 when it could not be told
    bool holds_gil = false;
    Stack frames;            // innermost first
    uint32_t flags = 0;      // enum ls_stack_flags
};

struct Dump {
    std::vector<ThreadDump> threads;
    SymbolizeDrops drops;     // what could not be read, shown as placeholders
    uint64_t looping_chains = 0;  // threads whose frame chain loops back on itself
    uint64_t truncated_stacks = 0;   // threads whose stack is deeper than the walk goes
    uint64_t unreadable_stacks = 0;  // threads whose frame chain broke off mid-walk
    bool thread_list_cut = false;    // longer than the bound, or looping
};

// The kernel thread id (as leakscope sees it) of each thread state; -1 when it
// cannot be told.
std::vector<int64_t> thread_tids(const Target& target, const std::vector<uint64_t>& tstates);

Dump dump_threads(const Target& target);

nlohmann::json dump_json(const Target& target, const Dump& dump);
void print_dump(std::ostream& out, const Target& target, const Dump& dump);

}  // namespace leakscope::python
