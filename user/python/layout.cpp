// SPDX-License-Identifier: BSD-2-Clause
// Layout tables for CPython 3.8-3.12 (x86_64, GIL builds). Every number was
// printed by scripts/gen-layout-check.sh from the installed headers of pyenv
// 3.8.18, 3.9.18, 3.10.13, 3.11.7 and 3.12.1; rerun it to re-verify. The
// layouts do not change within a minor version, so one table serves all micros.
#include "python/layout.h"

#include <cstring>
#include <limits>

namespace leakscope::python {

namespace {

constexpr int kMinMinor = 8;
constexpr int kMaxMinor = 14;

// CPython 3.8: the base the later tables change.
PyLayout layout38() {
    PyLayout l;
    l.runtime_interp_head = 32;  // offsetof(_PyRuntimeState, interpreters.head)
    l.runtime_interp_main = 40;  // offsetof(_PyRuntimeState, interpreters.main)
    l.runtime_tstate_current = 1368;  // offsetof(_PyRuntimeState, gilstate.tstate_current)
    l.interp_next = 0;
    l.interp_threads_head = 8;  // offsetof(PyInterpreterState, tstate_head)
    l.interp_id = 16;
    l.gil_in_interp = false;
    l.gil_offset = 1152;  // offsetof(_PyRuntimeState, ceval.gil)
    l.gil_indirect = false;
    l.gil_last_holder = 8;  // offsetof(struct _gil_runtime_state, last_holder)
    l.gil_locked = 16;  // offsetof(struct _gil_runtime_state, locked)
    l.tstate_prev = 0;
    l.tstate_next = 8;
    l.tstate_interp = 16;
    l.tstate_frame = 24;  // offsetof(PyThreadState, frame)
    l.cframe_current_frame = -1;
    l.tstate_thread_id = 176;
    l.tstate_native_thread_id = -1;
    l.tstate_size = 264;
    l.frame_kind = LS_FRAME_OBJECT;
    l.frame_size = -1;
    l.frame_previous = 24;  // offsetof(PyFrameObject, f_back)
    l.frame_code = 32;  // offsetof(PyFrameObject, f_code)
    l.frame_code_mask = ~0ull;
    l.frame_lasti = 104;  // offsetof(PyFrameObject, f_lasti), in bytes
    l.lasti_unit = 1;
    l.frame_instr_ptr = -1;
    l.frame_owner = -1;
    l.owner_generator = 1;
    l.owner_skip_from = 0xff;
    l.code_size = 176;  // sizeof(PyCodeObject)
    l.code_filename = 104;
    l.code_name = 112;
    l.code_qualname = -1;
    l.code_linetable = 120;  // offsetof(PyCodeObject, co_lnotab)
    l.code_firstlineno = 40;
    l.code_firsttraceable = -1;
    l.code_adaptive = -1;
    l.linetable_format = LineTableFormat::Lnotab38;
    l.object_type = 8;
    l.varobject_size = 16;
    l.type_name = 24;
    l.type_basicsize = 32;
    l.type_itemsize = 40;
    l.type_flags = 168;
    l.bytes_size = 16;
    l.bytes_data = 32;  // offsetof(PyBytesObject, ob_sval)
    l.unicode_length = 16;
    l.unicode_state = 32;
    l.unicode_ascii_data = 48;  // sizeof(PyASCIIObject)
    l.unicode_compact_data = 72;  // sizeof(PyCompactUnicodeObject)
    l.gc_in_runtime = true;
    l.gc_offset = 344;  // offsetof(_PyRuntimeState, gc)
    l.gc_size = 240;
    l.gc_kind = GcKind::Generational;
    l.gc_enabled = 12;
    l.gc_generations = 24;
    l.gc_generation_stride = 24;  // sizeof(struct gc_generation)
    l.gc_generation_count = 3;
    l.gc_stats = 128;
    l.gc_collecting = 200;
    l.gc_long_lived_total = 224;
    l.gc_long_lived_pending = 232;
    l.gc_permanent = 104;  // offsetof(struct _gc_runtime_state, permanent_generation)
    l.heap_type_qualname = 864;  // offsetof(PyHeapTypeObject, ht_qualname)
    l.heap_type_cached_keys = 872;
    l.dict_keys_format = DictKeysFormat::Keys38;
    l.managed_dict = ManagedDict::None;
    l.code_varnames = 72;
    l.code_cellvars = 88;
    l.code_freevars = 80;
    l.frame_localsplus = 360;  // offsetof(PyFrameObject, f_localsplus)
    l.frame_object_refs = {{24, "f_back"}, {32, "f_code"}, {40, "f_builtins"}, {48, "f_globals"},
                           {56, "f_locals"}, {80, "f_trace"}};
    l.gen_refs = {{16, "gi_frame"}, {32, "gi_code"}, {48, "__name__"}, {56, "__qualname__"}};
    l.function_refs = {{16, "__code__"}, {24, "__globals__"}, {32, "__defaults__"}, {40, "__kwdefaults__"},
                       {48, "__closure__"}, {56, "__doc__"}, {64, "__name__"}, {72, "__dict__"},
                       {88, "__module__"}, {96, "__annotations__"}, {104, "__qualname__"}};
    l.pymalloc_arena_size = 256 << 10;
    l.pymalloc_pool_size = 4 << 10;
    l.pymalloc_static_table = true;
    l.source = "table 3.8";
    return l;
}

// CPython 3.9: what changed since 3.8.
PyLayout layout39() {
    PyLayout l = layout38();
    l.runtime_tstate_current = 568;  // offsetof(_PyRuntimeState, gilstate.tstate_current)
    l.interp_id = 24;
    l.gil_offset = 352;  // offsetof(_PyRuntimeState, ceval.gil)
    l.gc_in_runtime = false;
    l.gc_offset = 616;  // offsetof(PyInterpreterState, gc)
    l.heap_type_qualname = 856;  // PyTypeObject lost tp_print
    l.heap_type_cached_keys = 864;
    l.source = "table 3.9";
    return l;
}

// CPython 3.10: what changed since 3.9.
PyLayout layout310() {
    PyLayout l = layout39();
    l.tstate_size = 280;
    l.frame_lasti = 96;  // offsetof(PyFrameObject, f_lasti)
    l.lasti_unit = 2;  // f_lasti counts 2-byte code units from 3.10 on
    l.linetable_format = LineTableFormat::Linetable310;
    l.heap_type_qualname = 864;  // PyAsyncMethods gained am_send
    l.heap_type_cached_keys = 872;
    l.frame_localsplus = 352;
    l.frame_object_refs = {{24, "f_back"}, {32, "f_code"}, {40, "f_builtins"}, {48, "f_globals"},
                           {56, "f_locals"}, {72, "f_trace"}};
    l.gen_refs = {{16, "gi_frame"}, {24, "gi_code"}, {40, "__name__"}, {48, "__qualname__"}};
    l.function_refs = function_refs_310();
    l.pymalloc_arena_size = 1 << 20;  // 64-bit builds with the radix tree: 1 MiB arenas, 16 KiB pools
    l.pymalloc_pool_size = 16 << 10;
    l.source = "table 3.10";
    return l;
}

// CPython 3.11: what changed since 3.10.
PyLayout layout311() {
    PyLayout l = layout310();
    l.runtime_interp_head = 40;
    l.runtime_interp_main = 48;
    l.runtime_tstate_current = 576;
    l.interp_threads_head = 16;  // offsetof(PyInterpreterState, threads.head)
    l.interp_id = 48;
    l.gil_offset = 360;  // offsetof(_PyRuntimeState, ceval.gil)
    l.tstate_frame = 56;  // offsetof(PyThreadState, cframe)
    l.cframe_current_frame = 8;  // offsetof(_PyCFrame, current_frame)
    l.tstate_thread_id = 152;
    l.tstate_native_thread_id = 160;
    l.tstate_size = 360;
    l.frame_kind = LS_FRAME_INTERP;
    l.frame_size = 80;  // sizeof(_PyInterpreterFrame)
    l.frame_previous = 48;
    l.frame_lasti = -1;
    l.lasti_unit = 1;
    l.frame_instr_ptr = 56;  // offsetof(_PyInterpreterFrame, prev_instr)
    l.frame_owner = 69;
    l.code_size = 192;
    l.code_filename = 112;
    l.code_name = 120;
    l.code_qualname = 128;
    l.code_linetable = 136;
    l.code_firstlineno = 72;
    l.code_firsttraceable = 168;
    l.code_adaptive = 184;
    l.linetable_format = LineTableFormat::Locations311;
    l.gc_offset = 648;
    l.dict_keys_format = DictKeysFormat::Keys311;
    l.managed_dict = ManagedDict::Split311;
    l.code_varnames = l.code_cellvars = l.code_freevars = -1;
    l.code_localsplusnames = 96;
    l.frame_localsplus = 72;  // offsetof(_PyInterpreterFrame, localsplus)
    l.frame_object_frame = 24;  // offsetof(PyFrameObject, f_frame)
    l.frame_object_refs = {{16, "f_back"}, {32, "f_trace"}};
    l.gen_iframe = 80;
    l.gen_frame_state = 75;
    l.gen_frame_cleared = 4;
    l.gen_refs = {{16, "gi_code"}, {32, "__name__"}, {40, "__qualname__"}};
    l.source = "table 3.11";
    return l;
}

// CPython 3.12: what changed since 3.11.
PyLayout layout312() {
    PyLayout l = layout311();
    l.runtime_tstate_current = -1;  // the current tstate is thread-local from 3.12 on
    l.interp_threads_head = 72;
    l.interp_id = 8;
    l.gil_in_interp = true;
    l.gil_offset = 384;  // offsetof(PyInterpreterState, ceval.gil), a pointer
    l.gil_indirect = true;
    l.cframe_current_frame = 0;  // offsetof(_PyCFrame, current_frame)
    l.tstate_thread_id = 136;
    l.tstate_native_thread_id = 144;
    l.tstate_size = 288;
    l.frame_previous = 8;
    l.frame_code = 0;  // offsetof(_PyInterpreterFrame, f_code)
    l.frame_owner = 70;
    l.owner_skip_from = 3;  // FRAME_OWNED_BY_CSTACK: <interpreter trampoline> shims
    l.code_size = 200;
    l.code_firstlineno = 68;
    l.code_firsttraceable = 176;
    l.code_adaptive = 192;
    l.unicode_ascii_data = 40;  // PyASCIIObject lost wstr in 3.12
    l.unicode_compact_data = 56;
    l.gc_offset = 112;
    l.heap_type_qualname = 872;  // PyTypeObject gained tp_watched
    l.heap_type_cached_keys = 880;
    l.managed_dict = ManagedDict::Tagged312;
    l.long_tag = 16;  // offsetof(PyLongObject, long_value.lv_tag)
    l.gen_iframe = 72;
    l.gen_frame_state = 67;
    l.gen_refs = {{24, "__name__"}, {32, "__qualname__"}};  // the code is the frame's
    l.pymalloc_static_table = false;
    l.interp_obmalloc = 3960;  // offsetof(PyInterpreterState, obmalloc), a struct
    l.interp_obmalloc_indirect = false;
    l.obmalloc_arenas = 512;
    l.obmalloc_maxarenas = 520;
    l.source = "table 3.12";
    return l;
}

// Offsets leakscope does not have are handed to BPF as UINT32_MAX, so a read
// through one fails instead of landing on offset 0.
__u32 u32_or_absent(int64_t offset) {
    return offset < 0 ? std::numeric_limits<__u32>::max() : static_cast<__u32>(offset);
}

}  // namespace

const std::vector<RefField>& function_refs_310() {
    static const std::vector<RefField> refs = {
        {16, "__globals__"}, {24, "__builtins__"}, {32, "__name__"}, {40, "__qualname__"},
        {48, "__code__"}, {56, "__defaults__"}, {64, "__kwdefaults__"}, {72, "__closure__"},
        {80, "__doc__"}, {88, "__dict__"}, {104, "__module__"}, {112, "__annotations__"}};
    return refs;
}

const std::vector<CTypeRefs>& c_type_refs(const PyVersion& v) {
    // property: fget, fset, fdel, doc, and from 3.10 on prop_name.
    static const std::vector<CTypeRefs> base = {
        {"property", false, {{16, "fget"}, {24, "fset"}, {32, "fdel"}, {40, "__doc__"}}},
        {"classmethod", false, {{16, "__func__"}, {24, "__dict__"}}},
        {"staticmethod", false, {{16, "__func__"}, {24, "__dict__"}}},
        {"builtin_function_or_method", false, {{24, "__self__"}, {32, "__module__"}}},
        {"builtin_method", false, {{24, "__self__"}, {32, "__module__"}, {56, "mm_class"}}},  // PyCMethodObject
        {"method-wrapper", false, {{16, "descr"}, {24, "__self__"}}},
        {"method_descriptor", false, {{16, "__objclass__"}}},
        {"classmethod_descriptor", false, {{16, "__objclass__"}}},
        {"member_descriptor", false, {{16, "__objclass__"}}},
        {"getset_descriptor", false, {{16, "__objclass__"}}},
        {"wrapper_descriptor", false, {{16, "__objclass__"}}},
        // The referent of a weak reference is not a strong reference.
        {"weakref", false, {{24, "__callback__"}}},
        {"weakref.ReferenceType", false, {{24, "__callback__"}}},
        {"weakproxy", false, {{24, "__callback__"}}},
        {"weakcallableproxy", false, {{24, "__callback__"}}},
        {"weakref.ProxyType", false, {{24, "__callback__"}}},
        {"weakref.CallableProxyType", false, {{24, "__callback__"}}},
        {"mappingproxy", false, {{16, "mapping"}}},
        {"functools.partial", false, {{16, "func"}, {24, "args"}, {32, "keywords"}, {40, "__dict__"}}},
        {"types.SimpleNamespace", false, {{16, "__dict__"}}},
        {"collections.defaultdict", true, {{48, "default_factory"}}},
        {"collections.OrderedDict", true, {{96, "__dict__"}}},  // od_inst_dict
    };
    static const std::vector<CTypeRefs> from310 = [] {
        auto refs = base;
        refs[0].fields.push_back({48, "__name__"});  // property's prop_name
        return refs;
    }();
    return v.minor >= 10 ? from310 : base;
}

uint64_t frame_local_object(const PyLayout& l, uint64_t slot) {
    if (!l.frame_locals_tagged) return slot;
    constexpr uint64_t kIntTag = 3, kRefTag = 1;
    if ((slot & kIntTag) == kIntTag) return 0;
    return slot & ~kRefTag;
}

std::optional<uint64_t> live_object_type(const proc::MemoryReader& mem, const PyLayout& l, uint64_t addr) {
    // Counts above this are not counts: a free-list pointer or garbage (3.12+
    // immortal objects use 0xFFFFFFFF, well below it).
    constexpr int64_t kMaxRefcount = 1ll << 40;
    uint8_t head[64];  // one read: the header up to and including ob_type
    const size_t n = size_t(l.object_type) + 8;
    if (l.object_type < 0 || n > sizeof head || !mem.read(addr, head, n)) return std::nullopt;
    auto field = [&]<typename T>(T, int64_t at) {
        T v;
        std::memcpy(&v, head + at, sizeof v);
        return v;
    };
    int64_t count;
    if (l.object_ref_shared >= 0)  // _Py_REF_SHARED_SHIFT: the shared count's low 2 bits are flags
        count = int64_t(field(uint32_t{}, l.object_ref_local)) + (field(int64_t{}, l.object_ref_shared) >> 2);
    else
        count = int64_t(std::min<uint64_t>(field(uint64_t{}, l.object_refcnt), kMaxRefcount));
    if (count <= 0 || count >= kMaxRefcount) return std::nullopt;
    return field(uint64_t{}, l.object_type);
}

StrState str_state(const PyLayout& l, uint32_t state) {
    const unsigned bits = state >> (l.free_threaded ? 8 : 2);
    return {bits & 7, (bits & 8) != 0, (bits & 16) != 0};
}

PyVersion version_from_hex(uint64_t hex) {
    return {static_cast<int>((hex >> 24) & 0xff), static_cast<int>((hex >> 16) & 0xff),
            static_cast<int>((hex >> 8) & 0xff)};
}

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
    PyLayout layout;
    switch (v.minor) {
        case 8: layout = layout38(); break;
        case 9: layout = layout39(); break;
        case 10: layout = layout310(); break;
        case 11: layout = layout311(); break;
        case 12: layout = layout312(); break;
        default: return std::nullopt;
    }
    layout.version = v;
    return layout;
}

ls_type_offsets PyLayout::bpf_type_offsets() const {
    ls_type_offsets t{};
    t.object_type = u32_or_absent(object_type);
    t.var_size = u32_or_absent(varobject_size);
    t.basicsize = u32_or_absent(type_basicsize);
    t.itemsize = u32_or_absent(type_itemsize);
    t.flags = u32_or_absent(type_flags);
    t.gc_header = u32_or_absent(gc_header);
    t.malloc_above = free_threaded ? 0 : LS_PYMALLOC_MAX;
    return t;
}

ls_py_offsets PyLayout::bpf_offsets() const {
    ls_py_offsets o{};
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
    o.frame_tlbc_index = static_cast<__s32>(frame_tlbc_index < 0 ? -1 : frame_tlbc_index);
    o.code_tlbc = static_cast<__s32>(code_tlbc < 0 ? -1 : code_tlbc);
    o.code_mask = frame_code_mask;
    return o;
}

}  // namespace leakscope::python
