// SPDX-License-Identifier: BSD-2-Clause
#include "snapshot/dominators.h"

#include <algorithm>
#include <cstddef>
#include <utility>

namespace leakscope::snapshot {
namespace {

// Nodes reachable from 0 in reverse postorder (iterative DFS).
std::vector<uint32_t> reverse_postorder(const std::vector<uint32_t>& begin,
                                        const std::vector<uint32_t>& edges, size_t n) {
    std::vector<uint32_t> post;
    std::vector<uint8_t> seen(n, 0);
    std::vector<std::pair<uint32_t, uint32_t>> stack{{0, begin[0]}};
    seen[0] = 1;
    while (!stack.empty()) {
        auto& [node, next] = stack.back();
        if (next < begin[node + 1]) {
            const uint32_t to = edges[next++];
            if (!seen[to]) {
                seen[to] = 1;
                stack.push_back({to, begin[to]});
            }
        } else {
            post.push_back(node);
            stack.pop_back();
        }
    }
    std::reverse(post.begin(), post.end());
    return post;
}

// Predecessor lists (CSR) of the reached nodes.
void predecessors(const std::vector<uint32_t>& begin, const std::vector<uint32_t>& edges,
                  const std::vector<uint32_t>& rpo_index, std::vector<uint32_t>& pbegin,
                  std::vector<uint32_t>& preds) {
    const size_t n = rpo_index.size();
    pbegin.assign(n + 1, 0);
    for (size_t from = 0; from < n; ++from)
        if (rpo_index[from] != kUnreached)
            for (uint32_t e = begin[from]; e < begin[from + 1]; ++e) ++pbegin[edges[e] + 1];
    for (size_t i = 0; i < n; ++i) pbegin[i + 1] += pbegin[i];
    preds.resize(pbegin[n]);
    std::vector<uint32_t> fill(pbegin.begin(), pbegin.end() - 1);
    for (size_t from = 0; from < n; ++from)
        if (rpo_index[from] != kUnreached)
            for (uint32_t e = begin[from]; e < begin[from + 1]; ++e)
                preds[fill[edges[e]]++] = static_cast<uint32_t>(from);
}

}  // namespace

Dominators dominators(const std::vector<uint32_t>& begin, const std::vector<uint32_t>& edges,
                      const std::vector<uint64_t>& size) {
    const size_t n = size.size();
    const std::vector<uint32_t> order = reverse_postorder(begin, edges, n);
    std::vector<uint32_t> rpo_index(n, kUnreached);
    for (size_t i = 0; i < order.size(); ++i) rpo_index[order[i]] = static_cast<uint32_t>(i);
    std::vector<uint32_t> pbegin;
    std::vector<uint32_t> preds;
    predecessors(begin, edges, rpo_index, pbegin, preds);

    Dominators d;
    d.idom.assign(n, kUnreached);
    d.idom[0] = 0;
    auto intersect = [&](uint32_t a, uint32_t b) {
        while (a != b) {
            while (rpo_index[a] > rpo_index[b]) a = d.idom[a];
            while (rpo_index[b] > rpo_index[a]) b = d.idom[b];
        }
        return a;
    };
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 1; i < order.size(); ++i) {
            const uint32_t node = order[i];
            uint32_t best = kUnreached;
            for (uint32_t p = pbegin[node]; p < pbegin[node + 1]; ++p) {
                const uint32_t pred = preds[p];
                if (d.idom[pred] == kUnreached) continue;
                best = best == kUnreached ? pred : intersect(pred, best);
            }
            if (best != d.idom[node]) {
                d.idom[node] = best;
                changed = true;
            }
        }
    }
    d.retained_bytes.assign(n, 0);
    d.retained_objects.assign(n, 0);
    for (uint32_t node : order) {
        d.retained_bytes[node] = size[node];
        d.retained_objects[node] = size[node] ? 1 : 0;  // virtual nodes have no size
    }
    for (size_t i = order.size(); i-- > 1;) {
        const uint32_t node = order[i];
        d.retained_bytes[d.idom[node]] += d.retained_bytes[node];
        d.retained_objects[d.idom[node]] += d.retained_objects[node];
    }
    return d;
}

std::vector<uint32_t> bfs_parents(const std::vector<uint32_t>& begin, const std::vector<uint32_t>& edges) {
    const size_t n = begin.size() - 1;
    std::vector<uint32_t> parent(n, kUnreached);
    std::vector<uint32_t> queue{0};
    parent[0] = 0;
    for (size_t head = 0; head < queue.size(); ++head) {
        const uint32_t node = queue[head];
        for (uint32_t e = begin[node]; e < begin[node + 1]; ++e)
            if (parent[edges[e]] == kUnreached) {
                parent[edges[e]] = node;
                queue.push_back(edges[e]);
            }
    }
    return parent;
}

}  // namespace leakscope::snapshot
