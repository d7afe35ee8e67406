// SPDX-License-Identifier: BSD-2-Clause
// One tracing session per target: a second leakscope tracing the same process
// would share its probes' stacks and live maps with nothing in between, so
// it is refused with a clear line instead.
#pragma once

#include <sys/types.h>

#include <string>

namespace leakscope::trace {

// Where the locks live; one file per target, named by its PID and start time.
constexpr const char* kLockDir = "/run/leakscope";

// Held for as long as the session traces the target; flock(2) releases it
// even when leakscope is killed.
class SessionLock {
public:
    // Throws Error(Errc::Busy) naming the leakscope that already traces pid.
    explicit SessionLock(pid_t pid);
    ~SessionLock();
    SessionLock(const SessionLock&) = delete;
    SessionLock& operator=(const SessionLock&) = delete;

private:
    std::string path_;
    int fd_ = -1;
};

}  // namespace leakscope::trace
