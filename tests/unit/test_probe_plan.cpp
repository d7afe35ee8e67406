// SPDX-License-Identifier: BSD-2-Clause
// Probe plans of the installed interpreter builds, table-driven: how many
// probes of each kind a build gets, and that none is placed twice.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "elf/elf_file.h"
#include "trace/probe_plan.h"

extern "C" {
#include "leakscope.h"
}

using namespace leakscope;
using namespace leakscope::trace;

namespace {

constexpr const char* kLibc = "/lib/x86_64-linux-gnu/libc.so.6";

std::map<ProbeKind, size_t> count_kinds(const ProbePlan& plan) {
    std::map<ProbeKind, size_t> n;
    for (const auto& p : plan.probes) ++n[p.kind];
    return n;
}

}  // namespace

TEST_CASE("probe plans of installed builds", "[probe_plan]") {
    struct Case {
        const char* label;
        std::string python;     // the file holding the interpreter
        size_t min_object_new;  // copies of _Py_NewReference found
        bool usdt_gc;           // --with-dtrace build
        bool pool_refill;       // allocate_from_new_pool is a function of its own (3.9+)
    };
    const Case cases[] = {
        {"Debian python3.11 (static, LTO, dtrace)", "/usr/bin/python3.11", 100, true, true},
        {"pyenv 3.8 libpython", "/root/.pyenv/versions/3.8.18/lib/libpython3.8.so.1.0", 1, false, false},
        {"pyenv 3.9 libpython", "/root/.pyenv/versions/3.9.18/lib/libpython3.9.so.1.0", 1, false, true},
        {"pyenv 3.12 libpython", "/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0", 1, false, true},
    };
    if (::access(kLibc, R_OK) != 0) {
        WARN("SKIP: " << kLibc << " is not installed");
        return;
    }
    elf::ElfFile libc(kLibc);
    for (const auto& c : cases) {
        INFO(c.label);
        if (::access(c.python.c_str(), R_OK) != 0) {
            WARN("SKIP: " << c.label << " is not installed (" << c.python << ")");
            continue;
        }
        elf::ElfFile python(c.python);
        ProbePlan plan = plan_probes({&python, c.python}, {&libc, kLibc});
        auto n = count_kinds(plan);
        CHECK(n[ProbeKind::ObjectNew] >= c.min_object_new);
        // malloc, valloc, pvalloc, memalign = aligned_alloc (one alias); calloc; realloc; free
        CHECK(n[ProbeKind::Malloc] == 4);
        CHECK(n[ProbeKind::Calloc] == 1);
        CHECK(n[ProbeKind::Realloc] == 1);
        CHECK(n[ProbeKind::MallocReturn] == 6);
        CHECK(n[ProbeKind::Free] == 1);
        if (c.usdt_gc) {
            CHECK(n[ProbeKind::UsdtGcStart] == 1);
            CHECK(n[ProbeKind::UsdtGcDone] == 1);
        } else {
            CHECK(n[ProbeKind::GcEnter] >= 1);
            CHECK(n[ProbeKind::GcEnter] == n[ProbeKind::GcExit]);
        }
        CHECK(n[ProbeKind::PoolRefill] == (c.pool_refill ? 1u : 0u));
        std::set<std::tuple<ProbeKind, std::string, uint64_t>> placed;
        for (const auto& p : plan.probes) {
            INFO(probe_kind_name(p.kind) << " at " << p.where);
            CHECK(p.file_offset != 0);
            CHECK(placed.insert({p.kind, p.binary, p.vaddr}).second);  // never twice
        }
        CHECK_FALSE(plan.notes.empty());
        for (const auto& p : plan.probes)  // GIL builds: PyMem is pymalloc
            CHECK(p.where.find("_PyMem_Mi") == std::string::npos);
    }
}

