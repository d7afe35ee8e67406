// SPDX-License-Identifier: BSD-2-Clause
#include "snapshot/snapshot.h"

#include <chrono>

#include "core/error.h"
#include "proc/maps.h"
#include "snapshot/freeze.h"
#include "snapshot/live_heap.h"

namespace leakscope::snapshot {
namespace {

// A static variable: LTO builds rename it (Debian: arenas.lto_priv.0).
uint64_t static_address(const python::Target& t, const std::string& name) {
    const uint64_t plain = symbol_address(t, name.c_str());
    return plain ? plain : symbol_address(t, (name + ".lto_priv.0").c_str());
}

// Where pymalloc keeps its arena table in this target, if it can be told.
std::optional<ArenaTable> arena_table(const python::Target& t, const proc::MemoryReader& mem) {
    const auto& L = t.layout;
    uint64_t arenas_at = 0, max_at = 0;
    if (L.pymalloc_static_table) {
        arenas_at = static_address(t, "arenas");  // needs .symtab or the debug file
        max_at = static_address(t, "maxarenas");
    } else if (L.interp_obmalloc >= 0) {
        uint64_t state = t.interpreter() + L.interp_obmalloc;
        if (L.interp_obmalloc_indirect) state = mem.read_ptr(state).value_or(0);
        if (state) {
            arenas_at = state + L.obmalloc_arenas;
            max_at = state + L.obmalloc_maxarenas;
        }
    }
    auto arenas = arenas_at ? mem.read_ptr(arenas_at) : std::nullopt;
    auto max = max_at ? mem.read_as<uint32_t>(max_at) : std::nullopt;
    if (!arenas || !max) return std::nullopt;
    return ArenaTable{*arenas, *max};
}

MemoryBreakdown breakdown(pid_t pid, const Census& census, const std::optional<PymallocUsage>& pymalloc) {
    MemoryBreakdown m;
    auto usage = proc::read_memory_usage(pid);
    if (!usage) throw Error(Errc::TargetExited, "process " + std::to_string(pid) + " exited during the snapshot");
    m.rss = usage->rss;
    m.pss = usage->pss;
    m.swap = usage->swap;
    m.anonymous = usage->anonymous;
    m.file = usage->pss_file;
    m.python_objects = census.bytes;
    m.large_objects = census.large_bytes;
    m.pymalloc = pymalloc;
    // Anonymous memory is arenas + large objects + whatever C code allocated itself.
    const uint64_t explained = pymalloc ? pymalloc->arena_bytes + census.large_bytes : census.bytes;
    m.native_unexplained = m.anonymous + m.swap > explained ? m.anonymous + m.swap - explained : 0;
    return m;
}

// Reads the heap and takes the census; the target may be stopped around it.
void read_into(const python::Target& t, const SnapshotOptions& o, Snapshot& snap,
               std::optional<PymallocUsage>& pymalloc) {
    LiveHeap live(t);
    snap.gc_tracked = live.heap().tracked;
    snap.census = take_census(live.source(), live.heap(), o.top);
    snap.problems = live.problems();
    if (auto table = arena_table(t, live.memory())) pymalloc = read_pymalloc(live.memory(), t.layout, *table);
    snap.chunk_reads = live.memory().chunk_reads();
}

}  // namespace

Snapshot take_snapshot(const python::Target& t, const SnapshotOptions& o) {
    Snapshot snap;
    std::optional<PymallocUsage> pymalloc;
    const auto start = std::chrono::steady_clock::now();
    if (o.freeze) {
        FreezeGuard freeze(t.interp.pid);
        read_into(t, o, snap, pymalloc);
        snap.frozen_s = freeze.resume().count();
    } else {
        read_into(t, o, snap, pymalloc);
    }
    snap.read_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!proc::process_running(t.interp.pid))
        throw Error(Errc::TargetExited, "process " + std::to_string(t.interp.pid) + " exited during the snapshot");
    snap.memory = breakdown(t.interp.pid, snap.census, pymalloc);
    return snap;
}

}  // namespace leakscope::snapshot
