// SPDX-License-Identifier: BSD-2-Clause
// Layouts: the 3.8-3.12 tables, _Py_DebugOffsets parsing (recorded 3.13.0 dump,
// synthesized 3.14 images), and check_layout against live interpreters.
#include <elf.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"
#include "proc/memory.h"
#include "python/debug_offsets.h"
#include "python/layout.h"
#include "python/layout_check.h"

extern char** environ;

using leakscope::Errc;
using leakscope::Error;
using namespace leakscope::python;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kRuntimeAddr = 0x7f1234560000;

std::optional<Errc> thrown(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find('\n') == std::string::npos);
        UNSCOPED_INFO(e.what());  // shown with the caller's next assertion
        return e.code();
    }
    return std::nullopt;
}

std::vector<uint8_t> read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A _Py_DebugOffsets image: header, then the fields' u64 values in order.
using Fields = std::vector<std::pair<std::string, uint64_t>>;

std::vector<uint8_t> image(uint64_t version, const Fields& fields, uint64_t free_threaded = 0) {
    std::vector<uint8_t> out(24 + 8 * fields.size());
    std::memcpy(out.data(), "xdebugpy", 8);
    std::memcpy(out.data() + 8, &version, 8);
    std::memcpy(out.data() + 16, &free_threaded, 8);
    for (size_t i = 0; i < fields.size(); ++i)
        std::memcpy(out.data() + 24 + 8 * i, &fields[i].second, 8);
    return out;
}

leakscope::proc::SnapshotMemory snapshot(std::vector<uint8_t> bytes) {
    leakscope::proc::SnapshotMemory mem;
    mem.add(kRuntimeAddr, std::move(bytes));
    return mem;
}

// 3.14.0 _Py_DebugOffsets, synthesized rather than recorded. Field order:
// 3.14.0's Include/internal/pycore_debug_offsets.h. Values: offsetof/sizeof
// computed from bindgen structs of the 3.14.0 headers (py-spy's
// src/python_bindings/v3_14_0.rs). set_object and gen_object, which those
// structs lack, are read off the 3.14 source; leakscope does not use them.
Fields fields_3140() {
    return {
        {"runtime_state.size", 316536},
        {"runtime_state.finalizing", 784},
        {"runtime_state.interpreters_head", 808},
        {"interpreter_state.size", 225808},
        {"interpreter_state.id", 7280},
        {"interpreter_state.next", 7272},
        {"interpreter_state.threads_head", 7344},
        {"interpreter_state.threads_main", 7360},
        {"interpreter_state.gc", 7408},
        {"interpreter_state.imports_modules", 7664},
        {"interpreter_state.sysdict", 7648},
        {"interpreter_state.builtins", 7656},
        {"interpreter_state.ceval_gil", 16},
        {"interpreter_state.gil_runtime_state", 7760},
        {"interpreter_state.gil_runtime_state_enabled", 0},
        {"interpreter_state.gil_runtime_state_locked", 7776},
        {"interpreter_state.gil_runtime_state_holder", 7768},
        {"interpreter_state.code_object_generation", 7968},
        {"interpreter_state.tlbc_generation", 0},
        {"thread_state.size", 824},
        {"thread_state.prev", 0},
        {"thread_state.next", 8},
        {"thread_state.interp", 16},
        {"thread_state.current_frame", 72},
        {"thread_state.thread_id", 152},
        {"thread_state.native_thread_id", 160},
        {"thread_state.datastack_chunk", 232},
        {"thread_state.status", 32},
        {"interpreter_frame.size", 88},
        {"interpreter_frame.previous", 8},
        {"interpreter_frame.executable", 0},
        {"interpreter_frame.instr_ptr", 56},
        {"interpreter_frame.localsplus", 80},
        {"interpreter_frame.owner", 74},
        {"interpreter_frame.stackpointer", 64},
        {"interpreter_frame.tlbc_index", 0},
        {"code_object.size", 216},
        {"code_object.filename", 112},
        {"code_object.name", 120},
        {"code_object.qualname", 128},
        {"code_object.linetable", 136},
        {"code_object.firstlineno", 68},
        {"code_object.argcount", 52},
        {"code_object.localsplusnames", 96},
        {"code_object.localspluskinds", 104},
        {"code_object.co_code_adaptive", 208},
        {"code_object.co_tlbc", 0},
        {"pyobject.size", 16},
        {"pyobject.ob_type", 8},
        {"type_object.size", 416},
        {"type_object.tp_name", 24},
        {"type_object.tp_repr", 88},
        {"type_object.tp_flags", 168},
        {"tuple_object.size", 40},
        {"tuple_object.ob_item", 32},
        {"tuple_object.ob_size", 16},
        {"list_object.size", 40},
        {"list_object.ob_item", 24},
        {"list_object.ob_size", 16},
        {"set_object.size", 200},
        {"set_object.used", 24},
        {"set_object.table", 40},
        {"set_object.mask", 32},
        {"dict_object.size", 48},
        {"dict_object.ma_keys", 32},
        {"dict_object.ma_values", 40},
        {"float_object.size", 24},
        {"float_object.ob_fval", 16},
        {"long_object.size", 32},
        {"long_object.lv_tag", 16},
        {"long_object.ob_digit", 24},
        {"bytes_object.size", 40},
        {"bytes_object.ob_size", 16},
        {"bytes_object.ob_sval", 32},
        {"unicode_object.size", 64},
        {"unicode_object.state", 32},
        {"unicode_object.length", 16},
        {"unicode_object.asciiobject_size", 40},
        {"gc.size", 240},
        {"gc.collecting", 192},
        {"gen_object.size", 160},
        {"gen_object.gi_name", 24},
        {"gen_object.gi_iframe", 72},
        {"gen_object.gi_frame_state", 67},
        {"llist_node.next", 0},
        {"llist_node.prev", 8},
        {"debugger_support.eval_breaker", 24},
        {"debugger_support.remote_debugger_support", 304},
        {"debugger_support.remote_debugging_enabled", 8052},
        {"debugger_support.debugger_pending_call", 0},
        {"debugger_support.debugger_script_path", 4},
        {"debugger_support.debugger_script_path_size", 512},
    };
}

