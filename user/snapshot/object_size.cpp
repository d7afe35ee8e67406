// SPDX-License-Identifier: BSD-2-Clause
// shallow_size(): what each object costs, as sys.getsizeof counts it.
#include <algorithm>
#include <cstdlib>

#include "snapshot/dict_reader.h"
#include "snapshot/referents.h"

namespace leakscope::snapshot {
namespace {

constexpr uint64_t kPreHeader = 16;    // managed dict and weakref words (3.11+)
constexpr uint64_t kTpFlagsManagedDict = 1ull << 4;
constexpr uint64_t kTpFlagsManagedWeakref = 1ull << 3;  // 3.12+
constexpr uint64_t kDequeBlockBytes = 8 + 8 * 64 + 8;
constexpr uint64_t kMaxObjectBytes = 1ull << 40;

uint64_t str_size(const ReadContext& ctx, uint64_t obj) {
    const auto& L = ctx.layout;
    const uint64_t len = ctx.mem.read_as<uint64_t>(obj + L.unicode_length).value_or(0);
    const auto state = python::str_state(L, ctx.mem.read_as<uint32_t>(obj + L.unicode_state).value_or(0));
    if (len > kMaxObjectBytes) return L.unicode_ascii_data;
    if (state.ascii) return L.unicode_ascii_data + len + 1;  // compact ASCII
    if (state.compact) return L.unicode_compact_data + (len + 1) * state.kind;  // compact
    return L.unicode_compact_data + 8;  // legacy: the data is a separate block
}

uint64_t var_size(const ReadContext& ctx, uint64_t obj, const TypeInfo& t) {
    const auto& L = ctx.layout;
    if (t.kind == Kind::Int && L.long_tag >= 0) {
        // 3.12+: the digit count is lv_tag >> 3; zero still occupies one digit.
        const uint64_t digits = ctx.mem.read_as<uint64_t>(obj + L.long_tag).value_or(0) >> 3;
        return L.long_digits + 4 * std::max<uint64_t>(std::min(digits, kMaxObjectBytes), 1);
    }
    // Generators have a tp_itemsize (their frame) but no ob_size field.
    if (t.itemsize == 0 || t.kind == Kind::Generator) return t.basicsize;
    const int64_t n = ctx.mem.read_as<int64_t>(obj + L.varobject_size).value_or(0);
    const uint64_t items = std::min<uint64_t>(std::llabs(n), kMaxObjectBytes);
    return t.basicsize + items * t.itemsize;
}

// Tables containers keep in blocks of their own.
uint64_t table_size(const ReadContext& ctx, uint64_t obj, const TypeInfo& t) {
    const auto& L = ctx.layout;
    switch (t.kind) {
    case Kind::List: {
        const int64_t allocated = ctx.mem.read_as<int64_t>(obj + L.list_allocated).value_or(0);
        return allocated > 0 && uint64_t(allocated) < kMaxObjectBytes ? allocated * 8 : 0;
    }
    case Kind::Dict: {
        if (ctx.mem.read_ptr(obj + L.dict_values).value_or(1)) return 0;  // shared keys
        return dict_keys_bytes(ctx.mem, L, ctx.mem.read_ptr(obj + L.dict_keys).value_or(0));
    }
    case Kind::Set: {
        const int64_t mask = ctx.mem.read_as<int64_t>(obj + L.set_mask).value_or(0);
        const uint64_t table = ctx.mem.read_ptr(obj + L.set_table).value_or(0);
        // The small table follows table, hash and finger inside the object.
        const uint64_t small = obj + L.set_table + 24;
        return table && table != small && mask > 0 && uint64_t(mask) < kMaxObjectBytes ? (mask + 1) * 16 : 0;
    }
    case Kind::Deque: {
        const int64_t n = ctx.mem.read_as<int64_t>(obj + L.varobject_size).value_or(0);
        const int64_t left = ctx.mem.read_as<int64_t>(obj + L.deque_leftindex).value_or(0);
        return n >= 0 && uint64_t(n) < kMaxObjectBytes ? ((left + n) / 64 + 1) * kDequeBlockBytes : 0;
    }
    default:
        return 0;
    }
}

}  // namespace

uint64_t shallow_size(const ReadContext& ctx, uint64_t obj, const TypeInfo& t) {
    uint64_t size = t.kind == Kind::Str ? str_size(ctx, obj) : var_size(ctx, obj, t);
    size += table_size(ctx, obj, t);
    if (t.gc()) size += uint64_t(ctx.layout.gc_header);
    const auto managed = ctx.layout.managed_dict;
    const uint64_t pre_flags = managed == python::ManagedDict::Split311
                                   ? kTpFlagsManagedDict
                                   : kTpFlagsManagedDict | kTpFlagsManagedWeakref;
    if (managed != python::ManagedDict::None && (t.flags & pre_flags)) size += kPreHeader;
    return size;
}

}  // namespace leakscope::snapshot
