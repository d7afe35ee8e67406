// SPDX-License-Identifier: BSD-2-Clause
#include "snapshot/pymalloc.h"

#include <algorithm>
#include <span>
#include <vector>

namespace leakscope::snapshot {
namespace {

constexpr uint64_t kMaxArenas = 1ull << 24;  // 16 Ti of 1 MiB arenas
constexpr uint64_t kArenaChunk = 4096;       // table entries read at a time

// struct arena_object {uintptr_t address; block* pool_address; uint nfreepools,
// ntotalpools; pool_header* freepools; arena_object *nextarena, *prevarena;}
struct ArenaObject {
    uint64_t address, pool_address;
    uint32_t nfreepools, ntotalpools;
    uint64_t freepools, nextarena, prevarena;
};

static_assert(sizeof(ArenaObject) == 48);

// Bytes in use in one arena's carved pools (those below pool_address).
std::optional<uint64_t> arena_used(const proc::MemoryReader& mem, const python::PyLayout& L,
                                   const ArenaObject& a) {
    const uint64_t pool_size = L.pymalloc_pool_size;
    const uint64_t first = (a.address + pool_size - 1) & ~(pool_size - 1);
    if (a.pool_address < first || a.pool_address > a.address + L.pymalloc_arena_size) return std::nullopt;
    uint64_t used = 0;
    for (uint64_t pool = first; pool < a.pool_address; pool += pool_size) {
        PoolHeader h;
        if (!mem.read(pool, &h, sizeof h)) return std::nullopt;
        if (h.count == 0) continue;  // an empty pool on the free list
        if (!h.plausible(pool_size)) return std::nullopt;
        used += h.count * h.block_bytes();
    }
    return used;
}

}  // namespace

std::optional<PymallocUsage> read_pymalloc(const proc::MemoryReader& mem, const python::PyLayout& L,
                                           const ArenaTable& table) {
    if (L.pymalloc_arena_size <= 0 || L.pymalloc_pool_size <= 0 || !table.arenas ||
        table.max_arenas > kMaxArenas)
        return std::nullopt;
    const uint64_t pools_per_arena = L.pymalloc_arena_size / L.pymalloc_pool_size;
    PymallocUsage u;
    // Read in chunks: the table's size is the target's word, so it sizes no allocation.
    std::vector<ArenaObject> chunk(kArenaChunk);
    for (uint64_t first = 0; first < table.max_arenas; first += kArenaChunk) {
        const uint64_t n = std::min<uint64_t>(kArenaChunk, table.max_arenas - first);
        if (!mem.read(table.arenas + first * sizeof(ArenaObject), chunk.data(), n * sizeof(ArenaObject)))
            return std::nullopt;
        for (const ArenaObject& a : std::span(chunk.data(), n)) {
            if (!a.address) continue;  // an unused slot of the table
            if (a.ntotalpools > pools_per_arena || a.nfreepools > a.ntotalpools) return std::nullopt;
            auto used = arena_used(mem, L, a);
            if (!used) return std::nullopt;
            ++u.arenas;
            u.used_bytes += *used;
        }
    }
    u.arena_bytes = u.arenas * L.pymalloc_arena_size;
    u.free_bytes = u.arena_bytes - std::min(u.used_bytes, u.arena_bytes);
    return u;
}

}  // namespace leakscope::snapshot
