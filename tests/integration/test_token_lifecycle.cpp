// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The token lifecycle end to end: refreshed ahead under steady traffic, the cap on token
// requests in flight, and recovery from a failing token endpoint.

#include "support/client_fixture.hpp"

#include <boost/asio/steady_timer.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace glue::test;

TEST_SUITE("token lifecycle") {

    TEST_CASE("a 4 s token under 10 s of traffic from 8 loops: no failure, no 401, refreshed") {
        // A smoke test on real time, with only what holds however slow the machine is: no call
        // fails, the server never sees an expired token (no 401), and the token was refreshed
        // ahead at least once (the traffic outlasts its 3.6 s of usable life). How many
        // requests that takes is decided on the manual clock: unit "a 4 s token under 10 s of
        // traffic from 8 loops: 4 requests, 8 misses".
        glue::testing::mock_server_options opts;
        opts.token_lifetime = 4s;
        client_fixture f(opts);
        const auto end = std::chrono::steady_clock::now() + 10s;
        std::atomic<int> ok{0}, failed{0}, loops_done{0};
        for (int loop = 0; loop < 8; ++loop) {
            asio::co_spawn(
                f.ioc,
                [&]() -> asio::awaitable<void> {
                    asio::steady_timer pace(co_await asio::this_coro::executor);
                    while (std::chrono::steady_clock::now() < end) {
                        try {
                            co_await f.client->graphql(ws, {"{ me { id } }"});
                            ++ok;
                        } catch (const glue::error&) {
                            ++failed;
                        }
                        pace.expires_after(2ms);
                        co_await pace.async_wait(asio::use_awaitable);
                    }
                    ++loops_done;
                },
                asio::detached);
        }
        glue::test::run_until(
            f.ioc, [&] { return loops_done == 8; }, 30s);
        MESSAGE("calls: " << ok.load() << ", token requests: " << f.server.token_requests(ws));
        CHECK(failed == 0);
        CHECK(ok > 0);
        CHECK(f.server.unauthorized_responses() == 0); // never an expired token on the wire
        CHECK(f.server.token_requests(ws) >= 2);
        CHECK(f.client->stats().refresh_aheads >= 1);
    }

    TEST_CASE("5,000 cold workspaces at once: at most 32 token requests at the server at a time") {
        // The deadlines are not what this case is about: the last of 5,000 calls waits for 156
        // rounds of 32 token requests, which on a loaded machine under a sanitizer can take
        // longer than the default 30 s.
        client_fixture f({}, [](glue::client_config& c) {
            c.request_timeout = 10min;
            c.token_request_timeout = 10min;
        });
        f.server.set_fault(endpoint::token, delayed(10ms)); // so requests overlap
        constexpr int workspaces = 5000;
        std::vector<std::string> ids; // a call refers to its id until it completes
        for (int i = 0; i < workspaces; ++i) {
            ids.push_back("wks_cold" + std::to_string(i));
        }
        int ok = 0, done = 0;
        for (const auto& id : ids) {
            asio::co_spawn(f.ioc, f.client->fetch_token(id),
                           [&](std::exception_ptr e, glue::access_token) {
                               ++done;
                               ok += !e;
                           });
        }
        glue::test::run_until(
            f.ioc, [&] { return done == workspaces; }, 10min);
        CHECK(ok == workspaces);
        CHECK(f.server.token_requests() == workspaces);
        MESSAGE("most token requests at once: " << f.server.max_concurrent_token_requests());
        CHECK(f.server.max_concurrent_token_requests() <= 32);
        CHECK(f.server.max_concurrent_token_requests() >= 2);
    }

    TEST_CASE_FIXTURE(
        client_fixture,
        "the token endpoint fails twice with 503 then recovers: every caller succeeds") {
        server.set_fault(endpoint::token, answering(503, {}, {}, 2));
        int ok = 0, done = 0;
        for (int i = 0; i < 100; ++i) {
            asio::co_spawn(ioc, client->fetch_token(ws),
                           [&](std::exception_ptr e, glue::access_token) {
                               ++done;
                               ok += !e;
                           });
        }
        glue::test::run_until(ioc, [&] { return done == 100; });
        CHECK(ok == 100);
        CHECK(server.token_requests() == 3); // retried inside the one flight
        CHECK(client->stats().failures_transient == 2);
    }

} // TEST_SUITE
