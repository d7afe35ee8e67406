// SPDX-License-Identifier: BSD-2-Clause
// What /proc says about a process: its mappings, name, executable and memory
// use. Paths in /proc/PID/maps are as the target sees them (its mount
// namespace); openable_path() turns one into a path this process can open.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace leakscope::proc {

struct Mapping {
    uint64_t start = 0, end = 0;
    std::string perms;  // "r-xp"
    uint64_t offset = 0;
    unsigned dev_major = 0, dev_minor = 0;
    uint64_t inode = 0;
    std::string path;     // without the " (deleted)" suffix; "[heap]" etc. for special mappings
    bool deleted = false;  // the file was unlinked after it was mapped

    bool readable() const { return perms.size() > 0 && perms[0] == 'r'; }
    bool executable() const { return perms.size() > 2 && perms[2] == 'x'; }
    bool is_file() const { return inode != 0 && !path.empty() && path[0] == '/'; }
    // The C library (glibc's libc.so.6, or an older libc-2.x.so).
    bool is_libc() const {
        return is_file() && (path.find("/libc.so") != std::string::npos || path.find("/libc-") != std::string::npos);
    }
    bool same_file(const Mapping& other) const {
        return inode == other.inode && dev_major == other.dev_major && dev_minor == other.dev_minor;
    }
};

// Parses the text of a /proc/PID/maps file; malformed lines are skipped.
std::vector<Mapping> parse_maps(std::string_view text);

// Throws Error: NoSuchProcess when the process is gone, Permission when its
// maps may not be read, Io otherwise.
std::vector<Mapping> read_maps(pid_t pid);

// A path to the mapped file that works from this process even when the file
// was deleted or lives in another mount namespace: /proc/PID/map_files/S-E
// when that can be opened, else /proc/PID/root/<path>.
std::string openable_path(pid_t pid, const Mapping& m);

bool process_exists(pid_t pid);
bool process_running(pid_t pid);  // exists and is not a zombie
// Clock ticks after boot at which the process started: with the PID, it names
// one process for good (PIDs are reused, start times are not).
std::optional<uint64_t> start_time(pid_t pid);

// What changes when a process execs: where its code and stack start (placed
// anew by each exec) and its executable.
struct ImageId {
    uint64_t start_code = 0, start_stack = 0;
    std::string exe;
    bool operator==(const ImageId&) const = default;
};
std::optional<ImageId> image_id(pid_t pid);

// The live children of every thread of pid (/proc/PID/task/TID/children).
std::vector<pid_t> children(pid_t pid);
std::vector<pid_t> thread_ids(pid_t pid);  // from /proc/PID/task; empty when gone
std::optional<std::string> read_comm(pid_t pid);  // without the trailing newline
std::optional<std::string> read_exe(pid_t pid);   // readlink of /proc/PID/exe, as the kernel gives it

// From /proc/PID/smaps_rollup, in bytes.
struct MemoryUsage {
    uint64_t rss = 0;
    uint64_t pss = 0;
    uint64_t anonymous = 0;
    uint64_t swap = 0;
    uint64_t pss_file = 0;  // file mappings' share of the PSS
};
std::optional<MemoryUsage> read_memory_usage(pid_t pid);

// Cheap enough to read many times a second: CPU time (every thread, those
// that have exited too; ns resolution) and RSS.
struct ProcessCost {
    double cpu_s = 0;
    uint64_t rss = 0;
};
std::optional<ProcessCost> read_process_cost(pid_t pid);

}  // namespace leakscope::proc
