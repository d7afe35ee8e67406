// SPDX-License-Identifier: BSD-2-Clause
// Where pymalloc's memory grew, by the Python stack that took each new pool.
//
// pymalloc takes a new pool (POOL_SIZE bytes for one size class) only when
// that class's pools are full: a refill is a pool's worth of net growth, and
// churn below its high-water mark takes none. One probe hit per pool, not per
// object: cheap enough to stay attached while the allocation probes are away.
//
// Each refill is followed through the block it handed out, the new pool's
// first: the pool counts as held by its stack while that block is in use. The
// block is taken for freed once its first word is a free-list link (NULL or
// an address in its own pool: pymalloc writes one over a freed block), its
// pool is empty, serves another size class, or cannot be read.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "proc/memory.h"

extern "C" {
#include "leakscope.h"
}

namespace leakscope::trace {

class PoolGrowth {
public:
    explicit PoolGrowth(uint64_t pool_bytes) : pool_bytes_(pool_bytes) {}

    void add(const ls_sample& refill);
    // Retires the refills whose first block has been freed.
    void sweep(const proc::MemoryReader& mem);

    struct Site {
        uint64_t stack_id = 0;
        uint64_t taken = 0;  // pools taken at this stack since tracing started
        uint64_t held = 0;   // of which still in use
    };
    // Every stack that took pools, most held first.
    std::vector<Site> sites() const;
    uint64_t pool_bytes() const { return pool_bytes_; }
    // Refills counted but not followed (more than kMaxFollowed held at once).
    uint64_t unfollowed() const { return unfollowed_; }

    static constexpr size_t kMaxFollowed = 1 << 16;

private:
    struct Followed {
        uint64_t stack_id;
        int64_t szidx = -1;  // the pool's size class, read at the first sweep
    };
    bool in_use(const proc::MemoryReader& mem, uint64_t block, Followed& f) const;
    void retire(const Followed& f) { --sites_[f.stack_id].held; }

    uint64_t pool_bytes_;
    uint64_t unfollowed_ = 0;
    std::unordered_map<uint64_t, Followed> followed_;  // by block address
    std::unordered_map<uint64_t, Site> sites_;         // by stack id
};

}  // namespace leakscope::trace
