// SPDX-License-Identifier: BSD-2-Clause
// Read-only view of one ELF file through libelf: symbols, sections, notes,
// program headers and file-backed bytes at a virtual address. A file may carry
// its separate debug file (found by build-id or .gnu_debuglink); symbol lookups
// then fall back to the debug file's .symtab, whose addresses are the same.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct Elf;

namespace leakscope::elf {

struct Symbol {
    std::string name;
    uint64_t value = 0;  // link-time vaddr; for TLS symbols, the offset in the TLS block
    uint64_t size = 0;
    bool is_function = false;
    bool is_tls = false;
};

struct Section {
    std::string name;
    uint64_t vaddr = 0;   // sh_addr; 0 for sections not loaded
    uint64_t offset = 0;  // sh_offset
    uint64_t size = 0;
    uint32_t type = 0;    // SHT_*
    size_t index = 0;     // section header index
    bool is_nobits() const;  // no bytes in the file (.bss, and most sections of a debug file)
};

struct Segment {
    uint64_t vaddr = 0;
    uint64_t offset = 0;
    uint64_t filesz = 0;
    uint64_t memsz = 0;
    uint64_t align = 0;
    uint32_t flags = 0;  // PF_R | PF_W | PF_X
};

struct DebugLink {
    std::string file;  // a file name, resolved against the debug directories
    uint32_t crc = 0;  // CRC-32 of the whole debug file
};

// One SystemTap SDT probe from .note.stapsdt, with addresses already adjusted
// for a prelinked .stapsdt.base.
struct UsdtProbe {
    std::string provider;
    std::string name;
    uint64_t pc = 0;         // vaddr of the probe's nop
    uint64_t base = 0;       // .stapsdt.base vaddr as recorded in the note
    uint64_t semaphore = 0;  // vaddr of the unsigned short counter; 0 when there is none
    std::string args;        // e.g. "-4@112(%rsp)"
};

class ElfFile {
public:
    // Throws leakscope::Error(Errc::Io) when the file cannot be opened or is
    // not a 64-bit ELF file.
    explicit ElfFile(const std::string& path);

    const std::string& path() const { return path_; }
    uint16_t type() const { return type_; }  // ET_EXEC, ET_DYN, ...
    bool is_position_dependent() const;      // ET_EXEC: load bias is 0

    // Defined symbols only (an undefined reference has no address). Searches
    // .symtab, then .dynsym, then the debug file's .symtab; first match wins.
    std::optional<Symbol> symbol(std::string_view name) const;
    // The first defined symbol, in the same order, for which match returns true.
    std::optional<Symbol> find_symbol(const std::function<bool(const Symbol&)>& match) const;
    std::vector<Symbol> symbols_with_prefix(std::string_view prefix) const;
    // A function by its source name or, when the compiler only left a clone,
    // the first "name.<suffix>" function (.lto_priv.0, .constprop.0, .isra.0).
    // Split-off ".cold" parts are never returned: they are not the entry point.
    std::optional<Symbol> function_or_clone(std::string_view name) const;

    // Section headers of this file (not of the debug file).
    std::optional<Section> section(std::string_view name) const;
    const std::vector<Section>& sections() const { return sections_; }
    // The section's bytes in the file; empty for NOBITS sections.
    std::span<const uint8_t> section_data(const Section& s) const;

    std::optional<std::string> build_id() const;  // lowercase hex
    std::optional<DebugLink> gnu_debuglink() const;

    const std::vector<Segment>& load_segments() const { return loads_; }
    // File offset of a vaddr inside a PT_LOAD's file-backed part (what uprobe
    // offsets and USDT semaphore ref_ctr offsets are expressed in).
    std::optional<uint64_t> file_offset(uint64_t vaddr) const;
    // n bytes at vaddr, if all of them are backed by the file (not .bss).
    std::optional<std::vector<uint8_t>> read_vaddr(uint64_t vaddr, size_t n) const;

    std::vector<UsdtProbe> usdt_probes() const;

    // The GOT slot the dynamic linker fills with &symbol (R_X86_64_GLOB_DAT):
    // position-independent code reaches exported data only through it.
    std::optional<uint64_t> got_slot(std::string_view symbol) const;

    // Separate debug information, once attached.
    void attach_debug_file(std::unique_ptr<ElfFile> debug);
    const ElfFile* debug_file() const { return debug_.get(); }

private:
    struct SymbolTable {
        std::vector<Symbol> symbols;
        std::unordered_map<std::string_view, size_t> first_by_name;
    };

    struct ElfEnd {
        void operator()(::Elf* e) const;
    };
    using Note = std::function<void(uint32_t type, std::string_view owner, std::span<const uint8_t> desc)>;

    void load_program_headers();
    void load_sections();
    SymbolTable load_symbols(uint32_t section_type) const;
    std::vector<const SymbolTable*> symbol_tables() const;
    std::span<const uint8_t> bytes(uint64_t offset, uint64_t size) const;
    void for_each_note(const Section& s, const Note& visit) const;

    std::string path_;
    std::unique_ptr<::Elf, ElfEnd> elf_;
    std::span<const uint8_t> image_;
    uint16_t type_ = 0;
    std::vector<Section> sections_;
    std::vector<Segment> loads_;
    SymbolTable symtab_, dynsym_;
    std::unique_ptr<ElfFile> debug_;
};

// The separate debug file for elf, opened, or null. Looks under debug_root
// (usually /usr/lib/debug; empty means "do not look") by build-id,
// <root>/.build-id/xx/yyyy.debug, then by .gnu_debuglink in
// <root>/<dirname of binary_path>/. A candidate must carry the same build-id,
// or the debuglink CRC when the binary has no build-id.
std::unique_ptr<ElfFile> find_debug_file(const ElfFile& elf, const std::string& binary_path,
                                         const std::string& debug_root);

}  // namespace leakscope::elf
