// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The client against what a review found could break it, end to end: token hooks that call
// back into the client from a multi-threaded io_context, a hook still running when the client
// is destroyed, and durations at their extremes.

#include "support/client_fixture.hpp"

#include <boost/asio/executor_work_guard.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace glue::test;
using kind = glue::token_event::kind;

namespace {

/// "wks_" and 27 base62 characters, the n-th of them.
std::string workspace(int n) {
    std::string id = "wks_" + std::string(27, '0');
    const std::string digits = std::to_string(n);
    id.replace(id.size() - digits.size(), digits.size(), digits);
    return id;
}

/// An io_context run by `n` threads until stopped.
struct threads_running {
    threads_running(asio::io_context& ioc, int n) : ioc(ioc), work(ioc.get_executor()) {
        for (int i = 0; i < n; ++i) {
            threads.emplace_back([&ioc] { ioc.run(); });
        }
    }
    ~threads_running() { stop(); }
    void stop() {
        work.reset();
        ioc.stop();
        for (auto& t : threads) {
            if (t.joinable()) {
                t.join();
            }
        }
    }
    asio::io_context& ioc;
    asio::executor_work_guard<asio::io_context::executor_type> work;
    std::vector<std::thread> threads;
};

} // namespace

TEST_SUITE("client hardening") {

    TEST_CASE("a token hook may call stats() and fetch_token() on a two-thread io_context") {
        glue::testing::mock_server server;
        asio::io_context ioc(2);
        std::unique_ptr<glue::client> client;
        std::atomic<int> hooks{0}, blocked{0}, nested{0}, nested_done{0};
        auto cfg = server.client_config();
        cfg.on_token_event = [&](const glue::token_event& e) {
            // stats() needs every lock the cache has: from another thread first, so that a
            // hook run under one of them is reported rather than deadlocking; then from here.
            const bool free = returns_from_another_thread([&] { (void)client->stats(); });
            if (free) {
                (void)client->stats();
            }
            ++hooks;
            blocked += !free;
            if (e.what == kind::refresh_start && e.workspace < workspace(20)) { // not a nested one
                asio::co_spawn(ioc, client->fetch_token(workspace(1000 + nested++)),
                               [&](std::exception_ptr ep, glue::access_token) {
                                   CHECK_FALSE(ep);
                                   ++nested_done;
                               });
            }
        };
        client = std::make_unique<glue::client>(ioc.get_executor(), cfg);
        std::atomic<int> done{0};
        for (int i = 0; i < 20; ++i) {
            asio::co_spawn(ioc, client->fetch_token(workspace(i)),
                           [&](std::exception_ptr ep, glue::access_token) {
                               CHECK_FALSE(ep);
                               ++done;
                           });
        }
        {
            threads_running running(ioc, 2);
            CHECK(eventually([&] { return done == 20 && nested_done == 20; }, 30s));
        }
        CHECK(hooks >= 80); // a start and a success for each of the 40 workspaces
        CHECK(blocked == 0);
        CHECK(client->stats().flights == 40);
        client.reset();
    }

    TEST_CASE("no token hook runs once the client's destructor has returned") {
        glue::testing::mock_server server;
        asio::io_context ioc;
        // What the hook writes to dies with the client, as a user's logger or counter would.
        auto memory = std::make_unique<std::atomic<int>>(0);
        std::atomic<bool> in_hook{false}, client_gone{false};
        std::atomic<int> late{0};
        auto cfg = server.client_config();
        cfg.on_token_event = [&, target = memory.get()](const glue::token_event& e) {
            if (e.what != kind::refresh_success) {
                return;
            }
            in_hook = true;
            // The client is destroyed on the main thread meanwhile: its destructor must wait.
            std::this_thread::sleep_for(300ms);
            late += client_gone.load();
            if (!client_gone) {
                *target = 1;
            }
        };
        auto client = std::make_unique<glue::client>(ioc.get_executor(), cfg);
        asio::co_spawn(ioc, client->fetch_token(ws), asio::detached);
        threads_running running(ioc, 1);
        REQUIRE(eventually([&] { return in_hook.load(); }, 20s));
        client.reset();
        client_gone = true;
        memory.reset();
        running.stop();
        CHECK(late == 0);
    }

    TEST_CASE("every timeout and interval at its maximum: calls still succeed") {
        using ms = std::chrono::milliseconds;
        client_fixture f({}, [](glue::client_config& c) {
            c.request_timeout = ms::max();
            c.token_request_timeout = ms::max();
            c.connect_timeout = ms::max();
            c.connection_idle_timeout = ms::max();
            c.connection_max_lifetime = ms::max();
            c.failure_backoff_max = ms::max();
            c.permanent_failure_memory = ms::max();
            c.retry_after_cap = std::chrono::seconds::max();
            c.forced_refresh_interval = ms::max();
            c.refresh_min_interval = ms::max();
            c.graphql_retry_max_delay = ms::max();
            c.soft_window_cap = std::chrono::seconds::max();
            c.throttle_window = ms::max();
            c.max_requests_per_second = 1e300;
            c.max_requests_per_second_per_workspace = 1e300;
            c.rate_limit_burst = std::numeric_limits<std::size_t>::max();
        });
        CHECK_FALSE(f.run(f.client->fetch_token(ws)).value.empty());
        glue::graphql_request req{"{ me { id } }"};
        req.timeout = ms::max();
        CHECK(f.run(f.client->graphql(ws, req)).data.is_object());
        // A failed call backs off for a saturated, not a negative, time.
        f.server.set_fault(endpoint::token, answering(500));
        const std::string cold = workspace(1);
        CHECK(f.error_of(f.client->fetch_token(cold)).code() == errc::server_error);
        const auto requests = f.server.token_requests();
        CHECK(f.error_of(f.client->fetch_token(cold)).code() == errc::server_error);
        CHECK(f.server.token_requests() == requests); // remembered, not sent again
    }
}