// 3.14.5: the generational collector came back and struct _gc_runtime_state
// grew from 240 to 264 bytes, so every PyInterpreterState field after gc moved
// by 24.
Fields fields_3145() {
    Fields f = fields_3140();
    for (auto& [name, value] : f) {
        if (name == "gc.size") value = 264;
        bool after_gc = name.rfind("interpreter_state.", 0) == 0 && value > 7408;
        if (name == "interpreter_state.size" || after_gc ||
            name == "debugger_support.remote_debugging_enabled")
            value += 24;
    }
    return f;
}

void set_field(Fields& f, const std::string& name, uint64_t value) {
    for (auto& [n, v] : f)
        if (n == name) v = value;
}

}  // namespace

TEST_CASE("versions and the table lookup", "[layout]") {
    CHECK(PyVersion{3, 11, 2}.str() == "3.11.2");
    CHECK(supported_versions() == "3.8, 3.9, 3.10, 3.11, 3.12, 3.13, 3.14");
    CHECK(is_supported({3, 8, 0}));
    CHECK(is_supported({3, 14, 5}));
    CHECK_FALSE(is_supported({3, 7, 16}));
    CHECK_FALSE(is_supported({3, 15, 0}));
    CHECK_FALSE(is_supported({2, 8, 0}));

    for (int minor = 8; minor <= 12; ++minor) {
        auto l = table_layout({3, minor, 4});
        REQUIRE(l);
        CHECK(l->version == PyVersion{3, minor, 4});
        CHECK(l->source == "table 3." + std::to_string(minor));
    }
    CHECK_FALSE(table_layout({3, 7, 0}));
    CHECK_FALSE(table_layout({3, 13, 0}));
}

TEST_CASE("tables carry the version-specific facts", "[layout]") {
    // GIL last_holder as absolute _PyRuntime offsets (reference section 1.1).
    const std::map<int, int64_t> last_holder = {{8, 1160}, {9, 360}, {10, 360}, {11, 368}};
    for (auto [minor, abs] : last_holder) {
        auto l = *table_layout({3, minor, 0});
        CHECK_FALSE(l.gil_in_interp);
        CHECK(l.gil_offset + l.gil_last_holder == abs);
        CHECK(l.gil_locked == 16);
    }
    auto t312 = *table_layout({3, 12, 0});
    CHECK((t312.gil_in_interp && t312.gil_indirect && t312.gil_offset == 384));

    auto t38 = *table_layout({3, 8, 0});
    CHECK((t38.gc_in_runtime && t38.gc_offset == 344));
    CHECK(t38.linetable_format == LineTableFormat::Lnotab38);
    const std::map<int, int64_t> gc_in_interp = {{9, 616}, {10, 616}, {11, 648}, {12, 112}};
    for (auto [minor, off] : gc_in_interp) {
        auto l = *table_layout({3, minor, 0});
        CHECK_FALSE(l.gc_in_runtime);
        CHECK(l.gc_offset == off);
    }

    auto t310 = *table_layout({3, 10, 0});
    CHECK((t310.lasti_unit == 2 && t310.frame_lasti == 96));
    CHECK(table_layout({3, 9, 0})->lasti_unit == 1);

    auto t311 = *table_layout({3, 11, 0});
    CHECK((t311.tstate_frame == 56 && t311.cframe_current_frame == 8));
    CHECK(t311.owner_skip_from == 0xff);
    CHECK((t312.tstate_frame == 56 && t312.cframe_current_frame == 0));
    CHECK(t312.owner_skip_from == 3);
    for (int minor = 8; minor <= 12; ++minor) {
        auto l = *table_layout({3, minor, 0});
        CHECK(l.frame_code_mask == ~0ull);
        CHECK(l.owner_generator == 1);
        CHECK(l.frame_kind == (minor <= 10 ? LS_FRAME_OBJECT : LS_FRAME_INTERP));
    }
}

