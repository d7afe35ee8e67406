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

// The plan for --verbose: its notes and one line per probe, indented.
// floor_ns: the measured cost of an empty probe hit here.
std::string describe_plan(const ProbePlan& plan, double floor_ns);

}  // namespace leakscope::trace
