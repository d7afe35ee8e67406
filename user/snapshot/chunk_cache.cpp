// SPDX-License-Identifier: BSD-2-Clause
#include "snapshot/chunk_cache.h"

#include <algorithm>
#include <cstring>

namespace leakscope::snapshot {
namespace {
constexpr uint64_t kPage = 4096;
}

ChunkCache::ChunkCache(const proc::MemoryReader& source, size_t slots)
    : source_(source), slots_(std::max<size_t>(slots, 1)) {}

const ChunkCache::Slot& ChunkCache::load(uint64_t base) const {
    Slot& slot = slots_[(base / kChunkSize) % slots_.size()];
    if (slot.base == base) return slot;
    slot.base = base;
    slot.bytes.resize(kChunkSize);
    ++chunk_reads_;
    if (source_.read(base, slot.bytes.data(), kChunkSize)) {
        slot.valid = kChunkSize;
        return slot;
    }
    // Part of the chunk is unmapped: keep the readable pages before the hole.
    slot.valid = 0;
    while (slot.valid < kChunkSize &&
           source_.read(base + slot.valid, slot.bytes.data() + slot.valid, kPage))
        slot.valid += kPage;
    return slot;
}

bool ChunkCache::read(uint64_t addr, void* dst, size_t n) const {
    auto* out = static_cast<uint8_t*>(dst);
    while (n > 0) {
        const uint64_t base = addr & ~(kChunkSize - 1);
        const Slot& slot = load(base);
        const uint64_t at = addr - base;
        const size_t take = std::min<uint64_t>(n, kChunkSize - at);
        if (at + take > slot.valid) {
            // Not in the readable prefix; the source may still have it (a
            // recorded image, say, with regions smaller than a chunk).
            return source_.read(addr, out, n);
        }
        std::memcpy(out, slot.bytes.data() + at, take);
        out += take;
        addr += take;
        n -= take;
    }
    return true;
}

}  // namespace leakscope::snapshot