TEST_CASE("bpf_offsets carries the walker's subset", "[layout]") {
    const uint32_t absent = std::numeric_limits<uint32_t>::max();

    auto o310 = table_layout({3, 10, 13})->bpf_offsets();
    CHECK(o310.runtime_interp_head == 32);
    CHECK(o310.interp_threads_head == 8);
    CHECK(o310.tstate_frame == 24);
    CHECK(o310.cframe_current_frame == -1);
    CHECK(o310.frame_kind == LS_FRAME_OBJECT);
    CHECK((o310.frame_lasti == 96 && o310.lasti_unit == 2));
    CHECK(o310.frame_instr_ptr == absent);
    CHECK(o310.code_adaptive == absent);

    auto o311 = table_layout({3, 11, 7})->bpf_offsets();
    CHECK(o311.tstate_frame == 56);
    CHECK(o311.cframe_current_frame == 8);
    CHECK(o311.frame_kind == LS_FRAME_INTERP);
    CHECK((o311.frame_previous == 48 && o311.frame_code == 32 && o311.frame_instr_ptr == 56));
    CHECK((o311.frame_owner == 69 && o311.owner_skip_from == 0xff));
    CHECK(o311.code_adaptive == 184);
    CHECK(o311.frame_lasti == absent);
    CHECK(o311.code_mask == ~0ull);
    CHECK(o311.tstate_thread_id == 152);
    CHECK(o311.tstate_next == 8);

    auto mem = snapshot(image(0x030e00f0, fields_3140()));
    auto o314 = layout_from_debug_offsets(mem, kRuntimeAddr).bpf_offsets();
    CHECK(o314.code_mask == ~3ull);
    CHECK(o314.cframe_current_frame == -1);
    CHECK((o314.tstate_frame == 72 && o314.frame_owner == 74 && o314.owner_skip_from == 3));
}

TEST_CASE("_Py_DebugOffsets recorded from a live 3.13.0", "[layout][debug_offsets]") {
    const auto bytes = read_file(fs::path(LEAKSCOPE_TEST_DATA) / "debug_offsets_3.13.0.bin");
    REQUIRE(bytes.size() == debug_offsets_size(13));
    CHECK(debug_offsets_size(13) == 584);
    CHECK(debug_offsets_size(14) == 760);
    CHECK(debug_offsets_size(12) == 0);
    auto mem = snapshot(bytes);

    auto d = read_debug_offsets(mem, kRuntimeAddr);
    CHECK(d.version == 0x030d00f0);
    CHECK(d.py_version() == PyVersion{3, 13, 0});
    CHECK_FALSE(d.free_threaded);
    CHECK(d.at("gc.collecting") == 200);
    CHECK(d.at("unicode_object.asciiobject_size") == 40);
    CHECK(thrown([&] { d.at("set_object.size"); }) == Errc::LayoutMismatch);

    // Every number below is the [C] value compiled from the 3.13.0 headers.
    auto l = layout_from_debug_offsets(mem, kRuntimeAddr);
    CHECK(l.version == PyVersion{3, 13, 0});
    CHECK(l.source == "_Py_DebugOffsets v0x030d00f0");
    CHECK((l.runtime_interp_head == 632 && l.runtime_interp_main == 640));
    CHECK(l.runtime_tstate_current == -1);
    CHECK((l.interp_next == 7264 && l.interp_threads_head == 7344 && l.interp_id == 7272));
    CHECK((l.gil_in_interp && l.gil_indirect && l.gil_offset == 16));
    CHECK((l.gil_last_holder == 8 && l.gil_locked == 16));
    CHECK((l.tstate_prev == 0 && l.tstate_next == 8 && l.tstate_interp == 16));
    CHECK((l.tstate_frame == 72 && l.cframe_current_frame == -1));
    CHECK((l.tstate_thread_id == 152 && l.tstate_native_thread_id == 160 && l.tstate_size == 304));
    CHECK(l.frame_kind == LS_FRAME_INTERP);
    CHECK((l.frame_size == 80 && l.frame_previous == 8 && l.frame_code == 0));
    CHECK((l.frame_instr_ptr == 56 && l.frame_owner == 70));
    CHECK((l.owner_generator == 1 && l.owner_skip_from == 3 && l.frame_code_mask == ~0ull));
    CHECK(l.code_size == 208);
    CHECK((l.code_filename == 112 && l.code_name == 120 && l.code_qualname == 128));
    CHECK((l.code_linetable == 136 && l.code_firstlineno == 68));
    CHECK((l.code_firsttraceable == 184 && l.code_adaptive == 200));
    CHECK(l.linetable_format == LineTableFormat::Locations311);
    CHECK((l.object_type == 8 && l.varobject_size == 16));
    CHECK((l.type_name == 24 && l.type_basicsize == 32 && l.type_itemsize == 40 &&
           l.type_flags == 168));
    CHECK((l.bytes_size == 16 && l.bytes_data == 32));
    CHECK((l.unicode_length == 16 && l.unicode_state == 32));
    CHECK((l.unicode_ascii_data == 40 && l.unicode_compact_data == 56));
    CHECK((!l.gc_in_runtime && l.gc_offset == 7400 && l.gc_size == 240));
    CHECK(l.gc_kind == GcKind::Generational);
    CHECK((l.gc_enabled == 12 && l.gc_generations == 24 && l.gc_generation_stride == 24));
    CHECK((l.gc_generation_count == 3 && l.gc_stats == 128 && l.gc_collecting == 200));
    CHECK((l.gc_long_lived_total == 224 && l.gc_long_lived_pending == 232));

    SECTION("resolve_layout picks debug offsets for 3.13 and checks the minor") {
        CHECK(resolve_layout({3, 13, 0}, mem, kRuntimeAddr).source == l.source);
        auto as_314 = [&] { resolve_layout({3, 14, 0}, mem, kRuntimeAddr); };
        CHECK(thrown(as_314) == Errc::LayoutMismatch);
    }
}

