// SPDX-License-Identifier: BSD-2-Clause
// Where exactly to put a uprobe, decided by disassembly (capstone).
//
// The kernel emulates a few x86 instructions when a uprobe hits them (push
// reg, nop, jmp/call rel, jcc rel); every other instruction is single-stepped
// out of line, which costs ~10x more on this kind of machine. So a probe goes
// on the first emulated instruction at which the arguments it reads are still
// intact.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

extern "C" {
#include "leakscope.h"
}

namespace leakscope::trace {

// True when the kernel emulates this instruction at a uprobe (x86-64).
bool kernel_emulates(std::span<const uint8_t> insn);

struct Placement {
    uint64_t vaddr = 0;     // where the probe goes
    bool emulated = false;  // false: single-stepped (the entry was the only safe place)
    std::string insn;       // the instruction probed, for --verbose
};

// The first emulated instruction of the function at entry_vaddr (code holds
// its bytes) before which none of `keep` (argument registers) is written and
// no other branch is taken; the entry itself when there is none.
Placement place_in_function(uint64_t entry_vaddr, std::span<const uint8_t> code,
                            std::span<const ls_reg> keep);

// The targets of the direct calls in a function's code (mapped at base_vaddr).
std::vector<uint64_t> direct_call_targets(uint64_t base_vaddr, std::span<const uint8_t> code);

// An inlined copy of _Py_NewReference(op): the conditional branch on
// _Py_tracemalloc_config.tracing, where `reg` still holds op.
struct NewReferenceSite {
    uint64_t vaddr = 0;
    ls_reg reg = LS_REG_DI;
};

struct SiteScan {
    std::vector<NewReferenceSite> sites;
    size_t candidates = 0;  // references to the flag found
    std::vector<uint64_t> rejected;  // references whose shape could not be verified
};

// Scans code (mapped at base_vaddr) for reads of the tracing flag at
// flag_vaddr, directly (RIP-relative) or through the GOT slot got_vaddr
// (0: none) followed by a +flag_field dereference, then a jcc, and on the
// not-tracing path `movq $1, (reg)` (the new reference count).
SiteScan find_new_reference_sites(uint64_t base_vaddr, std::span<const uint8_t> code,
                                  uint64_t flag_vaddr, uint64_t got_vaddr, int64_t flag_field);

}  // namespace leakscope::trace
