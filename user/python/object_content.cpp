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
constexpr uint64_t kTpFlagsHaveGc = LS_TPFLAGS_HAVE_GC;
// No object is larger: a bigger size is a misread.
constexpr uint64_t kMaxObjectBytes = 1ull << 40;
// Enough of the contents to tell two objects apart; the length is hashed too.
constexpr size_t kFingerprintChars = 64;
// Types remembered; the cache starts over when a target has more.
constexpr size_t kMaxCachedTypes = 1 << 12;

}  // namespace

const ObjectContent::TypeInfo& ObjectContent::type_info(uint64_t type) {
    if (auto it = types_.find(type); it != types_.end()) return it->second;
    if (types_.size() >= kMaxCachedTypes) types_.clear();
    TypeInfo t;
    t.flags = mem_.read_as<uint64_t>(type + layout_.type_flags).value_or(0);
    t.basicsize = mem_.read_as<uint64_t>(type + layout_.type_basicsize).value_or(0);
    t.itemsize = mem_.read_as<uint64_t>(type + layout_.type_itemsize).value_or(0);
    return types_[type] = t;
}

std::optional<uint64_t> ObjectContent::size(uint64_t addr, uint64_t type) {
    if (live_object_type(mem_, layout_, addr) != type) return std::nullopt;
    const TypeInfo& t = type_info(type);
    if (!t.basicsize || t.basicsize > kMaxObjectBytes || t.itemsize > kMaxObjectBytes) return std::nullopt;
    if (t.flags & kTpFlagsUnicodeSubclass) {  // a compact str keeps its characters (and a NUL) inline
        const auto length = mem_.read_as<int64_t>(addr + layout_.unicode_length);
        const auto state = mem_.read_as<uint32_t>(addr + layout_.unicode_state);
        if (!length || !state || *length < 0 || uint64_t(*length) > kMaxObjectBytes / 4) return std::nullopt;
        const auto [kind, compact, ascii] = str_state(layout_, *state);
        if (compact && (kind == 1 || kind == 2 || kind == 4))
            return uint64_t(ascii ? layout_.unicode_ascii_data : layout_.unicode_compact_data) +
                   (uint64_t(*length) + 1) * kind;
    }
    uint64_t items = 0;
    if (t.itemsize) {
        auto n = mem_.read_as<int64_t>(addr + layout_.varobject_size);
        if (!n) return std::nullopt;
        items = uint64_t(*n < 0 ? -*n : *n);  // ints kept their sign in ob_size before 3.12
        if (items > kMaxObjectBytes / t.itemsize) return std::nullopt;
    }
    return t.basicsize + t.itemsize * items + ((t.flags & kTpFlagsHaveGc) ? uint64_t(layout_.gc_header) : 0);
}

std::optional<uint64_t> ObjectContent::fingerprint(uint64_t addr, uint64_t type) {
    const uint64_t flags = type_info(type).flags;
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
