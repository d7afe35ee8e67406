// SPDX-License-Identifier: BSD-2-Clause
#include "proc/maps.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "core/error.h"
#include "core/preflight.h"

namespace leakscope::proc {
namespace {

std::string proc_path(pid_t pid, std::string_view leaf) {
    return "/proc/" + std::to_string(pid) + "/" + std::string(leaf);
}

// The whole file, or nothing with errno set. /proc files report size 0, so
// this reads until EOF.
std::optional<std::string> read_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::string out;
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int saved = errno;
            ::close(fd);
            errno = saved;
            return std::nullopt;
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
}

// Splits off the next space-delimited field of line.
std::string_view next_field(std::string_view& line) {
    size_t begin = line.find_first_not_of(' ');
    if (begin == std::string_view::npos) {
        line = {};
        return {};
    }
    size_t end = line.find(' ', begin);
    std::string_view field = line.substr(begin, end == std::string_view::npos ? end : end - begin);
    line = end == std::string_view::npos ? std::string_view{} : line.substr(end);
    return field;
}

template <typename T>
bool parse_hex(std::string_view s, T& out) {
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
    return ec == std::errc{} && ptr == s.data() + s.size() && !s.empty();
}

std::optional<Mapping> parse_line(std::string_view line) {
    Mapping m;
    std::string_view range = next_field(line), perms = next_field(line), offset = next_field(line),
                     dev = next_field(line), inode = next_field(line);
    size_t dash = range.find('-'), colon = dev.find(':');
    if (dash == std::string_view::npos || colon == std::string_view::npos) return std::nullopt;
    if (!parse_hex(range.substr(0, dash), m.start) || !parse_hex(range.substr(dash + 1), m.end) ||
        !parse_hex(offset, m.offset) || !parse_hex(dev.substr(0, colon), m.dev_major) ||
        !parse_hex(dev.substr(colon + 1), m.dev_minor))
        return std::nullopt;
    auto [ptr, ec] = std::from_chars(inode.data(), inode.data() + inode.size(), m.inode);
    if (ec != std::errc{} || ptr != inode.data() + inode.size() || perms.size() != 4) return std::nullopt;
    m.perms = perms;
    // The path is the rest of the line and may itself contain spaces.
    size_t path_begin = line.find_first_not_of(' ');
    if (path_begin != std::string_view::npos) {
        std::string_view path = line.substr(path_begin);
        constexpr std::string_view kDeleted = " (deleted)";
        if (m.inode != 0 && path.ends_with(kDeleted)) {
            m.deleted = true;
            path.remove_suffix(kDeleted.size());
        }
        m.path = path;
    }
    return m;
}

}  // namespace

std::vector<Mapping> parse_maps(std::string_view text) {
    std::vector<Mapping> out;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (auto m = parse_line(line)) out.push_back(std::move(*m));
    }
    return out;
}

std::vector<Mapping> read_maps(pid_t pid) {
    std::string path = proc_path(pid, "maps");
    auto text = read_file(path);
    if (!text) {
        int err = errno;
        if (err == ENOENT || err == ESRCH || !process_exists(pid))
            throw Error(Errc::NoSuchProcess, "no process with PID " + std::to_string(pid));
        if (err == EACCES || err == EPERM)
            throw Error(Errc::Permission, "cannot read " + path + ": " + std::strerror(err) + ": " +
                                              (geteuid() == 0 ? preflight::why_unreadable(pid) : "run leakscope as root"));
        throw Error(Errc::Io, "cannot read " + path + ": " + std::strerror(err));
    }
    return parse_maps(*text);
}

std::string openable_path(pid_t pid, const Mapping& m) {
    char range[64];
    std::snprintf(range, sizeof range, "%lx-%lx", static_cast<unsigned long>(m.start),
                  static_cast<unsigned long>(m.end));
    std::string via_map_files = proc_path(pid, "map_files/") + range;
    if (::access(via_map_files.c_str(), R_OK) == 0) return via_map_files;
    return proc_path(pid, "root") + m.path;
}

bool process_exists(pid_t pid) {
    // kill(0, ...) and kill(-1, ...) address groups, not one process.
    if (pid <= 0) return false;
    return ::kill(pid, 0) == 0 || errno == EPERM;
}

namespace {

// The fields of /proc/PID/stat after "(comm) ", from the state (field 3) on:
// comm may hold spaces and parentheses, so they are found after the last ')'.
std::optional<std::vector<std::string>> stat_fields(pid_t pid) {
    auto stat = read_file(proc_path(pid, "stat"));
    if (!stat) return std::nullopt;
    auto paren = stat->rfind(')');
    if (paren == std::string::npos) return std::nullopt;
    std::istringstream rest(stat->substr(paren + 1));
    std::vector<std::string> fields;
    for (std::string f; rest >> f;) fields.push_back(std::move(f));
    if (fields.empty()) return std::nullopt;
    return fields;
}

}  // namespace

