// SPDX-License-Identifier: BSD-2-Clause
// Interpreter discovery against real processes, and the ELF and /proc readers
// it stands on. Interpreters that are not installed are skipped with a WARN; one
// that is installed but cannot be run or read fails.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "elf/elf_file.h"
#include "proc/maps.h"
#include "python/discovery.h"

extern char** environ;

using namespace leakscope;
namespace fs = std::filesystem;

namespace {

constexpr const char* kDebianPython = "/usr/bin/python3.11";

// Reports what the interpreter knows about itself, then idles. ctypes finds
// _PyRuntime through dlsym, in libpython or in a static executable's .dynsym.
constexpr const char* kReportAndSleep = R"(import sys
try:
    import ctypes
    runtime = ctypes.addressof(ctypes.c_char.in_dll(ctypes.pythonapi, '_PyRuntime'))
except Exception:
    runtime = 0
print(*sys.version_info[:3], runtime, flush=True)
import time
time.sleep(30)
)";

// A child process with its stdout on a pipe, killed and reaped on scope exit.
class Child {
public:
    explicit Child(const std::vector<std::string>& argv) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        int rc = posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(fds[1]);
        out_ = fds[0];
        if (rc != 0) {
            ::close(out_);
            throw std::runtime_error("cannot start " + argv[0]);
        }
    }
    ~Child() {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        ::close(out_);
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    pid_t pid() const { return pid_; }

    // One line of stdout, or empty after a timeout or EOF.
    std::string read_line(int timeout_ms = 20000) {
        std::string line;
        char c;
        pollfd pfd{out_, POLLIN, 0};
        while (::poll(&pfd, 1, timeout_ms) == 1 && ::read(out_, &c, 1) == 1) {
            if (c == '\n') return line;
            line += c;
        }
        return {};
    }

private:
    pid_t pid_ = -1;
    int out_ = -1;
};

struct SelfReport {
    python::PyVersion version;
    uint64_t runtime_addr = 0;  // 0: ctypes was not available
};

std::optional<SelfReport> read_report(Child& child) {
    std::istringstream in(child.read_line());
    SelfReport r;
    if (!(in >> r.version.major >> r.version.minor >> r.version.micro >> r.runtime_addr)) return std::nullopt;
    return r;
}

std::string pyenv_root() {
    std::string root;
    if (FILE* p = ::popen("pyenv root 2>/dev/null", "r")) {
        char buf[4096];
        if (std::fgets(buf, sizeof buf, p)) root = buf;
        ::pclose(p);
    }
    while (!root.empty() && (root.back() == '\n' || root.back() == ' ')) root.pop_back();
    if (root.empty()) root = std::string(std::getenv("HOME") ? std::getenv("HOME") : "/root") + "/.pyenv";
    return root;
}

struct Installed {
    std::string label;
    std::string path;
    bool shared;
};

template <typename Fn>
Errc error_code_of(Fn&& fn, std::string& message) {
    try {
        fn();
    } catch (const Error& e) {
        message = e.what();
        return e.code();
    }
    FAIL("no leakscope::Error thrown");
    return Errc::Internal;
}

// Whether an interpreter is there to test. One that is installed (the path
// exists) but cannot be run or read fails the test: only a missing one skips.
bool installed(const std::string& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) return false;
    INFO(path << " is installed but not executable and readable");
    REQUIRE(::access(path.c_str(), X_OK | R_OK) == 0);
    return true;
}

}  // namespace

