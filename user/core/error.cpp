// SPDX-License-Identifier: BSD-2-Clause
#include "core/error.h"

namespace leakscope {

int exit_status(Errc code) {
    switch (code) {
#define LEAKSCOPE_ERRC_STATUS(name, status, label) \
    case Errc::name:                               \
        return status;
        LEAKSCOPE_ERRCS(LEAKSCOPE_ERRC_STATUS)
#undef LEAKSCOPE_ERRC_STATUS
    }
    return 1;
}

const char* label(Errc code) {
    switch (code) {
#define LEAKSCOPE_ERRC_LABEL(name, status, label) \
    case Errc::name:                              \
        return label;
        LEAKSCOPE_ERRCS(LEAKSCOPE_ERRC_LABEL)
#undef LEAKSCOPE_ERRC_LABEL
    }
    return "error";
}

}  // namespace leakscope