bool process_running(pid_t pid) {
    if (!process_exists(pid)) return false;
    // A zombie still answers kill(); its state in stat says it is gone.
    auto fields = stat_fields(pid);
    if (!fields) return false;
    const char state = (*fields)[0][0];
    return state != 'Z' && state != 'X';
}

std::optional<ImageId> image_id(pid_t pid) {
    constexpr size_t kStartCode = 26 - 3, kStartStack = 28 - 3;  // fields 26 and 28, from the state (3)
    auto fields = stat_fields(pid);
    auto exe = read_exe(pid);
    if (!fields || !exe || fields->size() <= kStartStack) return std::nullopt;
    return ImageId{std::strtoull((*fields)[kStartCode].c_str(), nullptr, 10),
                   std::strtoull((*fields)[kStartStack].c_str(), nullptr, 10), std::move(*exe)};
}

std::vector<pid_t> children(pid_t pid) {
    std::vector<pid_t> out;
    for (pid_t tid : thread_ids(pid)) {
        auto text = read_file(proc_path(pid, "task/" + std::to_string(tid) + "/children"));
        if (!text) continue;
        std::istringstream ids(*text);
        for (pid_t child; ids >> child;) out.push_back(child);
    }
    return out;
}

std::optional<uint64_t> start_time(pid_t pid) {
    constexpr size_t kStartTime = 22 - 3;  // field 22, counted from the state (field 3)
    auto fields = stat_fields(pid);
    if (!fields || fields->size() <= kStartTime) return std::nullopt;
    return std::strtoull((*fields)[kStartTime].c_str(), nullptr, 10);
}

std::optional<std::string> read_comm(pid_t pid) {
    auto comm = read_file(proc_path(pid, "comm"));
    if (!comm) return std::nullopt;
    if (comm->ends_with('\n')) comm->pop_back();
    return comm;
}

std::optional<std::string> read_exe(pid_t pid) {
    std::string link = proc_path(pid, "exe");
    char buf[4096];
    ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
    if (n < 0 || static_cast<size_t>(n) == sizeof buf) return std::nullopt;
    return std::string(buf, static_cast<size_t>(n));
}

std::optional<MemoryUsage> read_memory_usage(pid_t pid) {
    auto text = read_file(proc_path(pid, "smaps_rollup"));
    if (!text) return std::nullopt;
    MemoryUsage usage;
    bool seen_rss = false;
    std::string_view rest = *text;
    while (!rest.empty()) {
        size_t nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
        size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string_view key = line.substr(0, colon), value = line.substr(colon + 1);
        uint64_t* field = key == "Rss" ? &usage.rss : key == "Pss" ? &usage.pss
                        : key == "Anonymous" ? &usage.anonymous : key == "Swap" ? &usage.swap
                        : key == "Pss_File" ? &usage.pss_file : nullptr;
        if (!field) continue;
        std::string_view kb = next_field(value);
        uint64_t n = 0;
        auto [ptr, ec] = std::from_chars(kb.data(), kb.data() + kb.size(), n);
        if (ec != std::errc{} || ptr != kb.data() + kb.size()) continue;
        *field = n * 1024;  // smaps_rollup counts in kB
        if (field == &usage.rss) seen_rss = true;
    }
    if (!seen_rss) return std::nullopt;
    return usage;
}

}  // namespace leakscope::proc

namespace leakscope::proc {

std::vector<pid_t> thread_ids(pid_t pid) {
    std::vector<pid_t> ids;
    if (DIR* tasks = opendir(proc_path(pid, "task").c_str())) {
        while (dirent* e = readdir(tasks))
            if (e->d_name[0] != '.') ids.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
        closedir(tasks);
    }
    return ids;
}

std::optional<ProcessCost> read_process_cost(pid_t pid) {
    // The process's CPU clock: nanoseconds, finer than stat's 10 ms ticks so
    // short windows can be judged, and it keeps the time of threads that have
    // exited. Summing the live threads' schedstat lost it: a server with a
    // thread per request looked idle, and its probe cost looked 100x.
    ProcessCost cost;
    clockid_t clock;
    timespec now{};
    if (clock_getcpuclockid(pid, &clock) != 0 || clock_gettime(clock, &now) != 0) return std::nullopt;
    cost.cpu_s = double(now.tv_sec) + double(now.tv_nsec) / 1e9;
    auto statm = read_file(proc_path(pid, "statm"));
    if (!statm) return std::nullopt;
    uint64_t pages = 0, resident = 0;
    std::istringstream(*statm) >> pages >> resident;
    static const uint64_t page = uint64_t(sysconf(_SC_PAGESIZE));
    cost.rss = resident * page;
    return cost;
}

}  // namespace leakscope::proc