TEST_CASE("PyMem's mimalloc entries are planned for free-threaded builds, all or none", "[probe_plan]") {
    // pyenv 3.13's GIL build has the same functions (for PYTHONMALLOC=mimalloc).
    const std::string path = "/root/.pyenv/versions/3.13.0/lib/libpython3.13.so.1.0";
    if (::access(path.c_str(), R_OK) != 0 || ::access(kLibc, R_OK) != 0) {
        WARN("SKIP: pyenv 3.13 is not installed (" << path << ")");
        return;
    }
    elf::ElfFile python(path), libc(kLibc);
    const ProbePlan plan = plan_probes({&python, path}, {&libc, kLibc}, /*free_threaded=*/true);
    std::map<std::string, uint64_t> cookies;  // PyMem entry -> the registers of its arguments
    for (const auto& p : plan.probes)
        if (p.where.starts_with("_PyMem_Mi") && p.kind != ProbeKind::MallocReturn)
            cookies[p.where.substr(0, p.where.find('+'))] = p.cookie;
    CHECK(cookies == std::map<std::string, uint64_t>{{"_PyMem_MiMalloc", LS_ALLOC_ARG(LS_REG_SI)},
                                                     {"_PyMem_MiCalloc", LS_ALLOC_ARGS(LS_REG_SI, LS_REG_DX)},
                                                     {"_PyMem_MiRealloc", LS_ALLOC_ARGS(LS_REG_SI, LS_REG_DX)},
                                                     {"_PyMem_MiFree", LS_ALLOC_ARG(LS_REG_SI)}});
    CHECK(count_kinds(plan)[ProbeKind::MallocReturn] == 6 + 3);  // libc's and PyMem's allocating entries
    const std::string debian = "/usr/bin/python3.11";  // no mimalloc before 3.13: nothing planned, a note says so
    if (::access(debian.c_str(), R_OK) == 0) {
        elf::ElfFile old(debian);
        ProbePlan plan = plan_probes({&old, debian}, {&libc, kLibc}, true);
        CHECK(std::none_of(plan.probes.begin(), plan.probes.end(),
                           [](const Probe& p) { return p.where.starts_with("_PyMem_Mi"); }));
        CHECK(std::any_of(plan.notes.begin(), plan.notes.end(),
                          [](const std::string& s) { return s.find("not traced") != std::string::npos; }));
    }
}

TEST_CASE("a stripped LTO build's pool refill is found from PyObject_Malloc where its debug file puts it",
          "[probe_plan]") {
    const std::string path = "/usr/bin/python3.11";
    if (::access(path.c_str(), R_OK) != 0 || ::access(kLibc, R_OK) != 0) {
        WARN("SKIP: Debian's python3.11 is not installed");
        return;
    }
    auto refill_of = [](const ProbePlan& plan) -> std::optional<Probe> {
        for (const auto& p : plan.probes)
            if (p.kind == ProbeKind::PoolRefill) return p;
        return std::nullopt;
    };
    elf::ElfFile libc(kLibc), stripped(path);
    const auto found = refill_of(plan_probes({&stripped, path}, {&libc, kLibc}));
    REQUIRE(found);
    CHECK(found->where.starts_with("allocate_from_new_pool (the call in PyObject_Malloc)"));

    const auto id = stripped.build_id();
    const std::string debug = id ? "/usr/lib/debug/.build-id/" + id->substr(0, 2) + "/" + id->substr(2) + ".debug" : "";
    if (debug.empty() || ::access(debug.c_str(), R_OK) != 0) {
        WARN("SKIP: python3.11-dbg is not installed; the address found is not checked against its symbols");
        return;
    }
    elf::ElfFile with_debug(path);
    with_debug.attach_debug_file(std::make_unique<elf::ElfFile>(debug));
    const auto named = refill_of(plan_probes({&with_debug, path}, {&libc, kLibc}));
    REQUIRE(named);
    CHECK(named->where.starts_with("allocate_from_new_pool.lto_priv.0+0x0"));
    CHECK(named->vaddr == found->vaddr);
    CHECK(named->file_offset == found->file_offset);
}
