// SPDX-License-Identifier: BSD-2-Clause
// Layout tables for CPython 3.8-3.12 (x86_64, GIL builds). Every number was
// printed by scripts/gen-layout-check.sh from the installed headers of pyenv
// 3.8.18, 3.9.18, 3.10.13, 3.11.7 and 3.12.1; rerun it to re-verify. The
// layouts do not change within a minor version, so one table serves all micros.
#include "python/layout.h"

#include <limits>

namespace leakscope::python {

namespace {

constexpr int kMinMinor = 8;
constexpr int kMaxMinor = 14;

const PyLayout kLayout38 = {
    .version = {3, 8, 0},
    .runtime_interp_head = 32,      // offsetof(_PyRuntimeState, interpreters.head)
    .runtime_interp_main = 40,      // offsetof(_PyRuntimeState, interpreters.main)
    .runtime_tstate_current = 1368, // offsetof(_PyRuntimeState, gilstate.tstate_current)
    .interp_next = 0,
    .interp_threads_head = 8,       // offsetof(PyInterpreterState, tstate_head)
    .interp_id = 16,
    .gil_in_interp = false,
    .gil_offset = 1152,             // offsetof(_PyRuntimeState, ceval.gil)
    .gil_indirect = false,
    .gil_last_holder = 8,           // offsetof(struct _gil_runtime_state, last_holder)
    .gil_locked = 16,               // offsetof(struct _gil_runtime_state, locked)
    .tstate_prev = 0,
    .tstate_next = 8,
    .tstate_interp = 16,
    .tstate_frame = 24,             // offsetof(PyThreadState, frame)
    .cframe_current_frame = -1,
    .tstate_thread_id = 176,
    .tstate_native_thread_id = -1,
    .tstate_size = 264,
    .frame_kind = LS_FRAME_OBJECT,
    .frame_size = -1,
    .frame_previous = 24,           // offsetof(PyFrameObject, f_back)
    .frame_code = 32,               // offsetof(PyFrameObject, f_code)
    .frame_code_mask = ~0ull,
    .frame_lasti = 104,             // offsetof(PyFrameObject, f_lasti), in bytes
    .lasti_unit = 1,
    .frame_instr_ptr = -1,
    .frame_owner = -1,
    .owner_generator = 1,
    .owner_skip_from = 0xff,
    .code_size = 176,               // sizeof(PyCodeObject)
    .code_filename = 104,
    .code_name = 112,
    .code_qualname = -1,
    .code_linetable = 120,          // offsetof(PyCodeObject, co_lnotab)
    .code_firstlineno = 40,
    .code_firsttraceable = -1,
    .code_adaptive = -1,
    .linetable_format = LineTableFormat::Lnotab38,
    .object_type = 8,
    .varobject_size = 16,
    .type_name = 24,
    .type_basicsize = 32,
    .type_itemsize = 40,
    .type_flags = 168,
    .bytes_size = 16,
    .bytes_data = 32,               // offsetof(PyBytesObject, ob_sval)
    .unicode_length = 16,
    .unicode_state = 32,
    .unicode_ascii_data = 48,       // sizeof(PyASCIIObject)
    .unicode_compact_data = 72,     // sizeof(PyCompactUnicodeObject)
    .gc_in_runtime = true,
    .gc_offset = 344,               // offsetof(_PyRuntimeState, gc)
    .gc_size = 240,
    .gc_kind = GcKind::Generational,
    .gc_enabled = 12,
    .gc_generations = 24,
    .gc_generation_stride = 24,     // sizeof(struct gc_generation)
    .gc_generation_count = 3,
    .gc_stats = 128,
    .gc_collecting = 200,
    .gc_long_lived_total = 224,
    .gc_long_lived_pending = 232,
    .source = "table 3.8",
};

const PyLayout kLayout39 = {
    .version = {3, 9, 0},
    .runtime_interp_head = 32,
    .runtime_interp_main = 40,
    .runtime_tstate_current = 568,  // offsetof(_PyRuntimeState, gilstate.tstate_current)
    .interp_next = 0,
    .interp_threads_head = 8,       // offsetof(PyInterpreterState, tstate_head)
    .interp_id = 24,
    .gil_in_interp = false,
    .gil_offset = 352,              // offsetof(_PyRuntimeState, ceval.gil)
    .gil_indirect = false,
    .gil_last_holder = 8,
    .gil_locked = 16,
    .tstate_prev = 0,
    .tstate_next = 8,
    .tstate_interp = 16,
    .tstate_frame = 24,
    .cframe_current_frame = -1,
    .tstate_thread_id = 176,
    .tstate_native_thread_id = -1,
    .tstate_size = 264,
    .frame_kind = LS_FRAME_OBJECT,
    .frame_size = -1,
    .frame_previous = 24,
    .frame_code = 32,
    .frame_code_mask = ~0ull,
    .frame_lasti = 104,             // in bytes
    .lasti_unit = 1,
    .frame_instr_ptr = -1,
    .frame_owner = -1,
    .owner_generator = 1,
    .owner_skip_from = 0xff,
    .code_size = 176,
    .code_filename = 104,
    .code_name = 112,
    .code_qualname = -1,
    .code_linetable = 120,          // offsetof(PyCodeObject, co_lnotab)
    .code_firstlineno = 40,
    .code_firsttraceable = -1,
    .code_adaptive = -1,
    .linetable_format = LineTableFormat::Lnotab38,
    .object_type = 8,
    .varobject_size = 16,
    .type_name = 24,
    .type_basicsize = 32,
    .type_itemsize = 40,
    .type_flags = 168,
    .bytes_size = 16,
    .bytes_data = 32,
    .unicode_length = 16,
    .unicode_state = 32,
    .unicode_ascii_data = 48,
    .unicode_compact_data = 72,
    .gc_in_runtime = false,
    .gc_offset = 616,               // offsetof(PyInterpreterState, gc)
    .gc_size = 240,
    .gc_kind = GcKind::Generational,
    .gc_enabled = 12,
    .gc_generations = 24,
    .gc_generation_stride = 24,
    .gc_generation_count = 3,
    .gc_stats = 128,
    .gc_collecting = 200,
    .gc_long_lived_total = 224,
    .gc_long_lived_pending = 232,
    .source = "table 3.9",
};

const PyLayout kLayout310 = {
    .version = {3, 10, 0},
    .runtime_interp_head = 32,
    .runtime_interp_main = 40,
    .runtime_tstate_current = 568,
    .interp_next = 0,
    .interp_threads_head = 8,
    .interp_id = 24,
    .gil_in_interp = false,
    .gil_offset = 352,
    .gil_indirect = false,
    .gil_last_holder = 8,
    .gil_locked = 16,
    .tstate_prev = 0,
    .tstate_next = 8,
    .tstate_interp = 16,
    .tstate_frame = 24,
    .cframe_current_frame = -1,
    .tstate_thread_id = 176,
    .tstate_native_thread_id = -1,
    .tstate_size = 280,
    .frame_kind = LS_FRAME_OBJECT,
    .frame_size = -1,
    .frame_previous = 24,
    .frame_code = 32,
    .frame_code_mask = ~0ull,
    .frame_lasti = 96,              // offsetof(PyFrameObject, f_lasti)
    .lasti_unit = 2,                // f_lasti counts 2-byte code units from 3.10 on
    .frame_instr_ptr = -1,
    .frame_owner = -1,
    .owner_generator = 1,
    .owner_skip_from = 0xff,
    .code_size = 176,
    .code_filename = 104,
    .code_name = 112,
    .code_qualname = -1,
    .code_linetable = 120,          // offsetof(PyCodeObject, co_linetable)
    .code_firstlineno = 40,
    .code_firsttraceable = -1,
    .code_adaptive = -1,
    .linetable_format = LineTableFormat::Linetable310,
    .object_type = 8,
    .varobject_size = 16,
    .type_name = 24,
    .type_basicsize = 32,
    .type_itemsize = 40,
    .type_flags = 168,
    .bytes_size = 16,
    .bytes_data = 32,
    .unicode_length = 16,
    .unicode_state = 32,
    .unicode_ascii_data = 48,
    .unicode_compact_data = 72,
    .gc_in_runtime = false,
    .gc_offset = 616,
    .gc_size = 240,
    .gc_kind = GcKind::Generational,
    .gc_enabled = 12,
    .gc_generations = 24,
    .gc_generation_stride = 24,
    .gc_generation_count = 3,
    .gc_stats = 128,
    .gc_collecting = 200,
    .gc_long_lived_total = 224,
    .gc_long_lived_pending = 232,
    .source = "table 3.10",
};

const PyLayout kLayout311 = {
    .version = {3, 11, 0},
    .runtime_interp_head = 40,
    .runtime_interp_main = 48,
    .runtime_tstate_current = 576,
    .interp_next = 0,
    .interp_threads_head = 16,      // offsetof(PyInterpreterState, threads.head)
    .interp_id = 48,
    .gil_in_interp = false,
    .gil_offset = 360,              // offsetof(_PyRuntimeState, ceval.gil)
    .gil_indirect = false,
    .gil_last_holder = 8,
    .gil_locked = 16,
    .tstate_prev = 0,
    .tstate_next = 8,
    .tstate_interp = 16,
    .tstate_frame = 56,             // offsetof(PyThreadState, cframe)
    .cframe_current_frame = 8,      // offsetof(_PyCFrame, current_frame)
    .tstate_thread_id = 152,
    .tstate_native_thread_id = 160,
    .tstate_size = 360,
    .frame_kind = LS_FRAME_INTERP,
    .frame_size = 80,               // sizeof(_PyInterpreterFrame)
    .frame_previous = 48,
    .frame_code = 32,               // offsetof(_PyInterpreterFrame, f_code)
    .frame_code_mask = ~0ull,
    .frame_lasti = -1,
    .lasti_unit = 1,
    .frame_instr_ptr = 56,          // offsetof(_PyInterpreterFrame, prev_instr)
    .frame_owner = 69,
    .owner_generator = 1,
    .owner_skip_from = 0xff,        // 3.11 has no shim frames
    .code_size = 192,
    .code_filename = 112,
    .code_name = 120,
    .code_qualname = 128,
    .code_linetable = 136,
    .code_firstlineno = 72,
    .code_firsttraceable = 168,
    .code_adaptive = 184,
    .linetable_format = LineTableFormat::Locations311,
    .object_type = 8,
    .varobject_size = 16,
    .type_name = 24,
    .type_basicsize = 32,
    .type_itemsize = 40,
    .type_flags = 168,
    .bytes_size = 16,
    .bytes_data = 32,
    .unicode_length = 16,
    .unicode_state = 32,
    .unicode_ascii_data = 48,
    .unicode_compact_data = 72,
    .gc_in_runtime = false,
    .gc_offset = 648,
    .gc_size = 240,
    .gc_kind = GcKind::Generational,
    .gc_enabled = 12,
    .gc_generations = 24,
    .gc_generation_stride = 24,
    .gc_generation_count = 3,
    .gc_stats = 128,
    .gc_collecting = 200,
    .gc_long_lived_total = 224,
    .gc_long_lived_pending = 232,
    .source = "table 3.11",
};

const PyLayout kLayout312 = {
    .version = {3, 12, 0},
    .runtime_interp_head = 40,
    .runtime_interp_main = 48,
    .runtime_tstate_current = -1,   // the current tstate is thread-local from 3.12 on
    .interp_next = 0,
    .interp_threads_head = 72,
    .interp_id = 8,
    .gil_in_interp = true,
    .gil_offset = 384,              // offsetof(PyInterpreterState, ceval.gil), a pointer
    .gil_indirect = true,
    .gil_last_holder = 8,
    .gil_locked = 16,
    .tstate_prev = 0,
    .tstate_next = 8,
    .tstate_interp = 16,
    .tstate_frame = 56,             // offsetof(PyThreadState, cframe)
    .cframe_current_frame = 0,      // offsetof(_PyCFrame, current_frame)
    .tstate_thread_id = 136,
    .tstate_native_thread_id = 144,
    .tstate_size = 288,
    .frame_kind = LS_FRAME_INTERP,
    .frame_size = 80,
    .frame_previous = 8,
    .frame_code = 0,                // offsetof(_PyInterpreterFrame, f_code)
    .frame_code_mask = ~0ull,
    .frame_lasti = -1,
    .lasti_unit = 1,
    .frame_instr_ptr = 56,          // offsetof(_PyInterpreterFrame, prev_instr)
    .frame_owner = 70,
    .owner_generator = 1,
    .owner_skip_from = 3,           // FRAME_OWNED_BY_CSTACK: <interpreter trampoline> shims
    .code_size = 200,
    .code_filename = 112,
    .code_name = 120,
    .code_qualname = 128,
    .code_linetable = 136,
    .code_firstlineno = 68,
    .code_firsttraceable = 176,
    .code_adaptive = 192,
    .linetable_format = LineTableFormat::Locations311,
    .object_type = 8,
    .varobject_size = 16,
    .type_name = 24,
    .type_basicsize = 32,
    .type_itemsize = 40,
    .type_flags = 168,
    .bytes_size = 16,
    .bytes_data = 32,
    .unicode_length = 16,
    .unicode_state = 32,
    .unicode_ascii_data = 40,       // PyASCIIObject lost wstr in 3.12
    .unicode_compact_data = 56,
    .gc_in_runtime = false,
    .gc_offset = 112,
    .gc_size = 240,
    .gc_kind = GcKind::Generational,
    .gc_enabled = 12,
    .gc_generations = 24,
    .gc_generation_stride = 24,
    .gc_generation_count = 3,
    .gc_stats = 128,
    .gc_collecting = 200,
    .gc_long_lived_total = 224,
    .gc_long_lived_pending = 232,
    .source = "table 3.12",
};

// Offsets leakscope does not have are handed to BPF as UINT32_MAX, so a read
// through one fails instead of landing on offset 0.
__u32 u32_or_absent(int64_t offset) {
    return offset < 0 ? std::numeric_limits<__u32>::max() : static_cast<__u32>(offset);
}

}  // namespace

std::string PyVersion::str() const {
    return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(micro);
}

std::string supported_versions() {
    std::string out;
    for (int minor = kMinMinor; minor <= kMaxMinor; ++minor) {
        if (!out.empty()) out += ", ";
        out += "3." + std::to_string(minor);
    }
    return out;
}

bool is_supported(const PyVersion& v) {
    return v.major == 3 && v.minor >= kMinMinor && v.minor <= kMaxMinor;
}

std::optional<PyLayout> table_layout(const PyVersion& v) {
    if (v.major != 3) return std::nullopt;
    const PyLayout* table = nullptr;
    switch (v.minor) {
        case 8: table = &kLayout38; break;
        case 9: table = &kLayout39; break;
        case 10: table = &kLayout310; break;
        case 11: table = &kLayout311; break;
        case 12: table = &kLayout312; break;
        default: return std::nullopt;
    }
    PyLayout layout = *table;
    layout.version = v;
    return layout;
}

ls_py_offsets PyLayout::bpf_offsets(uint64_t runtime_addr) const {
    ls_py_offsets o{};
    o.runtime_addr = runtime_addr;
    o.runtime_interp_head = u32_or_absent(runtime_interp_head);
    o.interp_threads_head = u32_or_absent(interp_threads_head);
    o.tstate_next = u32_or_absent(tstate_next);
    o.tstate_thread_id = u32_or_absent(tstate_thread_id);
    o.tstate_frame = u32_or_absent(tstate_frame);
    o.cframe_current_frame =
        static_cast<__s32>(cframe_current_frame < 0 ? -1 : cframe_current_frame);
    o.frame_kind = frame_kind;
    o.frame_previous = u32_or_absent(frame_previous);
    o.frame_code = u32_or_absent(frame_code);
    o.frame_lasti = u32_or_absent(frame_lasti);
    o.lasti_unit = static_cast<__u32>(lasti_unit);
    o.frame_instr_ptr = u32_or_absent(frame_instr_ptr);
    o.frame_owner = u32_or_absent(frame_owner);
    o.owner_skip_from = static_cast<__u32>(owner_skip_from);
    o.code_adaptive = u32_or_absent(code_adaptive);
    o.code_mask = frame_code_mask;
    return o;
}

}  // namespace leakscope::python
