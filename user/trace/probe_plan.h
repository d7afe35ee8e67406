// SPDX-License-Identifier: BSD-2-Clause
// Which functions and instructions are hooked in one interpreter build, and
// why: decided from the binary itself (symbols, disassembly, USDT notes),
// never from its version alone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "elf/elf_file.h"

namespace leakscope::trace {

enum class ProbeKind {
    ObjectNew,     // an object is born; cookie: the register holding it (enum ls_reg)
    Malloc,        // allocator entries (libc's malloc family; PyMem's mimalloc
    Calloc,        // entries in free-threaded builds); cookie: the registers
    Realloc,       // holding their arguments (LS_ALLOC_ARGS)
    MallocReturn,  // return of the above
    Free,
    GcEnter,       // collector function entry / return
    GcExit,
    UsdtGcStart,   // python:gc__start / gc__done USDT probes (--with-dtrace builds)
    UsdtGcDone,
    PoolRefill,    // return of pymalloc's allocate_from_new_pool (the pool's first block)
};

// Probes whose program runs when the probed function returns.
bool is_return_probe(ProbeKind kind);

const char* probe_kind_name(ProbeKind kind);

struct Probe {
    ProbeKind kind;
    std::string binary;        // path to attach to (openable from here)
    uint64_t vaddr = 0;        // ELF virtual address of the probed instruction
    uint64_t file_offset = 0;  // what the kernel wants
    uint64_t cookie = 0;
    bool emulated = false;     // the kernel emulates the instruction (cheap)
    std::string where;         // "_Py_NewReference+7: push rbx"
};

struct ProbePlan {
    std::vector<Probe> probes;
    std::vector<std::string> notes;  // what was decided and why, for --verbose
};

// An ELF file and the path the tracer can open it by.
struct Binary {
    const elf::ElfFile* elf = nullptr;
    std::string path;
};

// python: the file holding the interpreter (libpython or the executable).
// libc: the C library the target uses (elf null: native memory not traced).
// free_threaded: PyMem allocates from mimalloc, not from pymalloc and malloc.
ProbePlan plan_probes(const Binary& python, const Binary& libc, bool free_threaded = false);

// Hits and run time of a program (the kernel's run-time statistics).
struct ProgramCost {
    uint64_t hits = 0;
    uint64_t return_hits = 0;  // of which return probes'
    uint64_t run_ns = 0;
};

// What an empty probe hit costs on this machine: an entry probe's one trap,
// and a return probe's (the trap at entry, the return address swapped, the
// trap on return).
struct ProbeFloor {
    double entry_ns = 0, return_ns = 0;
    // A return probe's hits cost return_ns each; the entry's trap is shared
    // where an entry probe sits at the same address, so this errs high.
    double cost_ns(const ProgramCost& c) const {
        return double(c.hits - c.return_hits) * entry_ns + double(c.return_hits) * return_ns + double(c.run_ns);
    }
};

// The plan for --verbose: its notes and one line per probe, indented;
// floor: what empty probe hits cost here.
std::string describe_plan(const ProbePlan& plan, const ProbeFloor& floor);

}  // namespace leakscope::trace
