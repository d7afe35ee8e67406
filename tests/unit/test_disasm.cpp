// SPDX-License-Identifier: BSD-2-Clause
// Probe placement by disassembly, table-driven: instruction bytes in, whether
// the kernel emulates them and where a probe goes out.
#include <catch2/catch.hpp>
#include <cstring>

#include "trace/disasm.h"

using namespace leakscope::trace;

namespace {
using Bytes = std::vector<uint8_t>;
}  // namespace

TEST_CASE("which instructions the kernel emulates at a uprobe", "[disasm]") {
    struct Case {
        const char* what;
        Bytes insn;
        bool emulated;
    };
    const Case cases[] = {
        {"nop", {0x90}, true},
        {"push rbp", {0x55}, true},
        {"push rbx", {0x53}, true},
        {"jmp rel32", {0xe9, 0x10, 0, 0, 0}, true},
        {"jmp rel8", {0xeb, 0x10}, true},
        {"call rel32", {0xe8, 0x10, 0, 0, 0}, true},
        {"je rel8", {0x74, 0x05}, true},
        {"jne rel32", {0x0f, 0x85, 0x10, 0, 0, 0}, true},
        {"mov rbp, rsp", {0x48, 0x89, 0xe5}, false},
        {"sub rsp, 8", {0x48, 0x83, 0xec, 0x08}, false},
        {"mov eax, [rip+0x10]", {0x8b, 0x05, 0x10, 0, 0, 0}, false},
        {"movq [rdi], 1", {0x48, 0xc7, 0x07, 0x01, 0, 0, 0}, false},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        CHECK(kernel_emulates(c.insn) == c.emulated);
    }
}

TEST_CASE("a function probe goes on the first emulated instruction that keeps its arguments", "[disasm]") {
    constexpr uint64_t kEntry = 0x1000;
    struct Case {
        const char* what;
        Bytes code;
        std::vector<ls_reg> keep;
        uint64_t vaddr;
        bool emulated;
    };
    const Case cases[] = {
        {"push at the entry", {0x55, 0x48, 0x89, 0xe5}, {LS_REG_DI}, kEntry, true},
        {"a move that leaves rdi alone, then push", {0x48, 0x89, 0xf8, 0x53}, {LS_REG_DI}, kEntry + 3, true},
        {"rdi written first: the entry, single-stepped", {0xbf, 0x01, 0, 0, 0, 0x53}, {LS_REG_DI}, kEntry, false},
        {"rsi written, rdi kept", {0xbe, 0x01, 0, 0, 0, 0x53}, {LS_REG_DI}, kEntry + 5, true},
        {"rsi written and kept", {0xbe, 0x01, 0, 0, 0, 0x53}, {LS_REG_DI, LS_REG_SI}, kEntry, false},
        {"nothing emulated", {0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x08, 0xc3}, {LS_REG_DI}, kEntry, false},
        {"undecodable bytes", {0x0f, 0x0b, 0xff, 0xff}, {LS_REG_DI}, kEntry, false},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        Placement p = place_in_function(kEntry, c.code, c.keep);
        CHECK(p.vaddr == c.vaddr);
        CHECK(p.emulated == c.emulated);
        CHECK_FALSE(p.insn.empty());
    }
}

TEST_CASE("inlined _Py_NewReference copies are found by their tracemalloc check", "[disasm]") {
    constexpr uint64_t kBase = 0x1000, kFlag = 0x5004;
    // cmpl $0, kFlag(%rip); jne +7; movq $1, (reg)
    auto site = [&](uint8_t modrm_reg) {
        const int32_t disp = int32_t(kFlag - (kBase + 7));
        Bytes code = {0x83, 0x3d, 0, 0, 0, 0, 0x00, 0x75, 0x07, 0x48, 0xc7, modrm_reg, 0x01, 0, 0, 0};
        std::memcpy(code.data() + 2, &disp, 4);
        return code;
    };
    struct Case {
        const char* what;
        Bytes code;
        size_t sites;
        ls_reg reg;
    };
    const Case cases[] = {
        {"object in rdi", site(0x07), 1, LS_REG_DI},
        {"object in rbx", site(0x03), 1, LS_REG_BX},
        {"no store of the reference count", [&] { auto c = site(0x07); c[10] = 0x89; return c; }(), 0, LS_REG_DI},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        SiteScan scan = find_new_reference_sites(kBase, c.code, kFlag, 0, 0);
        CHECK(scan.candidates == 1);
        REQUIRE(scan.sites.size() == c.sites);
        if (c.sites) {
            CHECK(scan.sites[0].vaddr == kBase + 7);  // the conditional branch
            CHECK(scan.sites[0].reg == c.reg);
        }
    }
}