TEST_CASE("_Py_DebugOffsets recorded from a real 3.14.7", "[layout][debug_offsets]") {
    // The head of .PyRuntime of a 3.14.7 built from source (--enable-shared),
    // the same bytes as read from the live process.
    const auto bytes = read_file(fs::path(LEAKSCOPE_TEST_DATA) / "debug_offsets_3.14.7.bin");
    REQUIRE(bytes.size() == debug_offsets_size(14));
    auto mem = snapshot(bytes);
    auto d = read_debug_offsets(mem, kRuntimeAddr);
    CHECK(d.version == 0x030e07f0);
    CHECK_FALSE(d.free_threaded);

    // Every number below was checked against the DWARF of that build (gdb).
    auto l = layout_from_debug_offsets(mem, kRuntimeAddr);
    CHECK(l.version == PyVersion{3, 14, 7});
    CHECK((l.tstate_frame == 72 && l.frame_previous == 8 && l.frame_code == 0));
    CHECK((l.frame_size == 88 && l.frame_owner == 74 && l.frame_localsplus == 80));
    CHECK((l.frame_code_mask == ~3ull && l.frame_locals_tagged));
    CHECK((l.code_size == 216 && l.code_firsttraceable == 192));
    CHECK((l.gil_offset == 16 && l.gil_last_holder == 8 && l.gil_locked == 16));
    CHECK(l.gc_kind == GcKind::Generational);
    CHECK((l.gc_offset == 7408 && l.gc_size == 264 && l.gc_collecting == 192));
    CHECK((l.gc_generations == 24 && l.gc_stats == 120 && l.gc_permanent == 96));
    CHECK((l.gc_long_lived_total == 240 && l.gc_long_lived_pending == 248));
    CHECK((l.heap_type_qualname == 872 && l.heap_type_cached_keys == 880));
    CHECK((l.gen_iframe == 72 && l.gen_frame_state == 67 && l.gen_frame_cleared == 4));
    CHECK(l.gen_refs == std::vector<RefField>{{24, "__name__"}, {32, "__qualname__"}});
    CHECK((l.interp_obmalloc == 10904 && l.interp_obmalloc_indirect));
    CHECK((l.obmalloc_arenas == 512 && l.obmalloc_maxarenas == 520));
    CHECK(resolve_layout({3, 14, 7}, mem, kRuntimeAddr).source == "_Py_DebugOffsets v0x030e07f0");
}

TEST_CASE("frame_local_object: 3.14 locals are tagged _PyStackRefs", "[layout]") {
    auto mem = snapshot(image(0x030e07f0, fields_3145()));
    const auto l314 = layout_from_debug_offsets(mem, kRuntimeAddr);
    REQUIRE(l314.frame_locals_tagged);
    CHECK(frame_local_object(l314, 0x7f0000001230) == 0x7f0000001230);  // owned reference
    CHECK(frame_local_object(l314, 0x7f0000001231) == 0x7f0000001230);  // borrowed (deferred)
    CHECK(frame_local_object(l314, 1) == 0);                             // PyStackRef_NULL
    CHECK(frame_local_object(l314, (42u << 2) | 3) == 0);                // tagged int
    CHECK(frame_local_object(l314, 0) == 0);

    const auto l313 = layout_from_debug_offsets(
        snapshot(read_file(fs::path(LEAKSCOPE_TEST_DATA) / "debug_offsets_3.13.0.bin")), kRuntimeAddr);
    CHECK_FALSE(l313.frame_locals_tagged);
    CHECK(frame_local_object(l313, 0x7f0000001230) == 0x7f0000001230);
    CHECK_FALSE(table_layout({3, 12, 1})->frame_locals_tagged);
}

TEST_CASE("resolve_layout: tables need no memory, unknown versions fail", "[layout]") {
    leakscope::proc::SnapshotMemory empty;
    auto l = resolve_layout({3, 11, 4}, empty, kRuntimeAddr);
    CHECK(l.source == "table 3.11");
    CHECK(l.version == PyVersion{3, 11, 4});
    auto resolve = [&](PyVersion v) {
        return thrown([&] { resolve_layout(v, empty, kRuntimeAddr); });
    };
    CHECK(resolve({3, 7, 16}) == Errc::UnsupportedVersion);
    CHECK(resolve({3, 15, 0}) == Errc::UnsupportedVersion);
    CHECK(resolve({3, 13, 0}) == Errc::LayoutMismatch);  // nothing to read the debug offsets from
}

