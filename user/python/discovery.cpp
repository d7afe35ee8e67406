// SPDX-License-Identifier: BSD-2-Clause
#include "python/discovery.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <regex>
#include <set>
#include <tuple>

#include "core/error.h"
#include "core/text.h"
#include "proc/memory.h"
#include "python/debug_offsets.h"

namespace leakscope::python {
namespace {

// Symbols only a CPython interpreter defines: any one of them marks the file
// that holds the interpreter (a dynamically linked python3.X merely imports them).
constexpr const char* kInterpreterSymbols[] = {"_PyRuntime", "Py_Version", "PyObject_Malloc"};

std::string describe(pid_t pid, const std::string& comm) {
    return "PID " + std::to_string(pid) + " (" + comm + ")";
}

std::string basename(const std::string& path) { return std::filesystem::path(path).filename().string(); }

bool is_libpython(const proc::Mapping& m) {
    static const std::regex name(R"(libpython\d+\.\d+[a-z]*\.so.*)");
    return m.is_file() && std::regex_match(basename(m.path), name);
}

bool has_python_name(const std::string& path) {
    static const std::regex name(R"(python\d*(\.\d+)?[a-z]*)");
    return std::regex_match(basename(path), name);
}

// (major, minor) from "libpython3.9.so.1.0", "python3.11", "python3.7m".
std::optional<std::pair<int, int>> version_in_name(const std::string& path) {
    static const std::regex name(R"((?:lib)?python(\d+)\.(\d+)[a-z]*(?:\.so.*)?)");
    std::smatch m;
    std::string base = basename(path);
    if (!std::regex_match(base, m, name)) return std::nullopt;
    return std::pair{std::stoi(m[1]), std::stoi(m[2])};
}

bool defines_interpreter(const elf::ElfFile& elf) {
    return std::any_of(std::begin(kInterpreterSymbols), std::end(kInterpreterSymbols),
                       [&](const char* name) { return elf.symbol(name).has_value(); });
}

// The mappings of the file the executable was started from. /proc/PID/exe
// names it even when it was deleted; the inode identifies it when the path
// does not (another mount namespace).
std::vector<proc::Mapping> executable_mappings(pid_t pid, const std::vector<proc::Mapping>& maps) {
    std::vector<proc::Mapping> out;
    std::string exe = proc::read_exe(pid).value_or("");
    constexpr std::string_view kDeleted = " (deleted)";
    if (exe.ends_with(kDeleted)) exe.resize(exe.size() - kDeleted.size());
    struct stat st {};
    bool have_stat = ::stat(("/proc/" + std::to_string(pid) + "/exe").c_str(), &st) == 0;
    for (const proc::Mapping& m : maps) {
        if (!m.is_file()) continue;
        bool same_inode = have_stat && m.inode == st.st_ino && m.dev_major == major(st.st_dev) &&
                          m.dev_minor == minor(st.st_dev);
        if (same_inode || (!exe.empty() && m.path == exe)) out.push_back(m);
    }
    return out;
}

std::vector<proc::Mapping> mappings_of(const proc::Mapping& first, const std::vector<proc::Mapping>& maps) {
    std::vector<proc::Mapping> out;
    for (const proc::Mapping& m : maps)
        if (m.is_file() && m.same_file(first) && m.path == first.path) out.push_back(m);
    return out;
}

struct Candidate {
    std::vector<proc::Mapping> mappings;
    std::unique_ptr<elf::ElfFile> elf;
    bool shared = false;
};

// Which file holds the interpreter: an executable that defines it (static
// build, possibly renamed), else a mapped libpython, else an executable
// that at least has a python name.
std::optional<Candidate> find_interpreter_file(pid_t pid, const std::vector<proc::Mapping>& maps) {
    Candidate exe{executable_mappings(pid, maps), nullptr, false};
    if (!exe.mappings.empty()) {
        exe.elf = std::make_unique<elf::ElfFile>(proc::openable_path(pid, exe.mappings.front()));
        if (defines_interpreter(*exe.elf)) return exe;
    }
    auto lib = std::find_if(maps.begin(), maps.end(), is_libpython);
    if (lib != maps.end()) {
        return Candidate{mappings_of(*lib, maps),
                         std::make_unique<elf::ElfFile>(proc::openable_path(pid, *lib)), true};
    }
    if (!exe.mappings.empty() && has_python_name(exe.mappings.front().path)) return exe;
    return std::nullopt;
}

}  // namespace

bool free_threaded_name(const std::string& path) {
    static const std::regex name(R"((?:lib)?python\d+\.\d+([dmt]*)(?:\.so.*)?)");
    std::smatch m;
    const std::string base = basename(path);
    return std::regex_match(base, m, name) && m[1].str().find('t') != std::string::npos;
}

std::string free_threaded_refusal(const std::string& who, const PyVersion& v, const std::string& how) {
    return "the heap snapshot does not support free-threaded CPython yet: " + who + " runs CPython " + v.str() +
           " without the GIL (" + how +
           "); it walks pymalloc's arenas and the collector's PyGC_Head lists, which this build replaces "
           "with mimalloc heaps; dump and trace read it, or snapshot a GIL build of CPython";
}

namespace {

std::optional<PyVersion> file_version(const elf::ElfFile& elf, const std::string& binary_path) {
    // 3.11+ exports const unsigned long Py_Version = PY_VERSION_HEX.
    if (auto sym = elf.symbol("Py_Version"); sym && sym->size >= 4) {
        if (auto bytes = elf.read_vaddr(sym->value, 4)) {
            uint32_t v;
            std::memcpy(&v, bytes->data(), 4);
            return version_from_hex(v);
        }
    }
    auto rodata = elf.section(".rodata");
    if (!rodata) return std::nullopt;
    return version_from_strings(elf.section_data(*rodata), version_in_name(binary_path));
}

std::optional<uint64_t> runtime_vaddr(const elf::ElfFile& elf) {
    // 3.8/3.9 have no .PyRuntime section but always export the symbol.
    if (auto sym = elf.symbol("_PyRuntime")) return sym->value;
    if (auto sec = elf.section(".PyRuntime")) return sec->vaddr;
    return std::nullopt;
}

// 3.13+: the running interpreter states its version, and whether it is a
// free-threaded build, in _Py_DebugOffsets. Refuses a free-threaded one
// unless free_threaded_ok.
void check_debug_offsets(Interpreter& interp, const std::string& who, bool free_threaded_ok) {
    proc::ProcessMemory memory(interp.pid);
    DebugOffsetsHeader header;
    try {
        header = debug_offsets_header(memory, interp.runtime_addr);
    } catch (const Error& e) {
        if (!proc::process_exists(interp.pid)) throw Error(Errc::TargetExited, who + " exited during discovery");
        throw Error(e.code(), who + ": " + e.what());
    }
    const PyVersion live = version_from_hex(header.version);
    if (!(live == interp.version))
        throw Error(Errc::LayoutMismatch, who + ": " + interp.binary_path + " says CPython " +
                                              interp.version.str() + " but its _Py_DebugOffsets say " +
                                              live.str());
    interp.free_threaded = interp.free_threaded || header.free_threaded;
    if (header.free_threaded && !free_threaded_ok)
        throw Error(Errc::UnsupportedVersion,
                    free_threaded_refusal(who, live, "its _Py_DebugOffsets.free_threaded is set"));
}

// "M.N.P", an optional (a|b|rc)K and an optional '+', starting at pos and
// ending at a NUL; anything else in between means it is not PY_VERSION.
std::optional<PyVersion> parse_version_literal(std::span<const uint8_t> data, size_t pos) {
    auto digits = [&](size_t max_len) -> std::optional<int> {
        size_t start = pos;
        int v = 0;
        while (pos < data.size() && pos - start < max_len && data[pos] >= '0' && data[pos] <= '9')
            v = v * 10 + (data[pos++] - '0');
        if (pos == start) return std::nullopt;
        return v;
    };
    auto literal = [&](std::string_view s) {
        if (data.size() - pos < s.size() || std::memcmp(data.data() + pos, s.data(), s.size()) != 0) return false;
        pos += s.size();
        return true;
    };
    PyVersion v;
    auto major = digits(1);
    if (!major || !literal(".")) return std::nullopt;
    auto minor = digits(2);
    if (!minor || !literal(".")) return std::nullopt;
    auto micro = digits(2);
    if (!micro) return std::nullopt;
    if (literal("a") || literal("b") || literal("rc")) {
        if (!digits(2)) return std::nullopt;
    }
    literal("+");
    if (pos >= data.size() || data[pos] != 0) return std::nullopt;
    v.major = *major;
    v.minor = *minor;
    v.micro = *micro;
    return v;
}

}  // namespace

std::optional<PyVersion> version_from_strings(std::span<const uint8_t> rodata,
                                              std::optional<std::pair<int, int>> expected) {
    std::set<std::tuple<int, int, int>> found;
    for (size_t i = 0; i + 1 < rodata.size(); ++i) {
        uint8_t c = rodata[i];
        if ((c != '2' && c != '3') || rodata[i + 1] != '.') continue;
        if (i > 0 && ((rodata[i - 1] >= '0' && rodata[i - 1] <= '9') || rodata[i - 1] == '.')) continue;
        auto v = parse_version_literal(rodata, i);
        if (!v) continue;
        if (expected ? std::pair{v->major, v->minor} != *expected
                     // unicodedata's "3.2.0" (the Unicode version kept for IDNA)
                     // sits in .rodata of static builds; no CPython that old matters.
                     : (v->major == 3 && v->minor < 5))
            continue;
        found.insert({v->major, v->minor, v->micro});
    }
    if (found.size() != 1) return std::nullopt;
    auto [major, minor, micro] = *found.begin();
    return PyVersion{major, minor, micro};
}

std::optional<uint64_t> load_bias(const elf::ElfFile& elf, std::span<const proc::Mapping> file_mappings) {
    const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    for (const elf::Segment& seg : elf.load_segments()) {
        uint64_t offset = seg.offset & ~(page - 1);
        for (const proc::Mapping& m : file_mappings)
            if (m.offset == offset) return m.start - (seg.vaddr & ~(page - 1));
    }
    return std::nullopt;
}

Interpreter discover(pid_t pid, const DiscoveryOptions& options) {
    if (!proc::process_exists(pid)) throw Error(Errc::NoSuchProcess, "no process with PID " + std::to_string(pid));
    std::vector<proc::Mapping> maps = proc::read_maps(pid);
    const std::string who = describe(pid, proc::read_comm(pid).value_or("?"));

    auto file = find_interpreter_file(pid, maps);
    if (!file)
        throw Error(Errc::NotPython, who + " is not a CPython process: no libpython or python executable mapped");

    Interpreter interp;
    interp.pid = pid;
    const proc::Mapping& first = file->mappings.front();
    interp.binary_path = first.path;
    interp.binary_deleted = first.deleted;
    interp.open_path = file->elf->path();
    interp.shared = file->shared;

    auto version = file_version(*file->elf, interp.binary_path);
    if (!version)
        throw Error(Errc::UnsupportedVersion, who + ": cannot tell which CPython version " + interp.binary_path +
                                                  " is; supported: " + supported_versions());
    interp.version = *version;
    if (!is_supported(interp.version))
        throw Error(Errc::UnsupportedVersion, "PID " + std::to_string(pid) + " runs CPython " +
                                                  interp.version.str() + "; supported: " + supported_versions());

    interp.free_threaded = free_threaded_name(interp.binary_path);
    if (interp.free_threaded && !options.free_threaded_ok)
        throw Error(Errc::UnsupportedVersion,
                    free_threaded_refusal(who, interp.version,
                                          basename(interp.binary_path) + " has the 't' ABI suffix"));

    auto bias = load_bias(*file->elf, file->mappings);
    if (!bias)
        throw Error(Errc::LayoutMismatch,
                    who + ": no loadable segment of " + interp.binary_path + " matches its mappings");
    interp.load_bias = *bias;

    file->elf->attach_debug_file(elf::find_debug_file(*file->elf, interp.binary_path, options.debug_root));
    if (const elf::ElfFile* debug = file->elf->debug_file()) interp.debug_path = debug->path();

    auto runtime = runtime_vaddr(*file->elf);
    if (!runtime)
        throw Error(Errc::LayoutMismatch,
                    who + ": " + interp.binary_path + " has neither a _PyRuntime symbol nor a .PyRuntime section");
    interp.runtime_addr = interp.address(*runtime);
    interp.elf = std::move(file->elf);

    if (interp.version.major == 3 && interp.version.minor >= 13) check_debug_offsets(interp, who, options.free_threaded_ok);
    return interp;
}

}  // namespace leakscope::python
