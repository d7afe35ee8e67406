// SPDX-License-Identifier: BSD-2-Clause
#include "trace/launch.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "proc/maps.h"
#include "python/discovery.h"

namespace leakscope::trace {
namespace {

// System-call stops allowed before giving up on seeing an interpreter.
constexpr int kMaxStops = 200000;

int exit_status_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 1;
}

bool maps_libc(pid_t pid) {
    for (const auto& m : proc::read_maps(pid))
        if (m.is_libc()) return true;
    return false;
}

// The interpreter and the C library are both mapped. An interpreter of a
// version or build leakscope refuses is there all the same: the caller's own
// discovery then says why, rather than waiting for one that never comes.
bool interpreter_ready(pid_t pid) {
    if (!maps_libc(pid)) return false;
    try {
        python::discover(pid, {""});
        return true;
    } catch (const Error& e) {
        return e.code() == Errc::UnsupportedVersion;
    }
}

}  // namespace

LaunchedCommand::LaunchedCommand(const std::vector<std::string>& argv) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw Error(Errc::Io, fmt::format("pipe: {}", strerror(errno)));
    pid_ = fork();
    if (pid_ < 0) throw Error(Errc::Io, fmt::format("fork: {}", strerror(errno)));
    if (pid_ == 0) {
        close(fds[0]);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
        execvp(args[0], args.data());
        int err = errno;
        (void)!write(fds[1], &err, sizeof err);
        _exit(127);
    }
    close(fds[1]);
    int status = 0;
    waitpid(pid_, &status, 0);
    int exec_errno = 0;
    bool exec_failed = read(fds[0], &exec_errno, sizeof exec_errno) == sizeof exec_errno;
    close(fds[0]);
    if (exec_failed || !WIFSTOPPED(status)) {
        if (!WIFEXITED(status) && !WIFSIGNALED(status)) waitpid(pid_, &status, 0);
        exited_ = true;
        throw Error(Errc::Usage, fmt::format("cannot run '{}': {}", argv[0], strerror(exec_errno ? exec_errno : ECHILD)));
    }
    ptrace(PTRACE_SETOPTIONS, pid_, nullptr,
           PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL);

    // Step from system call to system call: an interpreter appears after an
    // mmap (libpython, libc) or an exec (a wrapper such as env).
    int pending_signal = 0;
    for (int i = 0; i < kMaxStops; ++i) {
        bool check = i == 0;
        if (!check && WIFSTOPPED(status)) {
            if (WSTOPSIG(status) == (SIGTRAP | 0x80)) {
                user_regs_struct regs{};
                ptrace(PTRACE_GETREGS, pid_, nullptr, &regs);
                // rax == -ENOSYS marks the entry; the exit of an mmap is what counts.
                check = regs.orig_rax == SYS_mmap && static_cast<long>(regs.rax) != -ENOSYS;
            } else if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXEC << 8))) {
                check = true;
            } else if (WSTOPSIG(status) != SIGTRAP) {
                pending_signal = WSTOPSIG(status);
            }
        }
        if (check && interpreter_ready(pid_)) return;
        ptrace(PTRACE_SYSCALL, pid_, nullptr, reinterpret_cast<void*>(static_cast<long>(pending_signal)));
        pending_signal = 0;
        if (waitpid(pid_, &status, 0) < 0 || WIFEXITED(status) || WIFSIGNALED(status)) {
            exited_ = true;
            status_ = exit_status_of(status);
            throw Error(Errc::NotPython,
                        fmt::format("'{}' exited (status {}) without starting a Python interpreter", argv[0], status_));
        }
    }
    throw Error(Errc::NotPython, fmt::format("'{}' did not start a Python interpreter", argv[0]));
}

LaunchedCommand::~LaunchedCommand() {
    if (pid_ > 0 && !released_ && !exited_) {
        kill(pid_, SIGKILL);
        int status;
        waitpid(pid_, &status, 0);
    }
}

void LaunchedCommand::release() {
    if (!released_) ptrace(PTRACE_DETACH, pid_, nullptr, nullptr);
    released_ = true;
}

bool LaunchedCommand::exited() {
    if (exited_) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_ && (WIFEXITED(status) || WIFSIGNALED(status))) {
        exited_ = true;
        status_ = exit_status_of(status);
    }
    return exited_;
}

int LaunchedCommand::wait() {
    while (!exited_) {
        int status = 0;
        if (waitpid(pid_, &status, 0) < 0) {
            if (errno == EINTR) continue;
            exited_ = true;
            break;
        }
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            exited_ = true;
            status_ = exit_status_of(status);
        }
    }
    return status_;
}

}  // namespace leakscope::trace
