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
#include "proc/memory.h"
#include "python/layout.h"

namespace leakscope::python {

// Reads a str object (any kind) as UTF-8, with control characters escaped.
std::optional<std::string> read_unicode(const proc::MemoryReader& mem, const PyLayout& layout,
                                        uint64_t addr, size_t max_chars = 4096);

// Escapes control characters (C0, DEL, C1) so target-supplied text is safe to print.
std::string escape_control(const std::string& utf8);

class Symbolizer {
public:
    // code_type: address of PyCode_Type in the target (frames whose code
    // object has another type, e.g. 3.13 shim frames, are skipped).
    Symbolizer(const proc::MemoryReader& mem, const PyLayout& layout, uint64_t code_type);

    // The frame, or nullopt when it is not a user-visible Python frame
    // (shim, incomplete frame, unreadable code object).
    std::optional<Frame> symbolize(const ls_frame& frame);

    // Innermost first; frames that are not user-visible are dropped.
    Stack symbolize(const ls_frame* frames, size_t depth);

    size_t failed_reads() const { return failed_reads_; }

private:
    struct CodeFields {
        uint64_t filename = 0, name = 0, linetable = 0;
        int32_t firstlineno = 0;
        bool operator==(const CodeFields&) const = default;
    };
    struct CodeInfo {
        CodeFields fields;
        std::string file, function;
        std::vector<uint8_t> linetable;
        int firsttraceable = 0;
    };

    std::optional<CodeFields> read_fields(uint64_t code) const;
    const CodeInfo* code_info(uint64_t code);

    const proc::MemoryReader& mem_;
    const PyLayout& layout_;
    uint64_t code_type_;
    size_t failed_reads_ = 0;
    std::unordered_map<uint64_t, CodeInfo> cache_;
};

}  // namespace leakscope::python
