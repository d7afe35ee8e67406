// SPDX-License-Identifier: BSD-2-Clause
// `leakscope dump`: every thread's Python stack, read without stopping the target.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <vector>

#include "core/frame.h"
#include "python/target.h"

namespace leakscope::python {

struct ThreadDump {
    int64_t tid = -1;        // kernel thread id; -1 when it could not be told
    bool holds_gil = false;
    Stack frames;            // innermost first
    uint32_t flags = 0;      // enum ls_stack_flags
};

std::vector<ThreadDump> dump_threads(const Target& target);

nlohmann::json dump_json(const Target& target, const std::vector<ThreadDump>& threads);
void print_dump(std::ostream& out, const Target& target, const std::vector<ThreadDump>& threads);

}  // namespace leakscope::python
