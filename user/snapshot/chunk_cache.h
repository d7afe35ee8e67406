// SPDX-License-Identifier: BSD-2-Clause
// Reads a target in large aligned chunks and keeps the most recent ones, so
// walking millions of objects costs one process_vm_readv per chunk rather
// than one per field.
#pragma once

#include <cstdint>
#include <vector>

#include "proc/memory.h"

namespace leakscope::snapshot {

class ChunkCache : public proc::MemoryReader {
public:
    static constexpr uint64_t kChunkSize = 64 * 1024;

    // slots: how many chunks are kept (direct-mapped by address).
    explicit ChunkCache(const proc::MemoryReader& source, size_t slots = 256);
    bool read(uint64_t addr, void* dst, size_t n) const override;

    uint64_t chunk_reads() const { return chunk_reads_; }

private:
    struct Slot {
        uint64_t base = ~0ull;   // chunk address, ~0: empty
        size_t valid = 0;        // readable bytes from base (a chunk may end at an unmapped page)
        std::vector<uint8_t> bytes;
    };
    const Slot& load(uint64_t base) const;

    const proc::MemoryReader& source_;
    mutable std::vector<Slot> slots_;
    mutable uint64_t chunk_reads_ = 0;
};

}  // namespace leakscope::snapshot
