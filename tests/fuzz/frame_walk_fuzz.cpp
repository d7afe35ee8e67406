// SPDX-License-Identifier: BSD-2-Clause
// fuzz-sources: user/python/stack_walk.cpp user/python/symbolizer.cpp user/python/linetable.cpp user/python/layout.cpp user/proc/memory.cpp user/core/text.cpp
// The user-space frame walker (bpf/pywalk.h) and the symbolizer over mutated
// recorded images. Input: a layout choice byte, then patches to a recorded
// 4-frame stack (frames, code objects, names, line tables), each
// [region index u8][offset u16 LE][value u64 LE] writing 8 bytes in a region.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>

#include "python/stack_walk.h"
#include "python/symbolizer.h"
#include "support/py_image.h"

using namespace leakscope;
using namespace leakscope::python;

namespace {

constexpr size_t kMaxFrames = 512;
const PyVersion kVersions[] = {{3, 8, 18}, {3, 9, 18}, {3, 10, 13}, {3, 11, 7}, {3, 12, 1}, {3, 13, 0}, {3, 14, 0}};

bool clean(const std::string& s) {
    for (size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f) return false;
        if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
            static_cast<unsigned char>(s[i + 1]) < 0xa0)
            return false;
    }
    return true;
}

void apply_patches(testing::PyImage& image, const uint8_t* data, size_t size) {
    constexpr size_t kPatch = 11;
    for (size_t at = 0; at + kPatch <= size; at += kPatch) {
        auto region = image.regions.begin();
        std::advance(region, data[at] % image.regions.size());
        uint16_t offset;
        std::memcpy(&offset, data + at + 1, 2);
        auto& bytes = region->second;
        if (bytes.size() < 8) continue;
        std::memcpy(bytes.data() + offset % (bytes.size() - 7), data + at + 3, 8);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    auto layout = table_layout(kVersions[data[0] % std::size(kVersions)]);
    if (!layout) return 0;
    testing::PyImage image(*layout);
    const uint64_t a = image.add_code("app.py", "handler", 10), b = image.add_code("lib.py", "Cls.method", 20);
    image.set_frames({a, b, a, b});
    apply_patches(image, data + 1, size - 1);
    auto mem = image.memory();

    WalkedStack walked = walk_stack(mem, image.o, image.tstate(), kMaxFrames);
    if (walked.frames.size() > kMaxFrames) std::abort();
    Symbolizer sym(mem, *layout, testing::PyImage::kCodeType);
    Stack stack = sym.symbolize(walked.frames.data(), walked.frames.size());
    if (stack.size() > walked.frames.size()) std::abort();
    for (const auto& f : stack)
        if (!clean(f.file) || !clean(f.function) || f.function.size() > 16 * kMaxStrChars + 3) std::abort();
    return 0;
}