TEST_CASE("_Py_DebugOffsets 3.14 (synthesized from the reference)", "[layout][debug_offsets]") {
    CHECK(image(0x030e00f0, fields_3140()).size() == 760);

    SECTION("3.14.0: incremental collector") {
        auto mem = snapshot(image(0x030e00f0, fields_3140()));
        auto l = layout_from_debug_offsets(mem, kRuntimeAddr);
        CHECK(l.version == PyVersion{3, 14, 0});
        CHECK(l.gc_kind == GcKind::Incremental);
        CHECK((l.gc_offset == 7408 && l.gc_size == 240));
        CHECK((l.gc_generations == 24 && l.gc_stats == 120 && l.gc_collecting == 192));
        CHECK((l.gc_long_lived_total == -1 && l.gc_long_lived_pending == -1));
        CHECK((l.runtime_interp_head == 808 && l.runtime_interp_main == 816));
        CHECK((l.interp_threads_head == 7344 && l.interp_id == 7280 && l.interp_next == 7272));
        CHECK((l.gil_offset == 16 && l.gil_last_holder == 8 && l.gil_locked == 16));
        CHECK((l.tstate_size == 824 && l.tstate_frame == 72));
        CHECK((l.frame_size == 88 && l.frame_owner == 74 && l.frame_instr_ptr == 56));
        CHECK(l.frame_code_mask == ~3ull);
        CHECK((l.code_size == 216 && l.code_adaptive == 208 && l.code_firsttraceable == 192));
        CHECK(l.owner_skip_from == 3);
    }
    SECTION("3.14.4 is still incremental") {
        auto mem = snapshot(image(0x030e04f0, fields_3140()));
        CHECK(layout_from_debug_offsets(mem, kRuntimeAddr).gc_kind == GcKind::Incremental);
    }
    SECTION("3.14.5: generational again, gc struct of 264 bytes") {
        auto mem = snapshot(image(0x030e05f0, fields_3145()));
        auto l = layout_from_debug_offsets(mem, kRuntimeAddr);
        CHECK(l.version == PyVersion{3, 14, 5});
        CHECK(l.gc_kind == GcKind::Generational);
        CHECK((l.gc_offset == 7408 && l.gc_size == 264));
        CHECK((l.gc_generations == 24 && l.gc_generation_count == 3 && l.gc_stats == 120));
        CHECK((l.gc_long_lived_total == 240 && l.gc_long_lived_pending == 248));
        // The GIL moved with everything after gc; relative to its struct it did not.
        CHECK((l.gil_last_holder == 8 && l.gil_locked == 16));
        CHECK(resolve_layout({3, 14, 5}, mem, kRuntimeAddr).gc_kind == GcKind::Generational);
        CHECK((l.gen_iframe == 72 && l.gen_frame_state == 67 && l.interp_obmalloc == 10904));
    }
    SECTION("3.14.0-3.14.4: generator frames and the arena table are not read") {
        auto l = layout_from_debug_offsets(snapshot(image(0x030e04f0, fields_3140())), kRuntimeAddr);
        CHECK((l.gen_iframe == -1 && l.interp_obmalloc == -1));
    }
}

TEST_CASE("live_object_type: reference counts of GIL and free-threaded headers", "[layout]") {
    PyLayout ft;
    ft.free_threaded = true;
    ft.object_ref_local = 12, ft.object_ref_shared = 16, ft.object_type = 24;
    const PyLayout gil;
    constexpr uint64_t kType = 0x7f0000001000, kAddr = 0x10000;
    struct Case {
        const char* what;
        bool free_threaded;
        uint64_t word0;  // ob_refcnt, or ob_tid
        uint32_t local;
        int64_t shared;
        bool alive;
    };
    const Case cases[] = {
        {"GIL: counted", false, 3, 0, 0, true},
        {"GIL: count zero (freed, freelisted)", false, 0, 0, 0, false},
        {"GIL: a free-list pointer over the count", false, 0x7f12345678a0, 0, 0, false},
        {"GIL: immortal", false, 0xffffffff, 0, 0, true},
        {"free-threaded: owner's count", true, 0x7f00aa, 1, 0, true},
        {"free-threaded: shared count only (merged, ob_tid 0)", true, 0, 0, 2 << 2 | 3, true},
        {"free-threaded: other threads let go of the owner's reference", true, 0x7f00aa, 1, -(1 << 2), false},
        {"free-threaded: freed (mimalloc's link over ob_tid, counts zero)", true, 0x7f0000020000, 0, 0, false},
        {"free-threaded: immortal", true, 0x7f00aa, 0xffffffff, 0, true},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        std::vector<uint8_t> obj(32, 0);
        std::memcpy(obj.data(), &c.word0, 8);
        if (c.free_threaded) {
            std::memcpy(obj.data() + 12, &c.local, 4);
            std::memcpy(obj.data() + 16, &c.shared, 8);
        }
        std::memcpy(obj.data() + (c.free_threaded ? 24 : 8), &kType, 8);
        leakscope::proc::SnapshotMemory mem;
        mem.add(kAddr, obj);
        const auto type = live_object_type(mem, c.free_threaded ? ft : gil, kAddr);
        CHECK(type.has_value() == c.alive);
        if (c.alive) CHECK(*type == kType);
    }
    CHECK_FALSE(live_object_type(leakscope::proc::SnapshotMemory{}, gil, kAddr));
}

