// SPDX-License-Identifier: BSD-2-Clause
#include "python/symbolizer.h"

#include <fmt/format.h>

#include "python/linetable.h"

namespace leakscope::python {
namespace {

// Bounds on what is read from a target; anything larger is treated as corrupt.
constexpr size_t kMaxLineTable = 1 << 20;

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    }
}

}  // namespace

std::string escape_control(const std::string& utf8) {
    std::string out;
    out.reserve(utf8.size());
    for (size_t i = 0; i < utf8.size(); ++i) {
        auto c = static_cast<unsigned char>(utf8[i]);
        if (c < 0x20 || c == 0x7f) {
            out += fmt::format("\\x{:02x}", c);
        } else if (c == 0xc2 && i + 1 < utf8.size() &&
                   static_cast<unsigned char>(utf8[i + 1]) >= 0x80 &&
                   static_cast<unsigned char>(utf8[i + 1]) < 0xa0) {
            out += fmt::format("\\u{:04x}", static_cast<unsigned char>(utf8[i + 1]));
            ++i;  // C1 control, encoded as U+0080..U+009F
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::optional<std::string> read_unicode(const proc::MemoryReader& mem, const PyLayout& layout,
                                        uint64_t addr, size_t max_chars) {
    auto length = mem.read_as<int64_t>(addr + layout.unicode_length);
    auto state = mem.read_as<uint32_t>(addr + layout.unicode_state);
    if (!length || !state || *length < 0) return std::nullopt;
    const unsigned kind = (*state >> 2) & 7;
    const bool compact = *state & 0x20, ascii = *state & 0x40;
    if (kind != 1 && kind != 2 && kind != 4) return std::nullopt;

    uint64_t data;
    if (!compact) {  // legacy string: data pointer after the compact header
        auto p = mem.read_ptr(addr + layout.unicode_compact_data);
        if (!p) return std::nullopt;
        data = *p;
    } else {
        data = addr + (ascii ? layout.unicode_ascii_data : layout.unicode_compact_data);
    }
    const size_t n = std::min<size_t>(static_cast<size_t>(*length), max_chars);
    auto raw = mem.read_bytes(data, n * kind);
    if (!raw) return std::nullopt;

    std::string out;
    for (size_t i = 0; i < n; ++i) {
        uint32_t cp = 0;
        for (unsigned b = 0; b < kind; ++b) cp |= uint32_t((*raw)[i * kind + b]) << (8 * b);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) cp = 0xfffd;
        append_utf8(out, cp);
    }
    if (static_cast<size_t>(*length) > n) out += "...";
    return escape_control(out);
}

Symbolizer::Symbolizer(const proc::MemoryReader& mem, const PyLayout& layout, uint64_t code_type)
    : mem_(mem), layout_(layout), code_type_(code_type) {}

std::optional<Symbolizer::CodeFields> Symbolizer::read_fields(uint64_t code) const {
    CodeFields f;
    auto type = mem_.read_ptr(code + layout_.object_type);
    if (!type || (code_type_ && *type != code_type_)) return std::nullopt;
    auto filename = mem_.read_ptr(code + layout_.code_filename);
    auto name = mem_.read_ptr(code + (layout_.code_qualname >= 0 ? layout_.code_qualname : layout_.code_name));
    auto linetable = mem_.read_ptr(code + layout_.code_linetable);
    auto first = mem_.read_as<int32_t>(code + layout_.code_firstlineno);
    if (!filename || !name || !linetable || !first) return std::nullopt;
    f.filename = *filename;
    f.name = *name;
    f.linetable = *linetable;
    f.firstlineno = *first;
    return f;
}

// Code objects are freed and their addresses reused (temporary code from
// exec(), imports): a cached entry is used only while the code object at that
// address still has the same name, file and line table.
const Symbolizer::CodeInfo* Symbolizer::code_info(uint64_t code) {
    auto fields = read_fields(code);
    if (!fields) {
        ++failed_reads_;
        return nullptr;
    }
    auto it = cache_.find(code);
    if (it != cache_.end() && it->second.fields == *fields) return &it->second;

    CodeInfo info;
    info.fields = *fields;
    auto file = read_unicode(mem_, layout_, fields->filename);
    auto function = read_unicode(mem_, layout_, fields->name);
    auto table_len = mem_.read_as<int64_t>(fields->linetable + layout_.bytes_size);
    if (!file || !function || !table_len || *table_len < 0 ||
        static_cast<size_t>(*table_len) > kMaxLineTable) {
        ++failed_reads_;
        return nullptr;
    }
    auto table = mem_.read_bytes(fields->linetable + layout_.bytes_data, static_cast<size_t>(*table_len));
    if (!table) {
        ++failed_reads_;
        return nullptr;
    }
    if (layout_.code_firsttraceable >= 0) {
        auto ft = mem_.read_as<int32_t>(code + layout_.code_firsttraceable);
        info.firsttraceable = ft.value_or(0);
    }
    info.file = std::move(*file);
    info.function = std::move(*function);
    info.linetable = std::move(*table);
    return &(cache_[code] = std::move(info));
}

std::optional<Frame> Symbolizer::symbolize(const ls_frame& frame) {
    const CodeInfo* info = code_info(frame.code);
    if (!info) return std::nullopt;
    // 3.11+: a frame still in its prologue is not shown by CPython itself.
    if (layout_.frame_kind == LS_FRAME_INTERP && frame.owner != layout_.owner_generator &&
        (frame.offset < 0 || frame.offset < info->firsttraceable * 2))
        return std::nullopt;
    int line = line_for_offset(layout_.linetable_format, info->linetable.data(), info->linetable.size(),
                               info->fields.firstlineno, frame.offset);
    return Frame{info->file, line, info->function};
}

Stack Symbolizer::symbolize(const ls_frame* frames, size_t depth) {
    Stack out;
    out.reserve(depth);
    for (size_t i = 0; i < depth; ++i)
        if (auto f = symbolize(frames[i])) out.push_back(std::move(*f));
    return out;
}

}  // namespace leakscope::python
