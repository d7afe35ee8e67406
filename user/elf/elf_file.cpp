// SPDX-License-Identifier: BSD-2-Clause
#include "elf/elf_file.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>

#include "core/error.h"

namespace leakscope::elf {
namespace {

constexpr uint32_t kNoteGnuBuildId = 3;  // NT_GNU_BUILD_ID
constexpr uint32_t kNoteStapsdt = 3;     // NT_STAPSDT

[[noreturn]] void fail(const std::string& path, const std::string& why) {
    throw Error(Errc::Io, "cannot read ELF file " + path + ": " + why);
}

std::string libelf_error() { return elf_errmsg(-1) ? elf_errmsg(-1) : "libelf error"; }

void init_libelf() {
    static const bool ok = elf_version(EV_CURRENT) != EV_NONE;
    if (!ok) throw Error(Errc::Internal, "libelf: " + libelf_error());
}

std::string hex(std::span<const uint8_t> bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (uint8_t b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

// The NUL-terminated string at pos (advanced past the NUL), or nothing when
// the data ends first.
std::optional<std::string> take_cstring(std::span<const uint8_t> data, size_t& pos) {
    const void* nul = pos < data.size() ? std::memchr(data.data() + pos, 0, data.size() - pos) : nullptr;
    if (!nul) return std::nullopt;
    size_t end = static_cast<const uint8_t*>(nul) - data.data();
    std::string s(reinterpret_cast<const char*>(data.data() + pos), end - pos);
    pos = end + 1;
    return s;
}

std::optional<uint32_t> file_crc32(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    uLong crc = crc32(0, nullptr, 0);
    std::vector<char> buf(1 << 16);
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        crc = crc32(crc, reinterpret_cast<const Bytef*>(buf.data()), static_cast<uInt>(in.gcount()));
    }
    if (in.bad()) return std::nullopt;
    return static_cast<uint32_t>(crc);
}

}  // namespace

bool Section::is_nobits() const { return type == SHT_NOBITS; }

void ElfFile::ElfEnd::operator()(::Elf* e) const { elf_end(e); }

ElfFile::ElfFile(const std::string& path) : path_(path) {
    init_libelf();
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(path, std::strerror(errno));
    elf_.reset(elf_begin(fd, ELF_C_READ_MMAP, nullptr));
    // FDREAD makes sure the whole file is in memory (it is mapped) and tells
    // libelf the descriptor is no longer its to use, so it can be closed here.
    bool mapped = elf_ && elf_cntl(elf_.get(), ELF_C_FDREAD) == 0;
    ::close(fd);
    if (!mapped) fail(path, libelf_error());

    if (elf_kind(elf_.get()) != ELF_K_ELF) fail(path, "not an ELF file");
    if (gelf_getclass(elf_.get()) != ELFCLASS64) fail(path, "not a 64-bit ELF file");
    GElf_Ehdr ehdr;
    if (!gelf_getehdr(elf_.get(), &ehdr)) fail(path, libelf_error());
    type_ = ehdr.e_type;
    size_t image_size = 0;
    const char* image = elf_rawfile(elf_.get(), &image_size);
    if (!image) fail(path, libelf_error());
    image_ = {reinterpret_cast<const uint8_t*>(image), image_size};

    load_program_headers();
    load_sections();
    symtab_ = load_symbols(SHT_SYMTAB);
    dynsym_ = load_symbols(SHT_DYNSYM);
}

bool ElfFile::is_position_dependent() const { return type_ == ET_EXEC; }

void ElfFile::load_program_headers() {
    size_t count = 0;
    if (elf_getphdrnum(elf_.get(), &count) != 0) fail(path_, libelf_error());
    for (size_t i = 0; i < count; ++i) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf_.get(), static_cast<int>(i), &ph)) fail(path_, libelf_error());
        Segment seg{ph.p_vaddr, ph.p_offset, ph.p_filesz, ph.p_memsz, ph.p_align, ph.p_flags};
        if (ph.p_type == PT_LOAD) loads_.push_back(seg);
    }
}

void ElfFile::load_sections() {
    size_t shstrndx = 0;
    if (elf_getshdrstrndx(elf_.get(), &shstrndx) != 0) fail(path_, libelf_error());
    for (Elf_Scn* scn = elf_nextscn(elf_.get(), nullptr); scn; scn = elf_nextscn(elf_.get(), scn)) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh)) fail(path_, libelf_error());
        const char* name = elf_strptr(elf_.get(), shstrndx, sh.sh_name);
        sections_.push_back(
            {name ? name : "", sh.sh_addr, sh.sh_offset, sh.sh_size, sh.sh_type, elf_ndxscn(scn)});
    }
}

