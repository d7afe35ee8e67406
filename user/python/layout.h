// SPDX-License-Identifier: BSD-2-Clause
// Per-version layout of the CPython structures leakscope reads. 3.8-3.12 come
// from tables kept as data (layout.cpp); 3.13+ from the target's own
// _Py_DebugOffsets (debug_offsets.cpp). Nothing outside this directory knows
// which version it is looking at: it reads fields through a PyLayout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

extern "C" {
#include "leakscope.h"
}

#include "proc/memory.h"

namespace leakscope::python {

struct PyVersion {
    int major = 0, minor = 0, micro = 0;
    std::string str() const;  // "3.11.2"
    bool operator==(const PyVersion&) const = default;
};

// Which line-table format co_lnotab / co_linetable holds.
enum class LineTableFormat {
    Lnotab38,     // 3.8/3.9 co_lnotab: (addr_incr u8, line_incr s8) pairs
    Linetable310, // 3.10 co_linetable: (sdelta u8, ldelta s8), -128 = no line
    Locations311, // 3.11+ PEP 657 location table
};

// Which collector design the gc state has.
enum class GcKind {
    Generational,  // 3.8-3.13, 3.14.5+: generations[3]
    Incremental,   // 3.14.0-3.14.4: young, old[2]
    WholeHeap,     // free-threaded: young, old[2] kept, but every collection is of the whole heap
};

// Which PyDictKeysObject layout dicts have.
enum class DictKeysFormat {
    Keys38,   // 3.8-3.10: dk_size at 8, dk_nentries at 32, indices at 40; 24-byte entries
    Keys311,  // 3.11+: dk_log2_size 8, dk_log2_index_bytes 9, dk_kind 10, dk_nentries 24,
              // indices at 32; 16-byte entries unless dk_kind is DICT_KEYS_GENERAL (0)
};

// Where an instance keeps its attributes when its type says Py_TPFLAGS_MANAGED_DICT.
enum class ManagedDict {
    None,       // 3.8-3.10: only tp_dictoffset
    Split311,   // 3.11: PyDictValues* at obj-32, dict at obj-24
    Tagged312,  // 3.12: one word at obj-24: the dict, or (char*)PyDictValues* - 1 (odd)
    Inline313,  // 3.13+: dict at obj-24; values inline at obj+tp_basicsize (Py_TPFLAGS_INLINE_VALUES)
};

// A reference field of a fixed-layout object, named as Python code would
// reach it (holder paths say `.__closure__`, not an offset).
struct RefField {
    int64_t offset;
    const char* name;
    bool operator==(const RefField& o) const {
        return offset == o.offset && std::string_view(name) == std::string_view(o.name);
    }
};

// Offsets are bytes within the named struct; -1 means the field does not exist
// in this version.
struct PyLayout {
    PyVersion version;
    // No GIL (3.14t): frames are read as in the GIL build, objects by their
    // split reference counts; there is no pymalloc and no PyGC_Head (the heap
    // snapshot's fields are unknown, so snapshot refuses such a layout).
    bool free_threaded = false;

    // _PyRuntimeState
    int64_t runtime_interp_head = -1;
    int64_t runtime_interp_main = -1;
    int64_t runtime_tstate_current = -1;  // gilstate.tstate_current (3.8-3.11)

    // PyInterpreterState
    int64_t interp_next = -1;
    int64_t interp_threads_head = -1;
    int64_t interp_id = -1;

    // GIL: holder = *(gil + gil_last_holder) while *(int*)(gil + gil_locked) != 0, where
    // gil = (gil_in_interp ? interp : runtime) + gil_offset, dereferenced once if gil_indirect.
    bool gil_in_interp = false;
    int64_t gil_offset = -1;
    bool gil_indirect = false;
    int64_t gil_last_holder = -1;
    int64_t gil_locked = -1;

    // PyThreadState
    int64_t tstate_prev = -1;
    int64_t tstate_next = -1;
    int64_t tstate_interp = -1;
    int64_t tstate_frame = -1;               // frame / cframe / current_frame
    int64_t cframe_current_frame = -1;       // 3.11/3.12 only
    int64_t tstate_thread_id = -1;           // pthread_t
    int64_t tstate_native_thread_id = -1;    // 3.11+
    int64_t tstate_size = -1;

    // Frames
    ls_frame_kind frame_kind = LS_FRAME_OBJECT;
    int64_t frame_size = -1;        // sizeof(_PyInterpreterFrame), 3.11+
    int64_t frame_previous = -1;
    int64_t frame_code = -1;
    uint64_t frame_code_mask = ~0ull;
    int64_t frame_lasti = -1;       // LS_FRAME_OBJECT
    int lasti_unit = 1;             // LS_FRAME_OBJECT
    int64_t frame_instr_ptr = -1;   // LS_FRAME_INTERP
    int64_t frame_owner = -1;       // LS_FRAME_INTERP
    int owner_generator = 1;        // value of FRAME_OWNED_BY_GENERATOR
    int owner_skip_from = 0xff;     // owners >= this are shim frames

