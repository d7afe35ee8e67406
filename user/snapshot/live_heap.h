// SPDX-License-Identifier: BSD-2-Clause
// Everything one read of a target's heap needs, built from a Target: the
// chunk cache, the type table, the read context and the graph itself.
#pragma once

#include <memory>

#include "python/target.h"
#include "snapshot/chunk_cache.h"
#include "snapshot/heap.h"

namespace leakscope::snapshot {

// The runtime address of a symbol of the interpreter binary, 0 if it has none.
uint64_t symbol_address(const python::Target& target, const char* name);

class LiveHeap {
public:
    explicit LiveHeap(const python::Target& target);  // reads the graph
    LiveHeap(const LiveHeap&) = delete;
    LiveHeap& operator=(const LiveHeap&) = delete;

    const Heap& heap() const { return heap_; }
    const HeapSource& source() const { return *source_; }
    const ChunkCache& memory() const { return cache_; }
    Problems& problems() { return problems_; }

private:
    ChunkCache cache_;
    Problems problems_;
    std::unique_ptr<ReadContext> ctx_;
    std::unique_ptr<TypeTable> types_;
    std::unique_ptr<HeapSource> source_;
    Heap heap_;
};

}  // namespace leakscope::snapshot
