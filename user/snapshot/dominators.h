// SPDX-License-Identifier: BSD-2-Clause
// Immediate dominators of a graph given as CSR successor lists, rooted at node
// 0 (Cooper, Harvey and Kennedy, "A Simple, Fast Dominance Algorithm"), and
// the bytes and objects each node retains: what would be freed with it.
#pragma once

#include <cstdint>
#include <vector>

namespace leakscope::snapshot {

constexpr uint32_t kUnreached = UINT32_MAX;

struct Dominators {
    std::vector<uint32_t> idom;            // kUnreached for nodes not reachable from 0
    std::vector<uint64_t> retained_bytes;  // 0 when unreached
    std::vector<uint32_t> retained_objects;
};

Dominators dominators(const std::vector<uint32_t>& edge_begin, const std::vector<uint32_t>& edges,
                      const std::vector<uint64_t>& size);

// First-visit parents of a breadth-first walk from node 0: shortest paths.
std::vector<uint32_t> bfs_parents(const std::vector<uint32_t>& edge_begin,
                                  const std::vector<uint32_t>& edges);

}  // namespace leakscope::snapshot
