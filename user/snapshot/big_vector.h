// SPDX-License-Identifier: BSD-2-Clause
// Vectors with an element per object of the target's heap. Tens of millions
// of objects make them hundreds of megabytes, and on a virtual machine each
// 4 KiB page fault is dear (a third of a snapshot's time went to faulting
// them in): their storage asks for transparent huge pages. Capacity reserved
// and never touched costs address space only (MAP_NORESERVE), so a vector
// can be reserved for the most the heap could need, and never be copied to grow.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <fstream>
#include <memory>
#include <new>
#include <vector>

namespace leakscope::snapshot {

template <class T>
struct HugePageAllocator {
    using value_type = T;
    static constexpr size_t kHugePage = size_t{2} << 20;

    HugePageAllocator() = default;
    template <class U>
    HugePageAllocator(const HugePageAllocator<U>&) {}

    T* allocate(size_t n) {
        if (n * sizeof(T) < kHugePage) return std::allocator<T>().allocate(n);
        void* p = mmap(nullptr, n * sizeof(T), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) throw std::bad_alloc();
        madvise(p, n * sizeof(T), MADV_HUGEPAGE);  // a hint: without THP, plain pages
        return static_cast<T*>(p);
    }
    void deallocate(T* p, size_t n) {
        if (n * sizeof(T) < kHugePage)
            std::allocator<T>().deallocate(p, n);
        else
            munmap(p, n * sizeof(T));
    }
    template <class U>
    bool operator==(const HugePageAllocator<U>&) const { return true; }
};

template <class T>
using BigVector = std::vector<T, HugePageAllocator<T>>;

// Whether untouched memory is free: not under strict overcommit
// (vm.overcommit_memory 2), where it is charged and other processes, the
// target among them, could be refused memory for it.
inline bool untouched_memory_is_free() {
    static const bool free = [] {
        std::ifstream f("/proc/sys/vm/overcommit_memory");
        int mode = 0;
        return !(f >> mode) || mode != 2;
    }();
    return free;
}

// Reserves n where that costs address space only; the vector grows the usual
// way otherwise.
template <class T>
void reserve_if_free(BigVector<T>& v, size_t n) {
    if (!untouched_memory_is_free()) return;
    try {
        v.reserve(n);
    } catch (const std::bad_alloc&) {
    }
}

}  // namespace leakscope::snapshot