    // PyCodeObject
    int64_t code_size = -1;            // sizeof(PyCodeObject); 3.11+ tp_basicsize is code_adaptive
    int64_t code_filename = -1;
    int64_t code_name = -1;
    int64_t code_qualname = -1;        // 3.11+
    int64_t code_linetable = -1;       // co_lnotab (3.8/3.9) or co_linetable
    int64_t code_firstlineno = -1;
    int64_t code_firsttraceable = -1;  // 3.11+, in code units
    int64_t code_adaptive = -1;        // 3.11+ co_code_adaptive
    int64_t frame_tlbc_index = -1;     // 3.14t: the frame's bytecode copy (0: co_code_adaptive)
    int64_t code_tlbc = -1;            // 3.14t: co_tlbc, the copies
    LineTableFormat linetable_format = LineTableFormat::Lnotab38;

    // Objects
    int64_t object_refcnt = 0;         // ob_refcnt (GIL builds)
    int64_t object_ref_local = -1;     // free-threaded: ob_ref_local (u32), owner thread's count
    int64_t object_ref_shared = -1;    // free-threaded: ob_ref_shared, other threads' count << 2
    int64_t object_type = 8;           // ob_type
    int64_t varobject_size = 16;       // ob_size
    int64_t type_name = 24;            // tp_name (const char*)
    int64_t type_basicsize = 32;
    int64_t type_itemsize = 40;
    int64_t type_flags = 168;
    int64_t bytes_size = 16;
    int64_t bytes_data = 32;
    int64_t unicode_length = 16;
    int64_t unicode_state = 32;
    int64_t unicode_ascii_data = -1;   // sizeof(PyASCIIObject)
    int64_t unicode_compact_data = -1; // sizeof(PyCompactUnicodeObject)

    // GC state: at (gc_in_runtime ? runtime : interp) + gc_offset
    bool gc_in_runtime = false;
    int64_t gc_offset = -1;
    int64_t gc_size = -1;              // sizeof(struct _gc_runtime_state)
    GcKind gc_kind = GcKind::Generational;
    int64_t gc_enabled = 12;
    int64_t gc_generations = 24;       // generations[0] (young for incremental)
    int64_t gc_generation_stride = 24; // sizeof(struct gc_generation)
    int64_t gc_generation_threshold = 16;  // in struct gc_generation, after its PyGC_Head
    int64_t gc_generation_count_field = 20;
    int gc_generation_count = 3;
    int64_t gc_stats = -1;             // generation_stats[gc_generation_count]
    int64_t gc_stats_stride = 24;      // struct gc_generation_stats {collections, collected, uncollectable}
    int64_t gc_header = 16;            // bytes in front of a GC object: sizeof(PyGC_Head) in GIL builds
    int64_t gc_collecting = -1;
    int64_t gc_long_lived_total = -1;
    int64_t gc_long_lived_pending = -1;

    // Heap snapshot: what an object's tp_traverse visits. Defaults are offsets
    // that have not moved in 3.8-3.14 (checked with gdb against the DWARF of
    // pyenv 3.8.18-3.13.0; for 3.14 the struct heads are unchanged, as the
    // _Py_DebugOffsets fields that do cover them confirm).
    int64_t gc_permanent = -1;         // permanent_generation head, from the gc state
    int64_t type_members = 240;        // tp_members (PyMemberDef*, 40 bytes each)
    int64_t type_base = 256;
    int64_t type_dict = 264;
    int64_t type_dictoffset = 288;
    int64_t type_bases = 336;
    int64_t type_mro = 344;
    int64_t heap_type_qualname = -1;   // PyHeapTypeObject.ht_qualname
    int64_t heap_type_cached_keys = -1;  // PyHeapTypeObject.ht_cached_keys
    int64_t list_items = 24;           // PyListObject.ob_item (a pointer)
    int64_t list_allocated = 32;
    int64_t tuple_items = 24;          // PyTupleObject.ob_item (inline)
    int64_t dict_used = 16;
    int64_t dict_keys = 32;
    int64_t dict_values = 40;
    DictKeysFormat dict_keys_format = DictKeysFormat::Keys38;
    int64_t dict_values_items = 0;     // values[] within PyDictValues (8 from 3.13 on)
    ManagedDict managed_dict = ManagedDict::None;
    int64_t set_used = 24;
    int64_t set_mask = 32;
    int64_t set_table = 40;            // 16-byte entries {key, hash}
    int64_t long_tag = -1;             // 3.12+ lv_tag (digit count << 3); before, ob_size counts digits
    int64_t long_digits = 24;
    int64_t module_dict = 16;          // PyModuleObject.md_dict
    int64_t cell_ref = 16;
    int64_t method_func = 16;          // PyMethodObject.im_func, im_self after it
    int64_t method_self = 24;
    int64_t deque_leftblock = 24;      // block: leftlink, data[64], rightlink
    int64_t deque_leftindex = 40;
    int64_t code_varnames = -1;        // 3.8-3.10: locals are varnames + cellvars + freevars
    int64_t code_cellvars = -1;
    int64_t code_freevars = -1;
    int64_t code_localsplusnames = -1; // 3.11+
    int64_t frame_localsplus = -1;     // f_localsplus (frame object) or localsplus (interpreter frame)
    bool frame_locals_tagged = false;  // 3.14+: localsplus holds tagged _PyStackRefs (frame_local_object)
    int64_t frame_object_frame = -1;   // 3.11+ PyFrameObject.f_frame
    int owner_frame_object = 2;        // FRAME_OWNED_BY_FRAME_OBJECT (3.11+)
    std::vector<RefField> frame_object_refs;  // PyFrameObject fields outside the locals
    int64_t gen_iframe = -1;           // 3.11+ embedded _PyInterpreterFrame
    int64_t gen_frame_state = -1;      // 3.11+ int8 gi_frame_state
    int gen_frame_cleared = 4;         // FRAME_CLEARED
    std::vector<RefField> gen_refs;     // gi_frame (3.8-3.10), gi_code, gi_name, gi_qualname
    std::vector<RefField> function_refs;  // code, globals, defaults, closure, ... (func_traverse)

