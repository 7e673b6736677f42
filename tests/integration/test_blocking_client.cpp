// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// glue::blocking_client: the client's operations blocking the calling thread, on an io_context
// of its own or on a borrowed one, from many threads at once, with deadlines, and its
// destructor with calls in flight.

#include <glue/blocking_client.hpp>

#include "support/black_hole.hpp"
#include "support/client_fixture.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <future>
#include <latch>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace glue::test;

namespace {

const glue::graphql_request me_query("{ me { id } }");

// The glue::error a blocking call throws; fails the test if it returns.
template <class F>
glue::error blocking_error(F&& call) {
    try {
        call();
    } catch (const glue::error& e) {
        return e;
    }
    FAIL("the call returned, but it should have thrown");
    throw; // not reached
}

// A configuration whose calls hang on connecting: the API is a black hole, and the client's own
// timeouts are an hour, so only a blocking call's deadline can end them.
glue::client_config hanging_config(const black_hole& hole) {
    glue::client_config cfg;
    cfg.client_id = "app";
    cfg.client_secret = "secret";
    cfg.redirect_uri = "http://127.0.0.1/callback";
    cfg.api_url = "http://127.0.0.1:" + std::to_string(hole.endpoint().port());
    cfg.connect_timeout = 1h;
    cfg.request_timeout = 1h;
    cfg.token_request_timeout = 1h;
    cfg.token_retry_attempts = 1;
    return cfg;
}

// Runs `call` on a thread of `ioc` (through `ex`) and returns the code it threw (none: it
// returned).
template <class Executor, class F>
glue::error_code code_on(const Executor& ex, F call) {
    std::promise<glue::error_code> code;
    asio::post(ex, [&] {
        try {
            call();
            code.set_value({});
        } catch (const glue::error& e) {
            code.set_value(e.code());
        }
    });
    return code.get_future().get();
}

} // namespace

