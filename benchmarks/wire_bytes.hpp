// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_BENCH_WIRE_BYTES_HPP
#define GLUE_BENCH_WIRE_BYTES_HPP

// Bytes on the wire, as the kernel counts them: the TCP payload received and sent over every
// TCP socket the process holds open (TCP_INFO's tcpi_bytes_received and tcpi_bytes_acked, Linux
// 4.1+). Counts what went through the sockets, headers and TLS records included, not what the
// client decoded. A socket closed before the count is not in it. In a file of its own: the
// kernel's <linux/tcp.h> can't share a translation unit with <netinet/tcp.h>, which Asio
// includes.

#include <cstddef>
#include <cstdint>

namespace glue_bench {

struct wire_bytes {
    std::uint64_t received = 0;
    std::uint64_t sent = 0;
    std::size_t sockets = 0; ///< TCP sockets counted
};

/// Sums TCP_INFO over the descriptors listed in /proc/self/fd.
wire_bytes tcp_bytes_of_open_sockets();

} // namespace glue_bench

#endif
