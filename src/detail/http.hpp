// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_DETAIL_HTTP_HPP
#define GLUE_DETAIL_HTTP_HPP

// The HTTP transport: one pool of keep-alive HTTP/1.1 connections per origin, over TCP or TLS.
// This header names no Beast or OpenSSL type; all of that stays in transport.cpp, the one
// translation unit that instantiates them.

#include "detail/function_ref.hpp"
#include "detail/outcome.hpp"

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

using steady_time = std::chrono::steady_clock::time_point;

/// Where requests go: the scheme, host and port of api_url, and its path prefix.
struct origin {
    bool tls = false;
    std::string host; ///< without IPv6 brackets
    std::uint16_t port = 0;
    std::string host_header; ///< the Host header's value
    std::string base_path;   ///< api_url's path, without a trailing '/'
    bool host_is_ip = false;
    bool loopback = false; ///< 127.0.0.0/8, ::1, or the name localhost
    /// http:// to a name (localhost): connect only if every address it resolves to is loopback.
    bool loopback_addresses_only = false;
};

/// Parses api_url: http or https, a host, an optional port and path; no query, fragment or
/// user info. `http://` is accepted only for a loopback address or the name localhost (whose
/// addresses the transport checks before connecting) unless allow_insecure_http.
result<origin> parse_origin(std::string_view api_url, bool allow_insecure_http);

struct http_request {
    std::string_view target; ///< path and query
    std::string_view content_type;
    std::string_view body;
    /// Authorization header; empty: none. Must stay valid until send() completes.
    std::string_view authorization;
    std::size_t body_limit = 0; ///< largest response body accepted
    /// Whether the request may be sent again after a failure that left its fate unknown
    /// (a stale keep-alive connection that failed before any response byte).
    bool idempotent = true;
};

struct http_response {
    unsigned status = 0;
    std::string body;
    std::string retry_after; ///< the Retry-After header's value, if any
};

/// A blocking name lookup: the addresses of `host`, or why there are none.
using resolve_fn =
    std::function<error_code(const std::string& host, std::vector<boost::asio::ip::address>&)>;

struct transport_options {
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
    std::size_t max_connections = 64;
    std::size_t header_limit = 64 * 1024;
    std::string user_agent;
    std::string ca_file; ///< empty: the system trust store
    std::string ca_pem;
    resolve_fn resolve; ///< empty: the system's resolver (getaddrinfo); tests substitute one
};

enum class request_priority {
    normal,
    high ///< served before every normal waiter (token requests: GraphQL calls wait for them)
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

    /// Sends `req` and reads the whole response, by `deadline`. An empty optional means
    /// `prepare` declined. Cancellation (any type) and errors discard the connection.
    boost::asio::awaitable<result<std::optional<http_response>>>
    send(http_request& req, steady_time deadline, request_priority prio, prepare_fn prepare);

    /// Fails every waiter and every exchange in progress with operation_aborted, closes all
    /// connections, and fails later sends the same way. Thread-safe and idempotent.
    void shutdown();

    const origin& target() const noexcept;

    /// For tests: each idle connection's request buffer, all of its capacity.
    void for_each_request_buffer(function_ref<void(std::string_view)> f) const;

private:
    struct state;
    std::shared_ptr<state> st_;
};

/// Fault injection for tests, compiled in always and inert until set: the `n`-th step from now
/// that send() takes between leasing a connection and giving it back (calling prepare,
/// building the request, storing a part of the body) fails as if out of memory; 0 disarms it.
/// Process-wide.
void fail_transport_step_for_testing(int n) noexcept;

} // namespace glue::detail

#endif
