// SPDX-License-Identifier: BSD-2-Clause
// pymalloc's growth by size class, from its pool refills.
//
// pymalloc takes a new pool (POOL_SIZE bytes for one size class) only when
// all of that class's pools are full: one probe hit per pool, not per object,
// cheap enough to stay attached while the allocation probes are away.
//
// Each pool taken is followed until it is empty again: it holds memory while
// its header still counts blocks in use and names the same size class (an
// emptied pool goes back to its arena and is only used again through another
// refill, which replaces the one before at its address). So the pools held
// are exactly the class's growth since tracing started.
//
// The stack that took a pool is the allocation that found the class full:
// where a class's growth and churn mix, mostly the churn's, not the one
// holding the pool. So pools are counted by class, and the stacks that took
// them are context, not attribution.
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

    // A refill (LS_POOL_REFILL sample); one whose size is not a size class's is
    // counted as unfollowed.
    void add(const ls_sample& refill);
    // Retires the pools that are empty (or no longer this class's).
    void sweep(const proc::MemoryReader& mem);

    struct SizeClass {
        uint32_t block_bytes = 0;
        uint64_t taken = 0;  // pools taken since tracing started
        uint64_t held = 0;   // of which still in use
        std::unordered_map<uint64_t, uint64_t> taken_by;  // pools taken, by stack id
    };
    // The classes that took pools, most held first.
    std::vector<SizeClass> classes() const;
    uint64_t pool_bytes() const { return pool_bytes_; }
    // Refills counted but not followed: more than kMaxFollowed held at once,
    // or a size read from the target that is no size class's.
    uint64_t unfollowed() const { return unfollowed_; }
    uint64_t taken() const { return taken_; }
    // Of those, pools taken again at an address followed since they were
    // last taken: emptied in between (churn).
    uint64_t retaken() const { return retaken_; }

    static constexpr size_t kMaxFollowed = 1 << 16;

private:
    void retire(uint64_t pool);

    uint64_t pool_bytes_;
    uint64_t unfollowed_ = 0;
    uint64_t taken_ = 0, retaken_ = 0;
    std::unordered_map<uint64_t, uint32_t> followed_;  // pool address -> size class
    std::unordered_map<uint32_t, SizeClass> classes_;  // by size class index
};

}  // namespace leakscope::trace