TEST_CASE("str state words of GIL and free-threaded builds", "[layout]") {
    PyLayout gil, ft;
    ft.free_threaded = true;
    const StrState ascii = str_state(gil, 1 | (1 << 2) | 0x20 | 0x40);  // interned, kind 1, compact, ascii
    CHECK((ascii.kind == 1 && ascii.compact && ascii.ascii));
    // 3.14t: interned is a byte of its own, so kind starts at bit 8.
    const StrState ucs2 = str_state(ft, 2 | (2 << 8) | (1 << 11));
    CHECK((ucs2.kind == 2 && ucs2.compact && !ucs2.ascii));
    CHECK(str_state(gil, 2 | (2 << 8) | (1 << 11)).kind == 0);  // not a kind under the GIL reading
}

TEST_CASE("_Py_DebugOffsets that must be rejected", "[layout][debug_offsets]") {
    const auto good = image(0x030e00f0, fields_3140());
    auto parse = [](std::vector<uint8_t> bytes) {
        return thrown([&] {
            auto mem = snapshot(std::move(bytes));
            layout_from_debug_offsets(mem, kRuntimeAddr);
        });
    };
    REQUIRE(parse(good) == std::nullopt);

    SECTION("wrong cookie") {
        auto bytes = good;
        bytes[0] = 'X';
        CHECK(parse(bytes) == Errc::LayoutMismatch);
    }
    SECTION("versions without a known struct") {
        CHECK(parse(image(0x030f00f0, fields_3140())) == Errc::UnsupportedVersion);  // 3.15
        CHECK(parse(image(0x030c01f0, fields_3140())) == Errc::UnsupportedVersion);  // 3.12
        CHECK(parse(image(0x040000f0, fields_3140())) == Errc::UnsupportedVersion);  // 4.0
    }
    SECTION("pre-releases: the struct was still changing") {
        CHECK(parse(image(0x030e00a1, fields_3140())) == Errc::UnsupportedVersion);
        CHECK(parse(image(0x030e00b3, fields_3140())) == Errc::UnsupportedVersion);
        CHECK(parse(image(0x030e00c1, fields_3140())) == std::nullopt);
    }
    SECTION("free-threaded builds: 3.14t's frames are read, 3.13t is refused") {
        Fields ft = fields_3145();  // 3.14.7t's own values where dump reads them
        set_field(ft, "interpreter_frame.tlbc_index", 72);
        set_field(ft, "code_object.co_tlbc", 224);
        set_field(ft, "code_object.size", 240);
        set_field(ft, "pyobject.size", 32);
        set_field(ft, "pyobject.ob_type", 24);
        set_field(ft, "type_object.tp_name", 40);
        auto mem = snapshot(image(0x030e07f0, ft, 1));
        CHECK(debug_offsets_header(mem, kRuntimeAddr).free_threaded);
        CHECK_FALSE(debug_offsets_header(snapshot(good), kRuntimeAddr).free_threaded);
        const PyLayout l = layout_from_debug_offsets(mem, kRuntimeAddr);
        CHECK(l.free_threaded);
        CHECK((l.frame_tlbc_index == 72 && l.code_tlbc == 224));
        CHECK((l.bpf_offsets().frame_tlbc_index == 72 && l.bpf_offsets().code_tlbc == 224));
        CHECK((l.code_size == 240 && l.code_firsttraceable == 208));
        CHECK((l.object_type == 24 && l.type_basicsize == 48 && l.type_itemsize == 56));
        CHECK((l.gc_header == 0 && l.interp_obmalloc == -1));
        CHECK((l.gc_kind == GcKind::WholeHeap && l.gc_generations == 24 && l.gc_generation_count == 3));
        CHECK((l.object_ref_local == 12 && l.object_ref_shared == 16));
        CHECK(l.bpf_type_offsets().malloc_above == 0);
        CHECK(l.source.find("free-threaded") != std::string::npos);
        const PyLayout gil = layout_from_debug_offsets(snapshot(image(0x030e07f0, fields_3145())), kRuntimeAddr);
        CHECK((!gil.free_threaded && gil.frame_tlbc_index == -1 && gil.bpf_offsets().frame_tlbc_index == -1));
        CHECK((gil.bpf_type_offsets().malloc_above == LS_PYMALLOC_MAX && gil.gc_kind == GcKind::Generational));

        auto t313 = read_file(fs::path(LEAKSCOPE_TEST_DATA) / "debug_offsets_3.13.0.bin");
        t313[16] = 1;
        try {
            layout_from_debug_offsets(snapshot(t313), kRuntimeAddr);
            FAIL("3.13t was accepted");
        } catch (const Error& e) {
            CHECK(e.code() == Errc::UnsupportedVersion);
            CHECK(std::string(e.what()).starts_with("free-threaded CPython 3.13.0 is not supported yet"));
        }
    }
    SECTION("truncated") {
        CHECK(parse({good.begin(), good.begin() + 10}) == Errc::LayoutMismatch);
        CHECK(parse({good.begin(), good.begin() + 24}) == Errc::LayoutMismatch);
        CHECK(parse({good.begin(), good.end() - 1}) == Errc::LayoutMismatch);
        // A 3.13-sized struct claiming to be 3.14.
        CHECK(parse({good.begin(), good.begin() + 584}) == Errc::LayoutMismatch);
    }
    SECTION("offsets outside their struct") {
        auto f = fields_3140();
        set_field(f, "thread_state.current_frame", 824);
        CHECK(parse(image(0x030e00f0, f)) == Errc::LayoutMismatch);
        f = fields_3140();
        set_field(f, "code_object.size", 0);
        CHECK(parse(image(0x030e00f0, f)) == Errc::LayoutMismatch);
        f = fields_3140();
        set_field(f, "interpreter_state.size", 1ull << 40);
        CHECK(parse(image(0x030e00f0, f)) == Errc::LayoutMismatch);
    }
    SECTION("nothing mapped at the address") {
        leakscope::proc::SnapshotMemory empty;
        CHECK(thrown([&] { read_debug_offsets(empty, kRuntimeAddr); }) == Errc::LayoutMismatch);
    }
}

