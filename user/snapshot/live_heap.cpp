// SPDX-License-Identifier: BSD-2-Clause
#include "snapshot/live_heap.h"

#include "core/error.h"
#include "proc/maps.h"
#include "python/dump.h"

namespace leakscope::snapshot {
namespace {

// The C types whose references leakscope reads, by their exported symbol.
KnownTypes known_types(const python::Target& t) {
    const std::pair<const char*, Kind> names[] = {
        {"PyDict_Type", Kind::Dict},       {"PyList_Type", Kind::List},
        {"PyTuple_Type", Kind::Tuple},     {"PySet_Type", Kind::Set},
        {"PyFrozenSet_Type", Kind::Set},   {"PyType_Type", Kind::Type},
        {"PyModule_Type", Kind::Module},   {"PyCell_Type", Kind::Cell},
        {"PyFunction_Type", Kind::Function}, {"PyMethod_Type", Kind::Method},
        {"PyFrame_Type", Kind::FrameObject}, {"PyGen_Type", Kind::Generator},
        {"PyCoro_Type", Kind::Generator},  {"PyAsyncGen_Type", Kind::Generator},
        {"PyUnicode_Type", Kind::Str},     {"PyLong_Type", Kind::Int},
        {"PyBool_Type", Kind::Int},
        // Code objects hold only constants and names; they are not followed.
        {"PyCode_Type", Kind::Leaf},
    };
    KnownTypes known;
    for (const auto& [name, kind] : names)
        if (auto sym = t.interp.elf->symbol(name)) known[t.interp.address(sym->value)] = kind;
    return known;
}

uint64_t gc_state(const python::Target& t) {
    const uint64_t gc = t.gc_state();
    if (!gc) throw Error(Errc::TargetExited, "the interpreter state cannot be read (exited or finalizing?)");
    return gc;
}

}  // namespace

uint64_t symbol_address(const python::Target& t, const char* name) {
    auto sym = t.interp.elf->symbol(name);
    return sym ? t.interp.address(sym->value) : 0;
}

LiveHeap::LiveHeap(const python::Target& t) : cache_(*t.mem) {
    const uint64_t dummy_var = symbol_address(t, "_PySet_Dummy");
    ctx_ = std::make_unique<ReadContext>(ReadContext{cache_, t.layout, problems_, t.code_type,
                                                     dummy_var ? cache_.read_ptr(dummy_var).value_or(0) : 0});
    types_ = std::make_unique<TypeTable>(cache_, t.layout, known_types(t), symbol_address(t, "PyType_Type"));
    const auto tstates = t.thread_states();
    source_ = std::make_unique<HeapSource>(HeapSource{*ctx_, *types_, gc_state(t), tstates, python::thread_tids(t, tstates)});
    if (auto usage = proc::read_memory_usage(t.interp.pid)) source_->memory_bytes = usage->anonymous + usage->swap;
    heap_ = read_heap(*source_);
}

}  // namespace leakscope::snapshot
