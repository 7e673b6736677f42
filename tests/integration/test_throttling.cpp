// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Throttling, rate limits and the retry budget through the public API, against the mock server:
// who waits for a pause, who fails at once, how many requests the server sees. The counts are the
// assertions; the rules themselves are tested on a manual clock in tests/unit/throttle/.

#include "support/client_fixture.hpp"

#include <boost/asio/co_spawn.hpp>

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

namespace {

using namespace glue::test;

const std::string ws_a = "wks_ThrottledWorkspaceA00000000";
const std::string ws_b = "wks_ThrottledWorkspaceB00000000";
const std::string ws_c = "wks_ThrottledWorkspaceC00000000";
const std::string ws_d = "wks_ThrottledWorkspaceD00000000";

glue::graphql_request query(std::chrono::milliseconds timeout = {}, unsigned attempts = 0) {
    glue::graphql_request r("{ me { id } }");
    r.timeout = timeout;
    r.retry_attempts = attempts;
    return r;
}

struct outcomes {
    int ok = 0, failed = 0;
    std::vector<glue::error_code> errors;
    std::vector<std::chrono::seconds> retry_after;
};

// Runs `n` calls for `w` at once; what became of them.
outcomes run_together(client_fixture& f, const std::vector<std::string>& workspaces,
                      const glue::graphql_request& req) {
    auto out = std::make_shared<outcomes>();
    auto left = std::make_shared<std::size_t>(workspaces.size());
    for (const auto& w : workspaces) {
        asio::co_spawn(
            f.ioc,
            [&f, w, req, out]() -> asio::awaitable<void> {
                try {
                    co_await f.client->graphql(w, req);
                    ++out->ok;
                } catch (const glue::error& e) {
                    ++out->failed;
                    out->errors.push_back(e.code());
                    out->retry_after.push_back(e.details()->retry_after);
                }
            },
            [left](std::exception_ptr) { --*left; });
    }
    run_until(f.ioc, [&] { return *left == 0; });
    return *out;
}

struct throttle_fixture : client_fixture {
    explicit throttle_fixture(const std::function<void(glue::client_config&)>& tweak = {})
        : client_fixture({}, [&](glue::client_config& c) {
            c.adaptive_rate = false; // the pauses alone, unless a test turns it on
            if (tweak) {
                tweak(c);
            }
        }) {
        for (const auto& w : {ws_a, ws_b, ws_c, ws_d}) {
            run(client->fetch_token(w)); // tokens first: only GraphQL is counted below
        }
        server.reset_counters();
    }
};

} // namespace

