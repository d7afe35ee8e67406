// SPDX-License-Identifier: BSD-2-Clause
// Probe plans of the installed interpreter builds, table-driven: how many
// probes of each kind a build gets, and that none is placed twice.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <map>
#include <set>

#include "elf/elf_file.h"
#include "trace/probe_plan.h"

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
    };
    const Case cases[] = {
        {"Debian python3.11 (static, LTO, dtrace)", "/usr/bin/python3.11", 100, true},
        {"pyenv 3.8 libpython", "/root/.pyenv/versions/3.8.18/lib/libpython3.8.so.1.0", 1, false},
        {"pyenv 3.12 libpython", "/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0", 1, false},
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
        // malloc, valloc, pvalloc; calloc; realloc; memalign = aligned_alloc (one alias); free
        CHECK(n[ProbeKind::Malloc] == 3);
        CHECK(n[ProbeKind::Calloc] == 1);
        CHECK(n[ProbeKind::Realloc] == 1);
        CHECK(n[ProbeKind::AlignedAlloc] == 1);
        CHECK(n[ProbeKind::MallocReturn] == 6);
        CHECK(n[ProbeKind::Free] == 1);
        if (c.usdt_gc) {
            CHECK(n[ProbeKind::UsdtGcStart] == 1);
            CHECK(n[ProbeKind::UsdtGcDone] == 1);
        } else {
            CHECK(n[ProbeKind::GcEnter] >= 1);
            CHECK(n[ProbeKind::GcEnter] == n[ProbeKind::GcExit]);
        }
        std::set<std::tuple<ProbeKind, std::string, uint64_t>> placed;
        for (const auto& p : plan.probes) {
            INFO(probe_kind_name(p.kind) << " at " << p.where);
            CHECK(p.file_offset != 0);
            CHECK(placed.insert({p.kind, p.binary, p.vaddr}).second);  // never twice
        }
        CHECK_FALSE(plan.notes.empty());
    }
}