TEST_CASE("discover: every installed interpreter", "[discovery]") {
    const std::string pyenv = pyenv_root() + "/versions/";
    auto py = GENERATE_COPY(values<Installed>({
        {"pyenv 3.8.18", pyenv + "3.8.18/bin/python3.8", true},
        {"pyenv 3.9.18", pyenv + "3.9.18/bin/python3.9", true},
        {"pyenv 3.10.13", pyenv + "3.10.13/bin/python3.10", true},
        {"pyenv 3.11.7", pyenv + "3.11.7/bin/python3.11", true},
        {"pyenv 3.12.1", pyenv + "3.12.1/bin/python3.12", true},
        {"pyenv 3.13.0", pyenv + "3.13.0/bin/python3.13", true},
        {"pyenv 3.11.7 via the python3 symlink", pyenv + "3.11.7/bin/python3", true},
        {"Debian python3.11", kDebianPython, false},
        {"Debian python3 symlink", "/usr/bin/python3", false},
    }));
    INFO(py.label << ": " << py.path);
    if (!installed(py.path)) {
        WARN("SKIP: " << py.label << " is not installed (" << py.path << ")");
        return;
    }
    Child child({py.path, "-c", kReportAndSleep});
    auto report = read_report(child);
    REQUIRE(report);

    python::Interpreter interp = python::discover(child.pid());
    CHECK(interp.pid == child.pid());
    CHECK(interp.version == report->version);
    CHECK(interp.shared == py.shared);
    CHECK_FALSE(interp.binary_deleted);
    REQUIRE(interp.elf);
    if (py.shared) {
        CHECK(fs::path(interp.binary_path).filename().string().starts_with(
            "libpython" + std::to_string(report->version.major) + "." + std::to_string(report->version.minor)));
    } else {
        CHECK(interp.binary_path == fs::canonical(py.path).string());
        CHECK(interp.load_bias == 0);  // Debian's build is not PIE
    }
    CHECK(fs::exists(interp.open_path));

    auto runtime = interp.elf->symbol("_PyRuntime");
    REQUIRE(runtime);
    CHECK(interp.runtime_addr == interp.address(runtime->value));
    if (auto section = interp.elf->section(".PyRuntime")) CHECK(interp.address(section->vaddr) == interp.runtime_addr);
    if (report->runtime_addr)
        CHECK(interp.runtime_addr == report->runtime_addr);
    else
        WARN("SKIP: " << py.label << " has no ctypes; _PyRuntime checked against the ELF symbol only");
}

TEST_CASE("discover: Debian python3.11 finds its debug file by build-id", "[discovery]") {
    if (!installed(kDebianPython)) {
        WARN("SKIP: " << kDebianPython << " is not installed");
        return;
    }
    Child child({kDebianPython, "-c", kReportAndSleep});
    auto report = read_report(child);
    REQUIRE(report);

    python::Interpreter with_debug = python::discover(child.pid(), {.debug_root = "/usr/lib/debug"});
    python::Interpreter without_debug = python::discover(child.pid(), {.debug_root = ""});
    CHECK(without_debug.debug_path.empty());
    CHECK(without_debug.elf->debug_file() == nullptr);
    CHECK(with_debug.runtime_addr == without_debug.runtime_addr);
    CHECK(with_debug.version == without_debug.version);
    // Stripped to .dynsym: the collector's internals are only in the debug file.
    CHECK_FALSE(without_debug.elf->function_or_clone("gc_collect_main"));

    auto id = with_debug.elf->build_id();
    REQUIRE(id);
    std::string expected = "/usr/lib/debug/.build-id/" + id->substr(0, 2) + "/" + id->substr(2) + ".debug";
    if (!fs::exists(expected)) {
        WARN("SKIP: python3.11-dbg is not installed (" << expected << " missing)");
        return;
    }
    CHECK(with_debug.debug_path == expected);
    REQUIRE(with_debug.elf->debug_file());
    CHECK(with_debug.elf->debug_file()->build_id() == id);
    auto gc = with_debug.elf->function_or_clone("gc_collect_main");
    REQUIRE(gc);
    CHECK(gc->name.starts_with("gc_collect_main."));
    CHECK_FALSE(gc->name.ends_with(".cold"));
    // The debug file's addresses are the binary's: the same _PyRuntime either way.
    CHECK(with_debug.elf->debug_file()->symbol("_PyRuntime")->value == with_debug.elf->symbol("_PyRuntime")->value);
}

TEST_CASE("discover: a renamed copy deleted after start is found through map_files", "[discovery]") {
    if (!installed(kDebianPython)) {
        WARN("SKIP: " << kDebianPython << " is not installed");
        return;
    }
    char dir_template[] = "/tmp/leakscope-discovery-XXXXXX";
    REQUIRE(::mkdtemp(dir_template));
    const fs::path dir = dir_template;
    const fs::path copy = dir / "renamed-service";
    fs::copy_file(kDebianPython, copy);  // permissions included

    Child child({copy.string(), "-c", kReportAndSleep});
    auto report = read_report(child);
    fs::remove_all(dir);
    REQUIRE(report);

    python::Interpreter interp = python::discover(child.pid());
    CHECK(interp.binary_path == copy.string());
    CHECK(interp.binary_deleted);
    CHECK_FALSE(interp.shared);
    CHECK(interp.open_path.starts_with("/proc/" + std::to_string(child.pid()) + "/map_files/"));
    CHECK(interp.version == report->version);
    if (report->runtime_addr) CHECK(interp.runtime_addr == report->runtime_addr);
    // Same bytes, same build-id: the system's debug file still applies.
    auto id = interp.elf->build_id();
    REQUIRE(id);
    std::string debug = "/usr/lib/debug/.build-id/" + id->substr(0, 2) + "/" + id->substr(2) + ".debug";
    if (fs::exists(debug))
        CHECK(interp.debug_path == debug);
    else
        WARN("SKIP: debug file check, " << debug << " is not installed");
}

