// SPDX-License-Identifier: BSD-2-Clause
// Finding the CPython interpreter inside a running process: which file holds
// it (libpython or the executable), where that file is loaded, its version,
// and the address of _PyRuntime. Everything later (layout, probes,
// symbolization) starts from an Interpreter.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "elf/elf_file.h"
#include "proc/maps.h"
#include "python/layout.h"

namespace leakscope::python {

struct DiscoveryOptions {
    // Where separate debug files are looked up (see elf::find_debug_file);
    // empty: use only the symbols of the binary itself.
    std::string debug_root = "/usr/lib/debug";
    // dump and trace read free-threaded builds; the heap snapshot, which
    // walks pymalloc and the collector's lists, refuses them.
    bool free_threaded_ok = true;
};

struct Interpreter {
    pid_t pid = 0;
    std::string binary_path;      // as the target sees it: /usr/lib/.../libpython3.11.so.1.0
    std::string open_path;        // how this process opens it: /proc/PID/map_files/...
    bool binary_deleted = false;  // unlinked since it was mapped
    bool shared = false;          // libpython; false: the executable is the interpreter
    uint64_t load_bias = 0;       // runtime address - ELF vaddr
    PyVersion version;
    uint64_t runtime_addr = 0;    // &_PyRuntime in the target
    std::string debug_path;       // the separate debug file used, or empty
    bool free_threaded = false;   // no GIL: 't' ABI suffix or _Py_DebugOffsets.free_threaded
    std::shared_ptr<const elf::ElfFile> elf;  // the binary, with its debug file attached

    uint64_t address(uint64_t vaddr) const { return vaddr + load_bias; }
};

// Throws leakscope::Error: NoSuchProcess, NotPython, UnsupportedVersion,
// LayoutMismatch (the binary contradicts itself or its live memory),
// Permission or Io.
Interpreter discover(pid_t pid, const DiscoveryOptions& options = {});

// True when a file name carries the free-threaded ABI flag 't'
// (libpython3.14t.so.1.0, python3.13t, python3.14td).
bool free_threaded_name(const std::string& path);

// The one line free-threaded builds are refused with by the heap snapshot:
// what they are, how that was told (`how`), and what it cannot read in them yet.
std::string free_threaded_refusal(const std::string& who, const PyVersion& v, const std::string& how);

// load bias of elf given the mappings of that one file: for the first PT_LOAD
// whose page-aligned file offset is mapped, mapping start - page-aligned vaddr.
std::optional<uint64_t> load_bias(const elf::ElfFile& elf, std::span<const proc::Mapping> file_mappings);

// The PY_VERSION literal ("3.9.18") among the NUL-terminated strings of
// rodata. The linker may have merged it into the tail of a longer string
// (pyenv: "/root/.pyenv/versions/3.9.18"), so it is matched as a suffix.
// expected (major, minor), from a file name such as libpython3.9.so, picks
// among several candidates; without it, more than one means no answer.
std::optional<PyVersion> version_from_strings(std::span<const uint8_t> rodata,
                                              std::optional<std::pair<int, int>> expected);

}  // namespace leakscope::python
