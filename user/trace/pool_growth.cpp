// SPDX-License-Identifier: BSD-2-Clause
#include "trace/pool_growth.h"

#include <algorithm>
#include <cstddef>

#include "snapshot/pymalloc.h"

namespace leakscope::trace {

static_assert(offsetof(snapshot::PoolHeader, szidx) == LS_POOL_HEADER_SZIDX);

void PoolGrowth::add(const ls_sample& refill) {
    const uint32_t szidx = refill.size / 16 - 1;
    if (refill.size % 16 || refill.size == 0 || szidx > snapshot::PoolHeader::kMaxSizeClass || !pool_bytes_) {
        ++unfollowed_;
        return;
    }
    ++taken_;
    SizeClass& c = classes_[szidx];
    c.block_bytes = refill.size;
    ++c.taken;
    ++c.taken_by[refill.stack_id];
    const uint64_t pool = refill.addr & ~(pool_bytes_ - 1);
    if (followed_.contains(pool)) {  // emptied since the last sweep, taken again
        retire(pool);
        ++retaken_;
    }
    if (followed_.size() >= kMaxFollowed) {
        ++unfollowed_;
        return;
    }
    followed_.emplace(pool, szidx);
    ++c.held;
}

void PoolGrowth::retire(uint64_t pool) {
    auto it = followed_.find(pool);
    --classes_[it->second].held;
    followed_.erase(it);
}

void PoolGrowth::sweep(const proc::MemoryReader& mem) {
    std::vector<uint64_t> emptied;
    for (const auto& [pool, szidx] : followed_) {
        snapshot::PoolHeader h;
        if (!mem.read(pool, &h, sizeof h) || h.count == 0 || h.szidx != szidx || !h.plausible(pool_bytes_))
            emptied.push_back(pool);
    }
    for (uint64_t pool : emptied) retire(pool);
}

std::vector<PoolGrowth::SizeClass> PoolGrowth::classes() const {
    std::vector<SizeClass> out;
    for (const auto& [szidx, c] : classes_) out.push_back(c);
    std::sort(out.begin(), out.end(), [](const SizeClass& a, const SizeClass& b) {
        return a.held != b.held ? a.held > b.held : a.block_bytes < b.block_bytes;
    });
    return out;
}

}  // namespace leakscope::trace
