// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "wire_bytes.hpp"

#include <cstdlib>

#include <dirent.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace glue_bench {

wire_bytes tcp_bytes_of_open_sockets() {
    wire_bytes total;
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) {
        return total;
    }
    const int own = ::dirfd(dir);
    while (const dirent* e = ::readdir(dir)) {
        char* end = nullptr;
        const long fd = std::strtol(e->d_name, &end, 10);
        if (*end != '\0' || fd == own) {
            continue;
        }
        tcp_info info{};
        socklen_t len = sizeof info;
        if (::getsockopt(static_cast<int>(fd), IPPROTO_TCP, TCP_INFO, &info, &len) != 0) {
            continue; // not a TCP socket
        }
        total.received += info.tcpi_bytes_received;
        total.sent += info.tcpi_bytes_acked;
        ++total.sockets;
    }
    ::closedir(dir);
    return total;
}

} // namespace glue_bench
