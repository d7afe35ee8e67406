// SPDX-License-Identifier: BSD-2-Clause
#include "trace/uprobe_multi.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace leakscope::trace {

int create_uprobe_multi_link(int prog_fd, const std::string& path, std::span<const uint64_t> offsets,
                             std::span<const uint64_t> cookies, pid_t pid, bool retprobe) {
    // union bpf_attr.link_create for BPF_TRACE_UPROBE_MULTI.
    struct {
        uint32_t prog_fd, target_fd, attach_type, flags;
        uint64_t path, offsets, ref_ctr_offsets, cookies;
        uint32_t cnt, multi_flags, pid, pad;
    } link{};
    link.prog_fd = static_cast<uint32_t>(prog_fd);
    link.attach_type = kAttachUprobeMulti;
    link.path = reinterpret_cast<uint64_t>(path.c_str());
    link.offsets = reinterpret_cast<uint64_t>(offsets.data());
    link.cookies = reinterpret_cast<uint64_t>(cookies.data());
    link.cnt = static_cast<uint32_t>(offsets.size());
    link.multi_flags = retprobe ? 1u /* BPF_F_UPROBE_MULTI_RETURN */ : 0u;
    link.pid = static_cast<uint32_t>(pid);
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    std::memcpy(&attr, &link, sizeof link);
    int fd = static_cast<int>(syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof attr));
    return fd < 0 ? -errno : fd;
}

}  // namespace leakscope::trace
