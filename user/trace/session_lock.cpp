// SPDX-License-Identifier: BSD-2-Clause
#include "trace/session_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "proc/maps.h"

namespace leakscope::trace {
namespace {

// The leakscope that holds the lock wrote its PID into the file.
std::string holder_of(int fd) {
    char buf[32] = {};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    std::string pid(buf, n > 0 ? size_t(n) : 0);
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return pid.empty() ? "another leakscope" : "leakscope PID " + pid;
}

// The file the descriptor has locked is still the one at path (a releasing
// session unlinks it; a locker that opened the old file must open it again).
bool still_linked(int fd, const std::string& path) {
    struct stat held, now;
    return fstat(fd, &held) == 0 && stat(path.c_str(), &now) == 0 && held.st_ino == now.st_ino &&
           held.st_dev == now.st_dev;
}

}  // namespace

SessionLock::SessionLock(pid_t pid) {
    auto started = proc::start_time(pid);
    if (!started) throw Error(Errc::NoSuchProcess, fmt::format("no process with PID {}", pid));
    if (mkdir(kLockDir, 0755) != 0 && errno != EEXIST)
        throw Error(Errc::Io, fmt::format("cannot create {}: {}", kLockDir, std::strerror(errno)));
    path_ = fmt::format("{}/{}-{}.lock", kLockDir, pid, *started);
    for (;;) {
        fd_ = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0) throw Error(Errc::Io, fmt::format("cannot open {}: {}", path_, std::strerror(errno)));
        if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            std::string holder = holder_of(fd_);
            close(fd_);
            throw Error(Errc::Busy, fmt::format("PID {} is already traced by {}: one session per process "
                                                "(stop that one first)", pid, holder));
        }
        if (still_linked(fd_, path_)) break;
        close(fd_);
    }
    std::string me = std::to_string(getpid()) + "\n";
    if (ftruncate(fd_, 0) != 0 || pwrite(fd_, me.data(), me.size(), 0) != ssize_t(me.size()))
        throw Error(Errc::Io, fmt::format("cannot write {}: {}", path_, std::strerror(errno)));
}

SessionLock::~SessionLock() {
    if (fd_ < 0) return;
    unlink(path_.c_str());  // while still holding it: a waiter then opens a fresh file
    close(fd_);
}

}  // namespace leakscope::trace
