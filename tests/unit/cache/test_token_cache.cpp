// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The single-flight token cache's rules, driven by a fake fetcher and a manual clock: no
// network, no sleeps.

#include "support/cache_fixture.hpp"

#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/strand.hpp>

#include <doctest/doctest.h>

#include <set>
#include <thread>

using namespace glue::test;

TEST_SUITE("token cache") {

    TEST_CASE_FIXTURE(cache_fixture, "a cached token is returned without a request") {
        auto first = get_now("wks_a");
        CHECK(fetcher.calls == 1);
        CHECK(cache->find("wks_a") == first);
        CHECK(get_now("wks_a") == first);
        CHECK(fetcher.calls == 1);
        CHECK(cache->find("wks_b") == nullptr);
        CHECK(first->token.value == "token-wks_a-1");
        CHECK(first->token.user_id == "usr_app");
    }

    TEST_CASE_FIXTURE(cache_fixture,
                      "a token is only handed out for the workspace it was fetched for") {
        auto a = get_now("wks_a");
        auto b = get_now("wks_b");
        CHECK(fetcher.calls == 2);
        CHECK(a->token.value == "token-wks_a-1");
        CHECK(b->token.value == "token-wks_b-2");
        CHECK(cache->find("wks_a") == a);
        CHECK(cache->find("wks_b") == b);
    }

    TEST_CASE_FIXTURE(cache_fixture, "concurrent callers for a key share exactly one request") {
        fetcher.hold = true;
        for (int i = 0; i < 1000; ++i) {
            spawn_get("wks_a");
        }
        run_until([&] { return fetcher.holding() == 1; });
        CHECK(fetcher.calls == 1);
        fetcher.release();
        run_until([&] { return results.size() == 1000; });
        CHECK(fetcher.calls == 1);
        for (const auto& r : results) {
            REQUIRE(r.has_value());
            CHECK(*r == results.front().value()); // the very same token object
        }
    }

    TEST_CASE_FIXTURE(cache_fixture, "every waiter gets the same error, which is then remembered") {
        fetcher.hold = true;
        fetcher.respond = [](const std::string&, int, steady_time) -> result<token_grant> {
            return endpoint_failure(errc::oauth_error, 400, "invalid_grant");
        };
        for (int i = 0; i < 50; ++i) {
            spawn_get("wks_a");
        }
        run_until([&] { return fetcher.holding() == 1; });
        fetcher.release();
        run_until([&] { return results.size() == 50; });
        CHECK(fetcher.calls == 1);
        for (const auto& r : results) {
            REQUIRE(has_error(r, errc::oauth_error));
            CHECK(r.error().diag == results.front().error().diag); // the same diagnostics object
            CHECK(r.error().diag->oauth_error == "invalid_grant");
        }
        CHECK(cache->find("wks_a") == nullptr);

        // A permanent failure is remembered for 30 s: callers get it at once, with no request.
        fetcher.hold = false;
        fetcher.respond = nullptr;
        manual_clock::advance(29s);
        CHECK(has_error(get_result("wks_a"), errc::oauth_error));
        CHECK(fetcher.calls == 1);
        manual_clock::advance(1s);
        CHECK(get_now("wks_a")->token.value == "token-wks_a-2");
        CHECK(fetcher.calls == 2);
    }

    TEST_CASE_FIXTURE(cache_fixture,
                      "a fetch that throws fails its waiters instead of hanging them") {
        fetcher.respond = [](const std::string&, int, steady_time) -> result<token_grant> {
            throw std::runtime_error("boom");
        };
        auto r = glue::test::run(ioc, get("wks_a"));
        CHECK(has_error(r, errc::internal_error));
    }

    TEST_CASE_FIXTURE(cache_fixture, "cancelling one waiter completes only that waiter") {
        fetcher.hold = true;
        asio::cancellation_signal cancel_first;
        spawn_get("wks_a", 30s, cancel_first.slot()); // the caller that starts the flight
        for (int i = 0; i < 50; ++i) {
            spawn_get("wks_a");
        }
        run_until([&] { return fetcher.holding() == 1; });

        cancel_first.emit(asio::cancellation_type::terminal);
        run_until([&] { return results.size() == 1; });
        CHECK(has_error(results.front(), asio::error::operation_aborted));
        CHECK(fetcher.cancelled == 0); // the flight goes on: it belongs to the cache

        fetcher.release();
        run_until([&] { return results.size() == 51; });
        for (std::size_t i = 1; i < results.size(); ++i) {
            CHECK(results[i].has_value());
        }
        CHECK(fetcher.calls == 1);
        CHECK(cache->find("wks_a") != nullptr); // and its token was cached
    }

    TEST_CASE_FIXTURE(cache_fixture,
                      "a leader raced with a timer returns at the timer, not at its request") {
        // What integration "cancelling the caller that started the token request hurts no
        // one" (raced with a 20 ms timer) decides, with the endpoint held until released: the
        // caller that started the flight, awaited with `||` against a 20 ms timer, completes
        // when the timer fires while the request is still open, and the request goes on for
        // the others.
        using namespace asio::experimental::awaitable_operators;
        fetcher.hold = true;
        bool leader_done = false;
        std::size_t winner = 99;
        asio::co_spawn(
            ioc,
            [&]() -> asio::awaitable<void> {
                manual_timer timer(co_await asio::this_coro::executor, 20ms);
                auto first = co_await (cache->get("wks_a", manual_clock::now() + 30s) ||
                                       timer.async_wait(asio::use_awaitable));
                winner = first.index();
                leader_done = true;
            },
            asio::detached);
        for (int i = 0; i < 50; ++i) {
            spawn_get("wks_a");
        }
        run_until([&] { return fetcher.holding() == 1; });
        manual_clock::advance(19ms);
        settle();
        CHECK_FALSE(leader_done);
        manual_clock::advance(1ms);
        settle();
        CHECK(leader_done); // while the request is still held: it did not wait for it
        CHECK(winner == 1); // the timer
        CHECK(results.empty());
        CHECK(fetcher.holding() == 1);
        CHECK(fetcher.cancelled == 0); // the flight goes on: it belongs to the cache

        fetcher.release();
        run_until([&] { return results.size() == 50; });
        for (const auto& r : results) {
            CHECK(r.has_value());
        }
        CHECK(fetcher.calls == 1);
        CHECK(cache->find("wks_a") != nullptr);
    }

    TEST_CASE_FIXTURE(cache_fixture, "every cancellation type ends a wait") {
        fetcher.hold = true;
        const asio::cancellation_type types[] = {asio::cancellation_type::terminal,
                                                 asio::cancellation_type::partial,
                                                 asio::cancellation_type::total};
        std::uint64_t joined = 0;
        for (auto type : types) {
            CAPTURE(static_cast<int>(type));
            results.clear();
            asio::cancellation_signal cancel;
            // A coroutine that lets every type through, as a caller's own coroutine may.
            asio::co_spawn(
                ioc,
                [this]() -> asio::awaitable<token_result> {
                    co_await asio::this_coro::reset_cancellation_state(
                        asio::enable_total_cancellation());
                    co_return co_await cache->get("wks_a", manual_clock::now() + 30s);
                },
                asio::bind_cancellation_slot(cancel.slot(),
                                             [this](std::exception_ptr, token_result r) {
                                                 results.push_back(std::move(r));
                                             }));
            // Emitted only once the caller waits, its filter set: Asio 1.83 (Boost 1.83) emits
            // straight into a coroutine whose handler has no executor of its own, and a
            // partial cancellation arriving before reset_cancellation_state() is filtered out.
            run_until([&] {
                return cache->stats().waiters_joined == joined + 1 && fetcher.holding() == 1;
            });
            ++joined;
            cancel.emit(type);
            run_until([&] { return results.size() == 1; });
            CHECK(has_error(results.front(), asio::error::operation_aborted));
        }
        CHECK(fetcher.calls == 1);
    }

    TEST_CASE_FIXTURE(cache_fixture, "a flight ends at its own deadline with a timeout") {
        fetcher.hold = true;
        spawn_get("wks_a", 60s);
        spawn_get("wks_a", 60s);
        run_until([&] { return fetcher.holding() == 1; });
        manual_clock::advance(9s);
        settle(); // whatever is due by now runs
        CHECK(results.empty());
        manual_clock::advance(2s); // past the 10 s flight deadline
        run_until([&] { return results.size() == 2; });
        for (const auto& r : results) {
            CHECK(has_error(r, errc::timeout));
        }
        run_until([&] { return fetcher.cancelled == 1; }); // the fetch itself was stopped
        fetcher.hold = false;
        CHECK(has_error(get_result("wks_a"), errc::timeout)); // remembered for 1 s
        CHECK(fetcher.calls == 1);
        manual_clock::advance(1s);
        CHECK(get_now("wks_a")->token.value == "token-wks_a-2"); // then a new request
    }

    TEST_CASE_FIXTURE(cache_fixture, "a waiter with an earlier deadline times out alone") {
        fetcher.hold = true;
        spawn_get("wks_a", 2s);
        spawn_get("wks_a", 30s);
        run_until([&] { return fetcher.holding() == 1; });
        manual_clock::advance(3s);
        run_until([&] { return results.size() == 1; });
        CHECK(has_error(results.front(), errc::timeout));
        fetcher.release();
        run_until([&] { return results.size() == 2; });
        CHECK(results.back().has_value());
        CHECK(fetcher.calls == 1);
    }

    TEST_CASE_FIXTURE(cache_fixture, "the hard margin is min(60 s, lifetime / 10)") {
        SUBCASE("one hour: usable until 60 s before expiry") {
            fetcher.lifetime = 3600s;
            get_now("wks_a");
            manual_clock::advance(3539s);
            CHECK(cache->find("wks_a") != nullptr);
            manual_clock::advance(1s);
            CHECK(cache->find("wks_a") == nullptr);
        }
        SUBCASE("three seconds: usable for 2.7 s") {
            fetcher.lifetime = 3s;
            get_now("wks_a");
            manual_clock::advance(2699ms);
            CHECK(cache->find("wks_a") != nullptr);
            manual_clock::advance(1ms);
            CHECK(cache->find("wks_a") == nullptr);
        }
    }

    TEST_CASE_FIXTURE(cache_fixture, "a three-second token is reused, not fetched in a loop") {
        // Used every 100 ms for 10 s: refreshed ahead once per 2.4 s (its soft window opens
        // 0.6 s before expiry), and no caller ever waits after the first.
        fetcher.lifetime = 3s;
        for (int i = 0; i <= 100; ++i) {
            get_now("wks_a");
            settle(); // lets a refresh started by this call finish
            manual_clock::advance(100ms);
        }
        CHECK(fetcher.calls == 5); // at 0, 2.4, 4.8, 7.2 and 9.6 s
        CHECK(cache->stats().misses == 1);
    }

    TEST_CASE_FIXTURE(cache_fixture, "expiry is anchored at the moment the request was sent") {
        fetcher.lifetime = 100s; // margin 10 s
        fetcher.hold = true;
        spawn_get("wks_a");
        run_until([&] { return fetcher.holding() == 1; });
        manual_clock::advance(5s); // the response takes 5 s
        fetcher.release();
        run_until([&] { return results.size() == 1; });
        const auto& token = *results.front().value();
        CHECK(token.token.expires_at == manual_clock::now() - 5s + 100s);
        manual_clock::advance(84s); // 89 s after sending
        CHECK(cache->find("wks_a") != nullptr);
        manual_clock::advance(1s); // 90 s: inside the margin
        CHECK(cache->find("wks_a") == nullptr);
    }

    TEST_CASE_FIXTURE(cache_fixture, "the longest lifetime neither overflows nor expires early") {
        fetcher.lifetime = glue::detail::max_token_lifetime;
        auto t = get_now("wks_a");
        CHECK(t->token.expires_at > manual_clock::now() + 19 * 365 * 24h);
        CHECK(t->usable_until == t->token.expires_at - 60s);
        manual_clock::advance(24h * 365);
        CHECK(cache->find("wks_a") == t);
    }

    TEST_CASE_FIXTURE(cache_fixture, "a token already expired on arrival is not handed out") {
        fetcher.lifetime = 10s; // margin 1 s
        fetcher.hold = true;
        spawn_get("wks_a", 60s);
        run_until([&] { return fetcher.holding() == 1; });
        manual_clock::advance(9s + 500ms);
        fetcher.release();
        run_until([&] { return results.size() == 1; });
        CHECK(has_error(results.front(), errc::bad_response));
        CHECK(cache->find("wks_a") == nullptr);
    }

    TEST_CASE_FIXTURE(cache_fixture,
                      "401: compare and invalidate, at most one forced refresh per 5 s") {
        auto t1 = get_now("wks_a");
        CHECK(cache->invalidate("wks_b", t1.get()) == invalidate_result::stale); // another key
        CHECK(cache->invalidate("wks_a", nullptr) == invalidate_result::stale);
        CHECK(cache->invalidate("wks_a", t1.get()) == invalidate_result::applied);
        CHECK(cache->find("wks_a") == nullptr);
        CHECK(cache->invalidate("wks_a", t1.get()) == invalidate_result::stale); // already dropped

        auto t2 = get_now("wks_a");
        CHECK(t2 != t1);
        CHECK(fetcher.calls == 2);
        CHECK(cache->invalidate("wks_a", t1.get()) ==
              invalidate_result::stale); // a late 401 for t1
        CHECK(cache->find("wks_a") == t2);

        manual_clock::advance(4s);
        CHECK(cache->invalidate("wks_a", t2.get()) == invalidate_result::throttled);
        CHECK(cache->find("wks_a") == t2); // kept: refetching now would only loop
        manual_clock::advance(1s);
        CHECK(cache->invalidate("wks_a", t2.get()) == invalidate_result::applied);
        CHECK(get_now("wks_a") != t2);
        CHECK(fetcher.calls == 3);
    }

    TEST_CASE_FIXTURE(cache_fixture, "1,000 concurrent 401s on one token cause one token request") {
        auto t1 = get_now("wks_a");
        int applied = 0;
        std::vector<token_ptr> retried;
        for (int i = 0; i < 1000; ++i) {
            asio::co_spawn(
                ioc,
                [&]() -> asio::awaitable<void> {
                    // What graphql() does with a 401: invalidate, then get a token again.
                    if (cache->invalidate("wks_a", t1.get()) == invalidate_result::applied) {
                        ++applied;
                    }
                    auto r = co_await cache->get("wks_a", manual_clock::now() + 30s);
                    REQUIRE(r.has_value());
                    retried.push_back(*r);
                },
                asio::detached);
        }
        run_until([&] { return retried.size() == 1000; });
        CHECK(applied == 1);
        CHECK(fetcher.calls == 2);
        for (const auto& t : retried) {
            CHECK(t == retried.front());
            CHECK(t != t1);
        }
    }

    TEST_CASE_FIXTURE(cache_fixture, "waiters resume on their own executor") {
        fetcher.hold = true;
        std::vector<asio::strand<asio::io_context::executor_type>> strands;
        for (int i = 0; i < 20; ++i) {
            strands.push_back(asio::make_strand(ioc));
        }
        int on_own_strand = 0, done = 0;
        for (auto& s : strands) {
            asio::co_spawn(
                s,
                [&, s]() -> asio::awaitable<void> {
                    auto r = co_await cache->get("wks_a", manual_clock::now() + 30s);
                    CHECK(r.has_value());
                    on_own_strand += s.running_in_this_thread();
                    ++done;
                },
                asio::detached);
        }
        run_until([&] { return fetcher.holding() == 1; });
        fetcher.release();
        run_until([&] { return done == 20; });
        CHECK(on_own_strand == 20);
    }

    TEST_CASE_FIXTURE(cache_fixture, "shutdown completes every waiter and stops the flight") {
        fetcher.hold = true;
        for (int i = 0; i < 10; ++i) {
            spawn_get("wks_a");
            spawn_get("wks_b");
        }
        run_until([&] { return fetcher.holding() == 2; });
        cache->shutdown();
        run_until([&] { return results.size() == 20 && fetcher.cancelled == 2; });
        for (const auto& r : results) {
            CHECK(has_error(r, asio::error::operation_aborted));
        }
        auto late = glue::test::run(ioc, get("wks_c"));
        CHECK(has_error(late, asio::error::operation_aborted));
        CHECK(fetcher.calls == 2);
    }

    TEST_CASE_FIXTURE(cache_fixture, "tokens roll over as they expire: one request per lifetime") {
        fetcher.lifetime = 10s; // usable for 9 s
        for (int step = 0; step < 40; ++step) {
            for (int i = 0; i < 20; ++i) {
                spawn_get("wks_a");
            }
            run_until([&] { return results.size() == std::size_t(20 * (step + 1)); });
            manual_clock::advance(1s);
        }
        for (const auto& r : results) {
            CHECK(r.has_value());
        }
        // 40 s of use in 9 s windows: at 0, 9, 18, 27 and 36 s.
        CHECK(fetcher.calls == 5);
    }

    TEST_CASE("two threads: a key rolls over with exactly one request per lifetime") {
        // Many callers race the flight's completion on two threads: whoever arrives after it
        // finds the new token, never a gap in which to start a second request.
        asio::io_context ioc(2);
        auto work = asio::make_work_guard(ioc);
        fake_fetcher fetcher;
        fetcher.lifetime = 10s; // usable for 9 s
        glue::detail::basic_token_cache<manual_clock> cache(
            ioc.get_executor(),
            [&fetcher](std::string ws, steady_time deadline, unsigned) {
                return fetcher.fetch(std::move(ws), deadline);
            },
            {});
        std::thread a([&] { ioc.run(); }), b([&] { ioc.run(); });
        constexpr int rounds = 200, callers = 100;
        std::atomic<int> done{0}, ok{0};
        for (int round = 1; round <= rounds; ++round) {
            for (int i = 0; i < callers; ++i) {
                asio::co_spawn(
                    ioc,
                    [&]() -> asio::awaitable<void> {
                        auto r = co_await cache.get("wks_a", manual_clock::now() + 30s);
                        ok += r.has_value();
                        ++done;
                    },
                    asio::detached);
            }
            while (done < round * callers) {
                std::this_thread::yield();
            }
            manual_clock::advance(9s);
        }
        cache.shutdown();
        work.reset();
        a.join();
        b.join();
        CHECK(ok == rounds * callers);
        CHECK(fetcher.calls == rounds);
    }

    TEST_CASE("many keys on an io_context run by two threads") {
        asio::io_context ioc(2);
        fake_fetcher fetcher;
        glue::detail::basic_token_cache<std::chrono::steady_clock> cache(
            ioc.get_executor(),
            [&fetcher](std::string ws, steady_time deadline, unsigned) {
                return fetcher.fetch(std::move(ws), deadline);
            },
            {});
        constexpr int keys = 50, per_key = 200;
        std::atomic<int> ok{0};
        std::mutex seen_mtx;
        std::set<std::string> seen;
        for (int k = 0; k < keys; ++k) {
            for (int i = 0; i < per_key; ++i) {
                const std::string ws = "wks_" + std::to_string(k);
                asio::co_spawn(
                    asio::make_strand(ioc),
                    [&, ws]() -> asio::awaitable<void> {
                        auto r = co_await cache.get(ws, std::chrono::steady_clock::now() + 30s);
                        if (r && (*r)->token.value.starts_with("token-" + ws + "-")) {
                            ++ok;
                            std::lock_guard lock(seen_mtx);
                            seen.insert((*r)->token.value);
                        }
                    },
                    asio::detached);
            }
        }
        std::thread other([&] { ioc.run(); });
        ioc.run();
        other.join();
        CHECK(ok == keys * per_key);
        CHECK(fetcher.calls == keys);
        CHECK(seen.size() == keys); // one token per key, shared by all of its callers
    }

} // TEST_SUITE
