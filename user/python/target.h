// SPDX-License-Identifier: BSD-2-Clause
// A CPython process ready to be read: interpreter found, layout resolved and
// checked against live memory. Every command starts here.
#pragma once

#include <memory>

#include "proc/memory.h"
#include "python/discovery.h"
#include "python/layout.h"

namespace leakscope::python {

struct Target {
    Interpreter interp;
    PyLayout layout;
    std::unique_ptr<proc::ProcessMemory> mem;
    uint64_t code_type = 0;  // &PyCode_Type in the target

    // The main interpreter's first thread state, 0 if none.
    uint64_t interpreter() const;
    // The collector's state (GCState), 0 if it cannot be told.
    uint64_t gc_state() const;
    // All thread states of all interpreters (bounded). *cut is set when a
    // list was longer than the bound or looped back.
    std::vector<uint64_t> thread_states(bool* cut = nullptr) const;
};

// Throws leakscope::Error (NoSuchProcess, NotPython, UnsupportedVersion, LayoutMismatch, ...).
// check_live: also check the layout against the running interpreter (it must
// be initialized; `run` checks later, once it is).
Target open_target(pid_t pid, const DiscoveryOptions& options, bool check_live = true);

}  // namespace leakscope::python
