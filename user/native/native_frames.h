// SPDX-License-Identifier: BSD-2-Clause
// Native (C) frames under the Python frames, for memory a C extension or the
// interpreter allocates with malloc: return addresses the kernel walked by
// frame pointers, symbolized with BCC's symbolizer, cut where the
// interpreter's eval loop begins (the Python frames take over from there).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/frame.h"

namespace leakscope::native {

// True for the interpreter functions that run Python frames: native frames
// above them are the Python frames' business.
bool is_eval_loop(const std::string& symbol);

struct MergedStack {
    Stack frames;             // native frames (innermost first), then the Python frames
    bool incomplete = false;  // the native frames stopped before the eval loop
};

// native: symbolized frames innermost first, an empty function where an
// address is in no module. Native frames are kept up to the first eval-loop
// frame; an address in no module ends them (a walk without frame pointers
// reads garbage past a function that has none).
MergedStack merge(const std::vector<Frame>& native, const Stack& python);

// BCC's per-process symbol cache (bcc_syms.h), with results kept per address.
class NativeSymbolizer {
public:
    explicit NativeSymbolizer(pid_t pid);
    ~NativeSymbolizer();
    NativeSymbolizer(const NativeSymbolizer&) = delete;
    NativeSymbolizer& operator=(const NativeSymbolizer&) = delete;

    // function = symbol (demangled), or "+0xOFFSET" in a module without one;
    // file = module path; function empty when no module maps the address.
    // surely_code: an unknown address is worth re-reading the target's mappings for.
    Frame symbolize(uint64_t address, bool surely_code = true);
    std::vector<Frame> symbolize(const std::vector<uint64_t>& addresses);

private:
    void* cache();

    pid_t pid_;
    void* cache_ = nullptr;
    bool tried_ = false;
    std::unordered_map<uint64_t, Frame> frames_;
    // Re-reading the target's mappings for an unknown address, at most this often.
    static constexpr std::chrono::milliseconds kRefreshEvery{100};
    std::chrono::steady_clock::time_point last_refresh_{};
};

}  // namespace leakscope::native
