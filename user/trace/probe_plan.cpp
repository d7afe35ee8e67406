// SPDX-License-Identifier: BSD-2-Clause
#include "trace/probe_plan.h"

#include <fmt/format.h>

#include <array>
#include <span>
#include <set>

#include "trace/disasm.h"

namespace leakscope::trace {
namespace {

// _PyTraceMalloc_Config.tracing: the flag every _Py_NewReference tests first (3.8-3.11).
constexpr const char* kTracemallocConfig = "_Py_tracemalloc_config";
constexpr int64_t kTracingField = 4;

std::string describe(const elf::ElfFile& elf, uint64_t vaddr, const std::string& insn) {
    auto fn = elf.find_symbol([&](const elf::Symbol& s) {
        return s.is_function && s.value <= vaddr && vaddr < s.value + std::max<uint64_t>(s.size, 1);
    });
    std::string at = fn ? fmt::format("{}+{:#x}", fn->name, vaddr - fn->value) : fmt::format("{:#x}", vaddr);
    return insn.empty() ? at : fmt::format("{}: {}", at, insn);
}

// A probe on the function `name` at its first emulated instruction with the
// argument registers in `keep` intact.
std::optional<Probe> function_probe(const Binary& bin, const elf::Symbol& sym, ProbeKind kind,
                                    std::span<const ls_reg> keep, uint64_t cookie) {
    auto code = bin.elf->read_vaddr(sym.value, std::max<uint64_t>(sym.size, 16));
    if (!code) return std::nullopt;
    Placement p = place_in_function(sym.value, *code, keep);
    auto off = bin.elf->file_offset(p.vaddr);
    if (!off) return std::nullopt;
    return Probe{kind, bin.path, p.vaddr, *off, cookie, p.emulated,
                 fmt::format("{}+{:#x}: {}", sym.name, p.vaddr - sym.value, p.insn)};
}

// Return probes must sit on the entry (the kernel swaps the return address there).
std::optional<Probe> entry_probe(const Binary& bin, const elf::Symbol& sym, ProbeKind kind) {
    auto code = bin.elf->read_vaddr(sym.value, 16);
    auto off = bin.elf->file_offset(sym.value);
    if (!code || !off) return std::nullopt;
    const ls_reg none[] = {LS_REG_DI};
    Placement p = place_in_function(sym.value, *code, none);
    return Probe{kind, bin.path, sym.value, *off, 0, p.vaddr == sym.value && p.emulated, sym.name + "+0x0"};
}

void plan_object_births(const Binary& py, ProbePlan& plan) {
    const elf::ElfFile& elf = *py.elf;
    // 3.8-3.11: every _Py_NewReference, called or inlined, starts by testing the
    // tracemalloc flag; the branch on it is emulated and holds the object.
    if (auto config = elf.symbol(kTracemallocConfig)) {
        auto text = elf.section(".text");
        if (text && !text->is_nobits()) {
            uint64_t got = elf.is_position_dependent() ? 0 : elf.got_slot(kTracemallocConfig).value_or(0);
            SiteScan scan = find_new_reference_sites(text->vaddr, elf.section_data(*text),
                                                     config->value + kTracingField, got, kTracingField);
            for (const auto& site : scan.sites) {
                auto off = elf.file_offset(site.vaddr);
                if (!off) continue;
                plan.probes.push_back({ProbeKind::ObjectNew, py.path, site.vaddr, *off,
                                       site.reg, true, describe(elf, site.vaddr, "")});
            }
            plan.notes.push_back(fmt::format(
                "object births: {} copies of _Py_NewReference (inlined or not) found by their tracemalloc "
                "check; {} of {} references to {} verified, {} rejected (shape not recognised)",
                scan.sites.size(), scan.candidates - scan.rejected.size(), scan.candidates, kTracemallocConfig,
                scan.rejected.size()));
            for (uint64_t at : scan.rejected) plan.notes.push_back("  not hooked: " + describe(elf, at, ""));
            if (!scan.sites.empty()) return;
        }
    }
    // 3.12+: _Py_NewReference is a real function everywhere (its flag lives in _PyRuntime).
    const ls_reg keep[] = {LS_REG_DI};
    for (const char* name : {"_Py_NewReference", "_Py_NewReferenceNoTotal"}) {
        auto sym = elf.symbol(name);
        if (!sym || !sym->is_function) continue;
        if (auto probe = function_probe(py, *sym, ProbeKind::ObjectNew, keep, LS_REG_DI)) {
            plan.probes.push_back(*probe);
            plan.notes.push_back(fmt::format("object births: {} ({})", probe->where,
                                             probe->emulated ? "emulated" : "single-stepped"));
        }
    }
}

// An allocator's entry points, the registers holding their arguments, and
// whether their return is probed too (it hands out the block).
struct AllocatorHook {
    const char* name;
    ProbeKind kind;
    uint64_t cookie;  // LS_ALLOC_ARGS
    bool returns;
    bool optional = false;  // the allocator is traced without it
};

// Probes on the hooks of one allocator; empty unless every one not optional
// is found (a free without its malloc would mislead). Aliases are hooked once.
std::vector<Probe> allocator_probes(const Binary& bin, std::span<const AllocatorHook> hooks) {
    std::vector<Probe> probes;
    std::set<uint64_t> hooked;
    for (const auto& hook : hooks) {
        auto sym = bin.elf->symbol(hook.name);
        if (!sym || !sym->is_function) {
            if (hook.optional) continue;
            return {};
        }
        if (!hooked.insert(sym->value).second) continue;
        // Entries that also carry a return probe stay on the first instruction.
        const ls_reg args[] = {ls_reg((hook.cookie & 0xff) - 1)};
        auto probe = hook.returns ? entry_probe(bin, *sym, hook.kind) : function_probe(bin, *sym, hook.kind, args, 0);
        if (!probe) return {};
        probe->cookie = hook.cookie;
        probes.push_back(*probe);
        if (hook.returns) {
            probes.push_back(*probe);
            probes.back().kind = ProbeKind::MallocReturn;
        }
    }
    return probes;
}

void plan_native(const Binary& libc, ProbePlan& plan) {
    if (!libc.elf) {
        plan.notes.push_back("native memory: no libc found, malloc family not traced");
        return;
    }
    // valloc and pvalloc take their size where malloc does. posix_memalign is
    // not traced: it returns the block through a pointer, not in a register.
    static constexpr AllocatorHook kHooks[] = {
        {"malloc", ProbeKind::Malloc, LS_ALLOC_ARG(LS_REG_DI), true},
        {"calloc", ProbeKind::Calloc, LS_ALLOC_ARGS(LS_REG_DI, LS_REG_SI), true},
        {"realloc", ProbeKind::Realloc, LS_ALLOC_ARGS(LS_REG_DI, LS_REG_SI), true},
        {"memalign", ProbeKind::Malloc, LS_ALLOC_ARG(LS_REG_SI), true, true},  // (alignment, size)
        {"aligned_alloc", ProbeKind::Malloc, LS_ALLOC_ARG(LS_REG_SI), true, true},
        {"valloc", ProbeKind::Malloc, LS_ALLOC_ARG(LS_REG_DI), true, true},
        {"pvalloc", ProbeKind::Malloc, LS_ALLOC_ARG(LS_REG_DI), true, true},
        {"free", ProbeKind::Free, LS_ALLOC_ARG(LS_REG_DI), false}};
    auto probes = allocator_probes(libc, kHooks);
    if (probes.empty()) {
        plan.notes.push_back("native memory: " + libc.path + " lacks part of the malloc family, not traced");
        return;
    }
    plan.probes.insert(plan.probes.end(), probes.begin(), probes.end());
    plan.notes.push_back("native memory: libc malloc, calloc, realloc, memalign, aligned_alloc, valloc, pvalloc "
                         "(entry + return) and free");
}

// Free-threaded builds: what GIL builds take from pymalloc or, above 512
// bytes, from malloc (list and dict storage, buffers) comes from mimalloc
// through PyMem's allocator table entries, which take a ctx first.
void plan_pymem(const Binary& py, ProbePlan& plan) {
    static constexpr AllocatorHook kHooks[] = {
        {"_PyMem_MiMalloc", ProbeKind::Malloc, LS_ALLOC_ARG(LS_REG_SI), true},
        {"_PyMem_MiCalloc", ProbeKind::Calloc, LS_ALLOC_ARGS(LS_REG_SI, LS_REG_DX), true},
        {"_PyMem_MiRealloc", ProbeKind::Realloc, LS_ALLOC_ARGS(LS_REG_SI, LS_REG_DX), true},
        {"_PyMem_MiFree", ProbeKind::Free, LS_ALLOC_ARG(LS_REG_SI), false}};
    auto probes = allocator_probes(py, kHooks);
    if (probes.empty()) {
        plan.notes.push_back("PyMem (mimalloc) memory: _PyMem_MiMalloc, _PyMem_MiCalloc, _PyMem_MiRealloc and "
                             "_PyMem_MiFree are not all in the symbol table; list and dict storage is not traced");
        return;
    }
    plan.probes.insert(plan.probes.end(), probes.begin(), probes.end());
    plan.notes.push_back("PyMem (mimalloc) memory: _PyMem_MiMalloc, _PyMem_MiCalloc, _PyMem_MiRealloc "
                         "(entry + return) and _PyMem_MiFree");
}

void plan_gc(const Binary& py, ProbePlan& plan) {
    const elf::ElfFile& elf = *py.elf;
    int usdt = 0;
    for (const auto& p : elf.usdt_probes()) {
        if (p.provider != "python" || (p.name != "gc__start" && p.name != "gc__done")) continue;
        auto off = elf.file_offset(p.pc);
        if (!off) continue;
        plan.probes.push_back({p.name == "gc__start" ? ProbeKind::UsdtGcStart : ProbeKind::UsdtGcDone, py.path,
                               p.pc, *off, 0, false, "USDT python:" + p.name});
        ++usdt;
    }
    if (usdt == 2) {
        plan.notes.push_back("GC pauses: USDT python:gc__start / gc__done");
        return;
    }
    // The collector's own function; 3.8 leaves only .constprop clones of collect().
    for (const auto& sym : elf.symbols_with_prefix("")) {
        if (!sym.is_function) continue;
        const bool collector = sym.name == "gc_collect_main" || sym.name.rfind("gc_collect_main.", 0) == 0 ||
                               sym.name == "collect" || sym.name.rfind("collect.constprop", 0) == 0 ||
                               sym.name.rfind("collect.isra", 0) == 0;
        if (!collector || sym.name.find(".cold") != std::string::npos) continue;
        if (auto enter = entry_probe(py, sym, ProbeKind::GcEnter)) {
            plan.probes.push_back(*enter);
            Probe exit = *enter;
            exit.kind = ProbeKind::GcExit;
            plan.probes.push_back(exit);
            plan.notes.push_back("GC pauses: entry/return of " + sym.name);
        }
    }
}

// A stripped LTO build: its exported PyObject_Malloc inlines pymalloc's fast
// path, whose one direct call to neither a PLT entry nor a named function is
// the pool refill.
std::optional<elf::Symbol> refill_called_from_malloc(const elf::ElfFile& elf) {
    auto malloc = elf.symbol("PyObject_Malloc");
    if (!malloc || !malloc->is_function || !malloc->size) return std::nullopt;
    auto code = elf.read_vaddr(malloc->value, malloc->size);
    if (!code) return std::nullopt;
    auto in_plt = [&](uint64_t vaddr) {
        for (const char* name : {".plt", ".plt.sec", ".plt.got"})
            if (auto s = elf.section(name); s && s->vaddr <= vaddr && vaddr < s->vaddr + s->size) return true;
        return false;
    };
    std::set<uint64_t> unnamed;
    for (uint64_t target : direct_call_targets(malloc->value, *code)) {
        const bool named = elf.find_symbol([&](const elf::Symbol& s) { return s.is_function && s.value == target; })
                               .has_value();
        if (!in_plt(target) && !named) unnamed.insert(target);
    }
    if (unnamed.size() != 1) return std::nullopt;
    return elf::Symbol{"allocate_from_new_pool (the call in PyObject_Malloc)", *unnamed.begin(), 16, true};
}

// pymalloc takes a new pool when a size class's pools are full: growth, not
// churn. allocate_from_new_pool is a function of its own from 3.9 (3.8 inlines
// it); LTO builds rename it (.lto_priv.0), and stripped ones keep its name
// only in their debug file.
void plan_pool_refills(const Binary& py, ProbePlan& plan) {
    auto refill = py.elf->function_or_clone("allocate_from_new_pool");
    if (!refill) refill = refill_called_from_malloc(*py.elf);
    if (auto probe = refill ? entry_probe(py, *refill, ProbeKind::PoolRefill) : std::nullopt) {
        plan.probes.push_back(*probe);
        plan.notes.push_back(fmt::format("pymalloc pools taken: return of {} at {:#x}", refill->name, refill->value));
        return;
    }
    plan.notes.push_back("pymalloc pools taken: not traced (allocate_from_new_pool is neither in the symbol table "
                         "nor found from PyObject_Malloc: 3.8 inlines it)");
}

}  // namespace

bool is_return_probe(ProbeKind kind) {
    return kind == ProbeKind::MallocReturn || kind == ProbeKind::GcExit || kind == ProbeKind::PoolRefill;
}

const char* probe_kind_name(ProbeKind kind) {
    switch (kind) {
    case ProbeKind::ObjectNew: return "object-new";
    case ProbeKind::Malloc: return "malloc";
    case ProbeKind::Calloc: return "calloc";
    case ProbeKind::Realloc: return "realloc";
    case ProbeKind::MallocReturn: return "malloc-return";
    case ProbeKind::Free: return "free";
    case ProbeKind::GcEnter: return "gc-enter";
    case ProbeKind::GcExit: return "gc-exit";
    case ProbeKind::UsdtGcStart: return "usdt-gc-start";
    case ProbeKind::UsdtGcDone: return "usdt-gc-done";
    case ProbeKind::PoolRefill: return "pool-refill";
    }
    return "?";
}

ProbePlan plan_probes(const Binary& python, const Binary& libc, bool free_threaded) {
    ProbePlan plan;
    plan_object_births(python, plan);
    plan_native(libc, plan);
    if (free_threaded) plan_pymem(python, plan);
    else plan_pool_refills(python, plan);
    plan_gc(python, plan);
    return plan;
}

std::string describe_plan(const ProbePlan& plan, const ProbeFloor& floor) {
    std::string out;
    for (const auto& n : plan.notes) out += "  " + n + "\n";
    out += fmt::format("  measured here: an empty probe hit on an emulated instruction costs {:.0f} ns, an empty "
                       "return probe's {:.0f} ns; single-stepped ones cost roughly 15 times more\n",
                       floor.entry_ns, floor.return_ns);
    for (const auto& p : plan.probes)
        out += fmt::format("  {:<14} {:#x} {}  [{}]\n", probe_kind_name(p.kind), p.vaddr, p.where,
                           p.emulated ? "emulated" : "single-stepped");
    return out;
}

}  // namespace leakscope::trace
