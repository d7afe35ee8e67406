// SPDX-License-Identifier: BSD-2-Clause
// The object graph of a target at one moment: every object the collector
// tracks, everything they reference, and the roots that keep them alive
// (module globals, classes, each thread's frame locals).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "snapshot/big_vector.h"
#include "snapshot/problems.h"
#include "snapshot/referents.h"
#include "snapshot/types.h"

namespace leakscope::snapshot {

constexpr uint32_t kAllRoots = 0;       // node 0: the one root the dominator tree hangs from
constexpr int32_t kNoType = -1;         // type of the virtual nodes (all roots, thread frames)

// A Python frame of a live thread: a virtual node whose edges are its locals.
struct ThreadFrame {
    uint32_t node = 0;
    int64_t tid = 0;
    std::string function;
    uint64_t frame = 0;  // the frame read (for its locals)
};

struct Heap {
    BigVector<uint64_t> addr;   // per node; 0 for virtual nodes
    BigVector<int32_t> type;    // per node: index in types, kNoType for virtual nodes
    BigVector<uint64_t> size;   // per node: shallow bytes
    BigVector<uint32_t> edge_begin;  // CSR: node n's edges are edges[edge_begin[n], edge_begin[n+1])
    BigVector<uint32_t> edges;
    std::vector<ThreadFrame> frames;
    uint64_t tracked = 0;         // objects found in the collector's lists

    size_t nodes() const { return addr.size(); }
};

// Reads the whole graph. thread_states and tids: the target's threads.
struct HeapSource {
    const ReadContext& ctx;
    TypeTable& types;
    uint64_t gc_state;                   // address of struct _gc_runtime_state
    std::vector<uint64_t> thread_states;
    std::vector<int64_t> tids;           // per thread state
    uint64_t max_objects = 1ull << 31;
    uint64_t memory_bytes = 0;           // the target's anonymous memory and swap, if known

};
Heap read_heap(const HeapSource& source);

// The edges of one node, re-read with their labels (for holder paths).
std::vector<Edge> node_edges(const HeapSource& source, const Heap& heap, uint32_t node);

}  // namespace leakscope::snapshot