    // pymalloc's arena table: the static `arenas` / `maxarenas` (3.8-3.11), or
    // interp->obmalloc.mgmt (3.12: inline; 3.13: behind a pointer).
    int64_t pymalloc_arena_size = -1;  // ARENA_SIZE
    int64_t pymalloc_pool_size = -1;   // POOL_SIZE
    bool pymalloc_static_table = false;
    int64_t interp_obmalloc = -1;
    bool interp_obmalloc_indirect = false;
    int64_t obmalloc_arenas = -1;      // offsetof(struct _obmalloc_state, mgmt.arenas)
    int64_t obmalloc_maxarenas = -1;   // mgmt.maxarenas, right after it

    // Where the layout came from, for --verbose and error messages.
    std::string source;  // "table 3.11" or "_Py_DebugOffsets v0x030d00f0"

    // The subset the frame walker needs (in BPF and in user space).
    ls_py_offsets bpf_offsets() const;
    // What the object probe reads to size a new object.
    ls_type_offsets bpf_type_offsets() const;
};

// The object a slot of an interpreter frame's localsplus refers to, or 0 for
// none. From 3.14 (frame_locals_tagged) the slots are _PyStackRefs: bit 0 tags
// a reference the frame does not own (the NULL ref is 1: no object), and low
// bits 0b11 mark an int held in the ref itself, not an object.
uint64_t frame_local_object(const PyLayout& l, uint64_t slot);

// The type of the object at addr while it is alive; nullopt when its
// reference count is zero or not a count (an allocator's free-list link over
// it) or it cannot be read. Free-threaded builds: the owner's and the shared
// counts added; ob_tid is not read, the collector borrows it as a link.
std::optional<uint64_t> live_object_type(const proc::MemoryReader& mem, const PyLayout& l, uint64_t addr);

// A str's state word: in GIL builds `interned` takes bits 0-1 and kind
// follows at bit 2; free-threaded builds give `interned` a byte of its own.
struct StrState {
    unsigned kind;  // bytes per character: 1, 2 or 4 (anything else: not a str)
    bool compact;
    bool ascii;
};
StrState str_state(const PyLayout& l, uint32_t state);

// The versions leakscope knows, for messages: "3.8, 3.9, ... 3.14".
std::string supported_versions();
bool is_supported(const PyVersion& v);

// A C type, known by its tp_name, whose tp_traverse visits fixed fields
// (after those of its base when dict_base).
struct CTypeRefs {
    std::string tp_name;
    bool dict_base = false;
    std::vector<RefField> fields;
};

// The C types besides the core containers whose references are read, for a
// version (offsets checked with gdb against the DWARF of pyenv 3.8-3.13; 3.14
// keeps the 3.13 structs).
const std::vector<CTypeRefs>& c_type_refs(const PyVersion& v);

// The PyFunctionObject fields func_traverse visits, 3.10 on (3.14 only appends fields).
const std::vector<RefField>& function_refs_310();

// Layout from the built-in tables (3.8-3.12). Empty for other versions.
std::optional<PyLayout> table_layout(const PyVersion& v);

// PY_VERSION_HEX (0x030b07f0) to 3.11.7.
PyVersion version_from_hex(uint64_t hex);

}  // namespace leakscope::python
