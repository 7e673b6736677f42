// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The token cache against what a review found could break it: hooks that call back into the
// client, an endpoint that asks for a pause while flights are queued, absurd durations, a
// Retry-After of 0, flights that end at their deadline, exceptions, and eviction that must not
// pick a hot entry or lose a throttle. On the manual clock with the fake fetcher.

#include "support/cache_fixture.hpp"

#include <boost/asio/error.hpp>

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace glue::test;
using kind = glue::token_event::kind;

TEST_SUITE("cache hardening") {

    //--------------------------------------------------------------------------
    // No user code and no I/O under a library lock

    TEST_CASE_FIXTURE(cache_fixture, "a hook may call back into the cache on every path") {
        // Each hook asks for the counters from another thread (which needs every shard's lock)
        // and, on a refresh start, asks for another workspace. A hook run inside a lock makes
        // the counters wait: it is recorded, and the hook goes on.
        std::vector<std::string> blocked;
        std::vector<std::string> seen;
        auto o = exact_options();
        o.max_entries = 4; // one shard
        o.on_event = [&](const glue::token_event& e) {
            const std::string what =
                std::to_string(static_cast<int>(e.what)) + "/" + std::string(e.reason);
            seen.push_back(what);
            if (!returns_from_another_thread([&] { (void)cache->stats(); })) {
                blocked.push_back(what);
            }
            if (e.what == kind::refresh_start && e.workspace == "wks_a") {
                spawn_get("wks_other");
            }
        };
        configure(o);
        fetcher.lifetime = 100s;

        SUBCASE("a miss") {
            spawn_get("wks_a");
            drive([&] { return results.size() == 2; });
            CHECK(results[0].has_value());
            CHECK(results[1].has_value());
        }
        SUBCASE("a refresh ahead, started by a hit") {
            get_now("wks_b");
            manual_clock::advance(70s);
            cache->find("wks_b");
            manual_clock::advance(11s);
            CHECK(cache->find("wks_b")); // inside the soft window: starts the refresh
            drive([&] { return fetcher.calls == 2 && cache->stats().in_flight == 0; });
            settle();
            CHECK(cache->stats().refresh_aheads == 1);
        }
        SUBCASE("a forced refresh after a 401") {
            const auto t = get_now("wks_b");
            CHECK(cache->invalidate("wks_b", t.get()) == invalidate_result::applied);
            CHECK(get_now("wks_b") != t);
        }
        SUBCASE("an eviction while the endpoint is paused") {
            for (int i = 0; i < 4; ++i) {
                get_now(key(i));
            }
            fetcher.respond = always(endpoint_failure(errc::server_error, 503, {}, 60s));
            manual_clock::advance(200s);                               // every token expired
            CHECK(has_error(get_result("wks_x"), errc::server_error)); // pauses the endpoint
            const auto before = cache->stats().evictions;
            CHECK(has_error(get_result("wks_y"), errc::server_error)); // evicts, paused
            CHECK(cache->stats().evictions > before);
        }
        CHECK(!seen.empty());
        CHECK(blocked.empty());
    }

    //--------------------------------------------------------------------------
    // The endpoint's pause

    TEST_CASE_FIXTURE(cache_fixture, "a pause stops flights already queued for a slot") {
        auto o = exact_options();
        o.max_concurrent_requests = 2;
        o.flight_timeout = 1000s; // the flights outlive the pause
        configure(o);
        fetcher.hold = true;
        for (int i = 0; i < 10; ++i) {
            spawn_get(key(i), 1000s);
        }
        drive([&] { return fetcher.holding() == 2; });
        // The first request is refused with a two-minute pause while eight flights wait for a
        // slot. The second, still on the wire then, fails 50 s later with a 500, and its flight
        // would retry.
        fetcher.respond = [&](const std::string& ws, int n, steady_time sent) {
            return n == 1 ? result<token_grant>(endpoint_failure(errc::server_error, 503, {}, 120s))
                   : n == 2 ? result<token_grant>(endpoint_failure(errc::server_error, 500))
                            : result<token_grant>(fetcher.grant(ws, n, sent));
        };
        fetcher.hold = false;
        fetcher.release(1);
        drive([&] { return results.size() >= 1; });
        settle();
        CHECK(results.size() == 9); // the queued flights end with the pause's error
        manual_clock::advance(50s);
        fetcher.release();
        drive([&] { return results.size() == 10; });
        CHECK(fetcher.calls == 2); // nothing was sent into the pause
        for (const auto& r : results) {
            CHECK(has_error(r, errc::server_error));
        }
        auto s = cache->stats();
        CHECK(s.token_requests == 2);
        CHECK(s.failures_rate_limited == 1);
        CHECK(s.failures_transient == 1); // the flights the pause stopped failed no request
        // The pause ends when the endpoint said, 120 s after its answer: the flight it stopped
        // 50 s in did not lengthen it, and the queued ones left their keys alone.
        manual_clock::advance(70s + 1ms);
        CHECK(get_result(key(5)).has_value());
        CHECK(get_result("wks_new").has_value());
        CHECK(fetcher.calls == 4);
    }

    TEST_CASE_FIXTURE(cache_fixture, "Retry-After: 0 does not remove the backoff") {
        fetcher.respond = always(endpoint_failure(errc::rate_limited, 429, {}, 0s));
        CHECK(has_error(get_result("wks_a"), errc::rate_limited));
        for (int i = 0; i < 10; ++i) {
            CHECK(has_error(get_result("wks_a"), errc::rate_limited));
        }
        CHECK(fetcher.calls == 1); // the exponential backoff (1 s) still holds
        manual_clock::advance(1s);
        CHECK(has_error(get_result("wks_a"), errc::rate_limited));
        CHECK(fetcher.calls == 2);
        CHECK(cache->stats().failures_rate_limited == 2);
    }

    TEST_CASE_FIXTURE(cache_fixture, "a 429 without Retry-After backs off exponentially") {
        fetcher.respond = always(endpoint_failure(errc::rate_limited, 429));
        CHECK(has_error(get_result("wks_a"), errc::rate_limited));
        manual_clock::advance(999ms);
        CHECK(has_error(get_result("wks_a"), errc::rate_limited));
        CHECK(fetcher.calls == 1);
        manual_clock::advance(1ms);
        CHECK(has_error(get_result("wks_a"), errc::rate_limited)); // a second request
        manual_clock::advance(1999ms);
        CHECK(has_error(get_result("wks_a"), errc::rate_limited));
        CHECK(fetcher.calls == 2); // 2 s after the second failure
        CHECK(cache->stats().failures_rate_limited == 2);
    }

    TEST_CASE_FIXTURE(cache_fixture, "a refresh ahead that keeps failing serves the token up to "
                                     "its hard margin, never past it") {
        fetcher.lifetime = 100s; // hard margin 10 s, soft window 20 s: refresh from 80 s
        const auto t1 = get_now("wks_a");
        const auto usable_until = t1->usable_until;
        manual_clock::advance(70s);
        cache->find("wks_a"); // in steady use
        fetcher.respond = always(endpoint_failure(errc::server_error, 503));
        // Every 100 ms a call: each gets t1 at once while refreshes fail and back off.
        while (manual_clock::now() + 100ms < usable_until) {
            manual_clock::advance(100ms);
            CHECK(cache->find("wks_a") == t1);
            settle();
        }
        const int tried = fetcher.calls;
        CHECK(tried > 1);   // refreshed ahead, and again after the backoff
        CHECK(tried <= 13); // 3 requests a flight, backoffs 4 s and 32 s in 10 s: few flights
        CHECK(cache->stats().refresh_aheads >= 1);
        manual_clock::advance(usable_until - manual_clock::now());
        CHECK(cache->find("wks_a") == nullptr); // the hard margin: never handed out
        auto r = get_result("wks_a");
        CHECK(has_error(r, errc::server_error));
    }

    //--------------------------------------------------------------------------
    // Durations at their extremes

    TEST_CASE_FIXTURE(cache_fixture, "backoffs never overflow, whatever the configuration") {
        auto o = exact_options();
        o.backoff_initial = std::chrono::hours(1);
        o.backoff_max = std::chrono::milliseconds::max();
        o.permanent_failure_memory = std::chrono::milliseconds::max();
        o.retry_after_cap = std::chrono::seconds::max();
        o.refresh_min_interval = std::chrono::milliseconds::max();
        o.flight_timeout = std::chrono::milliseconds::max();
        o.retry_base_delay = 0ms;
        o.retry_attempts = 60; // one flight, 60 failed requests: the backoff doubles 59 times
        configure(o);
        fetcher.respond = always(endpoint_failure(errc::server_error, 500));
        CHECK(has_error(get_result("wks_a"), errc::server_error));
        CHECK(fetcher.calls == 60);
        // An hour × 2^59 is far past what nanoseconds hold: the wait saturates, and never
        // becomes none.
        for (auto later : {1s, 1s * 3600 * 24, 1s * 3600 * 24 * 365}) {
            manual_clock::advance(later);
            CHECK(has_error(get_result("wks_a"), errc::server_error)); // remembered
        }
        CHECK(fetcher.calls == 60);

        fetcher.respond = always(endpoint_failure(errc::oauth_error, 400, "invalid_grant"));
        CHECK(has_error(get_result("wks_b"), errc::oauth_error));
        manual_clock::advance(24h);
        CHECK(has_error(get_result("wks_b"), errc::oauth_error));
        CHECK(fetcher.calls == 61); // remembered "forever", not for a negative time

        // And a token still works with every interval at its maximum.
        fetcher.respond = nullptr;
        CHECK(get_result("wks_c").has_value());
    }

    //--------------------------------------------------------------------------
    // Flights that end at their deadline

    TEST_CASE_FIXTURE(cache_fixture, "a flight that times out is counted; a queued one is not "
                                     "held against its key") {
        auto o = exact_options();
        o.max_concurrent_requests = 1;
        configure(o);
        fetcher.hold = true;
        spawn_get("wks_on_wire", 60s);
        drive([&] { return fetcher.holding() == 1; });
        spawn_get("wks_queued", 60s);
        settle();
        CHECK(fetcher.calls == 1);
        drive([&] { return results.size() == 2; }, 100ms); // both flights' 10 s deadline
        CHECK(has_error(results[0], errc::timeout));
        CHECK(has_error(results[1], errc::timeout));
        const auto s = cache->stats();
        CHECK(s.flight_timeouts == 2);
        CHECK(s.failures_transient == 1); // only the request that was on the wire failed
        fetcher.hold = false;
        // The queued flight sent nothing: its key tries again at once. The other backs off.
        CHECK(get_result("wks_queued").has_value());
        CHECK(has_error(get_result("wks_on_wire"), errc::timeout));
        CHECK(fetcher.calls == 2);
    }

    //--------------------------------------------------------------------------
    // Shutdown

    TEST_CASE_FIXTURE(cache_fixture, "a flight started before shutdown runs no hook after it") {
        std::atomic<bool> stopped{false};
        std::atomic<int> late{0};
        auto o = exact_options();
        o.on_event = [&](const glue::token_event&) { late += stopped.load(); };
        configure(o);
        fetcher.lifetime = 100s;
        get_now("wks_a");
        manual_clock::advance(70s);
        cache->find("wks_a");
        manual_clock::advance(11s);
        // From this thread, outside the io_context: the refresh it starts is queued.
        CHECK(cache->find("wks_a"));
        cache->shutdown();
        stopped = true;
        settle();
        drive([&] { return cache->stats().in_flight == 0; });
        CHECK(late == 0);
        CHECK(fetcher.calls == 1); // nor was the queued refresh sent
    }

    //--------------------------------------------------------------------------
    // Exceptions

    TEST_CASE_FIXTURE(cache_fixture, "a fetch that runs out of memory fails with ENOMEM") {
        fetcher.respond = [](const std::string&, int, steady_time) -> result<token_grant> {
            throw std::bad_alloc();
        };
        CHECK(has_error(get_result("wks_a"),
                        make_error_code(boost::system::errc::not_enough_memory)));
        CHECK(fetcher.calls == 1);
        CHECK(cache->stats().in_flight == 0);
    }

    //--------------------------------------------------------------------------
    // Eviction

    TEST_CASE_FIXTURE(cache_fixture, "eviction picks the least recently used of several shards") {
        auto o = exact_options();
        o.max_entries = 1024; // four shards
        configure(o);
        const auto shard_of = [](const std::string& ws) {
            return std::hash<std::string_view>{}(ws) % 4;
        };
        // The old entries all live in shards other than the hot key's.
        const std::string hot = "wks_hot";
        int n = 0;
        for (int added = 0; added < 1023; ++n) {
            if (shard_of(key(n)) != shard_of(hot)) {
                get_now(key(n));
                ++added;
            }
        }
        manual_clock::advance(1min);
        const auto t = get_now(hot); // the most recently used entry, alone in its shard
        manual_clock::advance(1min);
        for (int added = 0; added < 3; ++n) {
            if (shard_of(key(n)) == shard_of(hot)) {
                get_now(key(n)); // lands beside the hot key: evicts an old entry elsewhere
                ++added;
            }
        }
        CHECK(cache->stats().evictions == 3);
        CHECK(cache->find(hot) == t);
    }

    TEST_CASE_FIXTURE(cache_fixture, "eviction keeps a remembered error while others can go") {
        auto o = exact_options();
        o.max_entries = 8; // one shard
        configure(o);
        fetcher.respond = always(endpoint_failure(errc::oauth_error, 400, "invalid_grant"));
        CHECK(has_error(get_result("wks_bad"), errc::oauth_error)); // the oldest entry
        fetcher.respond = nullptr;
        for (int i = 0; i < 7; ++i) {
            get_now(key(i));
        }
        get_now("wks_new"); // full: one entry goes, not the one remembering its error
        CHECK(has_error(get_result("wks_bad"), errc::oauth_error));
        CHECK(fetcher.calls == 9); // remembered: no second request for it
    }

    //--------------------------------------------------------------------------
    // Waiters

    TEST_CASE_FIXTURE(cache_fixture, "10,000 waiters are resumed without growing the stack") {
        fetcher.hold = true;
        std::atomic<std::uintptr_t> lowest{UINTPTR_MAX}, highest{0};
        std::atomic<int> done{0};
        for (int i = 0; i < 10'000; ++i) {
            asio::co_spawn(ioc, get("wks_a"), [&](std::exception_ptr e, token_result r) {
                CHECK_FALSE(e);
                CHECK(r.has_value());
                char here;
                const auto at = reinterpret_cast<std::uintptr_t>(&here);
                lowest = std::min(lowest.load(), at);
                highest = std::max(highest.load(), at);
                ++done;
            });
        }
        drive([&] { return fetcher.holding() == 1; });
        fetcher.release();
        drive([&] { return done == 10'000; });
        CHECK(fetcher.calls == 1);
        // Each completion runs from the io_context's own loop, at the same depth: resumed one
        // inside another, 10,000 frames would span megabytes.
        CHECK(highest - lowest < 64 * 1024);
    }

    //--------------------------------------------------------------------------
    // Waiters destroyed while linked

    TEST_CASE("a linked waiter's destruction waits for its owner's lock") {
        // The owner holds its mutex (walking its list) while the waiter's coroutine is destroyed
        // on another thread: the waiter must not unlink itself until the owner lets go.
        using w_type = glue::detail::waiter<asio::steady_timer>;
        asio::io_context ctx;
        std::mutex mtx;
        glue::detail::waiter_list<w_type> list;
        auto w = std::make_unique<w_type>(ctx.get_executor(), mtx);
        {
            std::lock_guard lock(mtx);
            list.push_back(*w);
        }
        std::atomic<bool> destroyed{false};
        std::unique_lock held(mtx);
        std::thread t([&] {
            w.reset();
            destroyed = true;
        });
        std::this_thread::sleep_for(200ms); // time enough to see it unlink without the lock
        const bool while_held = destroyed;
        held.unlock();
        t.join();
        CHECK_FALSE(while_held);
        CHECK(list.empty());
    }

    TEST_CASE("a waiter destroyed while linked unlinks under its owner's lock") {
        // One thread links and abandons waiters (as a coroutine destroyed mid-wait does) while
        // another walks the owner's list under its mutex. Without the lock on the waiter's
        // side, ThreadSanitizer reports the race and the list can be corrupted.
        using timer = asio::steady_timer;
        using w_type = glue::detail::waiter<timer>;
        asio::io_context ctx;
        std::mutex mtx;
        glue::detail::waiter_list<w_type> list;
        std::atomic<bool> stop{false};
        std::thread walker([&] {
            while (!stop) {
                std::lock_guard lock(mtx);
                std::size_t n = 0;
                for (auto& w : list) {
                    (void)w;
                    ++n;
                }
                CHECK(n <= 2);
            }
        });
        for (int i = 0; i < 20'000; ++i) {
            w_type w(ctx.get_executor(), mtx);
            std::lock_guard lock(mtx);
            list.push_back(w);
            // leaves the scope linked: the lock is released first, then the waiter unlinks
        }
        stop = true;
        walker.join();
        CHECK(list.empty());
    }
}
