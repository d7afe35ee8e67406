// SPDX-License-Identifier: BSD-2-Clause
#include "proc/memory.h"

#include <sys/uio.h>

#include <cstring>

namespace leakscope::proc {

std::optional<std::string> MemoryReader::read_cstring(uint64_t addr, size_t max) const {
    std::string out;
    char chunk[64];
    while (out.size() < max) {
        size_t want = std::min(sizeof chunk, max - out.size());
        // A string may end just before an unmapped page: fall back to byte reads.
        if (!read(addr + out.size(), chunk, want)) {
            if (!read(addr + out.size(), chunk, 1)) return std::nullopt;
            want = 1;
        }
        const void* nul = std::memchr(chunk, 0, want);
        if (nul) {
            out.append(chunk, static_cast<const char*>(nul) - chunk);
            return out;
        }
        out.append(chunk, want);
    }
    return out;
}

std::optional<std::vector<uint8_t>> MemoryReader::read_bytes(uint64_t addr, size_t n) const {
    std::vector<uint8_t> out(n);
    if (n && !read(addr, out.data(), n)) return std::nullopt;
    return out;
}

bool ProcessMemory::read(uint64_t addr, void* dst, size_t n) const {
    if (n == 0) return true;
    iovec local{dst, n};
    iovec remote{reinterpret_cast<void*>(addr), n};
    return process_vm_readv(pid_, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(n);
}

bool SnapshotMemory::read(uint64_t addr, void* dst, size_t n) const {
    auto it = regions_.upper_bound(addr);
    if (it == regions_.begin()) return false;
    --it;
    uint64_t start = it->first;
    const auto& bytes = it->second;
    if (addr - start > bytes.size() || n > bytes.size() - (addr - start)) return false;
    std::memcpy(dst, bytes.data() + (addr - start), n);
    return true;
}

}  // namespace leakscope::proc
