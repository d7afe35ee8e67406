// SPDX-License-Identifier: BSD-2-Clause
#include "trace/pool_growth.h"

#include <algorithm>

#include "snapshot/pymalloc.h"

namespace leakscope::trace {

void PoolGrowth::add(const ls_sample& refill) {
    Site& site = sites_[refill.stack_id];
    site.stack_id = refill.stack_id;
    ++site.taken;
    // A pool taken again at a followed address: the pool before it was freed.
    if (auto it = followed_.find(refill.addr); it != followed_.end()) {
        retire(it->second);
        followed_.erase(it);
    }
    if (followed_.size() >= kMaxFollowed) {
        ++unfollowed_;
        return;
    }
    followed_.emplace(refill.addr, Followed{refill.stack_id});
    ++site.held;
}

bool PoolGrowth::in_use(const proc::MemoryReader& mem, uint64_t block, Followed& f) const {
    const uint64_t pool = block & ~(pool_bytes_ - 1);
    snapshot::PoolHeader h;
    auto first = mem.read_ptr(block);
    if (!first || !mem.read(pool, &h, sizeof h) || h.count == 0 || !h.plausible(pool_bytes_)) return false;
    if (f.szidx < 0) f.szidx = h.szidx;
    if (h.szidx != uint64_t(f.szidx)) return false;
    return *first != 0 && (*first < pool || *first >= pool + pool_bytes_);
}

void PoolGrowth::sweep(const proc::MemoryReader& mem) {
    for (auto it = followed_.begin(); it != followed_.end();) {
        if (in_use(mem, it->first, it->second)) {
            ++it;
        } else {
            retire(it->second);
            it = followed_.erase(it);
        }
    }
}

std::vector<PoolGrowth::Site> PoolGrowth::sites() const {
    std::vector<Site> out;
    for (const auto& [id, site] : sites_) out.push_back(site);
    std::sort(out.begin(), out.end(), [](const Site& a, const Site& b) {
        return a.held != b.held ? a.held > b.held : a.taken != b.taken ? a.taken > b.taken : a.stack_id < b.stack_id;
    });
    return out;
}

}  // namespace leakscope::trace
