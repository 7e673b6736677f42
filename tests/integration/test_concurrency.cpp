// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The single-flight guarantees end to end: many concurrent calls, one token request per
// workspace, and nothing one caller does hurting the others.

#include "support/client_fixture.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>

#include <doctest/doctest.h>

#include <thread>

namespace asio = boost::asio;
using namespace glue::test;

namespace {

/// 50 callers wait for one token request that the endpoint refuses: all get the same error.
void fail_token_requests_together(client_fixture& f) {
    fault refusing = answering(400, {}, R"({"error":"invalid_grant"})", 1);
    refusing.delay = 200ms; // long enough for all 50 callers to join the request
    f.server.set_fault(endpoint::token, refusing);
    std::vector<std::exception_ptr> errors;
    for (int i = 0; i < 50; ++i) {
        asio::co_spawn(f.ioc, f.client->fetch_token(ws),
                       [&](std::exception_ptr e, glue::access_token) { errors.push_back(e); });
    }
    glue::test::run_until(f.ioc, [&] { return errors.size() == 50; });
    CHECK(f.server.token_requests() == 1);
    std::shared_ptr<const glue::diagnostics> first;
    for (auto& e : errors) {
        REQUIRE(e);
        try {
            std::rethrow_exception(e);
        } catch (const glue::error& err) {
            CHECK(err.code() == errc::oauth_error);
            CHECK(err.oauth_error() == "invalid_grant");
            CHECK(err.http_status() == 400);
            if (!first) {
                first = err.details();
            }
            CHECK(err.details() == first); // the same error object for everyone
        }
    }
}

} // namespace