TEST_CASE("discover: CPython 3.7 is rejected as unsupported", "[discovery]") {
    const std::string path = pyenv_root() + "/versions/3.7.16/bin/python3.7";
    if (!installed(path)) {
        WARN("SKIP: pyenv 3.7.16 is not installed (" << path << ")");
        return;
    }
    Child child({path, "-c", kReportAndSleep});
    REQUIRE(read_report(child));
    std::string message;
    CHECK(error_code_of([&] { python::discover(child.pid()); }, message) == Errc::UnsupportedVersion);
    CHECK(message == "PID " + std::to_string(child.pid()) + " runs CPython 3.7.16; supported: " +
                         python::supported_versions());
}

TEST_CASE("discover: a process without Python is NotPython", "[discovery]") {
    Child child({"sleep", "30"});
    std::string message;
    CHECK(error_code_of([&] { python::discover(child.pid()); }, message) == Errc::NotPython);
    CHECK(message == "PID " + std::to_string(child.pid()) +
                         " (sleep) is not a CPython process: no libpython or python executable mapped");
}

TEST_CASE("discover: a PID that has exited is NoSuchProcess", "[discovery]") {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) ::_exit(0);
    REQUIRE(::waitpid(pid, nullptr, 0) == pid);
    std::string message;
    CHECK(error_code_of([&] { python::discover(pid); }, message) == Errc::NoSuchProcess);
    CHECK(message == "no process with PID " + std::to_string(pid));
}

TEST_CASE("version_from_strings reads PY_VERSION from every pyenv libpython", "[discovery]") {
    const fs::path versions = pyenv_root() + "/versions";
    if (!fs::is_directory(versions)) {
        WARN("SKIP: no pyenv versions directory at " << versions);
        return;
    }
    int checked = 0;
    for (const auto& entry : fs::directory_iterator(versions)) {
        const std::string name = entry.path().filename().string();  // "3.9.18"
        for (const auto& lib : fs::directory_iterator(entry.path() / "lib")) {
            const std::string file = lib.path().filename().string();
            if (!file.starts_with("libpython") || !file.ends_with(".so.1.0")) continue;
            INFO(lib.path());
            elf::ElfFile elf(lib.path().string());
            auto rodata = elf.section(".rodata");
            REQUIRE(rodata);
            // No hint from the file name: the string alone must decide.
            auto v = python::version_from_strings(elf.section_data(*rodata), std::nullopt);
            REQUIRE(v);
            CHECK(v->str() == name);
            ++checked;
        }
    }
    if (checked == 0) WARN("SKIP: no pyenv libpython found under " << versions);
}

TEST_CASE("version_from_strings on crafted .rodata", "[discovery]") {
    auto bytes = [](std::string_view s) {
        return std::vector<uint8_t>(s.begin(), s.end());
    };
    using python::version_from_strings;
    auto tail_merged = bytes(std::string_view("x\0/opt/py/3.9.18\0", 17));
    REQUIRE(version_from_strings(tail_merged, std::nullopt));
    CHECK(version_from_strings(tail_merged, std::nullopt)->str() == "3.9.18");

    // Unicode 3.2.0 (unicodedata) is no Python version.
    auto with_unidata = bytes(std::string_view("3.2.0\0" "3.10.13\0", 14));
    CHECK(version_from_strings(with_unidata, std::nullopt)->str() == "3.10.13");

    auto prerelease = bytes(std::string_view("3.13.0rc2\0", 10));
    CHECK(version_from_strings(prerelease, std::nullopt)->str() == "3.13.0");

    auto not_alone = bytes(std::string_view("13.9.18\0" "v3.9.18x\0" "3.9\0", 21));
    CHECK_FALSE(version_from_strings(not_alone, std::nullopt));

    auto two = bytes(std::string_view("3.9.18\0" "3.10.1\0", 14));
    CHECK_FALSE(version_from_strings(two, std::nullopt));
    CHECK(version_from_strings(two, std::pair{3, 10})->str() == "3.10.1");
    CHECK_FALSE(version_from_strings(two, std::pair{3, 11}));
}

