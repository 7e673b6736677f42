// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTS_POOL_FIXTURE_HPP
#define GLUE_TESTS_POOL_FIXTURE_HPP

// Driving the connection pool (src/transport/http_pool.hpp) directly, for the tests in
// integration/transport/: a pool on an io_context, calls through it, substituted name lookups.

#include "protocol/origin.hpp"
#include "support/raw_server.hpp"
#include "support/test_support.hpp"
#include "transport/http_pool.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace glue::test {

namespace gd = glue::detail;
using clock_type = std::chrono::steady_clock;

/// A lookup that answers `addresses` at once.
inline gd::resolve_fn answering(std::vector<std::string> addresses) {
    return [addresses](const std::string&, std::vector<asio::ip::address>& out) {
        for (const auto& a : addresses) {
            out.push_back(asio::ip::make_address(a));
        }
        return glue::error_code{};
    };
}

/// One POST through a pool, and how it ended.
struct call {
    std::string target = "/oauth/token";
    std::string content_type = "application/x-www-form-urlencoded";
    std::string body;
    std::string authorization;
    std::size_t body_limit = 64 * 1024;
    std::optional<gd::result<std::optional<gd::http_response>>> outcome;
    clock_type::time_point ended{};
};

inline asio::awaitable<void> send(gd::http_pool& pool, call& c, gd::steady_time deadline) {
    gd::http_request req;
    req.target = c.target;
    req.content_type = c.content_type;
    req.body = c.body;
    req.authorization = c.authorization;
    req.body_limit = c.body_limit;
    auto go = [](gd::http_request&) { return true; };
    gd::http_response into;
    auto r = co_await pool.send(req, into, deadline, gd::request_priority::normal, go);
    if (!r) {
        c.outcome.emplace(std::move(r).error());
    } else if (*r) {
        c.outcome.emplace(std::optional<gd::http_response>(std::move(into)));
    } else {
        c.outcome.emplace(std::nullopt);
    }
    c.ended = clock_type::now();
}

/// Sends `body` as a query (idempotent) by `deadline`; the response body, or the failure.
inline asio::awaitable<gd::result<std::string>> query(gd::http_pool& pool, std::string body,
                                                      clock_type::time_point deadline) {
    call c;
    c.target = "/q";
    c.content_type = "text/plain";
    c.body = std::move(body);
    c.body_limit = 1 << 20;
    co_await send(pool, c, deadline);
    if (!*c.outcome) {
        co_return c.outcome->error();
    }
    if (!**c.outcome) {
        co_return gd::make_failure(glue::errc::invalid_argument, "declined");
    }
    co_return std::move((**c.outcome)->body);
}

/// An answer whose body is the request's: a response shows which request it answers.
inline std::string echo(const seen_request& r) {
    return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
           std::to_string(r.body.size()) + "\r\n\r\n" + r.body;
}

inline std::string describe(const gd::failure& f) {
    return f.ec.message() + " " + std::string(f.message);
}

struct pool_fixture {
    void open(std::string_view url, bool allow_insecure_http = false) {
        auto o = gd::parse_origin(url, allow_insecure_http);
        REQUIRE(o.has_value());
        pool.emplace(ioc.get_executor(), std::move(*o), opts);
    }

    /// Opens a pool of at most `max_connections` to `server`; `ca_pem` given: over TLS,
    /// trusting it.
    void open_on(const raw_server& server, std::size_t max_connections,
                 const std::string& ca_pem = {}) {
        opts.max_connections = max_connections;
        opts.connect_timeout = 2s;
        opts.ca_pem = ca_pem;
        open(std::string(ca_pem.empty() ? "http" : "https") +
             "://127.0.0.1:" + std::to_string(server.port()));
    }

    void start(call& c, std::chrono::milliseconds timeout) {
        asio::co_spawn(ioc, send(*pool, c, clock_type::now() + timeout), rethrow);
    }

    /// Runs until `c` has ended (at most `limit`).
    void finish(call& c, std::chrono::milliseconds limit = 5s) {
        glue::test::run_until(
            ioc, [&] { return c.outcome.has_value(); }, limit);
    }

    /// Opens the pool on `url` and makes one call `c` on it, to its end.
    void call_once(std::string_view url, call& c, bool allow_insecure_http = false) {
        open(url, allow_insecure_http);
        start(c, 5s);
        finish(c);
    }

    /// Sends `body` as a query with `timeout` (run to its end): the response body, or the
    /// failure.
    gd::result<std::string> run_query(std::string body, std::chrono::milliseconds timeout = 2s) {
        return glue::test::run(ioc, query(*pool, std::move(body), clock_type::now() + timeout));
    }

    asio::io_context ioc;
    gd::transport_options opts;
    std::optional<gd::http_pool> pool;
};

/// Whether io_context::run() returns for want of work within `limit`, rather than running until
/// it: nothing (a lookup that hangs, a timer for it) is left on the io_context.
inline bool runs_out_of_work(asio::io_context& ioc, std::chrono::milliseconds limit = 5s) {
    ioc.restart();
    ioc.run_for(limit);
    return ioc.stopped(); // set only when run() found no work left
}

} // namespace glue::test

#endif
