// SPDX-License-Identifier: BSD-2-Clause
#include "python/symbolizer.h"

#include "python/linetable.h"

namespace leakscope::python {
namespace {

// Bounds on what is read from a target; anything larger is treated as corrupt.
constexpr size_t kMaxLineTable = 1 << 20;
// Distinct code objects remembered; the cache starts over when a target has more.
constexpr size_t kMaxCachedCode = 1 << 16;

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

std::optional<std::string> read_unicode(const proc::MemoryReader& mem, const PyLayout& layout,
                                        uint64_t addr, size_t max_chars, bool* truncated) {
    auto length = mem.read_as<int64_t>(addr + layout.unicode_length);
    auto state = mem.read_as<uint32_t>(addr + layout.unicode_state);
    if (!length || !state || *length < 0 || *length > kMaxPlausibleStrChars) return std::nullopt;
    const auto [kind, compact, ascii] = str_state(layout, *state);
    if ((kind != 1 && kind != 2 && kind != 4) || (ascii && kind != 1)) return std::nullopt;

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
    const bool cut = static_cast<size_t>(*length) > n;
    if (cut) out += "...";
    if (truncated) *truncated = cut;
    return escape_control(out);
}

std::vector<SymbolizeDrops::Counter> SymbolizeDrops::counters() const {
    return {
        {"UNREADABLE_CODE_OBJECT", unreadable_code,
         "code objects that could not be read (freed before symbolization, or corrupt): frames shown as "
         "<unreadable code object at ...>"},
        {"UNREADABLE_STRING", unreadable_strings,
         "file or function names that could not be read or claim an impossible length: shown as "
         "<unreadable str at ...>"},
        {"UNREADABLE_LINE_TABLE", unreadable_linetables,
         "line tables that could not be read or claim an impossible length: line shown as 0"},
        {"TRUNCATED_STRING", truncated_strings, "names longer than 4096 characters, cut with \"...\""},
    };
}

Symbolizer::Symbolizer(const proc::MemoryReader& mem, const PyLayout& layout, uint64_t code_type)
    : mem_(mem), layout_(layout), code_type_(code_type) {}

Symbolizer::Fields Symbolizer::read_fields(uint64_t code, CodeFields& f) const {
    auto type = mem_.read_ptr(code + layout_.object_type);
    if (!type) return Fields::Unreadable;
    if (code_type_ && *type != code_type_) return Fields::NotCode;
    auto filename = mem_.read_ptr(code + layout_.code_filename);
    auto name = mem_.read_ptr(code + (layout_.code_qualname >= 0 ? layout_.code_qualname : layout_.code_name));
    auto linetable = mem_.read_ptr(code + layout_.code_linetable);
    auto first = mem_.read_as<int32_t>(code + layout_.code_firstlineno);
    if (!filename || !name || !linetable || !first) return Fields::Unreadable;
    f.filename = *filename;
    f.name = *name;
    f.linetable = *linetable;
    f.firstlineno = *first;
    return Fields::Read;
}

// A file or function name, or a placeholder (counted) when it cannot be read.
std::string Symbolizer::read_name(uint64_t addr) {
    bool truncated = false;
    auto text = read_unicode(mem_, layout_, addr, kMaxStrChars, &truncated);
    if (!text) {
        ++drops_.unreadable_strings;
        return "<unreadable str at " + hex(addr) + ">";
    }
    if (truncated) ++drops_.truncated_strings;
    return std::move(*text);
}

Symbolizer::CodeInfo Symbolizer::read_info(uint64_t code, const CodeFields& fields) {
    CodeInfo info;
    info.file = read_name(fields.filename);
    info.function = read_name(fields.name);
    auto table_len = mem_.read_as<int64_t>(fields.linetable + layout_.bytes_size);
    std::optional<std::vector<uint8_t>> table;
    if (table_len && *table_len >= 0 && static_cast<size_t>(*table_len) <= kMaxLineTable)
        table = mem_.read_bytes(fields.linetable + layout_.bytes_data, static_cast<size_t>(*table_len));
    if (table) {
        info.linetable = std::move(*table);
        info.has_linetable = true;
    } else {
        ++drops_.unreadable_linetables;
    }
    if (layout_.code_firsttraceable >= 0)
        info.firsttraceable = mem_.read_as<int32_t>(code + layout_.code_firsttraceable).value_or(0);
    return info;
}

// Code objects are freed and their addresses reused (temporary code from
// exec(), imports): a cached entry is used only while the code object at that
// address still has the same name, file and line table. Unreadable code
// objects are cached too, so that each is counted once. Once the target is
// gone, entries are used as last read: a stack captured before the exit
// names code as it was when last seen, no worse than re-reading an address
// after the capture, as a live target is read.
const Symbolizer::CodeInfo* Symbolizer::code_info(uint64_t code) {
    auto it = cache_.find(code);
    if (!target_gone_ || it == cache_.end()) {
        CodeFields fields;
        const Fields read = read_fields(code, fields);
        if (it == cache_.end() || it->second.read != read || it->second.fields != fields)
            it = remember(code, read, fields);
    }
    return it->second.read == Fields::NotCode ? nullptr : &it->second;
}

Symbolizer::Cache::iterator Symbolizer::remember(uint64_t code, Fields read, const CodeFields& fields) {
    if (cache_.size() >= kMaxCachedCode) cache_.clear();  // bounded, whatever the target does
    CodeInfo info;
    if (read == Fields::Read) {
        info = read_info(code, fields);
    } else if (read == Fields::Unreadable) {
        ++drops_.unreadable_code;
        info.file = "<unknown>";
        info.function = "<unreadable code object at " + hex(code) + ">";
    }
    info.read = read;
    info.fields = fields;
    return cache_.insert_or_assign(code, std::move(info)).first;
}

std::optional<Frame> Symbolizer::symbolize(const ls_frame& frame) {
    const CodeInfo* info = code_info(frame.code);
    if (!info) return std::nullopt;
    if (info->read != Fields::Read) return Frame{info->file, 0, info->function};
    // 3.11+: a frame still in its prologue is not shown by CPython itself.
    if (layout_.frame_kind == LS_FRAME_INTERP && frame.owner != layout_.owner_generator &&
        (frame.offset < 0 || frame.offset < info->firsttraceable * 2))
        return std::nullopt;
    int line = info->has_linetable
                   ? line_for_offset(layout_.linetable_format, info->linetable.data(), info->linetable.size(),
                                     info->fields.firstlineno, frame.offset)
                   : 0;
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
