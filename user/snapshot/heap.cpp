// SPDX-License-Identifier: BSD-2-Clause
#include "snapshot/heap.h"

#include <algorithm>

#include "python/symbolizer.h"
#include "snapshot/address_index.h"

namespace leakscope::snapshot {
namespace {

constexpr uint64_t kGcNextMask = ~3ull;  // 3.14 keeps a flag in the low bits
constexpr size_t kMaxFramesPerThread = 4096;
constexpr size_t kMaxNameChars = 256;
constexpr size_t kMaxEdges = UINT32_MAX - 1;  // edge_begin is 32-bit
// Every object takes 16 bytes or more (pymalloc's alignment) and every edge is
// a pointer in the target's memory; objects outside its anonymous memory
// (static types and strings in the binary) are a few thousand at most.
constexpr uint64_t kMinObjectBytes = 16;
constexpr uint64_t kStaticObjects = 1 << 16;
constexpr size_t kKeptEdgeRoom = 1 << 16;
// A list being edited as it is read may pass through a few freed objects; a
// run of this many is not a list (it may loop through freed memory for ever).
constexpr int kMaxStraysInARow = 64;

class Reader {
public:
    Reader(const HeapSource& s, Heap& h) : s_(s), h_(h), mem_(s.ctx.mem), L_(s.ctx.layout) {}

    void read() {
        reserve();
        add_virtual(kNoType);  // kAllRoots
        walk_gc_lists();
        h_.tracked = h_.nodes() - 1;
        std::vector<uint32_t> roots = class_and_module_roots();
        add_thread_frames(roots);
        add_edges(roots);
    }

private:
    // For the most nodes and edges the target's memory can hold, so that
    // growing never copies (and never holds two copies at once).
    void reserve() {
        if (!s_.memory_bytes) return;
        const size_t nodes = std::min(s_.max_objects, s_.memory_bytes / kMinObjectBytes + kStaticObjects);
        reserve_if_free(h_.addr, nodes);
        reserve_if_free(h_.type, nodes);
        reserve_if_free(h_.size, nodes);
        reserve_if_free(h_.edge_begin, nodes + 1);
        reserve_if_free(h_.edges, std::min<uint64_t>(kMaxEdges, s_.memory_bytes / sizeof(uint64_t)));
    }

    uint32_t add_virtual(int32_t type) {
        h_.addr.push_back(0);
        h_.type.push_back(type);
        h_.size.push_back(0);
        return static_cast<uint32_t>(h_.nodes() - 1);
    }

    // The node of the object at addr, added if new; kAbsent if it is not an object.
    uint32_t add(uint64_t addr) {
        if (uint32_t n = index_.find(addr); n != AddressIndex::kAbsent) return n;
        struct { int64_t refcnt; uint64_t type; } head;
        if (addr % 8 || !mem_.read(addr, &head, sizeof head)) {
            s_.ctx.problems.add(Problem::UnreadableObject);
            return AddressIndex::kAbsent;
        }
        const int32_t type = head.refcnt > 0 ? s_.types.resolve(head.type) : -1;
        if (type < 0) {
            s_.ctx.problems.add(Problem::NotAnObject);
            return AddressIndex::kAbsent;
        }
        if (h_.nodes() >= s_.max_objects) {
            s_.ctx.problems.add(Problem::ObjectLimit);
            return AddressIndex::kAbsent;
        }
        const uint32_t node = static_cast<uint32_t>(h_.nodes());
        index_.insert(addr, node);
        h_.addr.push_back(addr);
        h_.type.push_back(type);
        h_.size.push_back(shallow_size(s_.ctx, addr, s_.types.at(type)));
        return node;
    }

    // Every generation's list (3.14: young and old), and the permanent one.
    void walk_gc_lists() {
        if (L_.gc_collecting >= 0 && mem_.read_as<int32_t>(s_.gc_state + L_.gc_collecting).value_or(0))
            s_.ctx.problems.add(Problem::CollectionRunning);
        for (int g = 0; g < L_.gc_generation_count; ++g)
            walk_gc_list(s_.gc_state + L_.gc_generations + g * L_.gc_generation_stride);
        if (L_.gc_permanent >= 0) walk_gc_list(s_.gc_state + L_.gc_permanent);
    }

    void walk_gc_list(uint64_t head) {
        uint64_t gc = mem_.read_ptr(head).value_or(0) & kGcNextMask;
        for (int strays = 0; gc != head;) {
            if (h_.nodes() >= s_.max_objects) {
                s_.ctx.problems.add(Problem::ObjectLimit);
                return;
            }
            if (!gc || strays >= kMaxStraysInARow) {
                s_.ctx.problems.add(Problem::BrokenGcList);
                return;
            }
            const size_t before = h_.nodes();
            const uint32_t node = add(gc + uint64_t(L_.gc_header));
            if (node != AddressIndex::kAbsent && h_.nodes() == before) {
                s_.ctx.problems.add(Problem::BrokenGcList);  // seen already: a cycle
                return;
            }
            // Every step adds an object or is a stray: the walk ends.
            strays = node == AddressIndex::kAbsent ? strays + 1 : 0;
            auto next = mem_.read_ptr(gc);
            if (!next) {
                s_.ctx.problems.add(Problem::BrokenGcList);
                return;
            }
            gc = *next & kGcNextMask;
        }
    }

