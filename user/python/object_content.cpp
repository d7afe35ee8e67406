// SPDX-License-Identifier: BSD-2-Clause
#include "python/object_content.h"

#include <algorithm>
#include <string>

#include "core/hash.h"
#include "python/symbolizer.h"

namespace leakscope::python {
namespace {

constexpr uint64_t kTpFlagsBytesSubclass = 1ull << 27;
constexpr uint64_t kTpFlagsUnicodeSubclass = 1ull << 28;
// Enough of the contents to tell two objects apart; the length is hashed too.
constexpr size_t kFingerprintChars = 64;
// Types remembered; the cache starts over when a target has more.
constexpr size_t kMaxCachedTypes = 1 << 12;

}  // namespace

uint64_t ObjectContent::type_flags(uint64_t type) {
    if (auto it = flags_.find(type); it != flags_.end()) return it->second;
    if (flags_.size() >= kMaxCachedTypes) flags_.clear();
    const uint64_t flags = mem_.read_as<uint64_t>(type + layout_.type_flags).value_or(0);
    flags_[type] = flags;
    return flags;
}

std::optional<uint64_t> ObjectContent::fingerprint(uint64_t addr, uint64_t type) {
    const uint64_t flags = type_flags(type);
    uint64_t h = kFnv1aOffset;
    if (flags & kTpFlagsUnicodeSubclass) {
        const auto length = mem_.read_as<int64_t>(addr + layout_.unicode_length);
        const auto text = read_unicode(mem_, layout_, addr, kFingerprintChars);
        if (!length || !text) return std::nullopt;
        h = fnv1a(h, &*length, sizeof *length);
        return fnv1a(h, text->data(), text->size());
    }
    if (flags & kTpFlagsBytesSubclass) {
        const auto size = mem_.read_as<int64_t>(addr + layout_.bytes_size);
        if (!size || *size < 0) return std::nullopt;
        std::string data(std::min<size_t>(size_t(*size), kFingerprintChars), '\0');
        if (!data.empty() && !mem_.read(addr + layout_.bytes_data, data.data(), data.size())) return std::nullopt;
        h = fnv1a(h, &*size, sizeof *size);
        return fnv1a(h, data.data(), data.size());
    }
    return std::nullopt;
}

}  // namespace leakscope::python
