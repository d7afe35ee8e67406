// SPDX-License-Identifier: BSD-2-Clause
// Per-version layout of the CPython structures leakscope reads. 3.8-3.12 come
// from tables kept as data (layout.cpp); 3.13+ from the target's own
// _Py_DebugOffsets (debug_offsets.cpp). Nothing outside this directory knows
// which version it is looking at: it reads fields through a PyLayout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

extern "C" {
#include "leakscope.h"
}

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
};

// Offsets are bytes within the named struct; -1 means the field does not exist
// in this version.
struct PyLayout {
    PyVersion version;

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
    LineTableFormat linetable_format = LineTableFormat::Lnotab38;

    // Objects
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
    int64_t gc_generation_stride = 24; // threshold at +16, count at +20
    int gc_generation_count = 3;
    int64_t gc_stats = -1;             // generation_stats[3], stride 24
    int64_t gc_collecting = -1;
    int64_t gc_long_lived_total = -1;
    int64_t gc_long_lived_pending = -1;

    // Where the layout came from, for --verbose and error messages.
    std::string source;  // "table 3.11" or "_Py_DebugOffsets v0x030d00f0"

    // The subset the frame walker needs (in BPF and in user space).
    ls_py_offsets bpf_offsets() const;
    // What the object probe reads to size a new object.
    ls_type_offsets bpf_type_offsets() const;
};

// The versions leakscope knows, for messages: "3.8, 3.9, ... 3.14".
std::string supported_versions();
bool is_supported(const PyVersion& v);

// Layout from the built-in tables (3.8-3.12). Empty for other versions.
std::optional<PyLayout> table_layout(const PyVersion& v);

}  // namespace leakscope::python
