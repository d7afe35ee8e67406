// SPDX-License-Identifier: BSD-2-Clause
// pymalloc's arenas read from the target: how much it holds from the system,
// how much of that live blocks use, and the rest (free pools and free blocks
// in used pools: allocator retention rather than live objects).
#pragma once

#include <cstdint>
#include <optional>

#include "proc/memory.h"
#include "python/layout.h"

namespace leakscope::snapshot {

struct PymallocUsage {
    uint64_t arenas = 0;
    uint64_t arena_bytes = 0;  // arenas allocated * ARENA_SIZE
    uint64_t used_bytes = 0;   // blocks in use * their size class
    uint64_t free_bytes = 0;   // arena_bytes - used_bytes
};

// struct pool_header {union {block*; uint count;} ref; block* freeblock;
// pool_header *nextpool, *prevpool; uint arenaindex, szidx, nextoffset, maxnextoffset;}
// Pools are POOL_SIZE-aligned: a block's pool header is at its address rounded down.
struct PoolHeader {
    static constexpr uint32_t kMaxSizeClass = 63;  // 512-byte blocks at most
    uint32_t count, pad;
    uint64_t freeblock, nextpool, prevpool;
    uint32_t arenaindex, szidx, nextoffset, maxnextoffset;
    // Size class szidx holds blocks of (szidx + 1) * 16 bytes.
    uint64_t block_bytes() const { return (uint64_t(szidx) + 1) << 4; }
    bool plausible(uint64_t pool_size) const { return szidx <= kMaxSizeClass && count * block_bytes() <= pool_size; }
};
static_assert(sizeof(PoolHeader) == 48);

// The arena table: struct arena_object[maxarenas].
struct ArenaTable {
    uint64_t arenas = 0;
    uint64_t max_arenas = 0;
};

// Reads every allocated arena's pool headers. Nullopt when the table does not
// hold together (then nothing is guessed).
std::optional<PymallocUsage> read_pymalloc(const proc::MemoryReader& mem, const python::PyLayout& layout,
                                           const ArenaTable& table);

}  // namespace leakscope::snapshot
