// SPDX-License-Identifier: BSD-2-Clause
// Source line of a bytecode offset, from a code object's line table as copied
// out of the target. The table is untrusted: decoding stays inside [table,
// table+len) and finishes in time linear in len whatever the bytes are.
#pragma once

#include <cstddef>
#include <cstdint>

#include "python/layout.h"

namespace leakscope::python {

// Line of the instruction starting at byte_offset (bytes into the bytecode in
// every format: 3.10 f_lasti*2; 3.11+ instruction pointer - co_code_adaptive).
// Returns firstlineno if byte_offset < 0 (frame not started yet), and -1 if the
// instruction has no line or byte_offset lies past the end of the table (3.10+;
// a 3.8/3.9 co_lnotab has no end, so its last line runs on). A line that
// decodes to a negative number is also reported as -1.
int line_for_offset(LineTableFormat fmt, const uint8_t* table, size_t len, int firstlineno,
                    int byte_offset);

}  // namespace leakscope::python