TEST_SUITE("concurrency") {

    TEST_CASE("20,000 calls over 200 workspaces on two threads make exactly 200 token requests") {
        glue::testing::mock_server_options opts;
        opts.threads = 2;
        glue::testing::mock_server server(opts);
        asio::io_context ioc(2);
        glue::client client(ioc.get_executor(), server.client_config());

        constexpr int calls = 20'000, workspaces = 200;
        std::atomic<int> ok{0}, failed{0};
        for (int i = 0; i < calls; ++i) {
            asio::co_spawn(
                ioc,
                [&client, w = "wks_" + std::to_string(i % workspaces)]() -> asio::awaitable<bool> {
                    auto r = co_await client.graphql(w, {"{ me { id } }"});
                    co_return r.data.at("me").at("id").as_string().starts_with("usr_");
                },
                [&](std::exception_ptr e, bool good) { ++(!e && good ? ok : failed); });
        }
        std::thread other([&] { ioc.run(); });
        ioc.run();
        other.join();

        CHECK(ok == calls);
        CHECK(failed == 0);
        CHECK(server.token_requests() == workspaces);
        for (int w = 0; w < workspaces; ++w) {
            CHECK(server.token_requests("wks_" + std::to_string(w)) == 1);
        }
        CHECK(server.graphql_requests() == calls);
        CHECK(server.max_concurrent_connections() <= 64);
    }

    TEST_CASE_FIXTURE(client_fixture,
                      "cancelling the caller that started the token request hurts no one") {
        // End to end, only what holds whichever comes first, the cancellation or the token
        // (a slow machine may deliver the token before a 20 ms timer): the caller that started
        // the token request completes, the other 50 callers get a token from that one request,
        // and it is cached. That the cancelled caller returns at once, without waiting for the
        // request, is decided on the manual clock with a held request: unit "a leader raced
        // with a timer returns at the timer, not at its request" and "cancelling one waiter
        // completes only that waiter".
        server.set_fault(endpoint::token, delayed(300ms, 1));
        int others_done = 0, others_ok = 0;
        auto spawn_others = [&] {
            for (int i = 0; i < 50; ++i) {
                asio::co_spawn(ioc, client->fetch_token(ws),
                               [&](std::exception_ptr e, glue::access_token) {
                                   ++others_done;
                                   others_ok += !e;
                               });
            }
        };

        SUBCASE("raced with a 20 ms timer") {
            using namespace asio::experimental::awaitable_operators;
            bool leader_done = false;
            asio::co_spawn(
                ioc,
                [&]() -> asio::awaitable<void> {
                    asio::steady_timer timer(co_await asio::this_coro::executor, 20ms);
                    auto winner =
                        co_await (client->fetch_token(ws) || timer.async_wait(asio::use_awaitable));
                    if (winner.index() == 0) { // the token came first: it is a good one
                        CHECK(std::get<0>(winner).value.starts_with("glue_at_"));
                    }
                    leader_done = true;
                },
                asio::detached);
            spawn_others();
            glue::test::run_until(ioc, [&] { return leader_done; });
        }

        SUBCASE("through its cancellation slot") {
            asio::cancellation_signal cancel;
            std::exception_ptr leader_error;
            bool leader_done = false;
            asio::co_spawn(ioc, client->fetch_token(ws),
                           asio::bind_cancellation_slot(
                               cancel.slot(), [&](std::exception_ptr e, glue::access_token) {
                                   leader_error = e;
                                   leader_done = true;
                               }));
            spawn_others();
            asio::steady_timer timer(ioc, 20ms);
            timer.async_wait([&](boost::system::error_code ec) {
                // Its slot is connected only while it runs; an aborted wait (the timer went
                // with the subcase) touches nothing.
                if (!ec && !leader_done) {
                    cancel.emit(asio::cancellation_type::terminal);
                }
            });
            glue::test::run_until(ioc, [&] { return leader_done; });
            if (leader_error) { // cancelled before the token came: aborted, nothing else
                try {
                    std::rethrow_exception(leader_error);
                } catch (const glue::error& e) {
                    CHECK(e.code() == asio::error::operation_aborted);
                }
            }
        }

        glue::test::run_until(ioc, [&] { return others_done == 50; });
        CHECK(others_ok == 50);
        CHECK(server.token_requests() == 1);
        CHECK(run(client->fetch_token(ws)).value.starts_with("glue_at_")); // it was cached
        CHECK(server.token_requests() == 1);
    }

    TEST_CASE("a failing token request fails every waiter alike, and is remembered") {
        SUBCASE("for 30 s") {
            client_fixture f;
            fail_token_requests_together(f);
            // Remembered: the next call gets the same refusal at once, without a request.
            CHECK(f.error_of(f.client->fetch_token(ws)).oauth_error() == "invalid_grant");
            CHECK(f.server.token_requests() == 1);
        }
        SUBCASE("or not at all, when configured so") {
            client_fixture f({}, [](glue::client_config& c) {
                c.permanent_failure_memory = std::chrono::milliseconds(0);
            });
            fail_token_requests_together(f);
            CHECK(f.run(f.client->fetch_token(ws)).token_type == "Bearer");
            CHECK(f.server.token_requests() == 2);
        }
    }

    TEST_CASE_FIXTURE(client_fixture,
                      "a revoked token: 100 concurrent calls succeed with one more token request") {
        run(client->graphql(ws, {"{ me { id } }"}));
        CHECK(server.token_requests(ws) == 1);
        server.revoke_tokens(ws);

        int ok = 0, done = 0;
        for (int i = 0; i < 100; ++i) {
            asio::co_spawn(ioc, client->graphql(ws, {"{ me { id } }"}),
                           [&](std::exception_ptr e, glue::graphql_response) {
                               ++done;
                               ok += !e;
                           });
        }
        glue::test::run_until(ioc, [&] { return done == 100; });
        CHECK(ok == 100);
        CHECK(server.token_requests(ws) == 2);
    }

    TEST_CASE_FIXTURE(client_fixture,
                      "a fresh token that is rejected too gives unauthorized, not a loop") {
        fault always_401;
        always_401.status = 401;
        server.set_fault(endpoint::graphql, always_401);
        auto e = error_of(client->graphql(ws, {"{ me { id } }"}));
        CHECK(e.code() == errc::unauthorized);
        CHECK(e.http_status() == 401);
        CHECK(server.token_requests(ws) == 2); // the first token, and one forced refresh
        CHECK(server.graphql_requests() == 2); // the call, and its one retry

        // Within the forced-refresh interval a new 401 doesn't fetch again.
        CHECK(error_of(client->graphql(ws, {"{ me { id } }"})).code() == errc::unauthorized);
        CHECK(server.token_requests(ws) == 2);
        CHECK(server.graphql_requests() == 3);
    }

} // TEST_SUITE
