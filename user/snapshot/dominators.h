// SPDX-License-Identifier: BSD-2-Clause
// What each node of a graph given as CSR successor lists retains, rooted at
// node 0: the bytes and objects that would be freed with it, summed over the
// tree of immediate dominators (Cooper, Harvey and Kennedy, "A Simple, Fast
// Dominance Algorithm").
#pragma once

#include <cstdint>

#include "snapshot/big_vector.h"

namespace leakscope::snapshot {

constexpr uint32_t kUnreached = UINT32_MAX;

struct Dominators {
    BigVector<uint64_t> retained_bytes;    // 0 when unreached
    BigVector<uint32_t> retained_objects;  // 0 when unreached; an object retains itself
};

Dominators dominators(const BigVector<uint32_t>& edge_begin, const BigVector<uint32_t>& edges,
                      const BigVector<uint64_t>& size);

// First-visit parents of a breadth-first walk from node 0: shortest paths.
BigVector<uint32_t> bfs_parents(const BigVector<uint32_t>& edge_begin, const BigVector<uint32_t>& edges);

}  // namespace leakscope::snapshot
