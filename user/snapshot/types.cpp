// SPDX-License-Identifier: BSD-2-Clause
#include "snapshot/types.h"

#include "core/text.h"
#include "python/symbolizer.h"
#include "snapshot/dict_reader.h"

namespace leakscope::snapshot {
namespace {

constexpr int kMaxMetaclassDepth = 8;
constexpr int kMaxBaseDepth = 64;
constexpr int64_t kMaxBasicSize = 1 << 20;
constexpr int64_t kMaxItemSize = 1 << 16;
constexpr uint64_t kMaxSlots = 4096;
constexpr size_t kMaxNameChars = 512;
// PyMemberDef {name, int type, Py_ssize_t offset, int flags, doc}; T_OBJECT and
// T_OBJECT_EX members are the object references subtype_traverse visits.
constexpr uint64_t kMemberDefSize = 40;
constexpr int32_t kMemberObject = 6;
constexpr int32_t kMemberObjectEx = 16;

}  // namespace

bool TypeInfo::gc() const { return flags & kTpFlagsHaveGc; }

TypeTable::TypeTable(const proc::MemoryReader& mem, const python::PyLayout& layout,
                     KnownTypes known, uint64_t type_type)
    : mem_(mem), layout_(layout), known_(std::move(known)), type_type_(type_type) {}

// `type` itself, or an object whose type is (a subclass of) type.
bool TypeTable::is_type_object(uint64_t addr, int depth) {
    if (!addr || addr % 8) return false;
    auto meta = mem_.read_ptr(addr + layout_.object_type);
    if (!meta) return false;
    if (*meta == type_type_) return true;
    if (depth >= kMaxMetaclassDepth) return false;
    auto meta_flags = mem_.read_as<uint64_t>(*meta + layout_.type_flags);
    return meta_flags && (*meta_flags & kTpFlagsTypeSubclass) && is_type_object(*meta, depth + 1);
}

int32_t TypeTable::resolve(uint64_t addr) {
    if (auto it = by_addr_.find(addr); it != by_addr_.end()) return it->second;
    int32_t index = -1;
    if (is_type_object(addr, 0)) {
        TypeInfo t = read_type(addr);
        if (!t.name.empty()) {
            index = static_cast<int32_t>(types_.size());
            types_.push_back(std::move(t));
        }
    }
    by_addr_.emplace(addr, index);
    return index;
}

TypeInfo TypeTable::read_type(uint64_t addr) {
    TypeInfo t;
    t.addr = addr;
    auto basic = mem_.read_as<int64_t>(addr + layout_.type_basicsize);
    auto item = mem_.read_as<int64_t>(addr + layout_.type_itemsize);
    auto flags = mem_.read_as<uint64_t>(addr + layout_.type_flags);
    auto dictoffset = mem_.read_as<int64_t>(addr + layout_.type_dictoffset);
    auto tp_name = mem_.read_ptr(addr + layout_.type_name);
    if (!basic || !item || !flags || !dictoffset || !tp_name || *basic < 16 ||
        *basic > kMaxBasicSize || *item < 0 || *item > kMaxItemSize)
        return t;  // no name: not a usable type
    t.basicsize = *basic;
    t.itemsize = *item;
    t.flags = *flags;
    t.dictoffset = *dictoffset;
    t.heap = t.flags & kTpFlagsHeapType;
    if (t.heap) {
        t.name = class_name(addr, mem_.read_ptr(addr + layout_.type_dict).value_or(0));
        t.cached_keys = mem_.read_ptr(addr + layout_.heap_type_cached_keys).value_or(0);
        add_slots(t, addr);
    } else {
        t.name = escape_control(mem_.read_cstring(*tp_name, kMaxNameChars).value_or(""));
    }
    t.kind = c_kind(addr, t);
    return t;
}

// "module.QualName", as the class's own __module__ and __qualname__ say.
std::string TypeTable::class_name(uint64_t addr, uint64_t dict) const {
    auto qualname_obj = mem_.read_ptr(addr + layout_.heap_type_qualname);
    auto qualname = qualname_obj ? python::read_unicode(mem_, layout_, *qualname_obj, kMaxNameChars)
                                 : std::nullopt;
    if (!qualname) return {};
    std::string module;
    if (dict)
        for_each_dict_entry(mem_, layout_, dict, [&](uint64_t key, uint64_t value, uint64_t) {
            if (!module.empty()) return;
            if (python::read_unicode(mem_, layout_, key, 16).value_or("") == "__module__")
                module = python::read_unicode(mem_, layout_, value, kMaxNameChars).value_or("");
        });
    return module.empty() || module == "builtins" ? *qualname : module + "." + *qualname;
}

// __slots__ are T_OBJECT_EX members of each class in the base chain.
void TypeTable::add_slots(TypeInfo& t, uint64_t type_addr) const {
    uint64_t cls = type_addr;
    for (int depth = 0; cls && depth < kMaxBaseDepth; ++depth) {
        auto flags = mem_.read_as<uint64_t>(cls + layout_.type_flags);
        if (!flags || !(*flags & kTpFlagsHeapType)) break;
        const uint64_t count = mem_.read_as<uint64_t>(cls + layout_.varobject_size).value_or(0);
        const uint64_t members = mem_.read_ptr(cls + layout_.type_members).value_or(0);
        for (uint64_t i = 0; members && i < std::min(count, kMaxSlots); ++i) {
            struct { uint64_t name; int32_t type, pad; int64_t offset; } m;
            if (!mem_.read(members + i * kMemberDefSize, &m, sizeof m)) break;
            if ((m.type != kMemberObjectEx && m.type != kMemberObject) || m.offset < 16 ||
                m.offset + 8 > t.basicsize)
                continue;
            t.slots.push_back({m.offset, mem_.read_cstring(m.name, kMaxNameChars).value_or("?")});
        }
        cls = mem_.read_ptr(cls + layout_.type_base).value_or(0);
    }
}

// The kind of the type, or for a class, of its nearest C base.
Kind TypeTable::c_kind(uint64_t addr, TypeInfo& t) const {
    uint64_t cls = addr;
    for (int depth = 0; cls && depth < kMaxBaseDepth; ++depth) {
        if (auto it = known_.find(cls); it != known_.end()) return it->second;
        auto flags = mem_.read_as<uint64_t>(cls + layout_.type_flags);
        if (!flags) return Kind::Unreadable;
        // C types, static or (3.12+ collections.deque, say) made at run time.
        if (!(*flags & kTpFlagsHeapType) || (*flags & kTpFlagsImmutableType)) {
            // Other C types are known by their tp_name (they are not exported).
            auto name_ptr = mem_.read_ptr(cls + layout_.type_name);
            const std::string name = name_ptr ? mem_.read_cstring(*name_ptr, 64).value_or("") : "";
            if (name == "collections.deque") return Kind::Deque;
            for (const auto& refs : python::c_type_refs(layout_.version))
                if (refs.tp_name == name) {
                    t.fields = refs.fields;
                    return refs.dict_base ? Kind::Dict : Kind::Leaf;
                }
            // A C type with no collector support holds nothing the GC follows.
            return (*flags & kTpFlagsHaveGc) ? Kind::Unreadable : Kind::Leaf;
        }
        cls = mem_.read_ptr(cls + layout_.type_base).value_or(0);
    }
    return t.heap ? Kind::Leaf : Kind::Unreadable;
}

}  // namespace leakscope::snapshot
