// SPDX-License-Identifier: BSD-2-Clause
#include "snapshot/dominators.h"

#include <algorithm>
#include <cstddef>
#include <utility>

namespace leakscope::snapshot {
namespace {

using Nodes = BigVector<uint32_t>;

// Nodes reachable from 0 in reverse postorder (iterative DFS).
Nodes reverse_postorder(const Nodes& begin, const Nodes& edges, size_t n) {
    Nodes post;
    BigVector<uint8_t> seen(n, 0);
    BigVector<std::pair<uint32_t, uint32_t>> stack{{0, begin[0]}};
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

// Predecessor lists (CSR) of the reached nodes, numbered by their place in
// order: the dominance walk then compares plain numbers.
void predecessors(const Nodes& begin, const Nodes& edges, const Nodes& order, size_t n, Nodes& pbegin,
                  Nodes& preds) {
    Nodes rpo(n, kUnreached);
    for (size_t i = 0; i < order.size(); ++i) rpo[order[i]] = static_cast<uint32_t>(i);
    const size_t m = order.size();
    pbegin.assign(m + 1, 0);
    for (uint32_t from : order)
        for (uint32_t e = begin[from]; e < begin[from + 1]; ++e) ++pbegin[rpo[edges[e]] + 1];
    for (size_t i = 0; i < m; ++i) pbegin[i + 1] += pbegin[i];
    preds.resize(pbegin[m]);
    // pbegin[t] serves as t's fill cursor, which leaves it at t + 1's start.
    for (size_t i = 0; i < m; ++i)
        for (uint32_t e = begin[order[i]]; e < begin[order[i] + 1]; ++e)
            preds[pbegin[rpo[edges[e]]]++] = static_cast<uint32_t>(i);
    std::copy_backward(pbegin.begin(), pbegin.end() - 1, pbegin.end());
    pbegin[0] = 0;
}

// Immediate dominators by place in reverse postorder.
Nodes dominator_places(const Nodes& begin, const Nodes& edges, const Nodes& order, size_t n) {
    Nodes pbegin, preds;
    predecessors(begin, edges, order, n, pbegin, preds);
    Nodes idom(order.size(), kUnreached);
    idom[0] = 0;
    auto intersect = [&](uint32_t a, uint32_t b) {
        while (a != b) {
            while (a > b) a = idom[a];
            while (b > a) b = idom[b];
        }
        return a;
    };
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 1; i < order.size(); ++i) {
            uint32_t best = kUnreached;
            for (uint32_t p = pbegin[i]; p < pbegin[i + 1]; ++p) {
                if (idom[preds[p]] == kUnreached) continue;
                best = best == kUnreached ? preds[p] : intersect(preds[p], best);
            }
            if (best != idom[i]) {
                idom[i] = best;
                changed = true;
            }
        }
    }
    return idom;
}

}  // namespace

Dominators dominators(const Nodes& begin, const Nodes& edges, const BigVector<uint64_t>& size) {
    const size_t n = size.size();
    const Nodes order = reverse_postorder(begin, edges, n);
    const Nodes idom = dominator_places(begin, edges, order, n);
    Dominators d;
    d.retained_bytes.assign(n, 0);
    d.retained_objects.assign(n, 0);
    for (uint32_t node : order) {
        d.retained_bytes[node] = size[node];
        d.retained_objects[node] = size[node] ? 1 : 0;  // virtual nodes have no size
    }
    for (size_t i = order.size(); i-- > 1;) {
        const uint32_t node = order[i], dominator = order[idom[i]];
        d.retained_bytes[dominator] += d.retained_bytes[node];
        d.retained_objects[dominator] += d.retained_objects[node];
    }
    return d;
}

Nodes bfs_parents(const Nodes& begin, const Nodes& edges) {
    const size_t n = begin.size() - 1;
    Nodes parent(n, kUnreached);
    Nodes queue;
    reserve_if_free(queue, n);  // growing would copy
    queue.push_back(0);
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
