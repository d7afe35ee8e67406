// SPDX-License-Identifier: BSD-2-Clause
// fuzz-sources: user/snapshot/referents.cpp user/snapshot/object_size.cpp user/snapshot/dict_reader.cpp user/snapshot/chunk_cache.cpp user/snapshot/problems.cpp user/snapshot/types.cpp user/python/symbolizer.cpp user/python/linetable.cpp user/core/text.cpp user/proc/memory.cpp user/python/layout.cpp
// Input: a memory image mapped at kBase; its first byte picks the object's
// kind, the next words its type's sizes and flags, and the object itself
// starts at kBase + 64. Its references, size and (read as a frame) locals are
// read as every table layout. Each edge needs a word of the image: more edges
// than that means a loop was followed, and must not happen.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "proc/memory.h"
#include "python/layout.h"
#include "snapshot/problems.h"
#include "snapshot/referents.h"

using namespace leakscope;
using snapshot::Kind;

namespace {
constexpr uint64_t kBase = 0x100000;
constexpr uint64_t kObject = kBase + 64;
constexpr Kind kKinds[] = {Kind::Leaf, Kind::Dict, Kind::List, Kind::Tuple, Kind::Set, Kind::Type,
                           Kind::Module, Kind::Cell, Kind::Function, Kind::Method, Kind::FrameObject,
                           Kind::Generator, Kind::Deque, Kind::Str, Kind::Int};

int64_t word(const uint8_t* data, size_t i) {
    int64_t v;
    std::memcpy(&v, data + 8 * i, 8);
    return v;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 128 || size > (1 << 20)) return 0;
    proc::SnapshotMemory image;
    image.add(kBase, std::vector<uint8_t>(data, data + size));
    snapshot::TypeInfo t;
    t.kind = kKinds[data[0] % std::size(kKinds)];
    t.heap = data[1] & 1;
    t.basicsize = word(data, 1) & 0xffff;
    t.itemsize = word(data, 2) & 0xff;
    t.flags = uint64_t(word(data, 3));
    t.dictoffset = word(data, 4) % 4096;
    if (data[2] & 1) t.slots.push_back({int64_t(data[3]), "slot"});
    const uint64_t words = size / 8;
    for (int minor : {8, 10, 11, 12}) {
        auto layout = python::table_layout({3, minor, 0});
        snapshot::Problems problems;
        snapshot::ReadContext ctx{image, *layout, problems, uint64_t(word(data, 5)), uint64_t(word(data, 6))};
        std::vector<snapshot::Edge> edges;
        snapshot::object_referents(ctx, kObject, t, edges);
        snapshot::shallow_size(ctx, kObject, t);
        snapshot::frame_locals(ctx, kObject, edges);
        if (edges.size() > 4 * words + 16) abort();
    }
    return 0;
}
