// SPDX-License-Identifier: BSD-2-Clause
// The one vocabulary of user-facing failures. Each code has a distinct exit
// status (docs/errors.md); the message is one line that says what to do.
#pragma once

#include <stdexcept>
#include <string>

namespace leakscope {

#define LEAKSCOPE_ERRCS(X)                                                   \
    X(Usage, 2, "usage")                                                     \
    X(Permission, 3, "not permitted")                                        \
    X(KernelSupport, 4, "kernel support missing")                            \
    X(NoSuchProcess, 5, "no such process")                                   \
    X(NotPython, 6, "not a CPython process")                                 \
    X(UnsupportedVersion, 7, "unsupported CPython version")                  \
    X(LayoutMismatch, 8, "interpreter layout does not match")                \
    X(AttachFailed, 9, "attach failed")                                      \
    X(TargetExited, 10, "target exited")                                     \
    X(Io, 11, "i/o error")                                                   \
    X(Internal, 12, "internal error")                                        \
    X(Busy, 13, "target already traced")                                     \
    X(BadReport, 14, "not a leakscope report")

enum class Errc {
#define LEAKSCOPE_ERRC_ENUM(name, status, label) name,
    LEAKSCOPE_ERRCS(LEAKSCOPE_ERRC_ENUM)
#undef LEAKSCOPE_ERRC_ENUM
};

int exit_status(Errc code);
const char* label(Errc code);

class Error : public std::runtime_error {
public:
    Error(Errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
    Errc code() const { return code_; }
    int exit_status() const { return leakscope::exit_status(code_); }

private:
    Errc code_;
};

}  // namespace leakscope
