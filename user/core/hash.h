// SPDX-License-Identifier: BSD-2-Clause
// FNV-1a: stable 64-bit ids for stacks and fingerprints of target contents.
#pragma once

#include <cstddef>
#include <cstdint>

namespace leakscope {

constexpr uint64_t kFnv1aOffset = 1469598103934665603ull;

inline uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

}  // namespace leakscope
