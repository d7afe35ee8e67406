// SPDX-License-Identifier: BSD-2-Clause
#include "python/debug_offsets.h"

#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/text.h"
#include "python/discovery.h"

namespace leakscope::python {

namespace {

constexpr char kCookie[8] = {'x', 'd', 'e', 'b', 'u', 'g', 'p', 'y'};
constexpr size_t kHeaderSize = 24;  // cookie[8], version, free_threaded
// Largest plausible struct a "size" field describes (PyInterpreterState is
// ~220 KiB, _PyRuntimeState ~310 KiB in 3.14); anything above is not a layout.
constexpr uint64_t kMaxStructSize = 4u << 20;

// _Py_DebugOffsets after the header is nothing but u64s grouped in sub-structs,
// so a version's layout is its list of sub-structs and their fields, in order.
struct Section {
    std::string_view name;
    std::vector<std::string_view> fields;
};

struct Schema {
    int minor;
    std::vector<Section> sections;

    size_t size() const {  // sizeof(_Py_DebugOffsets)
        size_t n = kHeaderSize;
        for (const auto& s : sections) n += 8 * s.fields.size();
        return n;
    }
};

// Include/internal/pycore_runtime.h of 3.13.0 (checked with
// scripts/gen-layout-check.sh and a live dump, tests/data/debug_offsets_3.13.0.bin).
const Schema kSchema313 = {
    13,
    {
        {"runtime_state", {"size", "finalizing", "interpreters_head"}},
        {"interpreter_state",
         {"size", "id", "next", "threads_head", "gc", "imports_modules", "sysdict", "builtins",
          "ceval_gil", "gil_runtime_state", "gil_runtime_state_enabled", "gil_runtime_state_locked",
          "gil_runtime_state_holder"}},
        {"thread_state",
         {"size", "prev", "next", "interp", "current_frame", "thread_id", "native_thread_id",
          "datastack_chunk", "status"}},
        {"interpreter_frame",
         {"size", "previous", "executable", "instr_ptr", "localsplus", "owner"}},
        {"code_object",
         {"size", "filename", "name", "qualname", "linetable", "firstlineno", "argcount",
          "localsplusnames", "localspluskinds", "co_code_adaptive"}},
        {"pyobject", {"size", "ob_type"}},
        {"type_object", {"size", "tp_name", "tp_repr", "tp_flags"}},
        {"tuple_object", {"size", "ob_item", "ob_size"}},
        {"list_object", {"size", "ob_item", "ob_size"}},
        {"dict_object", {"size", "ma_keys", "ma_values"}},
        {"float_object", {"size", "ob_fval"}},
        {"long_object", {"size", "lv_tag", "ob_digit"}},
        {"bytes_object", {"size", "ob_size", "ob_sval"}},
        {"unicode_object", {"size", "state", "length", "asciiobject_size"}},
        {"gc", {"size", "collecting"}},
    },
};

// Include/internal/pycore_debug_offsets.h of 3.14.0. The struct changed during
// 3.14 development, hence the gate on final/candidate releases.
const Schema kSchema314 = {
    14,
    {
        {"runtime_state", {"size", "finalizing", "interpreters_head"}},
        {"interpreter_state",
         {"size", "id", "next", "threads_head", "threads_main", "gc", "imports_modules", "sysdict",
          "builtins", "ceval_gil", "gil_runtime_state", "gil_runtime_state_enabled",
          "gil_runtime_state_locked", "gil_runtime_state_holder", "code_object_generation",
          "tlbc_generation"}},
        {"thread_state",
         {"size", "prev", "next", "interp", "current_frame", "thread_id", "native_thread_id",
          "datastack_chunk", "status"}},
        {"interpreter_frame",
         {"size", "previous", "executable", "instr_ptr", "localsplus", "owner", "stackpointer",
          "tlbc_index"}},
        {"code_object",
         {"size", "filename", "name", "qualname", "linetable", "firstlineno", "argcount",
          "localsplusnames", "localspluskinds", "co_code_adaptive", "co_tlbc"}},
        {"pyobject", {"size", "ob_type"}},
        {"type_object", {"size", "tp_name", "tp_repr", "tp_flags"}},
        {"tuple_object", {"size", "ob_item", "ob_size"}},
        {"list_object", {"size", "ob_item", "ob_size"}},
        {"set_object", {"size", "used", "table", "mask"}},
        {"dict_object", {"size", "ma_keys", "ma_values"}},
        {"float_object", {"size", "ob_fval"}},
        {"long_object", {"size", "lv_tag", "ob_digit"}},
        {"bytes_object", {"size", "ob_size", "ob_sval"}},
        {"unicode_object", {"size", "state", "length", "asciiobject_size"}},
        {"gc", {"size", "collecting"}},
        {"gen_object", {"size", "gi_name", "gi_iframe", "gi_frame_state"}},
        {"llist_node", {"next", "prev"}},
        {"debugger_support",
         {"eval_breaker", "remote_debugger_support", "remote_debugging_enabled",
          "debugger_pending_call", "debugger_script_path", "debugger_script_path_size"}},
    },
};

const Schema* schema_for(int minor) {
    switch (minor) {
        case 13:
            return &kSchema313;
        case 14:
            return &kSchema314;
        default:
            return nullptr;
    }
}

// What _Py_DebugOffsets does not say. An entry applies from its micro release
// until the next entry of the same minor. The sizes are those of the structs
// the hand-kept offsets were taken from; check_layout compares them with the
// target's own.
struct Supplement {
    int minor;
    int micro_from;
    int64_t code_size;            // sizeof(PyCodeObject)
    int64_t frame_size;           // sizeof(_PyInterpreterFrame)
    int64_t gc_size;              // sizeof(struct _gc_runtime_state)
    int64_t code_firsttraceable;  // offsetof(PyCodeObject, _co_firsttraceable)
    int owner_generator;          // FRAME_OWNED_BY_GENERATOR
    int owner_skip_from;          // first owner value that is not a Python frame
    uint64_t frame_code_mask;
    GcKind gc_kind;
    int64_t gc_enabled;
    int64_t gc_generations;
    int gc_generation_count;
    int64_t gc_stats;
    int64_t gc_long_lived_total;
    int64_t gc_long_lived_pending;
    int64_t gc_permanent;     // permanent_generation
    int64_t gen_iframe;       // -1: generator frames are not read (FRAME_CLEARED unverified)
    int64_t gen_frame_state;
    int64_t interp_obmalloc;  // offsetof(PyInterpreterState, obmalloc), a pointer; -1: unknown
    bool free_threaded = false;
};

const Supplement kSupplements[] = {
    // 3.13: compiled against the 3.13.0 headers (scripts/gen-layout-check.sh).
    {
        .minor = 13,
        .micro_from = 0,
        .code_size = 208,
        .frame_size = 80,
        .gc_size = 240,
        .code_firsttraceable = 184,
        .owner_generator = 1,
        .owner_skip_from = 3,  // FRAME_OWNED_BY_CSTACK
        .frame_code_mask = ~0ull,
        .gc_kind = GcKind::Generational,
        .gc_enabled = 12,
        .gc_generations = 24,
        .gc_generation_count = 3,
        .gc_stats = 128,
        .gc_long_lived_total = 224,
        .gc_long_lived_pending = 232,
        .gc_permanent = 104,
        .gen_iframe = 72,
        .gen_frame_state = 67,
        .interp_obmalloc = 10800,
    },
    // 3.14.0-3.14.4: incremental collector (young at 24, old[2] right after it,
    // so the three read as one array); no long_lived_* counters.
    {
        .minor = 14,
        .micro_from = 0,
        .code_size = 216,
        .frame_size = 88,
        .gc_size = 240,
        .code_firsttraceable = 192,
        .owner_generator = 1,
        .owner_skip_from = 3,      // FRAME_OWNED_BY_INTERPRETER 3, FRAME_OWNED_BY_CSTACK 4
        .frame_code_mask = ~3ull,  // f_executable is a _PyStackRef with tag bits
        .gc_kind = GcKind::Incremental,
        .gc_enabled = 12,
        .gc_generations = 24,
        .gc_generation_count = 3,
        .gc_stats = 120,
        .gc_long_lived_total = -1,
        .gc_long_lived_pending = -1,
        .gc_permanent = 96,
        .gen_iframe = -1,
        .gen_frame_state = -1,
        .interp_obmalloc = -1,
    },
    // 3.14.5+: the generational collector is back; the struct grew to 264 bytes.
    // Checked against the DWARF of a 3.14.7 build (and a live 3.14.7: dump,
    // trace, snapshot); the generator frame and FRAME_CLEARED (4) too.
    {
        .minor = 14,
        .micro_from = 5,
        .code_size = 216,
        .frame_size = 88,
        .gc_size = 264,
        .code_firsttraceable = 192,
        .owner_generator = 1,
        .owner_skip_from = 3,
        .frame_code_mask = ~3ull,
        .gc_kind = GcKind::Generational,
        .gc_enabled = 12,
        .gc_generations = 24,
        .gc_generation_count = 3,
        .gc_stats = 120,
        .gc_long_lived_total = 240,
        .gc_long_lived_pending = 248,
        .gc_permanent = 96,
        .gen_iframe = 72,
        .gen_frame_state = 67,
        .interp_obmalloc = 10904,
    },
    // 3.14t (free-threaded): from a 3.14.7t build's headers
    // (scripts/gen-layout-check.sh). Its gc state keeps young and old[2]
    // where the GIL build keeps generations[3], but every collection scans the
    // whole heap; no pymalloc, and no generator frame checked yet.
    {
        .minor = 14,
        .micro_from = 0,
        .code_size = 240,
        .frame_size = 88,
        .gc_size = 288,
        .code_firsttraceable = 208,
        .owner_generator = 1,
        .owner_skip_from = 3,
        .frame_code_mask = ~1ull,  // Py_TAG_BITS of the free-threaded _PyStackRef
        .gc_kind = GcKind::WholeHeap,
        .gc_enabled = 12,
        .gc_generations = 24,
        .gc_generation_count = 3,
        .gc_stats = 120,
        .gc_long_lived_total = 240,
        .gc_long_lived_pending = 248,
        .gc_permanent = -1,
        .gen_iframe = -1,
        .gen_frame_state = -1,
        .interp_obmalloc = -1,
        .free_threaded = true,
    },
};

const Supplement* supplement_for(const PyVersion& v, bool free_threaded) {
    const Supplement* found = nullptr;
    for (const auto& s : kSupplements)
        if (s.minor == v.minor && s.micro_from <= v.micro && s.free_threaded == free_threaded) found = &s;
    return found;
}

std::string hex_version(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%08" PRIx64, v);
    return buf;
}

// Every offset in a sub-struct that has a size must lie inside it: a cheap
// guard against reading garbage as a layout.
void check_bounds(const DebugOffsets& d, const Schema& schema) {
    for (const auto& section : schema.sections) {
        if (section.fields.front() != "size") continue;
        const std::string prefix = std::string(section.name) + ".";
        const uint64_t size = d.at(prefix + "size");
        if (size == 0 || size > kMaxStructSize)
            throw Error(Errc::LayoutMismatch,
                        "_Py_DebugOffsets: implausible " + prefix + "size " + std::to_string(size));
        for (auto field : section.fields) {
            const std::string name = prefix + std::string(field);
            if (field != "size" && d.at(name) >= size)
                throw Error(Errc::LayoutMismatch,
                            "_Py_DebugOffsets: " + name + " = " + std::to_string(d.at(name)) +
                                " lies outside its struct (size " + std::to_string(size) + ")");
        }
    }
}

int64_t off(const DebugOffsets& d, std::string_view name) {
    return static_cast<int64_t>(d.at(name));
}

// What the heap snapshot reads, from the debug offsets where they have the field.
void add_heap_fields(PyLayout& l, const DebugOffsets& d, const Supplement& s) {
    l.gc_permanent = s.gc_permanent;
    // PyHeapTypeObject is the type, then as_async (4), as_number (36),
    // as_mapping (3), as_sequence (10) and as_buffer (2) pointers, then ht_name,
    // ht_slots, ht_qualname, ht_cached_keys: unchanged since 3.10.
    const int64_t type_size = off(d, "type_object.size");
    l.heap_type_qualname = type_size + 456;
    l.heap_type_cached_keys = type_size + 464;
    l.list_items = off(d, "list_object.ob_item");
    l.tuple_items = off(d, "tuple_object.ob_item");
    l.dict_keys = off(d, "dict_object.ma_keys");
    l.dict_values = off(d, "dict_object.ma_values");
    // Not in the debug offsets: PyDictKeysObject has not changed since 3.11 and
    // PyDictValues got its 8-byte header {capacity, size, embedded, valid} in 3.13.
    l.dict_keys_format = DictKeysFormat::Keys311;
    l.dict_values_items = 8;
    l.managed_dict = ManagedDict::Inline313;
    if (d.fields.count("set_object.table")) {
        l.set_used = off(d, "set_object.used");
        l.set_mask = off(d, "set_object.mask");
        l.set_table = off(d, "set_object.table");
    }
    l.long_tag = off(d, "long_object.lv_tag");
    l.long_digits = off(d, "long_object.ob_digit");
    l.code_localsplusnames = off(d, "code_object.localsplusnames");
    l.frame_localsplus = off(d, "interpreter_frame.localsplus");
    // Locals are tagged _PyStackRefs wherever f_executable is one (3.14+).
    l.frame_locals_tagged = s.frame_code_mask != ~0ull;
    // PyFrameObject's head (f_back, f_frame, f_trace) has not moved since 3.11.
    l.frame_object_frame = 24;
    l.frame_object_refs = {{16, "f_back"}, {32, "f_trace"}};
    // 3.14 states where the generator's frame is; the supplement says whether
    // its frame states are known.
    const bool gen_given = s.gen_iframe >= 0 && d.fields.count("gen_object.gi_iframe");
    l.gen_iframe = gen_given ? off(d, "gen_object.gi_iframe") : s.gen_iframe;
    l.gen_frame_state = gen_given ? off(d, "gen_object.gi_frame_state") : s.gen_frame_state;
    if (s.gen_iframe >= 0) l.gen_refs = {{24, "__name__"}, {32, "__qualname__"}};  // 3.12+ head
    l.function_refs = function_refs_310();
    l.interp_obmalloc = s.interp_obmalloc;
    l.interp_obmalloc_indirect = true;
    if (s.interp_obmalloc >= 0) {
        l.pymalloc_arena_size = 1 << 20;
        l.pymalloc_pool_size = 16 << 10;
        l.obmalloc_arenas = 512;  // struct _obmalloc_state as in 3.12 (DWARF of 3.13.0)
        l.obmalloc_maxarenas = 520;
    }
}

}  // namespace

uint64_t DebugOffsets::at(std::string_view name) const {
    auto it = fields.find(name);
    if (it == fields.end())
        throw Error(Errc::LayoutMismatch,
                    "_Py_DebugOffsets " + hex_version(version) + " has no " + std::string(name));
    return it->second;
}

PyVersion DebugOffsets::py_version() const { return version_from_hex(version); }

size_t debug_offsets_size(int minor) {
    const Schema* schema = schema_for(minor);
    return schema ? schema->size() : 0;
}

namespace {

// The header (cookie, version, free_threaded) once its cookie is checked.
std::array<uint8_t, kHeaderSize> read_header(const proc::MemoryReader& mem, uint64_t runtime_addr) {
    std::array<uint8_t, kHeaderSize> header;
    if (!mem.read(runtime_addr, header.data(), header.size()))
        throw Error(Errc::LayoutMismatch,
                    "cannot read _Py_DebugOffsets at " + hex(runtime_addr) + " (_PyRuntime)");
    if (std::memcmp(header.data(), kCookie, sizeof kCookie) != 0)
        throw Error(Errc::LayoutMismatch, "no _Py_DebugOffsets cookie \"xdebugpy\" at " +
                                              hex(runtime_addr) + ": not _PyRuntime of 3.13+");
    return header;
}

}  // namespace

DebugOffsetsHeader debug_offsets_header(const proc::MemoryReader& mem, uint64_t runtime_addr) {
    const auto header = read_header(mem, runtime_addr);
    DebugOffsetsHeader h;
    uint64_t free_threaded;
    std::memcpy(&h.version, header.data() + 8, 8);
    std::memcpy(&free_threaded, header.data() + 16, 8);
    h.free_threaded = free_threaded != 0;
    return h;
}

DebugOffsets read_debug_offsets(const proc::MemoryReader& mem, uint64_t runtime_addr) {
    const auto header = read_header(mem, runtime_addr);
    DebugOffsets d;
    std::memcpy(&d.version, header.data() + 8, 8);
    uint64_t free_threaded;
    std::memcpy(&free_threaded, header.data() + 16, 8);
    d.free_threaded = free_threaded != 0;

    const PyVersion v = d.py_version();
    const Schema* schema = v.major == 3 ? schema_for(v.minor) : nullptr;
    if (!schema)
        throw Error(Errc::UnsupportedVersion,
                    "CPython " + v.str() + " (_Py_DebugOffsets version " + hex_version(d.version) +
                        ") is not supported (supported: " + supported_versions() + ")");
    const unsigned level = (d.version >> 4) & 0xf;  // 0xa alpha, 0xb beta, 0xc rc, 0xf final
    if (level < 0xc)
        throw Error(Errc::UnsupportedVersion,
                    "CPython " + v.str() + " pre-release (" + hex_version(d.version) +
                        "): _Py_DebugOffsets is only fixed from the release candidates on");

    std::vector<uint8_t> raw(schema->size());
    if (!mem.read(runtime_addr, raw.data(), raw.size()))
        throw Error(Errc::LayoutMismatch, "cannot read the " + std::to_string(raw.size()) +
                                              "-byte _Py_DebugOffsets of " + v.str() + " at " +
                                              hex(runtime_addr));
    size_t pos = kHeaderSize;
    for (const auto& section : schema->sections) {
        for (auto field : section.fields) {
            uint64_t value;
            std::memcpy(&value, raw.data() + pos, 8);
            d.fields.emplace(std::string(section.name) + "." + std::string(field), value);
            pos += 8;
        }
    }
    check_bounds(d, *schema);
    return d;
}

PyLayout layout_from_debug_offsets(const DebugOffsets& d) {
    const PyVersion v = d.py_version();
    const Supplement* s = supplement_for(v, d.free_threaded);
    if (!s && d.free_threaded)
        throw Error(Errc::UnsupportedVersion, "free-threaded CPython " + v.str() +
                                                  " is not supported yet: its frames and objects are verified on 3.14t only");
    if (!s)
        throw Error(Errc::UnsupportedVersion, "no layout supplement for CPython " + v.str() +
                                                  " (supported: " + supported_versions() + ")");

    PyLayout l;
    l.version = v;
    l.runtime_interp_head = off(d, "runtime_state.interpreters_head");
    // head and main are adjacent in struct pyinterpreters in every version.
    l.runtime_interp_main = l.runtime_interp_head + 8;
    l.runtime_tstate_current = -1;  // thread-local since 3.12

    l.interp_next = off(d, "interpreter_state.next");
    l.interp_threads_head = off(d, "interpreter_state.threads_head");
    l.interp_id = off(d, "interpreter_state.id");

    // Follow interp->ceval.gil rather than interp->_gil: an interpreter may use
    // another's GIL. locked/holder are given from the interpreter, so rebase
    // them onto the GIL struct.
    const int64_t gil_struct = off(d, "interpreter_state.gil_runtime_state");
    l.gil_in_interp = true;
    l.gil_offset = off(d, "interpreter_state.ceval_gil");
    l.gil_indirect = true;
    l.gil_last_holder = off(d, "interpreter_state.gil_runtime_state_holder") - gil_struct;
    l.gil_locked = off(d, "interpreter_state.gil_runtime_state_locked") - gil_struct;

    l.tstate_prev = off(d, "thread_state.prev");
    l.tstate_next = off(d, "thread_state.next");
    l.tstate_interp = off(d, "thread_state.interp");
    l.tstate_frame = off(d, "thread_state.current_frame");
    l.cframe_current_frame = -1;
    l.tstate_thread_id = off(d, "thread_state.thread_id");
    l.tstate_native_thread_id = off(d, "thread_state.native_thread_id");
    l.tstate_size = off(d, "thread_state.size");

    l.frame_kind = LS_FRAME_INTERP;
    l.frame_size = s->frame_size;
    l.frame_previous = off(d, "interpreter_frame.previous");
    l.frame_code = off(d, "interpreter_frame.executable");
    l.frame_code_mask = s->frame_code_mask;
    l.frame_lasti = -1;
    l.lasti_unit = 1;
    l.frame_instr_ptr = off(d, "interpreter_frame.instr_ptr");
    l.frame_owner = off(d, "interpreter_frame.owner");
    l.owner_generator = s->owner_generator;
    l.owner_skip_from = s->owner_skip_from;

    l.code_size = s->code_size;
    l.code_filename = off(d, "code_object.filename");
    l.code_name = off(d, "code_object.name");
    l.code_qualname = off(d, "code_object.qualname");
    l.code_linetable = off(d, "code_object.linetable");
    l.code_firstlineno = off(d, "code_object.firstlineno");
    l.code_firsttraceable = s->code_firsttraceable;
    l.code_adaptive = off(d, "code_object.co_code_adaptive");
    l.linetable_format = LineTableFormat::Locations311;
    if (s->free_threaded) {
        l.free_threaded = true;
        l.frame_tlbc_index = off(d, "interpreter_frame.tlbc_index");
        l.code_tlbc = off(d, "code_object.co_tlbc");
        // Not in _Py_DebugOffsets: PyObject of Include/object.h under Py_GIL_DISABLED.
        l.object_ref_local = 12;
        l.object_ref_shared = 16;
    }

    l.object_type = off(d, "pyobject.ob_type");
    l.varobject_size = off(d, "bytes_object.ob_size");  // PyVarObject.ob_size
    l.type_name = off(d, "type_object.tp_name");
    // tp_basicsize and tp_itemsize, not in _Py_DebugOffsets, follow tp_name.
    l.type_basicsize = l.type_name + 8;
    l.type_itemsize = l.type_name + 16;
    l.type_flags = off(d, "type_object.tp_flags");
    l.bytes_size = off(d, "bytes_object.ob_size");
    l.bytes_data = off(d, "bytes_object.ob_sval");
    l.unicode_length = off(d, "unicode_object.length");
    l.unicode_state = off(d, "unicode_object.state");
    l.unicode_ascii_data = off(d, "unicode_object.asciiobject_size");
    // PyUnicodeObject is PyCompactUnicodeObject plus one data pointer.
    l.unicode_compact_data = off(d, "unicode_object.size") - 8;

    l.gc_in_runtime = false;
    l.gc_offset = off(d, "interpreter_state.gc");
    l.gc_size = s->gc_size;
    l.gc_kind = s->gc_kind;
    l.gc_enabled = s->gc_enabled;
    l.gc_generations = s->gc_generations;
    l.gc_generation_stride = 24;  // struct gc_generation {PyGC_Head head; int threshold, count;}
    l.gc_generation_count = s->gc_generation_count;
    l.gc_stats = s->gc_stats;
    l.gc_collecting = off(d, "gc.collecting");
    l.gc_long_lived_total = s->gc_long_lived_total;
    l.gc_long_lived_pending = s->gc_long_lived_pending;

    if (s->free_threaded)
        l.gc_header = 0;  // objects have no PyGC_Head; the other heap fields stay unknown
    else
        add_heap_fields(l, d, *s);
    l.source = "_Py_DebugOffsets v" + hex_version(d.version) + (s->free_threaded ? " (free-threaded)" : "");
    return l;
}

PyLayout layout_from_debug_offsets(const proc::MemoryReader& mem, uint64_t runtime_addr) {
    return layout_from_debug_offsets(read_debug_offsets(mem, runtime_addr));
}

PyLayout resolve_layout(const PyVersion& v, const proc::MemoryReader& mem, uint64_t runtime_addr) {
    if (!is_supported(v))
        throw Error(
            Errc::UnsupportedVersion,
            "CPython " + v.str() + " is not supported (supported: " + supported_versions() + ")");
    if (auto table = table_layout(v)) return *table;
    PyLayout layout = layout_from_debug_offsets(mem, runtime_addr);
    if (layout.version.major != v.major || layout.version.minor != v.minor)
        throw Error(Errc::LayoutMismatch, "the binary is CPython " + v.str() +
                                              " but its _Py_DebugOffsets say " +
                                              layout.version.str());
    return layout;
}

}  // namespace leakscope::python