TEST_CASE("free_threaded_name: the 't' ABI flag", "[discovery]") {
    CHECK(python::free_threaded_name("/opt/py/3.14.7t/lib/libpython3.14t.so.1.0"));
    CHECK(python::free_threaded_name("/usr/bin/python3.13t"));
    CHECK(python::free_threaded_name("libpython3.14td.so"));
    CHECK_FALSE(python::free_threaded_name("/opt/py/3.14.7t/lib/libpython3.14.so.1.0"));
    CHECK_FALSE(python::free_threaded_name("/usr/bin/python3.11"));
    CHECK_FALSE(python::free_threaded_name("/usr/lib/libpython3.7m.so.1.0"));
    CHECK_FALSE(python::free_threaded_name("/usr/bin/python3"));
    CHECK_FALSE(python::free_threaded_name("/opt/tools/pythontool"));
    CHECK_FALSE(python::free_threaded_name("/srv/python3.11test"));
    const std::string line = python::free_threaded_refusal("PID 7 (python3.14t)", python::PyVersion{3, 14, 7},
                                                   "libpython3.14t.so.1.0 has the 't' ABI suffix");
    CHECK(line.starts_with("the heap snapshot does not support free-threaded CPython yet: PID 7 (python3.14t) "
                           "runs CPython 3.14.7 without the GIL"));
    CHECK(line.find('\n') == std::string::npos);
}

TEST_CASE("version_from_hex", "[discovery]") {
    CHECK(python::version_from_hex(0x030b07f0).str() == "3.11.7");
    CHECK(python::version_from_hex(0x030d00f0).str() == "3.13.0");
    CHECK(python::version_from_hex(0x030e00a1).str() == "3.14.0");
}

TEST_CASE("ElfFile on Debian's stripped static python3.11", "[elf]") {
    if (!installed(kDebianPython)) {
        WARN("SKIP: " << kDebianPython << " is not installed");
        return;
    }
    elf::ElfFile elf(kDebianPython);
    CHECK(elf.is_position_dependent());
    CHECK_FALSE(elf.section(".symtab"));
    CHECK(elf.load_segments().size() >= 2);

    auto runtime = elf.symbol("_PyRuntime");
    auto section = elf.section(".PyRuntime");
    REQUIRE(runtime);
    REQUIRE(section);
    CHECK(section->vaddr == runtime->value);
    CHECK_FALSE(runtime->is_function);
    auto malloc = elf.symbol("PyObject_Malloc");
    REQUIRE(malloc);
    CHECK(malloc->is_function);
    CHECK(elf.file_offset(malloc->value));
    CHECK_FALSE(elf.symbol("no_such_symbol_here"));

    auto version = elf.symbol("Py_Version");
    REQUIRE(version);
    auto bytes = elf.read_vaddr(version->value, 4);
    REQUIRE(bytes);
    CHECK((*bytes)[3] == 3);   // PY_MAJOR_VERSION, little-endian high byte
    CHECK((*bytes)[2] == 11);  // PY_MINOR_VERSION

    auto bss = elf.section(".bss");
    REQUIRE(bss);
    CHECK(bss->is_nobits());
    CHECK(elf.section_data(*bss).empty());
    CHECK_FALSE(elf.read_vaddr(bss->vaddr + 16, 8));  // not in the file

    auto id = elf.build_id();
    REQUIRE(id);
    CHECK(id->size() == 40);
    auto link = elf.gnu_debuglink();
    REQUIRE(link);
    CHECK(link->file.ends_with(".debug"));

    // The GC probes, semaphore-gated, inside .text and .probes.
    auto probes = elf.usdt_probes();
    auto text = elf.section(".text");
    auto semaphores = elf.section(".probes");
    REQUIRE(text);
    REQUIRE(semaphores);
    for (const char* name : {"gc__start", "gc__done"}) {
        INFO(name);
        auto it = std::find_if(probes.begin(), probes.end(), [&](const elf::UsdtProbe& p) { return p.name == name; });
        REQUIRE(it != probes.end());
        CHECK(it->provider == "python");
        CHECK(it->pc - text->vaddr < text->size);
        CHECK(it->semaphore - semaphores->vaddr < semaphores->size);
        CHECK(elf.file_offset(it->semaphore));
        CHECK_FALSE(it->args.empty());
    }
    auto start = std::find_if(probes.begin(), probes.end(), [](const auto& p) { return p.name == "gc__start"; });
    CHECK(start->args.starts_with("-4@"));  // int generation

    // An empty debug root never yields a debug file.
    CHECK(elf::find_debug_file(elf, kDebianPython, "") == nullptr);
    CHECK(elf::find_debug_file(elf, kDebianPython, "/nonexistent") == nullptr);
}

