// SPDX-License-Identifier: BSD-2-Clause
// Turns captured frames (code object address + bytecode offset) into file,
// function and line, reading code objects out of the target.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/frame.h"
#include "core/text.h"
#include "proc/memory.h"
#include "python/layout.h"

namespace leakscope::python {

// Longest str read from a target; a longer one is cut (and *truncated set).
constexpr size_t kMaxStrChars = 4096;
// A str claiming more characters than this is corrupt, not long.
constexpr int64_t kMaxPlausibleStrChars = 1 << 24;

// Reads a str object (any kind) as UTF-8, with control characters escaped.
// nullopt when it is unreadable or not a well-formed str.
std::optional<std::string> read_unicode(const proc::MemoryReader& mem, const PyLayout& layout,
                                        uint64_t addr, size_t max_chars = kMaxStrChars,
                                        bool* truncated = nullptr);

// What could not be read from the target while symbolizing, per distinct code
// object: such frames are still shown, with placeholders for what is missing.
struct SymbolizeDrops {
    uint64_t unreadable_code = 0;        // the code object itself
    uint64_t unreadable_strings = 0;     // its file or function name
    uint64_t unreadable_linetables = 0;  // its line table (line shown as 0)
    uint64_t truncated_strings = 0;      // names cut at kMaxStrChars
    uint64_t total() const { return unreadable_code + unreadable_strings + unreadable_linetables + truncated_strings; }

    struct Counter {
        const char* name;
        uint64_t count;
        const char* remedy;
    };
    // Each counter with its name and what it means, as reports list drops.
    std::vector<Counter> counters() const;
};

class Symbolizer {
public:
    // code_type: address of PyCode_Type in the target (frames whose code
    // object has another type, e.g. 3.13 shim frames, are skipped).
    Symbolizer(const proc::MemoryReader& mem, const PyLayout& layout, uint64_t code_type);

    // The frame, or nullopt when it is not a user-visible Python frame (a
    // shim, a frame still in its prologue). What cannot be read becomes a
    // placeholder such as "<unreadable code object at 0x...>", counted in drops().
    std::optional<Frame> symbolize(const ls_frame& frame);

    // Innermost first; frames that are not user-visible are dropped.
    Stack symbolize(const ls_frame* frames, size_t depth);

    const SymbolizeDrops& drops() const { return drops_; }

    // The target has exited (or exec'd another program): its code objects
    // are named as last read from now on.
    void target_gone() { target_gone_ = true; }

private:
    struct CodeFields {
        uint64_t filename = 0, name = 0, linetable = 0;
        int32_t firstlineno = 0;
        bool operator==(const CodeFields&) const = default;
    };
    enum class Fields { Read, Unreadable, NotCode };
    struct CodeInfo {
        Fields read = Fields::Unreadable;  // Unreadable: the code object itself
        CodeFields fields;
        std::string file, function;
        std::vector<uint8_t> linetable;
        bool has_linetable = false;
        int firsttraceable = 0;
    };
    using Cache = std::unordered_map<uint64_t, CodeInfo>;

    Fields read_fields(uint64_t code, CodeFields& out) const;
    const CodeInfo* code_info(uint64_t code);
    Cache::iterator remember(uint64_t code, Fields read, const CodeFields& fields);
    CodeInfo read_info(uint64_t code, const CodeFields& fields);
    std::string read_name(uint64_t addr);

    const proc::MemoryReader& mem_;
    const PyLayout& layout_;
    uint64_t code_type_;
    SymbolizeDrops drops_;
    Cache cache_;
    bool target_gone_ = false;
};

}  // namespace leakscope::python
