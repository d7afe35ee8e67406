// SPDX-License-Identifier: BSD-2-Clause
// What a heap is made of and what holds it: the census by type, and the
// containers that retain the most, named by their path from a root.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "snapshot/heap.h"

namespace leakscope::snapshot {

struct TypeCount {
    std::string type;
    uint64_t count = 0;
    uint64_t bytes = 0;
};

struct Holder {
    std::string path;    // __main__.ORDERS, thread 4711 keeper() local blobs
    std::string type;
    uint64_t len = 0;
    uint64_t retained_bytes = 0;
    uint64_t retained_objects = 0;
};

struct Census {
    std::vector<TypeCount> types;       // biggest first
    std::vector<Holder> holders;        // biggest retained first
    std::vector<TypeCount> unreadable;  // C types whose references were not read
    uint64_t objects = 0;
    uint64_t bytes = 0;
    uint64_t reached = 0;               // objects reachable from the roots
    uint64_t large_bytes = 0;           // objects over pymalloc's 512-byte limit: malloc'ed
};

Census take_census(const HeapSource& source, const Heap& heap, size_t max_holders);

// One step of a path from a root: the node reached and how it is written.
struct PathStep {
    uint32_t node;
    std::string text;        // "__main__", ".ORDERS", "[3]", " local blobs"
    bool namespace_ = false; // the step into a module's, class's or instance's __dict__
};

// The steps from a root to node (parents: bfs_parents); empty if unreachable.
std::vector<PathStep> path_steps(const HeapSource& source, const Heap& heap,
                                 const BigVector<uint32_t>& parents, uint32_t node);

// The path from a root to node, as a user would write it.
std::string node_path(const HeapSource& source, const Heap& heap,
                      const BigVector<uint32_t>& parents, uint32_t node);

// Kinds whose objects are reported as holders.
bool is_container(Kind kind);

}  // namespace leakscope::snapshot
