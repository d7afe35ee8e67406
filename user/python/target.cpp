// SPDX-License-Identifier: BSD-2-Clause
#include "python/target.h"

#include <fmt/format.h>

#include "core/error.h"
#include "python/debug_offsets.h"
#include "python/layout_check.h"
#include "python/thread_list.h"

namespace leakscope::python {
namespace {
constexpr int kMaxInterpreters = 64;
constexpr size_t kMaxThreads = 4096;
}  // namespace

uint64_t Target::interpreter() const {
    return mem->read_ptr(interp.runtime_addr + layout.runtime_interp_head).value_or(0);
}

uint64_t Target::gc_state() const {
    if (layout.gc_offset < 0) return 0;
    const uint64_t base = layout.gc_in_runtime ? interp.runtime_addr : interpreter();
    return base ? base + uint64_t(layout.gc_offset) : 0;
}

std::vector<uint64_t> Target::thread_states(bool* cut) const {
    std::vector<uint64_t> out;
    uint64_t is = interpreter();
    for (int i = 0; i < kMaxInterpreters && is; ++i) {
        auto threads = thread_list(*mem, layout, is, kMaxThreads - out.size(), nullptr, cut);
        out.insert(out.end(), threads.begin(), threads.end());
        is = mem->read_ptr(is + layout.interp_next).value_or(0);
    }
    if (cut && is) *cut = true;
    return out;
}

Target open_target(pid_t pid, const DiscoveryOptions& options, bool check_live) {
    Target t{discover(pid, options), {}, std::make_unique<proc::ProcessMemory>(pid), 0};
    t.layout = resolve_layout(t.interp.version, *t.mem, t.interp.runtime_addr);
    if (check_live) check_layout(t.layout, *t.mem, t.interp.runtime_addr);
    if (auto sym = t.interp.elf->symbol("PyCode_Type")) t.code_type = t.interp.address(sym->value);
    return t;
}

}  // namespace leakscope::python
