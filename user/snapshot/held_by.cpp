// SPDX-License-Identifier: BSD-2-Clause
#include "snapshot/held_by.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "snapshot/census.h"
#include "snapshot/dominators.h"
#include "snapshot/live_heap.h"

namespace leakscope::snapshot {
namespace {

// The holder's path: up to the first container after the last namespace
// step, or the object's own path when no container is on the way.
std::string holder_path(const LiveHeap& live, const BigVector<uint32_t>& parents, uint32_t node) {
    const auto steps = path_steps(live.source(), live.heap(), parents, node);
    if (steps.empty()) return {};
    size_t from = 1;
    for (size_t i = 0; i < steps.size(); ++i)
        if (steps[i].namespace_) from = i + 1;
    size_t end = steps.size();
    for (size_t i = from; i < steps.size(); ++i) {
        const int32_t type = live.heap().type[steps[i].node];
        if (type != kNoType && is_container(live.source().types.at(type).kind)) {
            end = i + 1;
            break;
        }
    }
    std::string path;
    for (size_t i = 0; i < end; ++i) path += steps[i].text;
    return path;
}

}  // namespace

std::vector<std::vector<std::string>> held_by(const python::Target& target,
                                              const std::vector<std::vector<uint64_t>>& groups,
                                              size_t max_paths) {
    LiveHeap live(target);
    const Heap& heap = live.heap();
    std::unordered_map<uint64_t, uint32_t> wanted;
    for (const auto& group : groups)
        for (uint64_t addr : group) wanted.emplace(addr, kUnreached);
    for (uint32_t n = 1; n < heap.nodes() && !wanted.empty(); ++n)
        if (auto it = wanted.find(heap.addr[n]); it != wanted.end()) it->second = n;
    const BigVector<uint32_t> parents = bfs_parents(heap.edge_begin, heap.edges);

    std::vector<std::vector<std::string>> out;
    for (const auto& group : groups) {
        std::map<std::string, size_t> count;
        for (uint64_t addr : group)
            if (uint32_t n = wanted[addr]; n != kUnreached)
                if (std::string p = holder_path(live, parents, n); !p.empty()) ++count[p];
        std::vector<std::pair<std::string, size_t>> ranked(count.begin(), count.end());
        std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
        std::vector<std::string> paths;
        for (size_t i = 0; i < std::min(max_paths, ranked.size()); ++i) paths.push_back(ranked[i].first);
        out.push_back(std::move(paths));
    }
    return out;
}

}  // namespace leakscope::snapshot
