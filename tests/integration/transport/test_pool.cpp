// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The connection pool itself (src/transport/http_pool.hpp), against raw_servers on 127.0.0.1:
// who gets a connection when they are scarce, when an idle one is fit to use, and what a failure
// between taking a connection and giving it back leaves behind.

#include "support/raw_server.hpp"
#include "support/test_support.hpp"
#include "testing/test_pki.hpp"
#include "transport/exchange.hpp"
#include "transport/http_pool.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <new>
#include <string>

namespace {

namespace asio = boost::asio;
using namespace glue::test;
using namespace glue::detail;
using clock_type = std::chrono::steady_clock;

/// An answer whose body is the request's: a response shows which request it answers.
std::string echo(const seen_request& r) {
    return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
           std::to_string(r.body.size()) + "\r\n\r\n" + r.body;
}

/// A pool of at most `max_connections` to `server`; `ca_pem` given: over TLS, trusting it.
http_pool pool_for(asio::io_context& ioc, const raw_server& server, std::size_t max_connections,
                   const std::string& ca_pem = {}) {
    const std::string scheme = ca_pem.empty() ? "http" : "https";
    auto org = parse_origin(scheme + "://127.0.0.1:" + std::to_string(server.port()), false);
    REQUIRE(org.has_value());
    transport_options opts;
    opts.max_connections = max_connections;
    opts.connect_timeout = std::chrono::seconds(2);
    opts.ca_pem = ca_pem;
    return http_pool(ioc.get_executor(), *org, opts);
}

std::string describe(const failure& f) {
    return f.ec.message() + " " + std::string(f.message);
}

/// Sends `body` as a query (idempotent) by `deadline`; the response body, or the failure.
asio::awaitable<result<std::string>> query(http_pool& pool, std::string body,
                                           clock_type::time_point deadline) {
    http_request req;
    req.target = "/q";
    req.content_type = "text/plain";
    req.body = body;
    req.body_limit = 1 << 20;
    auto go_ahead = [](http_request&) { return true; };
    auto r = co_await pool.send(req, deadline, request_priority::normal, go_ahead);
    if (!r) {
        co_return r.error();
    }
    if (!*r) {
        co_return make_failure(glue::errc::invalid_argument, "declined");
    }
    co_return std::move((*r)->body);
}

} // namespace

TEST_SUITE("faults") {

    TEST_CASE("a request that needs a fresh connection is served in turn, not starved") {
        // One connection, three callers in a loop: whenever it comes back, someone waits. The
        // server drops the 4th request unanswered on the kept-alive connection, so its caller
        // needs a fresh connection, and it waits ahead of callers that would take any.
        std::atomic<bool> dropped = false;
        std::atomic<int> seen = 0;
        raw_server server([&](const seen_request& r) {
            if (++seen == 4) {
                dropped = true;
                return std::string();
            }
            return echo(r);
        });
        asio::io_context ioc;
        auto pool = pool_for(ioc, server, 1);
        const auto start = clock_type::now();
        int early_in_flight = 0; // calls that started before the drop, and are not over
        int running = 0;
        std::string failures; // "call: what went wrong; ..."
        clock_type::duration longest{};
        int calls = 0;
        for (int caller = 0; caller < 3; ++caller) {
            ++running;
            asio::co_spawn(
                ioc,
                [&, caller]() -> asio::awaitable<void> {
                    // Until every call from before the drop has ended (bounded: 8 s).
                    for (int i = 0; i < 1'000'000 && (!dropped || early_in_flight > 0) &&
                                    clock_type::now() - start < std::chrono::seconds(8);
                         ++i) {
                        const bool early = !dropped;
                        early_in_flight += early;
                        const std::string body = std::to_string(caller) + "/" + std::to_string(i);
                        const auto begun = clock_type::now();
                        auto r = co_await query(pool, body, begun + std::chrono::seconds(3));
                        longest = std::max(longest, clock_type::now() - begun);
                        early_in_flight -= early;
                        ++calls;
                        if (!r) {
                            failures += body + ": " + describe(r.error()) + "; ";
                        } else if (*r != body) {
                            failures += body + ": answered with " + *r + "; ";
                        }
                    }
                    --running;
                },
                asio::detached);
        }
        run_until(ioc, [&] { return running == 0; });
        CAPTURE(calls);
        CHECK(dropped);
        CHECK(failures == ""); // a starved caller fails with a timeout at its 3 s deadline
        MESSAGE("the longest call took " << std::chrono::duration<double>(longest).count() << " s");
    }

    TEST_CASE("a TLS connection opened but not used yet is not stale for its session tickets") {
        // A TLS 1.3 server sends session tickets after the handshake; on a connection nobody used
        // yet they are still unread when it is leased, and they are not a sign of a closed one.
        const auto pki = glue::testing::detail::make_test_pki();
        asio::ssl::context tls(asio::ssl::context::tls_server);
        tls.use_certificate_chain(asio::buffer(pki.cert_pem));
        tls.use_private_key(asio::buffer(pki.key_pem), asio::ssl::context::pem);
        raw_server server(echo, &tls);
        asio::io_context ioc;
        auto pool = pool_for(ioc, server, 1, pki.ca_pem);
        // A request whose deadline has passed gives up at once; the connection opened for it
        // goes idle, unused.
        auto r = glue::test::run(ioc, query(pool, "late", clock_type::now()));
        CHECK(r.error().ec == glue::errc::timeout);
        run_until(ioc, [&] { return server.handshakes() == 1; });
        ioc.restart();
        ioc.run_for(std::chrono::milliseconds(200)); // the tickets arrive
        r = glue::test::run(ioc, query(pool, "next", clock_type::now() + std::chrono::seconds(2)));
        if (!r) {
            FAIL("the request failed: " << describe(r.error()));
        }
        CHECK(*r == "next");
        CHECK(server.accepted() == 1);
    }

    TEST_CASE("a failure at any step between taking a connection and giving it back frees it") {
        // Boost.MySQL's fail-count style: fail the 1st step, then the 2nd, ... until the request
        // goes through. After each failure the pool's one connection slot must be usable.
        raw_server server(echo);
        asio::io_context ioc;
        auto pool = pool_for(ioc, server, 1);
        bool succeeded = false;
        int failed = 0;
        for (int step = 1; step <= 50 && !succeeded; ++step) {
            CAPTURE(step);
            fail_transport_step_for_testing(step);
            try {
                auto r = glue::test::run(
                    ioc, query(pool, "armed", clock_type::now() + std::chrono::seconds(2)));
                succeeded = r.has_value();
                failed += !succeeded;
            } catch (const std::bad_alloc&) {
                ++failed;
            }
            fail_transport_step_for_testing(0);
            auto r = glue::test::run(
                ioc, query(pool, "after", clock_type::now() + std::chrono::seconds(2)));
            if (!r) {
                FAIL("the next request failed: " << describe(r.error()));
            }
            CHECK(*r == "after");
        }
        CHECK(succeeded);
        CHECK(failed >= 3); // prepare, serialize, the body: each failed once
    }

} // TEST_SUITE