ElfFile::SymbolTable ElfFile::load_symbols(uint32_t section_type) const {
    SymbolTable table;
    for (Elf_Scn* scn = elf_nextscn(elf_.get(), nullptr); scn; scn = elf_nextscn(elf_.get(), scn)) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != section_type || sh.sh_entsize == 0) continue;
        Elf_Data* data = elf_getdata(scn, nullptr);
        if (!data) continue;
        size_t count = sh.sh_size / sh.sh_entsize;
        for (size_t i = 1; i < count; ++i) {
            GElf_Sym sym;
            if (!gelf_getsym(data, static_cast<int>(i), &sym)) break;
            unsigned kind = GELF_ST_TYPE(sym.st_info);
            if (sym.st_shndx == SHN_UNDEF || kind == STT_SECTION || kind == STT_FILE) continue;
            const char* name = elf_strptr(elf_.get(), sh.sh_link, sym.st_name);
            if (!name || !*name) continue;
            table.symbols.push_back({name, sym.st_value, sym.st_size,
                                     kind == STT_FUNC || kind == STT_GNU_IFUNC, kind == STT_TLS});
        }
    }
    // Names are indexed only now: growing the vector may move short strings.
    for (size_t i = 0; i < table.symbols.size(); ++i)
        table.first_by_name.try_emplace(table.symbols[i].name, i);
    return table;
}

std::vector<const ElfFile::SymbolTable*> ElfFile::symbol_tables() const {
    std::vector<const SymbolTable*> tables{&symtab_, &dynsym_};
    if (debug_) tables.push_back(&debug_->symtab_);
    return tables;
}

std::optional<Symbol> ElfFile::symbol(std::string_view name) const {
    for (const SymbolTable* t : symbol_tables()) {
        auto it = t->first_by_name.find(name);
        if (it != t->first_by_name.end()) return t->symbols[it->second];
    }
    return std::nullopt;
}

std::optional<Symbol> ElfFile::find_symbol(const std::function<bool(const Symbol&)>& match) const {
    for (const SymbolTable* t : symbol_tables())
        for (const Symbol& s : t->symbols)
            if (match(s)) return s;
    return std::nullopt;
}

std::vector<Symbol> ElfFile::symbols_with_prefix(std::string_view prefix) const {
    std::vector<Symbol> out;
    for (const SymbolTable* t : symbol_tables())
        for (const Symbol& s : t->symbols)
            if (s.name.starts_with(prefix)) out.push_back(s);
    return out;
}

std::optional<Symbol> ElfFile::function_or_clone(std::string_view name) const {
    if (auto exact = symbol(name); exact && exact->is_function) return exact;
    return find_symbol([name](const Symbol& s) {
        return s.is_function && s.name.size() > name.size() && s.name.starts_with(name) &&
               s.name[name.size()] == '.' && !s.name.ends_with(".cold") &&
               s.name.find(".cold.") == std::string::npos;
    });
}

std::optional<Section> ElfFile::section(std::string_view name) const {
    for (const Section& s : sections_)
        if (s.name == name) return s;
    return std::nullopt;
}

std::span<const uint8_t> ElfFile::bytes(uint64_t offset, uint64_t size) const {
    if (offset > image_.size() || size > image_.size() - offset) return {};
    return image_.subspan(offset, size);
}

std::span<const uint8_t> ElfFile::section_data(const Section& s) const {
    if (s.is_nobits()) return {};
    return bytes(s.offset, s.size);
}

void ElfFile::for_each_note(const Section& s, const Note& visit) const {
    if (s.type != SHT_NOTE) return;
    Elf_Data* data = elf_getdata(elf_getscn(elf_.get(), s.index), nullptr);
    if (!data || !data->d_buf) return;
    const auto* base = static_cast<const uint8_t*>(data->d_buf);
    GElf_Nhdr nh;
    size_t pos = 0, name_off = 0, desc_off = 0;
    while ((pos = gelf_getnote(data, pos, &nh, &name_off, &desc_off)) != 0) {
        // The owner's n_namesz counts its NUL.
        std::string_view owner(reinterpret_cast<const char*>(base + name_off), nh.n_namesz ? nh.n_namesz - 1 : 0);
        visit(nh.n_type, owner, {base + desc_off, nh.n_descsz});
    }
}

std::optional<std::string> ElfFile::build_id() const {
    std::optional<std::string> id;
    for (const Section& s : sections_)
        for_each_note(s, [&](uint32_t type, std::string_view owner, std::span<const uint8_t> desc) {
            if (!id && type == kNoteGnuBuildId && owner == "GNU") id = hex(desc);
        });
    return id;
}

std::optional<DebugLink> ElfFile::gnu_debuglink() const {
    auto s = section(".gnu_debuglink");
    if (!s) return std::nullopt;
    auto data = section_data(*s);
    size_t pos = 0;
    auto file = take_cstring(data, pos);
    if (!file || file->empty()) return std::nullopt;
    pos = (pos + 3) & ~size_t{3};  // the CRC is 4-byte aligned
    if (pos + 4 > data.size()) return std::nullopt;
    uint32_t crc;
    std::memcpy(&crc, data.data() + pos, 4);
    return DebugLink{*file, crc};
}

