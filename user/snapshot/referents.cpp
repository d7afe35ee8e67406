// SPDX-License-Identifier: BSD-2-Clause
#include "snapshot/referents.h"

#include <algorithm>
#include <unordered_set>

#include "snapshot/dict_reader.h"

namespace leakscope::snapshot {
namespace {

using python::ManagedDict;

constexpr uint64_t kMaxItems = 1ull << 28;   // list, tuple, set, deque lengths read
constexpr uint64_t kMaxLocals = 1 << 16;
constexpr uint64_t kBatch = 4096;
// Flags of the managed dict layouts (3.11+ MANAGED_DICT, 3.13+ INLINE_VALUES).
constexpr uint64_t kTpFlagsManagedDict = 1ull << 4;
constexpr uint64_t kTpFlagsInlineValues = 1ull << 2;
// collections.deque: blocks of 64 items between a left and a right link.
constexpr uint64_t kDequeBlockLen = 64;
constexpr uint64_t kDequeBlockBytes = 8 + 8 * kDequeBlockLen + 8;

void field(const ReadContext& ctx, uint64_t obj, int64_t offset, std::vector<Edge>& out) {
    if (offset < 0) return;
    if (auto p = ctx.mem.read_ptr(obj + offset); p && *p) out.push_back({*p, EdgeKind::Field, uint64_t(offset)});
}

std::optional<uint64_t> length(const ReadContext& ctx, uint64_t addr, uint64_t max) {
    auto n = ctx.mem.read_as<int64_t>(addr);
    if (!n || *n < 0) {
        ctx.problems.add(Problem::CorruptContainer);
        return std::nullopt;
    }
    if (static_cast<uint64_t>(*n) > max) {
        ctx.problems.add(Problem::TruncatedContainer);
        return max;
    }
    return *n;
}

// n pointers at addr, read in batches, as kind edges labelled by index.
void pointer_array(const ReadContext& ctx, uint64_t addr, uint64_t n, EdgeKind kind,
                   std::vector<Edge>& out) {
    std::vector<uint64_t> batch;
    for (uint64_t first = 0; first < n; first += kBatch) {
        batch.resize(std::min(kBatch, n - first));
        if (!ctx.mem.read(addr + first * 8, batch.data(), batch.size() * 8)) {
            ctx.problems.add(Problem::UnreadableObject);
            return;
        }
        for (size_t i = 0; i < batch.size(); ++i)
            if (batch[i]) out.push_back({batch[i], kind, first + i});
    }
}

void list_items(const ReadContext& ctx, uint64_t obj, std::vector<Edge>& out) {
    auto n = length(ctx, obj + ctx.layout.varobject_size, kMaxItems);
    auto items = ctx.mem.read_ptr(obj + ctx.layout.list_items);
    auto allocated = ctx.mem.read_as<int64_t>(obj + ctx.layout.list_allocated);
    if (!n || !items || !allocated) return;
    if (*n > static_cast<uint64_t>(std::max<int64_t>(*allocated, 0))) {
        ctx.problems.add(Problem::CorruptContainer);
        return;
    }
    pointer_array(ctx, *items, *n, EdgeKind::Item, out);
}

void tuple_items(const ReadContext& ctx, uint64_t obj, std::vector<Edge>& out) {
    if (auto n = length(ctx, obj + ctx.layout.varobject_size, kMaxItems))
        pointer_array(ctx, obj + ctx.layout.tuple_items, *n, EdgeKind::Item, out);
}

void dict_items(const ReadContext& ctx, uint64_t dict, std::vector<Edge>& out) {
    auto r = for_each_dict_entry(ctx.mem, ctx.layout, dict, [&](uint64_t k, uint64_t v, uint64_t) {
        out.push_back({k, EdgeKind::DictKey, k});
        out.push_back({v, EdgeKind::DictValue, k});
    });
    if (r == DictRead::Corrupt) ctx.problems.add(Problem::CorruptContainer);
    if (r == DictRead::Unreadable) ctx.problems.add(Problem::UnreadableObject);
}

void set_items(const ReadContext& ctx, uint64_t obj, std::vector<Edge>& out) {
    auto mask = ctx.mem.read_as<int64_t>(obj + ctx.layout.set_mask);
    auto table = ctx.mem.read_ptr(obj + ctx.layout.set_table);
    if (!mask || !table || *mask < 7 || static_cast<uint64_t>(*mask) >= kMaxItems || ((*mask + 1) & *mask)) {
        ctx.problems.add(Problem::CorruptContainer);
        return;
    }
    std::vector<uint64_t> entries;  // {key, hash} pairs
    const uint64_t slots = *mask + 1;
    for (uint64_t first = 0; first < slots; first += kBatch) {
        entries.resize(2 * std::min(kBatch, slots - first));
        if (!ctx.mem.read(*table + first * 16, entries.data(), entries.size() * 8)) {
            ctx.problems.add(Problem::UnreadableObject);
            return;
        }
        for (size_t i = 0; i < entries.size(); i += 2)
            if (entries[i] && entries[i] != ctx.set_dummy) out.push_back({entries[i], EdgeKind::SetItem, 0});
    }
}

void deque_items(const ReadContext& ctx, uint64_t obj, std::vector<Edge>& out) {
    auto n = length(ctx, obj + ctx.layout.varobject_size, kMaxItems);
    auto block = ctx.mem.read_ptr(obj + ctx.layout.deque_leftblock);
    auto index = ctx.mem.read_as<int64_t>(obj + ctx.layout.deque_leftindex);
    if (!n || !block || !index || *index < 0 || *index >= int64_t(kDequeBlockLen)) return;
    uint64_t done = 0, at = *index;
    std::unordered_set<uint64_t> seen;  // a block chain that loops is read once
    for (uint64_t blocks = 0; done < *n && *block && blocks <= *n / kDequeBlockLen + 1 && seen.insert(*block).second;
         ++blocks) {
        const uint64_t take = std::min(kDequeBlockLen - at, *n - done);
        const size_t before = out.size();
        pointer_array(ctx, *block + 8 + at * 8, take, EdgeKind::Item, out);
        for (size_t i = before; i < out.size(); ++i) out[i].label += done;
        done += take;
        at = 0;
        block = ctx.mem.read_ptr(*block + 8 + 8 * kDequeBlockLen);
        if (!block) break;
    }
    if (done < *n) ctx.problems.add(Problem::CorruptContainer);
}

// Attributes kept in values beside the object rather than in a dict (3.11+).
void managed_attributes(const ReadContext& ctx, uint64_t obj, const TypeInfo& t, std::vector<Edge>& out) {
    const auto& L = ctx.layout;
    uint64_t dict = 0, values = 0, max_values = kMaxItems;
    const uint64_t word = ctx.mem.read_ptr(obj - 24).value_or(0);
    if (L.managed_dict == ManagedDict::Split311) {
        dict = word;
        values = ctx.mem.read_ptr(obj - 32).value_or(0);
    } else if (L.managed_dict == ManagedDict::Tagged312) {
        (word & 1) ? values = word + 1 : dict = word;  // stored as values - 1
    } else if (L.managed_dict == ManagedDict::Inline313) {
        dict = word;
        if (!dict && (t.flags & kTpFlagsInlineValues)) {
            uint8_t header[4];  // capacity, size, embedded, valid
            values = obj + t.basicsize;
            if (!ctx.mem.read(values, header, sizeof header) || !header[3]) values = 0;
            max_values = header[0];
        }
    }
    if (dict) {
        out.push_back({dict, EdgeKind::Namespace, 0});
    } else if (values && t.cached_keys) {
        for_each_split_entry(ctx.mem, L, t.cached_keys, values + L.dict_values_items, max_values,
                             [&](uint64_t k, uint64_t v, uint64_t) { out.push_back({v, EdgeKind::Attribute, k}); });
    }
}

void instance_referents(const ReadContext& ctx, uint64_t obj, const TypeInfo& t, std::vector<Edge>& out) {
    out.push_back({t.addr, EdgeKind::Class, 0});
    for (size_t i = 0; i < t.slots.size(); ++i)
        if (auto p = ctx.mem.read_ptr(obj + t.slots[i].offset); p && *p) out.push_back({*p, EdgeKind::Slot, i});
    if (ctx.layout.managed_dict != ManagedDict::None && (t.flags & kTpFlagsManagedDict)) {
        managed_attributes(ctx, obj, t, out);
    } else if (t.dictoffset > 0) {
        if (auto d = ctx.mem.read_ptr(obj + t.dictoffset); d && *d) out.push_back({*d, EdgeKind::Namespace, 0});
    } else if (t.dictoffset < 0) {
        // Negative: counted from the end of a variable-size object.
        auto n = ctx.mem.read_as<int64_t>(obj + ctx.layout.varobject_size).value_or(0);
        const uint64_t end = (t.basicsize + std::abs(n) * t.itemsize + 7) & ~7ull;
        if (auto d = ctx.mem.read_ptr(obj + end + t.dictoffset); d && *d) out.push_back({*d, EdgeKind::Namespace, 0});
    }
}

void generator_referents(const ReadContext& ctx, uint64_t gen, std::vector<Edge>& out) {
    const auto& L = ctx.layout;
    for (const auto& f : L.gen_refs) field(ctx, gen, f.offset, out);
    if (L.gen_iframe < 0) return;
    auto state = ctx.mem.read_as<int8_t>(gen + L.gen_frame_state);
    if (state && *state < L.gen_frame_cleared) frame_locals(ctx, gen + L.gen_iframe, out);
}

void frame_object_referents(const ReadContext& ctx, uint64_t frame, std::vector<Edge>& out) {
    const auto& L = ctx.layout;
    for (const auto& f : L.frame_object_refs) field(ctx, frame, f.offset, out);
    if (L.frame_object_frame < 0) {
        frame_locals(ctx, frame, out);  // 3.8-3.10: the object is the frame
        return;
    }
    // 3.11+: the locals are the frame object's own only once the frame has left the stack.
    auto iframe = ctx.mem.read_ptr(frame + L.frame_object_frame);
    auto owner = iframe ? ctx.mem.read_as<uint8_t>(*iframe + L.frame_owner) : std::nullopt;
    if (owner && *owner == L.owner_frame_object) frame_locals(ctx, *iframe, out);
}

void type_referents(const ReadContext& ctx, uint64_t type, std::vector<Edge>& out) {
    const auto& L = ctx.layout;
    if (auto d = ctx.mem.read_ptr(type + L.type_dict); d && *d) out.push_back({*d, EdgeKind::Namespace, 0});
    for (int64_t off : {L.type_base, L.type_bases, L.type_mro}) field(ctx, type, off, out);
}

}  // namespace

void object_referents(const ReadContext& ctx, uint64_t obj, const TypeInfo& t, std::vector<Edge>& out) {
    const auto& L = ctx.layout;
    if (t.heap) instance_referents(ctx, obj, t, out);
    for (const auto& f : t.fields) field(ctx, obj, f.offset, out);
    switch (t.kind) {
    case Kind::Dict: return dict_items(ctx, obj, out);
    case Kind::List: return list_items(ctx, obj, out);
    case Kind::Tuple: return tuple_items(ctx, obj, out);
    case Kind::Set: return set_items(ctx, obj, out);
    case Kind::Deque: return deque_items(ctx, obj, out);
    case Kind::Type: return type_referents(ctx, obj, out);
    case Kind::Module:
        if (auto d = ctx.mem.read_ptr(obj + L.module_dict); d && *d) out.push_back({*d, EdgeKind::Namespace, 0});
        return;
    case Kind::Cell: return field(ctx, obj, L.cell_ref, out);
    case Kind::Method:
        field(ctx, obj, L.method_func, out);
        return field(ctx, obj, L.method_self, out);
    case Kind::Function:
        for (const auto& f : L.function_refs) field(ctx, obj, f.offset, out);
        return;
    case Kind::FrameObject: return frame_object_referents(ctx, obj, out);
    case Kind::Generator: return generator_referents(ctx, obj, out);
    case Kind::Leaf: case Kind::Unreadable: case Kind::Str: case Kind::Int: return;
    }
}

const char* field_name(const python::PyLayout& L, const TypeInfo& t, int64_t offset) {
    auto in = [offset](const std::vector<python::RefField>& fields) -> const char* {
        for (const auto& f : fields)
            if (f.offset == offset) return f.name;
        return nullptr;
    };
    if (const char* name = in(t.fields)) return name;
    switch (t.kind) {
    case Kind::Function: return in(L.function_refs);
    case Kind::Generator: return in(L.gen_refs);
    case Kind::FrameObject: return in(L.frame_object_refs);
    case Kind::Cell: return offset == L.cell_ref ? "cell_contents" : nullptr;
    case Kind::Method: return offset == L.method_func ? "__func__" : offset == L.method_self ? "__self__" : nullptr;
    default: return nullptr;
    }
}

uint64_t frame_code(const ReadContext& ctx, uint64_t frame) {
    const auto& L = ctx.layout;
    const uint64_t code = ctx.mem.read_ptr(frame + L.frame_code).value_or(0) & L.frame_code_mask;
    const uint64_t type = code ? ctx.mem.read_ptr(code + L.object_type).value_or(0) : 0;
    return type && type == ctx.code_type ? code : 0;
}

void frame_locals(const ReadContext& ctx, uint64_t frame, std::vector<Edge>& out) {
    const auto& L = ctx.layout;
    const uint64_t code = frame_code(ctx, frame);
    if (!code) return;
    out.push_back({code, EdgeKind::Field, uint64_t(L.frame_code)});
    // Local names: co_localsplusnames (3.11+), else co_varnames + co_cellvars + co_freevars.
    std::vector<uint64_t> names;
    for (int64_t off : {L.code_localsplusnames, L.code_varnames, L.code_cellvars, L.code_freevars}) {
        if (off < 0) continue;
        auto tuple = ctx.mem.read_ptr(code + off);
        auto n = tuple && *tuple ? ctx.mem.read_as<int64_t>(*tuple + L.varobject_size) : std::nullopt;
        if (!n || *n < 0 || names.size() + *n > kMaxLocals) return;
        const size_t at = names.size();
        names.resize(at + *n);
        if (!ctx.mem.read(*tuple + L.tuple_items, names.data() + at, *n * 8)) return;
    }
    std::vector<uint64_t> values(names.size());
    if (!ctx.mem.read(frame + L.frame_localsplus, values.data(), values.size() * 8)) {
        ctx.problems.add(Problem::UnreadableObject);
        return;
    }
    for (size_t i = 0; i < values.size(); ++i)
        if (uint64_t obj = python::frame_local_object(L, values[i]))
            out.push_back({obj, EdgeKind::Local, names[i]});
}

}  // namespace leakscope::snapshot