// ---- live interpreters --------------------------------------------------------

namespace {

struct LiveInterpreter {
    std::string name;
    fs::path path;
    PyVersion version;
};

std::vector<LiveInterpreter> live_interpreters() {
    const char* root = std::getenv("PYENV_ROOT");
    const char* home = std::getenv("HOME");
    const fs::path pyenv = root ? fs::path(root) : fs::path(home ? home : "/root") / ".pyenv";
    std::vector<LiveInterpreter> out;
    for (PyVersion v : {PyVersion{3, 8, 18}, PyVersion{3, 9, 18}, PyVersion{3, 10, 13},
                        PyVersion{3, 11, 7}, PyVersion{3, 12, 1}, PyVersion{3, 13, 0}}) {
        const std::string minor = std::to_string(v.major) + "." + std::to_string(v.minor);
        out.push_back(
            {"pyenv " + v.str(), pyenv / "versions" / v.str() / "bin" / ("python" + minor), v});
    }
    // Debian's: static, non-PIE, LTO; _PyRuntime is in its .dynsym.
    out.push_back({"debian 3.11", "/usr/bin/python3.11", {3, 11, 2}});
    return out;
}

// A child Python process, killed when the guard goes out of scope.
class Child {
public:
    Child(const fs::path& python, const std::string& code) {
        std::string exe = python.string(), flag = "-c", prog = code;
        char* argv[] = {exe.data(), flag.data(), prog.data(), nullptr};
        if (posix_spawn(&pid_, exe.c_str(), nullptr, nullptr, argv, environ) != 0) pid_ = -1;
    }
    ~Child() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
};

size_t task_count(pid_t pid) {
    std::error_code ec;
    size_t n = 0;
    for (fs::directory_iterator it("/proc/" + std::to_string(pid) + "/task", ec), end;
         !ec && it != end; it.increment(ec))
        ++n;
    return n;
}

// p_vaddr of the first PT_LOAD, page-aligned down: what the lowest mapping of
// the file corresponds to.
std::optional<uint64_t> first_load_vaddr(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    Elf64_Ehdr eh;
    if (!in.read(reinterpret_cast<char*>(&eh), sizeof eh) ||
        std::memcmp(eh.e_ident, ELFMAG, SELFMAG))
        return std::nullopt;
    for (unsigned i = 0; i < eh.e_phnum; ++i) {
        Elf64_Phdr ph;
        in.seekg(eh.e_phoff + i * eh.e_phentsize);
        if (!in.read(reinterpret_cast<char*>(&ph), sizeof ph)) return std::nullopt;
        if (ph.p_type == PT_LOAD) return ph.p_vaddr & ~0xfffull;
    }
    return std::nullopt;
}

std::optional<uint64_t> dynsym_value(const fs::path& path, const std::string& name) {
    const std::string cmd = "nm -D --defined-only '" + path.string() + "' 2>/dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return std::nullopt;
    std::optional<uint64_t> out;
    char line[512];
    while (fgets(line, sizeof line, p)) {
        unsigned long long value;
        char type, sym[400];
        if (std::sscanf(line, "%llx %c %399s", &value, &type, sym) == 3 && name == sym) out = value;
    }
    pclose(p);
    return out;
}

// _PyRuntime's address in the child: .dynsym value of libpython (or of the
// executable) plus the load bias read from /proc/PID/maps.
std::optional<uint64_t> find_runtime(pid_t pid) {
    std::map<std::string, uint64_t> lowest;
    std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
    for (std::string line; std::getline(maps, line);) {
        std::istringstream in(line);
        std::string range, perms, offset, dev, inode, path;
        in >> range >> perms >> offset >> dev >> inode >> path;
        if (path.empty() || path[0] != '/') continue;
        const uint64_t start = std::stoull(range.substr(0, range.find('-')), nullptr, 16);
        auto [it, inserted] = lowest.emplace(path, start);
        if (!inserted) it->second = std::min(it->second, start);
    }
    std::vector<std::string> candidates;
    for (const auto& [path, start] : lowest)
        if (path.find("/libpython3.") != std::string::npos) candidates.push_back(path);
    candidates.push_back(fs::read_symlink("/proc/" + std::to_string(pid) + "/exe").string());
    for (const auto& path : candidates) {
        auto sym = dynsym_value(path, "_PyRuntime");
        auto vaddr = first_load_vaddr(path);
        if (sym && vaddr && lowest.count(path)) return *sym + lowest[path] - *vaddr;
    }
    return std::nullopt;
}

const char* const kThreeThreads =
    "import threading,time; [threading.Thread(target=time.sleep,args=(30,),daemon=True).start() "
    "for _ in range(2)]; time.sleep(30)";

}  // namespace