TEST_SUITE("blocking client") {

    TEST_CASE("fetch_token and graphql block until done and return what the coroutines return") {
        glue::testing::mock_server server;
        glue::blocking_client client(server.client_config());

        const glue::access_token token = client.fetch_token(ws);
        CHECK(!token.value.empty());
        CHECK(token.user_id == server.app_user_id(ws));

        const glue::graphql_response r = client.graphql(ws, me_query);
        CHECK(r.data.at("me").at("id").as_string() == server.app_user_id(ws));

        using me_data = std::map<std::string, std::map<std::string, std::string>>;
        const auto typed = client.graphql<me_data>(ws, {"{ me { id name } }"}, 30s);
        CHECK(typed.at("me").at("id") == server.app_user_id(ws));

        CHECK(server.token_requests(ws) == 1);
        CHECK(client.stats().token_requests == 1);
        CHECK(client.metrics().ended(glue::call_outcome::ok) == 2);
        CHECK(client.config().api_url == server.url());
    }

    TEST_CASE("a failure throws the glue::error the coroutine form throws") {
        glue::testing::mock_server_options opts;
        opts.any_workspace = false; // only `ws` is installed
        opts.workspaces = {std::string(ws)};
        client_fixture f(opts);
        glue::blocking_client client(f.cfg);

        // Refused before any I/O: the same code and the same text.
        auto async_refused = f.error_of(f.client->graphql("", me_query));
        auto refused = blocking_error([&] { client.graphql("", me_query); });
        CHECK(refused.code() == errc::invalid_argument);
        CHECK(std::string(refused.what()) == async_refused.what());

        // What the server said comes along in details().
        auto bad_query = blocking_error([&] { client.graphql(ws, {"{ nope }"}); });
        CHECK(bad_query.code() == errc::graphql_error);
        REQUIRE(!bad_query.graphql_errors().empty());
        auto async_bad_query = f.error_of(f.client->graphql(ws, {"{ nope }"}));
        CHECK(bad_query.graphql_errors().front().message ==
              async_bad_query.graphql_errors().front().message);

        auto not_installed =
            blocking_error([&] { client.fetch_token("wks_notInstalledAnywhere"); });
        CHECK(not_installed.code() == errc::oauth_error);
        CHECK(!not_installed.oauth_error().empty());

        auto typed = blocking_error([&] { client.graphql<int>(ws, me_query); });
        CHECK(typed.code() == errc::decode_error);
    }

    TEST_CASE("a deadline ends a call that hangs with errc::timeout") {
        black_hole hole("127.0.0.1", 0);
        REQUIRE(hole.hangs());
        glue::blocking_client client(hanging_config(hole));

        const auto started = std::chrono::steady_clock::now();
        auto token = blocking_error([&] { client.fetch_token(ws, 200ms); });
        CHECK(token.code() == errc::timeout);
        CHECK(std::chrono::steady_clock::now() - started >= 200ms);

        const auto at = std::chrono::steady_clock::now() + 200ms;
        auto call = blocking_error([&] { client.graphql(ws, me_query, at); });
        CHECK(call.code() == errc::timeout);
        CHECK(std::chrono::steady_clock::now() >= at);

        // The abandoned GraphQL call ends too, as the client's own timeout or cancelled.
        CHECK(eventually([&] {
            const auto m = client.metrics();
            return m.ended(glue::call_outcome::timeout) + m.ended(glue::call_outcome::cancelled) ==
                   1;
        }));
        CHECK(client.metrics().calls == 1);
    }

    TEST_CASE("a deadline already passed fails at once, before any I/O") {
        glue::testing::mock_server server;
        glue::blocking_client client(server.client_config());
        CHECK(blocking_error([&] { client.fetch_token(ws, 0ms); }).code() == errc::timeout);
        CHECK(blocking_error([&] {
                  client.graphql(ws, me_query, std::chrono::steady_clock::now() - 1s);
              }).code() == errc::timeout);
        CHECK(blocking_error([&] { client.refresh("rt_whatever", -5s); }).code() == errc::timeout);
        CHECK(server.requests() == 0);
        // No deadline at all, and one too far to represent, are none.
        CHECK(!client.fetch_token(ws, std::chrono::hours::max()).value.empty());
        CHECK(!client.fetch_token(ws, std::chrono::steady_clock::time_point::max()).value.empty());
    }

    TEST_CASE("graphql hands its deadline to the client: a pause past it fails at once") {
        glue::testing::mock_server server;
        auto cfg = server.client_config();
        cfg.request_timeout = 1h;
        glue::blocking_client client(cfg);
        client.fetch_token(ws);
        // Within the client's own hour, a 429 asking for 30 s would be waited out and retried;
        // within the call's 10 s, it can't be, and the call says so at once.
        server.set_fault(endpoint::graphql, answering(429, "30", {}, 1));
        auto e = blocking_error([&] { client.graphql(ws, me_query, 10s); });
        CHECK(e.code() == errc::rate_limited);
        CHECK(e.details()->retry_after > 0s);
    }

    TEST_CASE("sixteen threads over fifty workspaces: one token request per workspace") {
        glue::testing::mock_server server;
        // Slow token answers, so that the threads pile up on each workspace's one flight.
        server.set_fault(endpoint::token, delayed(20ms));
        glue::blocking_client client(server.client_config());
        std::vector<std::string> workspaces;
        for (int i = 0; i < 50; ++i) {
            workspaces.push_back("wks_blocking" + std::to_string(i));
        }
        constexpr int n_threads = 16;
        std::latch start(n_threads);
        std::atomic<int> right{0};
        std::atomic<int> wrong{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < n_threads; ++t) {
            threads.emplace_back([&] {
                start.arrive_and_wait();
                for (const auto& w : workspaces) {
                    try {
                        auto r = client.graphql(w, me_query);
                        (r.data.at("me").at("id").as_string() == server.app_user_id(w) ? right
                                                                                       : wrong)++;
                    } catch (const glue::error&) {
                        ++wrong;
                    }
                }
            });
        }
        for (auto& t : threads) {
            t.join();
        }
        CHECK(right == n_threads * 50);
        CHECK(wrong == 0);
        CHECK(server.token_requests() == 50);
        for (const auto& w : workspaces) {
            CHECK(server.token_requests(w) == 1);
        }
        CHECK(client.stats().waiters_joined > 0);
    }

    TEST_CASE("the destructor returns every call in flight with operation_aborted and joins") {
        glue::testing::mock_server server;
        server.set_fault(endpoint::graphql, delayed(1h));
        auto client = std::make_unique<glue::blocking_client>(server.client_config());
        glue::blocking_client* calls_on = client.get();
        constexpr int n_threads = 8;
        std::vector<glue::error_code> codes(n_threads);
        std::vector<std::thread> threads;
        for (int t = 0; t < n_threads; ++t) {
            threads.emplace_back([&codes, calls_on, t] {
                codes[t] = make_error_code(errc::internal_error);
                try {
                    calls_on->graphql("wks_gone" + std::to_string(t), me_query);
                } catch (const glue::error& e) {
                    codes[t] = e.code();
                }
            });
        }
        REQUIRE(eventually([&] { return server.graphql_requests() == n_threads; }));
        client.reset();
        for (auto& t : threads) {
            t.join();
        }
        for (const auto& code : codes) {
            CHECK(code == asio::error::operation_aborted);
        }
    }

    TEST_CASE("after shutdown() every call throws operation_aborted") {
        glue::testing::mock_server server;
        glue::blocking_client client(server.client_config());
        client.shutdown();
        CHECK(blocking_error([&] { client.fetch_token(ws); }).code() ==
              asio::error::operation_aborted);
        CHECK(blocking_error([&] { client.graphql(ws, me_query, 5s); }).code() ==
              asio::error::operation_aborted);
        CHECK(server.requests() == 0);
    }

    TEST_CASE("on a borrowed executor, with the caller's own threads running its io_context") {
        glue::testing::mock_server server;
        asio::io_context ioc;
        auto work = asio::make_work_guard(ioc);
        std::thread runner1([&] { ioc.run(); });
        std::thread runner2([&] { ioc.run(); });
        {
            glue::blocking_client client(ioc.get_executor(), server.client_config());
            CHECK(!client.fetch_token(ws).value.empty());
            CHECK(client.graphql(ws, me_query, 30s).data.at("me").at("id").as_string() ==
                  server.app_user_id(ws));

            // From a thread running the io_context the call would wait for itself: it is
            // refused instead (a deadline makes a missed refusal a timeout, not a hang).
            CHECK(code_on(ioc.get_executor(), [&] { client.graphql(ws, me_query, 5s); }) ==
                  errc::invalid_argument);
            CHECK(code_on(asio::make_strand(ioc), [&] { client.fetch_token(ws, 5s); }) ==
                  errc::invalid_argument);
            CHECK(server.graphql_requests() == 1);
        }
        work.reset();
        runner1.join();
        runner2.join();
    }

    TEST_CASE("a deadline holds while the borrowed io_context is busy elsewhere") {
        glue::testing::mock_server server;
        asio::io_context ioc;
        auto work = asio::make_work_guard(ioc);
        std::thread runner([&] { ioc.run(); });
        glue::blocking_client client(ioc.get_executor(), server.client_config());
        // The io_context's one thread is held by a handler of the caller's until the call has
        // returned (30 s at most: a call that waits for the io_context fails, it doesn't hang).
        std::promise<void> holding, release;
        std::atomic<bool> released{false};
        asio::post(ioc, [&, freed = release.get_future()] {
            holding.set_value();
            freed.wait_for(30s);
            released = true;
        });
        holding.get_future().wait();
        auto e = blocking_error([&] { client.fetch_token(ws, 200ms); });
        CHECK(e.code() == errc::timeout);
        CHECK(!released); // it returned at its deadline, not when the io_context was free
        release.set_value();
        work.reset();
        runner.join();
    }

    TEST_CASE("a hook calling into the blocking client is refused instead of deadlocking") {
        glue::testing::mock_server server;
        auto cfg = server.client_config();
        std::atomic<glue::blocking_client*> self{nullptr};
        std::mutex mtx;
        std::vector<glue::error_code> seen;
        cfg.on_token_event = [&](const glue::token_event& e) {
            auto* c = self.load();
            if (e.what != glue::token_event::kind::refresh_success || !c) {
                return;
            }
            glue::error_code code;
            try {
                c->fetch_token("wks_other", 5s);
            } catch (const glue::error& x) {
                code = x.code();
            }
            const std::lock_guard lock(mtx);
            seen.push_back(code);
        };
        glue::blocking_client client(cfg);
        self = &client;
        client.fetch_token(ws);
        REQUIRE(eventually([&] {
            const std::lock_guard lock(mtx);
            return !seen.empty();
        }));
        const std::lock_guard lock(mtx);
        CHECK(seen.front() == errc::invalid_argument);
    }

    TEST_CASE("destroyed from a hook on its own thread, it returns without waiting for itself") {
        glue::testing::mock_server server;
        auto cfg = server.client_config();
        std::atomic<glue::blocking_client*> self{nullptr};
        std::atomic<bool> destroyed{false};
        cfg.on_request_event = [&](const glue::request_event&) {
            if (auto* c = self.exchange(nullptr)) {
                delete c;
                destroyed = true;
            }
        };
        auto* client = new glue::blocking_client(cfg);
        self = client;
        glue::error_code code;
        try {
            client->fetch_token(ws);
        } catch (const glue::error& e) {
            code = e.code();
        }
        CHECK(eventually([&] { return destroyed.load(); }));
        // The token request's event comes before its waiter is resumed, or the shutdown aborts it.
        CHECK((!code || code == asio::error::operation_aborted));
    }
}