std::optional<uint64_t> ElfFile::file_offset(uint64_t vaddr) const {
    for (const Segment& seg : loads_)
        if (vaddr >= seg.vaddr && vaddr - seg.vaddr < seg.filesz) return seg.offset + (vaddr - seg.vaddr);
    return std::nullopt;
}

std::optional<std::vector<uint8_t>> ElfFile::read_vaddr(uint64_t vaddr, size_t n) const {
    for (const Segment& seg : loads_) {
        if (vaddr < seg.vaddr || vaddr - seg.vaddr > seg.filesz || n > seg.filesz - (vaddr - seg.vaddr))
            continue;
        auto b = bytes(seg.offset + (vaddr - seg.vaddr), n);
        if (b.size() != n) return std::nullopt;
        return std::vector<uint8_t>(b.begin(), b.end());
    }
    return std::nullopt;
}

std::vector<UsdtProbe> ElfFile::usdt_probes() const {
    std::vector<UsdtProbe> probes;
    auto notes = section(".note.stapsdt");
    if (!notes) return probes;
    // A prelinked file moved .stapsdt.base; pc and semaphore move with it.
    auto base_section = section(".stapsdt.base");
    for_each_note(*notes, [&](uint32_t type, std::string_view owner, std::span<const uint8_t> desc) {
        if (type != kNoteStapsdt || owner != "stapsdt" || desc.size() < 24) return;
        UsdtProbe p;
        std::memcpy(&p.pc, desc.data(), 8);
        std::memcpy(&p.base, desc.data() + 8, 8);
        std::memcpy(&p.semaphore, desc.data() + 16, 8);
        size_t at = 24;
        auto provider = take_cstring(desc, at);
        auto name = take_cstring(desc, at);
        auto args = take_cstring(desc, at);
        if (!provider || !name) return;
        p.provider = *provider;
        p.name = *name;
        p.args = args.value_or("");
        if (base_section && p.base) {
            uint64_t shift = base_section->vaddr - p.base;
            p.pc += shift;
            if (p.semaphore) p.semaphore += shift;
        }
        probes.push_back(std::move(p));
    });
    return probes;
}

void ElfFile::attach_debug_file(std::unique_ptr<ElfFile> debug) { debug_ = std::move(debug); }

std::unique_ptr<ElfFile> find_debug_file(const ElfFile& elf, const std::string& binary_path,
                                         const std::string& debug_root) {
    if (debug_root.empty()) return nullptr;
    namespace fs = std::filesystem;
    auto id = elf.build_id();
    auto open_if = [](const std::string& candidate, auto&& accept) -> std::unique_ptr<ElfFile> {
        std::error_code ec;
        if (!fs::is_regular_file(candidate, ec)) return nullptr;
        try {
            auto debug = std::make_unique<ElfFile>(candidate);
            return accept(*debug) ? std::move(debug) : nullptr;
        } catch (const Error&) {
            return nullptr;  // unreadable or not ELF: as if absent
        }
    };
    auto same_build_id = [&](const ElfFile& debug) { return debug.build_id() == id; };
    if (id && id->size() > 2) {
        auto debug = open_if(debug_root + "/.build-id/" + id->substr(0, 2) + "/" + id->substr(2) + ".debug",
                             same_build_id);
        if (debug) return debug;
    }
    auto link = elf.gnu_debuglink();
    if (!link) return nullptr;
    std::string candidate = debug_root + fs::path(binary_path).parent_path().string() + "/" + link->file;
    if (id) return open_if(candidate, same_build_id);
    return open_if(candidate, [&](const ElfFile& debug) { return file_crc32(debug.path()) == link->crc; });
}

std::optional<uint64_t> ElfFile::got_slot(std::string_view symbol) const {
    Elf* e = elf_.get();
    for (Elf_Scn* scn = nullptr; (scn = elf_nextscn(e, scn));) {
        GElf_Shdr sh, symsh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || !sh.sh_entsize) continue;
        Elf_Scn* symscn = elf_getscn(e, sh.sh_link);
        Elf_Data* rel = elf_getdata(scn, nullptr);
        Elf_Data* syms = symscn ? elf_getdata(symscn, nullptr) : nullptr;
        if (!rel || !syms || !gelf_getshdr(symscn, &symsh)) continue;
        for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; ++i) {
            GElf_Rela r;
            GElf_Sym sym;
            if (!gelf_getrela(rel, static_cast<int>(i), &r) || GELF_R_TYPE(r.r_info) != R_X86_64_GLOB_DAT ||
                !gelf_getsym(syms, static_cast<int>(GELF_R_SYM(r.r_info)), &sym))
                continue;
            const char* name = elf_strptr(e, symsh.sh_link, sym.st_name);
            if (name && symbol == name) return r.r_offset;
        }
    }
    return std::nullopt;
}

}  // namespace leakscope::elf