    // Modules (sys.modules and any other) and classes are roots.
    std::vector<uint32_t> class_and_module_roots() {
        std::vector<uint32_t> roots;
        for (uint32_t n = 1; n < h_.nodes(); ++n) {
            const TypeInfo& t = s_.types.at(h_.type[n]);
            if (t.kind == Kind::Module) roots.push_back(n);
        }
        for (uint32_t n = 1; n < h_.nodes(); ++n) {
            if (s_.types.at(h_.type[n]).kind != Kind::Type) continue;
            const int32_t self = s_.types.resolve(h_.addr[n]);
            if (self >= 0 && s_.types.at(self).heap) roots.push_back(n);
        }
        return roots;
    }

    uint64_t first_frame(uint64_t tstate) {
        uint64_t frame = mem_.read_ptr(tstate + L_.tstate_frame).value_or(0);
        if (frame && L_.cframe_current_frame >= 0)  // 3.11/3.12: through the _PyCFrame
            frame = mem_.read_ptr(frame + L_.cframe_current_frame).value_or(0);
        return frame;
    }

    std::string function_name(uint64_t code) {
        const int64_t off = L_.code_qualname >= 0 ? L_.code_qualname : L_.code_name;
        auto name = mem_.read_ptr(code + off);
        return name ? python::read_unicode(mem_, L_, *name, kMaxNameChars).value_or("?") : "?";
    }

    void add_thread_frames(std::vector<uint32_t>& roots) {
        for (size_t i = 0; i < s_.thread_states.size(); ++i) {
            uint64_t frame = first_frame(s_.thread_states[i]);
            for (size_t depth = 0; frame && depth < kMaxFramesPerThread; ++depth) {
                const bool shim = L_.frame_owner >= 0 &&
                                  mem_.read_as<uint8_t>(frame + L_.frame_owner).value_or(0xff) >= L_.owner_skip_from;
                const uint64_t code = shim ? 0 : frame_code(s_.ctx, frame);
                if (code) {
                    const uint32_t node = add_virtual(kNoType);
                    h_.frames.push_back({node, s_.tids[i], function_name(code), frame});
                    roots.push_back(node);
                }
                frame = mem_.read_ptr(frame + L_.frame_previous).value_or(0);
            }
        }
    }

    void add_edges(const std::vector<uint32_t>& roots) {
        std::vector<Edge> out;
        size_t next_frame = 0;
        for (uint32_t n = 0; n < h_.nodes(); ++n) {
            h_.edge_begin.push_back(h_.edges.size());
            if (n == kAllRoots) {
                h_.edges.insert(h_.edges.end(), roots.begin(), roots.end());
                continue;
            }
            out.clear();
            if (next_frame < h_.frames.size() && h_.frames[next_frame].node == n)
                frame_locals(s_.ctx, h_.frames[next_frame++].frame, out);
            else
                object_referents(s_.ctx, h_.addr[n], s_.types.at(h_.type[n]), out);
            for (const Edge& e : out) {
                if (h_.edges.size() >= kMaxEdges) {
                    s_.ctx.problems.add(Problem::TruncatedContainer);
                    break;
                }
                if (uint32_t to = add(e.target); to != AddressIndex::kAbsent) h_.edges.push_back(to);
            }
            // A list of millions leaves millions of labelled edges' room behind.
            if (out.capacity() > kKeptEdgeRoom) std::vector<Edge>().swap(out);
        }
        h_.edge_begin.push_back(h_.edges.size());
    }

    const HeapSource& s_;
    Heap& h_;
    const proc::MemoryReader& mem_;
    const python::PyLayout& L_;
    AddressIndex index_;
};

}  // namespace

Heap read_heap(const HeapSource& source) {
    Heap heap;
    Reader(source, heap).read();
    return heap;
}

std::vector<Edge> node_edges(const HeapSource& source, const Heap& heap, uint32_t node) {
    std::vector<Edge> out;
    for (const ThreadFrame& f : heap.frames)
        if (f.node == node) {
            frame_locals(source.ctx, f.frame, out);
            return out;
        }
    if (node != kAllRoots && heap.type[node] != kNoType)
        object_referents(source.ctx, heap.addr[node], source.types.at(heap.type[node]), out);
    return out;
}

}  // namespace leakscope::snapshot
