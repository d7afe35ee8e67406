// SPDX-License-Identifier: BSD-2-Clause
#include "native/native_frames.h"

#include <bcc/bcc_syms.h>
#include <elf.h>

#include <fmt/format.h>

#include <array>
#include <chrono>

#include "core/text.h"

namespace leakscope::native {

bool is_eval_loop(const std::string& symbol) {
    static const std::array<std::string, 6> kEvalLoop = {
        "_PyEval_EvalFrameDefault", "_PyEval_EvalFrame", "PyEval_EvalFrameEx",
        "_PyEval_Vector",           "_PyEval_EvalCode",  "PyEval_EvalCode",
    };
    // LTO and PGO builds rename local copies: _PyEval_EvalFrameDefault.lto_priv.0, .cold.
    const std::string base = symbol.substr(0, symbol.find('.'));
    for (const auto& name : kEvalLoop)
        if (base == name) return true;
    return false;
}

MergedStack merge(const std::vector<Frame>& native, const Stack& python) {
    MergedStack out;
    bool reached = false;
    for (const Frame& f : native) {
        if (f.function.empty()) break;
        if (is_eval_loop(f.function)) {
            reached = true;
            break;
        }
        out.frames.push_back(f);
    }
    // With no native frame at all there is nothing to be incomplete.
    out.incomplete = !reached && !native.empty();
    out.frames.insert(out.frames.end(), python.begin(), python.end());
    return out;
}

NativeSymbolizer::NativeSymbolizer(pid_t pid) : pid_(pid) {
    bcc_symbol_option options{};
    options.use_debug_file = 1;
    options.check_debug_file_crc = 1;
    options.lazy_symbolize = 1;
    options.use_symbol_type = (1 << STT_FUNC) | (1 << STT_GNU_IFUNC);
    cache_ = bcc_symcache_new(pid, &options);
}

NativeSymbolizer::~NativeSymbolizer() {
    if (cache_) bcc_free_symcache(cache_, pid_);
}

Frame NativeSymbolizer::symbolize(uint64_t address, bool surely_code) {
    if (auto it = frames_.find(address); it != frames_.end()) return it->second;
    Frame f;
    f.native = true;
    if (!cache_) return f;
    bcc_symbol sym{};
    int rc = bcc_symcache_resolve(cache_, address, &sym);
    const auto now = std::chrono::steady_clock::now();
    if (rc != 0 && !sym.module && surely_code && now - last_refresh_ >= kRefreshEvery) {
        // Code in no module the cache knows: one loaded after it was built (a C extension imported late).
        last_refresh_ = now;
        bcc_symcache_refresh(cache_);
        sym = {};
        rc = bcc_symcache_resolve(cache_, address, &sym);
    }
    // Module paths and symbol names come from the target's files: escape them like its strings.
    if (sym.module) f.file = escape_control(sym.module);
    if (rc == 0) {
        f.function = escape_control(sym.demangle_name ? sym.demangle_name : sym.name ? sym.name : "");
        bcc_symbol_free_demangle_name(&sym);
    } else if (sym.module) {
        f.function = fmt::format("+{:#x}", sym.offset);  // a stripped module: where in it
    }
    if (!f.file.empty()) frames_.emplace(address, f);  // an unknown address may be mapped later
    return f;
}

std::vector<Frame> NativeSymbolizer::symbolize(const std::vector<uint64_t>& addresses) {
    std::vector<Frame> out;
    out.reserve(addresses.size());
    // The innermost address is the caller of malloc, surely code; deeper ones
    // can be garbage where a function keeps no frame pointer.
    for (size_t i = 0; i < addresses.size(); ++i) out.push_back(symbolize(addresses[i], i == 0));
    return out;
}

}  // namespace leakscope::native