TEST_CASE("ElfFile on a pyenv libpython3.12 with .symtab and TLS", "[elf]") {
    const std::string path = pyenv_root() + "/versions/3.12.1/lib/libpython3.12.so.1.0";
    if (!fs::exists(path)) {
        WARN("SKIP: pyenv 3.12.1 is not installed (" << path << ")");
        return;
    }
    elf::ElfFile elf(path);
    CHECK_FALSE(elf.is_position_dependent());
    auto tstate = elf.symbol("_Py_tss_tstate");  // LOCAL, .symtab only
    REQUIRE(tstate);
    CHECK(tstate->is_tls);
    CHECK(elf.usdt_probes().empty());  // pyenv builds have no --with-dtrace

    auto clones = elf.symbols_with_prefix("_PyObject_Malloc");
    CHECK_FALSE(clones.empty());
    CHECK(elf.function_or_clone("_PyObject_Malloc")->name == "_PyObject_Malloc");
    CHECK(elf.find_symbol([](const elf::Symbol& s) { return s.name == "PyObject_Free"; }));

    // A moved ElfFile keeps working.
    elf::ElfFile moved = std::move(elf);
    CHECK(moved.symbol("_PyRuntime"));
    CHECK(moved.section(".PyRuntime"));

    std::string message;
    CHECK(error_code_of([] { elf::ElfFile missing("/nonexistent/libfoo.so"); }, message) == Errc::Io);
    CHECK(message.starts_with("cannot read ELF file /nonexistent/libfoo.so: "));
    CHECK(error_code_of([] { elf::ElfFile not_elf("/proc/self/status"); }, message) == Errc::Io);
}

TEST_CASE("parse_maps", "[proc]") {
    const char* text =
        "00400000-0041f000 r--p 00000000 fd:01 1234                               /usr/bin/python3.11\n"
        "7f0b73200000-7f0b73264000 r-xp 00064000 103:02 98765   /opt/my app/lib python.so (deleted)\n"
        "55d1c2a00000-55d1c2a28000 rw-p 00000000 00:00 0                          [heap]\n"
        "7ffd1000-7ffd2000 rw-p 00000000 00:00 0 \n"
        "garbage line\n";
    auto maps = proc::parse_maps(text);
    REQUIRE(maps.size() == 4);
    CHECK(maps[0].start == 0x400000);
    CHECK(maps[0].end == 0x41f000);
    CHECK(maps[0].perms == "r--p");
    CHECK(maps[0].dev_major == 0xfd);
    CHECK(maps[0].dev_minor == 1);
    CHECK(maps[0].inode == 1234);
    CHECK(maps[0].path == "/usr/bin/python3.11");
    CHECK(maps[0].is_file());
    CHECK_FALSE(maps[0].deleted);

    CHECK(maps[1].offset == 0x64000);
    CHECK(maps[1].dev_major == 0x103);
    CHECK(maps[1].executable());
    CHECK(maps[1].path == "/opt/my app/lib python.so");
    CHECK(maps[1].deleted);

    CHECK(maps[2].path == "[heap]");
    CHECK_FALSE(maps[2].is_file());
    CHECK(maps[3].path.empty());
}

TEST_CASE("process CPU time keeps the time of threads that have exited", "[proc]") {
    auto before = proc::read_process_cost(::getpid());
    REQUIRE(before);
    std::thread([] {
        timespec start{}, now{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
        do clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
        while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < 200000000L);
    }).join();
    auto after = proc::read_process_cost(::getpid());
    REQUIRE(after);
    CHECK(after->cpu_s - before->cpu_s >= 0.2);
    CHECK(after->rss > 0);
    CHECK_FALSE(proc::read_process_cost(-1));
}

TEST_CASE("proc readers on this process", "[proc]") {
    const pid_t self = ::getpid();
    CHECK(proc::process_exists(self));
    CHECK_FALSE(proc::process_exists(0));
    CHECK_FALSE(proc::process_exists(-1));

    auto maps = proc::read_maps(self);
    auto exe = proc::read_exe(self);
    REQUIRE(exe);
    auto own = std::find_if(maps.begin(), maps.end(), [&](const proc::Mapping& m) { return m.path == *exe; });
    REQUIRE(own != maps.end());
    CHECK(proc::openable_path(self, *own).starts_with("/proc/" + std::to_string(self) + "/map_files/"));
    CHECK(proc::read_comm(self) == fs::path(*exe).filename().string().substr(0, 15));

    auto usage = proc::read_memory_usage(self);
    REQUIRE(usage);
    CHECK(usage->rss > 0);
    CHECK(usage->pss > 0);
    CHECK(usage->anonymous > 0);
}
