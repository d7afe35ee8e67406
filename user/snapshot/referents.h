// SPDX-License-Identifier: BSD-2-Clause
// An object's references, read out of the target the way its type's
// tp_traverse visits them, each with what names it (for holder paths).
#pragma once

#include <cstdint>
#include <vector>

#include "proc/memory.h"
#include "python/layout.h"
#include "snapshot/problems.h"
#include "snapshot/types.h"

namespace leakscope::snapshot {

// What an edge's label means.
enum class EdgeKind : uint8_t {
    Field,      // label: offset of the field
    Item,       // label: index in a list, tuple or deque
    SetItem,    // label: none
    DictKey,    // label: the key object
    DictValue,  // label: the key object
    Namespace,  // the __dict__ of a module, class or instance; label: none
    Attribute,  // an instance attribute kept without a dict; label: the key object
    Slot,       // label: index into TypeInfo::slots
    Local,      // label: the str object naming the local
    Class,      // Py_TYPE(self) of an instance
};

struct Edge {
    uint64_t target;
    EdgeKind kind;
    uint64_t label;
};

struct ReadContext {
    const proc::MemoryReader& mem;
    const python::PyLayout& layout;
    Problems& problems;
    uint64_t code_type;  // &PyCode_Type: frames with other executables are skipped
    uint64_t set_dummy;  // the dummy key of deleted set entries
};

// The references of obj (whose type is t). Null fields are not edges.
void object_referents(const ReadContext& ctx, uint64_t obj, const TypeInfo& t,
                      std::vector<Edge>& out);

// The locals of a frame: a PyFrameObject (3.8-3.10) or a _PyInterpreterFrame.
void frame_locals(const ReadContext& ctx, uint64_t frame, std::vector<Edge>& out);

// Bytes the object occupies, as sys.getsizeof counts them (collector header
// included), plus the tables containers keep in separate blocks.
uint64_t shallow_size(const ReadContext& ctx, uint64_t obj, const TypeInfo& t);

// The name Python code reaches a Field edge of an object of type t by
// (`__closure__`, `__self__`, `cell_contents`), nullptr if it has none.
const char* field_name(const python::PyLayout& layout, const TypeInfo& t, int64_t offset);

// The code object of an interpreter frame or frame object, 0 if none.
uint64_t frame_code(const ReadContext& ctx, uint64_t frame);

}  // namespace leakscope::snapshot