TEST_CASE("layouts hold on live interpreters", "[layout][live]") {
    for (const auto& py : live_interpreters()) {
        DYNAMIC_SECTION(py.name) {
            if (!fs::exists(py.path)) {
                WARN("SKIP: " << py.name << ": " << py.path << " is not installed");
                continue;
            }
            Child child(py.path, kThreeThreads);
            REQUIRE(child.pid() > 0);
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (task_count(child.pid()) < 3 && std::chrono::steady_clock::now() < deadline)
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            REQUIRE(task_count(child.pid()) == 3);
            // Let both workers get from thread start into time.sleep.
            std::this_thread::sleep_for(std::chrono::milliseconds(200));

            const auto runtime = find_runtime(child.pid());
            if (!runtime) {
                WARN("SKIP: " << py.name << ": no _PyRuntime in .dynsym (nm missing?)");
                continue;
            }
            leakscope::proc::ProcessMemory mem(child.pid());
            uint8_t probe;
            if (!mem.read(*runtime, &probe, 1)) {
                WARN("SKIP: " << py.name
                              << ": cannot read the child's memory (ptrace restrictions?)");
                continue;
            }

            const PyLayout layout = resolve_layout(py.version, mem, *runtime);
            INFO(layout.source);
            CHECK(layout.source.rfind(py.version.minor >= 13 ? "_Py_DebugOffsets" : "table", 0) ==
                  0);
            CHECK(thrown([&] { check_layout(layout, mem, *runtime); }) == std::nullopt);
            CHECK(thread_states(layout, mem, *runtime).size() == 3);

            PyLayout wrong = layout;
            wrong.tstate_interp += 8;
            CHECK(thrown([&] { check_layout(wrong, mem, *runtime); }) == Errc::LayoutMismatch);

            wrong = layout;
            wrong.code_filename -= 8;  // a tuple or bytes field, not a str
            CHECK(thrown([&] { check_layout(wrong, mem, *runtime); }) == Errc::LayoutMismatch);

            wrong = layout;
            wrong.code_size += 8;
            if (wrong.code_adaptive >= 0) wrong.code_adaptive += 8;
            CHECK(thrown([&] { check_layout(wrong, mem, *runtime); }) == Errc::LayoutMismatch);

            if (py.version.minor >= 13) {
                wrong = layout;
                wrong.frame_size += 8;  // disagrees with the target's own _Py_DebugOffsets
                CHECK(thrown([&] { check_layout(wrong, mem, *runtime); }) == Errc::LayoutMismatch);
            } else {
                // A neighbouring version's table must not pass for this one. (3.9 and
                // 3.10 differ only in fields a live check cannot see: f_lasti units,
                // the line-table format, sizeof(PyThreadState).)
                const std::map<int, int> neighbour = {{8, 9}, {9, 8}, {10, 11}, {11, 12}, {12, 11}};
                auto other = *table_layout({3, neighbour.at(py.version.minor), 0});
                CHECK(thrown([&] { check_layout(other, mem, *runtime); }) == Errc::LayoutMismatch);
            }
        }
    }
}

namespace {

// The target's memory, with read number `corrupt` (counting from 0) seeing
// another object's bytes: a frame popped and its memory reused between reads.
struct ReusedUnderUs : leakscope::proc::MemoryReader {
    const leakscope::proc::MemoryReader& real;
    size_t corrupt;
    mutable size_t reads = 0;
    ReusedUnderUs(const leakscope::proc::MemoryReader& r, size_t n) : real(r), corrupt(n) {}
    bool read(uint64_t addr, void* dst, size_t n) const override {
        if (!real.read(addr, dst, n)) return false;
        if (reads++ == corrupt) std::memset(dst, 0x41, n);
        return true;
    }
};

}  // namespace

TEST_CASE("a frame that changes while the layout is checked is read again", "[layout][live]") {
    for (const auto& py : live_interpreters()) {
        DYNAMIC_SECTION(py.name) {
            if (!fs::exists(py.path)) {
                WARN("SKIP: " << py.name << ": " << py.path << " is not installed");
                continue;
            }
            // One thread: no other thread's code object can vouch for the layout.
            Child child(py.path, "import time; time.sleep(30)");
            REQUIRE(child.pid() > 0);
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            const auto runtime = find_runtime(child.pid());
            if (!runtime) {
                WARN("SKIP: " << py.name << ": no _PyRuntime in .dynsym (nm missing?)");
                continue;
            }
            leakscope::proc::ProcessMemory mem(child.pid());
            const PyLayout layout = resolve_layout(py.version, mem, *runtime);
            ReusedUnderUs counted(mem, SIZE_MAX);
            REQUIRE(thrown([&] { check_layout(layout, counted, *runtime); }) == std::nullopt);
            // The last reads check the thread's code object.
            REQUIRE(counted.reads > 6);
            for (size_t n = counted.reads - 6; n < counted.reads; ++n) {
                INFO("read " << n << " of " << counted.reads << " sees other bytes");
                ReusedUnderUs reused(mem, n);
                CHECK(thrown([&] { check_layout(layout, reused, *runtime); }) == std::nullopt);
            }
        }
    }
}
