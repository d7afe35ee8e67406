// SPDX-License-Identifier: BSD-2-Clause
// --freeze: the target is stopped (SIGSTOP) while it is read and always
// resumed: by the guard's destructor, and, should leakscope die first, by a
// watchdog child that sends SIGCONT as soon as its pipe from leakscope closes.
#pragma once

#include <sys/types.h>

#include <chrono>

namespace leakscope::snapshot {

class FreezeGuard {
public:
    explicit FreezeGuard(pid_t target);  // throws Error(TargetExited) if it cannot be stopped
    ~FreezeGuard();
    FreezeGuard(const FreezeGuard&) = delete;
    FreezeGuard& operator=(const FreezeGuard&) = delete;

    // Resumes the target now; returns how long it was stopped.
    std::chrono::duration<double> resume();

private:
    pid_t target_;
    pid_t watchdog_ = -1;
    int pipe_fd_ = -1;  // write end; its closing tells the watchdog to resume the target
    bool stopped_ = false;
    std::chrono::steady_clock::time_point since_;
};

}  // namespace leakscope::snapshot
