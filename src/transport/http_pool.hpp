// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TRANSPORT_HTTP_POOL_HPP
#define GLUE_TRANSPORT_HTTP_POOL_HPP

// The HTTP transport: one pool of keep-alive connections per origin, over TCP or TLS, speaking
// HTTP/1.1, or HTTP/2 where ALPN selects it (h2_session.hpp).
// This header names no Beast or OpenSSL type: the layers above compile without them. Beast's
// HTTP code is instantiated in exchange.cpp (and proxy_tunnel.cpp, for CONNECT), the TLS
// handshake in connection.cpp.

#include <glue/config.hpp>
#include <glue/metrics.hpp>

#include "protocol/http_message.hpp"
#include "protocol/origin.hpp"
#include "protocol/proxy.hpp"
#include "support/clock.hpp"
#include "support/function_ref.hpp"
#include "support/outcome.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace glue::detail {

/// A blocking name lookup: the addresses of `host`, or why there are none.
using resolve_fn =
    std::function<error_code(const std::string& host, std::vector<boost::asio::ip::address>&)>;

struct transport_options {
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
    std::size_t max_connections = 64;
    std::size_t header_limit = 64 * 1024;
    /// The largest response body a request of the pool may accept: HTTP/2's flow-control
    /// windows are sized for it (h2_codec.cpp).
    std::uint64_t max_response_body = 32 * 1024 * 1024;
    /// HTTP/2 over TLS, negotiated by ALPN (client_config::http2).
    http2_mode http2 = http2_mode::automatic;
    std::string user_agent;
    std::string ca_file; ///< empty: the system trust store
    std::string ca_pem;
    bool accept_compressed = true; ///< send Accept-Encoding: gzip, deflate
    resolve_fn resolve; ///< empty: the system's resolver (getaddrinfo); tests substitute one
    /// Connection ageing (pool_policy.hpp); zero: no limit.
    std::chrono::milliseconds connection_idle_timeout{std::chrono::seconds(60)};
    std::chrono::milliseconds connection_max_lifetime{std::chrono::minutes(10)};
    /// The clock connections age by; empty: steady_clock. Tests substitute one.
    std::function<steady_time()> now;
    /// Response headers kept in http_response::captured: names in lower case.
    std::vector<std::string> capture_headers;
    /// Header lines sent with every request, each "Name: value\r\n", checked already.
    std::string default_headers;
    /// The proxy every connection goes through (protocol/proxy.hpp's choose_proxy); none:
    /// straight to the origin.
    std::optional<proxy_url> proxy;
};

enum class request_priority {
    normal,
    high ///< served before every normal waiter (token requests: GraphQL calls wait for them)
};

/// How long opening a connection took, step by step.
struct connect_times {
    std::chrono::nanoseconds dns{0}, tcp{0}, tunnel{0}, tls{0};
};

/// What one send() went through, for the request events and metrics.
struct send_trace {
    std::chrono::nanoseconds connection_wait{0}; ///< until a connection was in hand
    bool new_connection = false;                 ///< its first exchange
    connect_times connect;                       ///< new_connection only
    std::chrono::nanoseconds exchange{0};        ///< write and read, the last try's
    steady_time ended_at{};                      ///< when the exchange ended (written only)
    std::uint64_t bytes_sent = 0, bytes_received = 0;
    bool written = false; ///< any byte of the request left
    bool http2 = false;   ///< the last try went on an HTTP/2 stream
};

/// Called with a connection in hand, right before the request is written, and again before a
/// retry on a fresh connection. Returning false hands the connection back unused.
using prepare_fn = function_ref<bool(http_request&)>;

class http_pool {
public:
    /// Throws glue::error (errc::invalid_argument) when the TLS settings can't be loaded.
    http_pool(boost::asio::any_io_executor ex, origin org, transport_options opts);
    ~http_pool();
    http_pool(const http_pool&) = delete;
    http_pool& operator=(const http_pool&) = delete;

    /// Sends `req` and reads the whole response into `into`, by `deadline`: true. False means
    /// `prepare` declined. Cancellation (any type) and errors discard the connection; `into`
    /// then means nothing. The response is filled in place: moving it from layer to layer
    /// was a measurable share of a call's cost.
    boost::asio::awaitable<result<bool>> send(http_request& req, http_response& into,
                                              steady_time deadline, request_priority prio,
                                              prepare_fn prepare, send_trace* trace = nullptr);

    /// Fails every waiter and every exchange in progress with operation_aborted, closes all
    /// connections, and fails later sends the same way. Thread-safe and idempotent.
    void shutdown();

    const origin& target() const noexcept;

    /// The pool's gauges and counters (pool_stats's connection and close figures).
    pool_stats stats() const;

    /// For tests: each idle connection's request buffer, all of its capacity.
    void for_each_request_buffer(function_ref<void(std::string_view)> f) const;

private:
    struct state;
    std::shared_ptr<state> st_;
};

} // namespace glue::detail

#endif
