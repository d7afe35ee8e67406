// SPDX-License-Identifier: BSD-2-Clause
// The target's type objects, each validated once: a pointer is a type only if
// its own type is `type` (or a metaclass derived from it) and its sizes are
// sane. What a type's instances reference follows from its Kind.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "proc/memory.h"
#include "python/layout.h"

namespace leakscope::snapshot {

// How to read an object's references, as its type's tp_traverse visits them.
enum class Kind : uint8_t {
    Leaf,        // no references the collector would follow (str, bytes, float, ...)
    Unreadable,  // a C type whose references leakscope cannot read: counted, not guessed
    Dict, List, Tuple, Set, Type, Module, Cell, Function, Method, FrameObject, Generator,
    Deque, Str, Int,
};

struct Slot {
    int64_t offset;
    std::string name;
};

struct TypeInfo {
    uint64_t addr = 0;
    std::string name;       // "module.QualName" for classes, tp_name for C types
    int64_t basicsize = 0, itemsize = 0;
    uint64_t flags = 0;
    int64_t dictoffset = 0;
    bool heap = false;      // a class (Py_TPFLAGS_HEAPTYPE)
    Kind kind = Kind::Leaf; // for classes: the kind of the nearest C base
    std::vector<Slot> slots;  // __slots__ of the class and its class bases
    std::vector<python::RefField> fields;  // fixed reference fields of a known C type (or its C base)
    uint64_t cached_keys = 0; // ht_cached_keys: shared keys of instance attributes

    bool gc() const;
};

// Addresses of the C types leakscope knows, from the interpreter's symbols.
using KnownTypes = std::unordered_map<uint64_t, Kind>;

class TypeTable {
public:
    TypeTable(const proc::MemoryReader& mem, const python::PyLayout& layout, KnownTypes known,
              uint64_t type_type);

    // The type at addr, or -1 when addr is not a type object.
    int32_t resolve(uint64_t addr);
    const TypeInfo& at(int32_t index) const { return types_[index]; }
    size_t size() const { return types_.size(); }

private:
    bool is_type_object(uint64_t addr, int depth);
    TypeInfo read_type(uint64_t addr);
    std::string class_name(uint64_t addr, uint64_t dict) const;
    void add_slots(TypeInfo& t, uint64_t type_addr) const;
    Kind c_kind(uint64_t addr, TypeInfo& t) const;

    const proc::MemoryReader& mem_;
    const python::PyLayout& layout_;
    KnownTypes known_;
    uint64_t type_type_;
    std::unordered_map<uint64_t, int32_t> by_addr_;
    std::vector<TypeInfo> types_;
};

constexpr uint64_t kTpFlagsHeapType = 1ull << 9;
// 3.10+: set on C types made at run time (PyType_FromSpec), never on classes.
constexpr uint64_t kTpFlagsImmutableType = 1ull << 8;
constexpr uint64_t kTpFlagsHaveGc = 1ull << 14;
constexpr uint64_t kTpFlagsTypeSubclass = 1ull << 31;

}  // namespace leakscope::snapshot
