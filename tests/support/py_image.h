// SPDX-License-Identifier: BSD-2-Clause
// A recorded Python memory image for tests and fuzz targets: a thread state
// whose frame chain runs through code objects with names, laid out as a
// PyLayout says. Header-only, so fuzz targets need no test library.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "proc/memory.h"
#include "python/layout.h"

namespace leakscope::testing {

class PyImage {
public:
    static constexpr uint64_t kCodeType = 0x7000;

    explicit PyImage(const python::PyLayout& layout) : L(layout), o(layout.bpf_offsets()) {}

    // A compact ASCII str object.
    uint64_t add_str(const std::string& text) {
        const uint64_t addr = next_addr();
        std::vector<uint8_t> obj(L.unicode_ascii_data + text.size() + 1, 0);
        put(obj, L.unicode_length, int64_t(text.size()));
        put(obj, L.unicode_state, uint32_t((1 << 2) | 0x20 | 0x40 | 0x80));  // kind 1, compact, ascii, ready
        std::memcpy(obj.data() + L.unicode_ascii_data, text.data(), text.size());
        regions[addr] = std::move(obj);
        return addr;
    }

    // A code object with an empty line table (its lines are firstlineno).
    uint64_t add_code(const std::string& file, const std::string& name, int32_t firstlineno) {
        const uint64_t filename = add_str(file), qualname = add_str(name), table = next_addr();
        regions[table] = std::vector<uint8_t>(L.bytes_data + 1, 0);
        const uint64_t addr = next_addr();
        std::vector<uint8_t> obj(size_t(std::max<int64_t>(L.code_size, 512)) + 64, 0);
        put(obj, L.object_type, kCodeType);
        put(obj, L.code_filename, filename);
        put(obj, L.code_name, qualname);
        if (L.code_qualname >= 0) put(obj, L.code_qualname, qualname);
        put(obj, L.code_linetable, table);
        put(obj, L.code_firstlineno, firstlineno);
        regions[addr] = std::move(obj);
        return addr;
    }

    // Frames running these code objects, innermost first; previous[i] is the
    // index of frame i's caller (-1: none), by default the next one.
    void set_frames(const std::vector<uint64_t>& codes, std::vector<int> previous = {}) {
        if (previous.empty())
            for (size_t i = 0; i < codes.size(); ++i) previous.push_back(i + 1 < codes.size() ? int(i + 1) : -1);
        for (size_t i = 0; i < codes.size(); ++i) {
            std::vector<uint8_t> f(kFrameSize, 0);
            put(f, o.frame_previous, previous[i] < 0 ? uint64_t(0) : frame_addr(size_t(previous[i])));
            put(f, o.frame_code, codes[i]);
            if (o.frame_kind == LS_FRAME_OBJECT) put(f, o.frame_lasti, int32_t(2));
            else put(f, o.frame_instr_ptr, codes[i] + o.code_adaptive + 4);
            regions[frame_addr(i)] = std::move(f);
        }
        std::vector<uint8_t> ts(kFrameSize, 0), cframe(kFrameSize, 0);
        const uint64_t first = codes.empty() ? 0 : frame_addr(0);
        if (o.cframe_current_frame >= 0) {
            put(ts, o.tstate_frame, kCFrame);
            put(cframe, uint32_t(o.cframe_current_frame), first);
            regions[kCFrame] = std::move(cframe);
        } else {
            put(ts, o.tstate_frame, first);
        }
        regions[kTstate] = std::move(ts);
    }

    uint64_t tstate() const { return kTstate; }
    static uint64_t frame_addr(size_t i) { return kFrames + i * kFrameSize; }

    proc::SnapshotMemory memory() const {
        proc::SnapshotMemory mem;
        for (const auto& [addr, bytes] : regions) mem.add(addr, bytes);
        return mem;
    }

    std::map<uint64_t, std::vector<uint8_t>> regions;
    const python::PyLayout& L;
    const ls_py_offsets o;

private:
    static constexpr uint64_t kTstate = 0x10000, kCFrame = 0x11000, kFrames = 0x100000, kObjects = 0x200000;
    static constexpr size_t kFrameSize = 0x200;

    uint64_t next_addr() { return kObjects + 0x1000 * objects_++; }

    template <typename T>
    static void put(std::vector<uint8_t>& buf, size_t off, T v) {
        std::memcpy(buf.data() + off, &v, sizeof v);
    }

    size_t objects_ = 0;
};

}  // namespace leakscope::testing
