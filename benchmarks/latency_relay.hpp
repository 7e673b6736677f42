// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_BENCH_LATENCY_RELAY_HPP
#define GLUE_BENCH_LATENCY_RELAY_HPP

// A TCP relay that adds a round-trip time on loopback, for benchmarks at a real RTT (this
// kernel has no netem). Each accepted connection gets its own connection to the target; in each
// direction every chunk read is timestamped and forwarded once `delay` has passed, so a round
// trip through the relay costs at least 2 × delay. Bandwidth is loopback's: chunks due together
// go out in one gathered write, and nothing paces them. Each direction queues at most about
// max_queued_bytes (it stops reading while full, so TCP's own flow control pushes back on the
// sender), which bounds one connection's throughput at max_queued_bytes / delay. A FIN travels
// like data (the far side is shut down for sending once everything before it is delivered);
// a read or write error resets both sides at once.
//
// Not the network: the kernel completes a client's TCP handshake on accept, so opening a
// connection through the relay costs no round trip (TLS handshakes pay theirs in full).
//
// Runs on one thread: the executor must not run handlers concurrently (a one-thread
// io_context, as glue_latency_relay has).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace glue_bench {

struct relay_options {
    boost::asio::ip::tcp::endpoint listen; ///< port 0: a free port (see latency_relay::port())
    boost::asio::ip::tcp::endpoint target;
    std::chrono::microseconds delay{0};              ///< one way, added in each direction
    std::size_t max_queued_bytes = 16 * 1024 * 1024; ///< per direction of one connection
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)}; ///< to the target
};

struct relay_counters {
    std::uint64_t connections = 0;     ///< accepted
    std::uint64_t failed_connects = 0; ///< target unreachable or too slow: client dropped
    std::uint64_t bytes_to_target = 0;
    std::uint64_t bytes_from_target = 0;
    std::size_t peak_queued_bytes = 0; ///< the most one direction of one connection held
};

class latency_relay {
public:
    /// Binds and listens (throws boost::system::system_error when it can't); accepts nothing
    /// until start().
    latency_relay(boost::asio::any_io_executor ex, const relay_options& opt);
    ~latency_relay();
    latency_relay(const latency_relay&) = delete;
    latency_relay& operator=(const latency_relay&) = delete;

    unsigned short port() const;
    void start();
    /// Stops accepting and closes every connection; the coroutines end with their operations.
    void stop();
    relay_counters counters() const;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

} // namespace glue_bench

#endif
