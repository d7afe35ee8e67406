// SPDX-License-Identifier: BSD-2-Clause
// Reading another process's memory. Everything read from a target is treated
// as hostile: callers bound lengths and check pointers before following them.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace leakscope::proc {

class MemoryReader {
public:
    virtual ~MemoryReader() = default;
    // Copies n bytes at addr into dst; false if any byte is unreadable.
    virtual bool read(uint64_t addr, void* dst, size_t n) const = 0;

    template <typename T>
    std::optional<T> read_as(uint64_t addr) const {
        T v;
        if (!read(addr, &v, sizeof v)) return std::nullopt;
        return v;
    }
    std::optional<uint64_t> read_ptr(uint64_t addr) const { return read_as<uint64_t>(addr); }
    // A NUL-terminated string of at most max bytes (not counting the NUL).
    std::optional<std::string> read_cstring(uint64_t addr, size_t max = 256) const;
    std::optional<std::vector<uint8_t>> read_bytes(uint64_t addr, size_t n) const;
};

// A live process, read with process_vm_readv (no stop, no ptrace attach).
class ProcessMemory : public MemoryReader {
public:
    explicit ProcessMemory(pid_t pid) : pid_(pid) {}
    bool read(uint64_t addr, void* dst, size_t n) const override;
    pid_t pid() const { return pid_; }

private:
    pid_t pid_;
};

// Recorded memory regions, for tests that replay a captured process image.
class SnapshotMemory : public MemoryReader {
public:
    void add(uint64_t addr, std::vector<uint8_t> bytes) { regions_[addr] = std::move(bytes); }
    bool read(uint64_t addr, void* dst, size_t n) const override;

private:
    std::map<uint64_t, std::vector<uint8_t>> regions_;
};

}  // namespace leakscope::proc