TEST_SUITE("throttling") {

    TEST_CASE("a 429 pauses every call for its workspace until Retry-After, and only those") {
        throttle_fixture f;
        f.server.set_fault(endpoint::graphql, answering(429, "1", {}, 1));
        auto e = f.error_of(f.client->graphql(ws_a, query({}, 1)));
        CHECK(e.code() == errc::rate_limited);
        REQUIRE(f.server.graphql_requests() == 1);

        // The other workspaces go on at once.
        auto others = run_together(f, {ws_b, ws_b, ws_c, ws_c, ws_d}, query());
        CHECK(others.ok == 5);
        CHECK(f.server.graphql_requests() == 6);

        // A call for the paused workspace whose deadline ends inside the pause fails at once,
        // sending nothing.
        const auto start = std::chrono::steady_clock::now();
        auto early = f.error_of(f.client->graphql(ws_a, query(300ms)));
        CHECK(early.code() == errc::rate_limited);
        CHECK(early.details()->retry_after == 1s);
        CHECK(std::chrono::steady_clock::now() - start < 300ms);
        CHECK(f.server.graphql_requests() == 6);

        // The others wait for the pause, then all go.
        auto waited = run_together(f, {ws_a, ws_a, ws_a}, query());
        CHECK(waited.ok == 3);
        CHECK(f.server.graphql_requests() == 9);
        const auto s = f.client->throttling();
        CHECK(s.throttled == 1);
        CHECK(s.workspace_pauses == 1);
        CHECK(s.app_pauses == 0);
        CHECK(s.calls_failed_waiting == 1);
        CHECK(s.requests_sent == 9);
        CHECK(s.wait_ns > 0);
    }

    TEST_CASE("429s on three workspaces in a row pause the app") {
        throttle_fixture f;
        f.server.set_fault(endpoint::graphql, answering(429, "2", {}, 3));
        for (const auto& w : {ws_a, ws_b, ws_c}) {
            CHECK(f.error_of(f.client->graphql(w, query({}, 1))).code() == errc::rate_limited);
        }
        auto e = f.error_of(f.client->graphql(ws_d, query(500ms)));
        CHECK(e.code() == errc::rate_limited);
        CHECK(e.details()->retry_after >= 1s);
        CHECK(f.server.graphql_requests() == 3);
        CHECK(f.client->throttling().app_pauses == 1);
    }

    TEST_CASE("a 503 with Retry-After pauses the app; calls that can't wait fail as server_error") {
        throttle_fixture f;
        f.server.set_fault(endpoint::graphql, answering(503, "5", {}, 1));
        CHECK(f.error_of(f.client->graphql(ws_a, query({}, 1))).code() == errc::server_error);
        auto e = f.error_of(f.client->graphql(ws_b, query(1s)));
        CHECK(e.code() == errc::server_error);
        CHECK(e.details()->retry_after >= 4s);
        CHECK(f.server.graphql_requests() == 1);
    }

    TEST_CASE("max_requests_per_second: a burst at once, the rest in turn or refused at once") {
        throttle_fixture f([](glue::client_config& c) {
            c.max_requests_per_second = 1;
            c.rate_limit_burst = 2;
        });
        const auto start = std::chrono::steady_clock::now();
        auto r = run_together(f, {ws_a, ws_b, ws_c, ws_d, ws_a}, query(500ms));
        CHECK(r.ok == 2);
        CHECK(r.failed == 3);
        for (auto ec : r.errors) {
            CHECK(ec == errc::rate_limited);
        }
        for (auto ra : r.retry_after) {
            CHECK(ra >= 1s);
        }
        CHECK(std::chrono::steady_clock::now() - start < 500ms); // nobody waited in vain
        CHECK(f.server.graphql_requests() == 2);
        CHECK(f.client->throttling().app_rate_limit == 1);
    }

    TEST_CASE("max_requests_per_second: calls that can wait get their turns, in order") {
        throttle_fixture f([](glue::client_config& c) {
            c.max_requests_per_second = 20; // 50 ms apart
            c.rate_limit_burst = 1;
        });
        auto order = std::make_shared<std::vector<int>>();
        auto left = std::make_shared<int>(6);
        for (int i = 0; i < 6; ++i) {
            asio::co_spawn(
                f.ioc,
                [&f, i, order]() -> asio::awaitable<void> {
                    co_await f.client->graphql(ws_a, query(10s));
                    order->push_back(i);
                },
                [left](std::exception_ptr e) {
                    CHECK(!e);
                    --*left;
                });
        }
        const auto start = std::chrono::steady_clock::now();
        run_until(f.ioc, [&] { return *left == 0; });
        CHECK(*order == std::vector<int>{0, 1, 2, 3, 4, 5});
        CHECK(std::chrono::steady_clock::now() - start >= 250ms); // five turns after the first
        CHECK(f.server.graphql_requests() == 6);
    }

    TEST_CASE("max_requests_per_second_per_workspace holds each workspace alone") {
        throttle_fixture f([](glue::client_config& c) {
            c.max_requests_per_second_per_workspace = 1;
            c.rate_limit_burst = 1;
        });
        auto r = run_together(f, {ws_a, ws_a, ws_b, ws_c}, query(300ms));
        CHECK(r.ok == 3);
        CHECK(r.failed == 1);
        CHECK(f.server.graphql_requests() == 3);
    }

    TEST_CASE("adaptive rate: an app-wide throttling sets a rate limit where there was none") {
        throttle_fixture f([](glue::client_config& c) { c.adaptive_rate = true; });
        CHECK(f.client->throttling().app_rate_limit == 0);
        run_together(f, {ws_a, ws_b, ws_c, ws_d}, query());
        f.server.set_fault(endpoint::graphql, answering(429, "1", {}, 3));
        for (const auto& w : {ws_a, ws_b, ws_c}) {
            CHECK(f.error_of(f.client->graphql(w, query({}, 1))).code() == errc::rate_limited);
        }
        const auto s = f.client->throttling();
        CHECK(s.app_pauses == 1);
        CHECK(s.app_rate_limit > 0);
        // The pause over, calls go again, now under that rate.
        CHECK(run_together(f, {ws_d}, query()).ok == 1);
    }

    TEST_CASE("the retry budget: an outage costs one request per call once it is spent; "
              "retries come back with recovery") {
        throttle_fixture f([](glue::client_config& c) {
            c.retry_budget = 50;
            c.retry_cost = 5;
            c.graphql_retry_base_delay = 1ms;
            c.graphql_retry_max_delay = 2ms;
        });
        f.server.set_fault(endpoint::graphql, answering(503)); // no Retry-After: not throttling
        int failed = 0;
        for (int i = 0; i < 40; ++i) {
            try {
                f.run(f.client->graphql(ws_a, query()));
            } catch (const glue::error& e) {
                CHECK(e.code() == errc::server_error);
                ++failed;
            }
        }
        CHECK(failed == 40);
        // 40 calls and the 10 retries the budget paid for (4 attempts each without it: 160).
        CHECK(f.server.graphql_requests() == 50);
        auto s = f.client->throttling();
        CHECK(s.retries == 10);
        CHECK(s.retries_denied >= 30);
        CHECK(s.retry_budget_left == 0);

        // Recovery: successes fill the budget back, one unit each.
        f.server.clear_faults();
        for (int i = 0; i < 10; ++i) {
            f.run(f.client->graphql(ws_a, query()));
        }
        CHECK(f.client->throttling().retry_budget_left == 10);
        f.server.reset_counters();
        f.server.set_fault(endpoint::graphql, answering(503, {}, {}, 1));
        f.run(f.client->graphql(ws_a, query())); // retried again, and succeeds
        CHECK(f.server.graphql_requests() == 2);
        CHECK(f.client->throttling().retry_budget_left == 10); // paid 5, got them back
    }

    TEST_CASE("a pause leaves no work behind: an idle client's io_context runs out") {
        throttle_fixture f([](glue::client_config& c) {
            c.max_requests_per_second = 5;
            c.adaptive_rate = true;
        });
        f.server.set_fault(endpoint::graphql, answering(429, "60", {}, 3));
        for (const auto& w : {ws_a, ws_b, ws_c}) {
            CHECK(f.error_of(f.client->graphql(w, query({}, 1))).code() == errc::rate_limited);
        }
        CHECK(f.client->throttling().app_pauses == 1);
        f.ioc.restart();
        CHECK(returns_from_another_thread([&] { f.ioc.run(); }));
    }
}
