// SPDX-License-Identifier: BSD-2-Clause
// fuzz-sources: user/snapshot/dict_reader.cpp user/snapshot/chunk_cache.cpp user/proc/memory.cpp user/python/layout.cpp
// Input: a memory image mapped at kBase whose first bytes are a dict object;
// the dict tables it points at (anywhere in the image) are read as every
// layout (3.10 combined/split, 3.11, 3.13), through the chunk cache. Every
// entry reported must lie inside the image.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "proc/memory.h"
#include "python/layout.h"
#include "snapshot/chunk_cache.h"
#include "snapshot/dict_reader.h"

using namespace leakscope;

namespace {
constexpr uint64_t kBase = 0x100000;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 64 || size > (1 << 20)) return 0;
    proc::SnapshotMemory image;
    image.add(kBase, std::vector<uint8_t>(data, data + size));
    snapshot::ChunkCache cache(image, 4);
    for (int minor : {10, 11, 12}) {
        auto layout = python::table_layout({3, minor, 0});
        if (minor == 12) layout->dict_values_items = 8;  // the 3.13 values header
        uint64_t entries = 0;
        auto check = [&](uint64_t, uint64_t, uint64_t index) {
            if (index >= snapshot::kMaxDictEntries) abort();
            ++entries;
        };
        snapshot::for_each_dict_entry(cache, *layout, kBase, check);
        uint64_t keys = 0, values = 0;
        std::memcpy(&keys, data + 8, 8);
        std::memcpy(&values, data + 16, 8);
        snapshot::for_each_split_entry(cache, *layout, keys, values, data[24], check);
        snapshot::dict_keys_bytes(cache, *layout, keys);
        if (entries > size) abort();  // every entry needs at least 16 bytes of the image
    }
    return 0;
}
