// SPDX-License-Identifier: BSD-2-Clause
#include "native/native_frames.h"

#include <bcc/bcc_syms.h>
#include <dlfcn.h>
#include <elf.h>

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <iostream>

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

namespace {

// BCC's symbolizer, loaded on first use: libbcc brings LLVM and clang with it
// (~60 MiB resident once relocated), which a snapshot, a dump or a trace
// without native stacks never needs.
struct Bcc {
    decltype(&bcc_symcache_new) symcache_new = nullptr;
    decltype(&bcc_free_symcache) free_symcache = nullptr;
    decltype(&bcc_symcache_resolve) symcache_resolve = nullptr;
    decltype(&bcc_symcache_refresh) symcache_refresh = nullptr;
    decltype(&bcc_symbol_free_demangle_name) free_demangle_name = nullptr;

    static const Bcc* get() {
        static const Bcc bcc = load();
        return bcc.symcache_new ? &bcc : nullptr;
    }

private:
    static Bcc load() {
        Bcc b;
        void* lib = dlopen("libbcc.so.0", RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            std::cerr << "leakscope: native frames are not symbolized: " << dlerror()
                      << " (install Debian's libbpfcc)\n";
            return b;
        }
        auto sym = [lib](auto& fn, const char* name) { fn = reinterpret_cast<std::decay_t<decltype(fn)>>(dlsym(lib, name)); };
        sym(b.symcache_new, "bcc_symcache_new");
        sym(b.free_symcache, "bcc_free_symcache");
        sym(b.symcache_resolve, "bcc_symcache_resolve");
        sym(b.symcache_refresh, "bcc_symcache_refresh");
        sym(b.free_demangle_name, "bcc_symbol_free_demangle_name");
        if (!b.free_symcache || !b.symcache_resolve || !b.symcache_refresh || !b.free_demangle_name) {
            std::cerr << "leakscope: native frames are not symbolized: libbcc.so.0 lacks its symbolizer\n";
            b.symcache_new = nullptr;
        }
        return b;
    }
};

}  // namespace

NativeSymbolizer::NativeSymbolizer(pid_t pid) : pid_(pid) {}

NativeSymbolizer::~NativeSymbolizer() {
    if (cache_) Bcc::get()->free_symcache(cache_, pid_);
}

// Made on first use: a trace that samples no native block never loads BCC.
void* NativeSymbolizer::cache() {
    if (cache_ || tried_) return cache_;
    tried_ = true;
    const Bcc* bcc = Bcc::get();
    if (!bcc) return nullptr;
    bcc_symbol_option options{};
    options.use_debug_file = 1;
    options.check_debug_file_crc = 1;
    options.lazy_symbolize = 1;
    options.use_symbol_type = (1 << STT_FUNC) | (1 << STT_GNU_IFUNC);
    return cache_ = bcc->symcache_new(pid_, &options);
}

Frame NativeSymbolizer::symbolize(uint64_t address, bool surely_code) {
    if (auto it = frames_.find(address); it != frames_.end()) return it->second;
    Frame f;
    f.native = true;
    if (!cache()) return f;
    const Bcc* bcc = Bcc::get();
    bcc_symbol sym{};
    int rc = bcc->symcache_resolve(cache_, address, &sym);
    const auto now = std::chrono::steady_clock::now();
    if (rc != 0 && !sym.module && surely_code && now - last_refresh_ >= kRefreshEvery) {
        // Code in no module the cache knows: one loaded after it was built (a C extension imported late).
        last_refresh_ = now;
        bcc->symcache_refresh(cache_);
        sym = {};
        rc = bcc->symcache_resolve(cache_, address, &sym);
    }
    // Module paths and symbol names come from the target's files: escape them like its strings.
    if (sym.module) f.file = escape_control(sym.module);
    if (rc == 0) {
        f.function = escape_control(sym.demangle_name ? sym.demangle_name : sym.name ? sym.name : "");
        bcc->free_demangle_name(&sym);
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
