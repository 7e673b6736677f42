// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The token lifecycle rules (docs/design.md, "Token cache": lifetime, failures, endpoint
// protection, memory and visibility) on the manual clock with the fake fetcher.

#include "support/cache_fixture.hpp"

#include <boost/asio/error.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace glue::test;
using kind = glue::token_event::kind;

namespace {

/// Keeps the events the cache reports.
struct event_log {
    struct event {
        kind what;
        std::string workspace, reason;
        glue::error_code error;
    };
    std::mutex mtx;
    std::vector<event> events;

    glue::token_event_hook hook() {
        return [this](const glue::token_event& e) {
            std::lock_guard lock(mtx);
            events.push_back({e.what, std::string(e.workspace), std::string(e.reason), e.error});
        };
    }

    std::size_t count(kind what, std::string_view reason) {
        std::lock_guard lock(mtx);
        return static_cast<std::size_t>(
            std::count_if(events.begin(), events.end(),
                          [&](const event& e) { return e.what == what && e.reason == reason; }));
    }
};

} // namespace

TEST_SUITE("token lifecycle") {

    //--------------------------------------------------------------------------
    // Lifetime: the soft window

    TEST_CASE_FIXTURE(cache_fixture, "the leader of a refresh-ahead pays no latency") {
        fetcher.lifetime = 100s; // hard margin 10 s, soft window 20 s: refresh from 80 s
        const auto t1 = get_now("wks_a");
        manual_clock::advance(70s);
        cache->find("wks_a"); // in steady use
        manual_clock::advance(11s);
        fetcher.hold = true;
        CHECK(cache->find("wks_a") == t1); // the caller that starts the refresh gets t1 at once
        run_until([&] { return fetcher.holding() == 1; });
        CHECK(fetcher.calls == 2);
        CHECK(cache->stats().refresh_aheads == 1);
        fetcher.release();
        run_until([&] { return cache->find("wks_a") != t1; });
        CHECK(cache->find("wks_a")->token.value == "token-wks_a-2");
        CHECK(fetcher.calls == 2);
    }

    TEST_CASE_FIXTURE(cache_fixture,
                      "1,000 callers in the soft window, slow endpoint: no waiting, 1 request") {
        fetcher.lifetime = 100s;
        const auto t1 = get_now("wks_a");
        manual_clock::advance(70s);
        cache->find("wks_a");
        manual_clock::advance(11s);
        fetcher.hold = true; // the endpoint takes as long as it likes
        for (int i = 0; i < 1000; ++i) {
            spawn_get("wks_a");
        }
        settle();
        REQUIRE(results.size() == 1000); // all done while the refresh is still held
        for (const auto& r : results) {
            CHECK(r.value() == t1);
        }
        CHECK(fetcher.calls == 2);
        CHECK(fetcher.holding() == 1);
    }

    TEST_CASE_FIXTURE(cache_fixture,
                      "a 4 s token under 10 s of traffic from 8 loops: 4 requests, 8 misses") {
        // The request count integration "a 4 s token under 10 s of traffic" used to bound on
        // real time (2-6), decided here: 8 callers every 2 ms for 10 s. Usable for 3.6 s and
        // refreshed ahead from 3.2 s (3.2-3.28 s with the default jitter): requests at 0, 3.2,
        // 6.4 and 9.6 s, each while the previous token is still good, so only the 8 first calls
        // wait (for one request), and no caller ever gets a token past its usable life.
        auto o = exact_options();
        SUBCASE("no jitter") {}
        SUBCASE("default jitter") {
            o.soft_window_jitter = glue::detail::token_cache_options{}.soft_window_jitter;
        }
        configure(o);
        fetcher.lifetime = 4s;
        int unusable = 0;
        std::size_t seen = 0;
        for (int step = 0; step <= 5000; ++step) {
            for (int loop = 0; loop < 8; ++loop) {
                spawn_get("wks_a");
            }
            settle(); // lets a refresh started by these calls finish
            for (; seen < results.size(); ++seen) {
                REQUIRE(results[seen].has_value());
                unusable += !((*results[seen])->usable_until > manual_clock::now());
            }
            manual_clock::advance(2ms);
        }
        CHECK(results.size() == 8 * 5001);
        CHECK(unusable == 0);
        CHECK(fetcher.calls == 4);
        CHECK(cache->stats().misses == 8);
        CHECK(cache->stats().refresh_aheads == 3);
    }

    TEST_CASE_FIXTURE(cache_fixture, "a workspace not in steady use is not refreshed ahead") {
        fetcher.lifetime = 100s;
        const auto t1 = get_now("wks_a");
        manual_clock::advance(85s); // first use in 85 s: inside the window, but idle before
        CHECK(cache->find("wks_a") == t1);
        settle();
        CHECK(fetcher.calls == 1);
        manual_clock::advance(1s); // used again within the window: now it is in use
        CHECK(cache->find("wks_a") == t1);
        settle();
        CHECK(fetcher.calls == 2);
    }

    TEST_CASE_FIXTURE(cache_fixture,
                      "a refresh that brings a token already in its soft window waits 10 s") {
        fetcher.lifetime = 1000s; // hard margin 60 s, soft window 200 s: refresh from 800 s
        fetcher.respond = [&](const std::string& ws, int n, steady_time sent) {
            // From the second request on, tokens come back 850 s old: inside their soft
            // window already, and usable for 90 s more.
            return result<token_grant>(fetcher.grant(ws, n, n == 1 ? sent : sent - 850s));
        };
        get_now("wks_a");
        manual_clock::advance(790s);
        cache->find("wks_a");
        manual_clock::advance(11s);
        cache->find("wks_a"); // starts the refresh
        settle();
        const auto t2 = cache->find("wks_a");
        REQUIRE(t2->token.value == "token-wks_a-2");
        CHECK(t2->refresh_from < manual_clock::now());
        for (int s = 1; s < 10; ++s) {
            manual_clock::advance(1s);
            CHECK(cache->find("wks_a") == t2);
            settle();
            CHECK(fetcher.calls == 2);
        }
        manual_clock::advance(1s); // 10 s after it arrived
        cache->find("wks_a");
        settle();
        CHECK(fetcher.calls == 3);
    }

    TEST_CASE_FIXTURE(cache_fixture, "a ten-year token is refreshed in its last 15 minutes") {
        fetcher.lifetime = 315'705'599s; // Glue's documented example
        const auto t1 = get_now("wks_a");
        CHECK(t1->refresh_from == t1->token.expires_at - 15min);
        manual_clock::advance(315'705'599s - 17min);
        cache->find("wks_a");
        manual_clock::advance(1min + 59s); // 15 min 1 s before expiry: not yet
        cache->find("wks_a");
        settle();
        CHECK(fetcher.calls == 1);
        manual_clock::advance(1s);
        CHECK(cache->find("wks_a") == t1);
        settle();
        CHECK(fetcher.calls == 2);
    }

    TEST_CASE("the soft window's jitter spreads keys fetched together") {
        cache_fixture f;
        auto o = exact_options();
        o.soft_window_jitter = 0.10;
        f.configure(o);
        f.fetcher.lifetime = 1000s; // soft window 200 s: jitter takes up to 20 s off
        std::set<steady_time> starts;
        for (int i = 0; i < 50; ++i) {
            const auto t = f.get_now(key(i));
            CHECK(t->refresh_from >= t->token.expires_at - 200s);
            CHECK(t->refresh_from <= t->token.expires_at - 180s);
            starts.insert(t->refresh_from);
        }
        CHECK(starts.size() > 40); // practically all different
    }

    //--------------------------------------------------------------------------
    // Failures

    TEST_CASE_FIXTURE(cache_fixture, "transient failures are retried inside the flight") {
        fetcher.respond = [&](const std::string& ws, int n, steady_time sent) {
            return n <= 2 ? result<token_grant>(endpoint_failure(errc::server_error, 500))
                          : result<token_grant>(fetcher.grant(ws, n, sent));
        };
        for (int i = 0; i < 10; ++i) {
            spawn_get("wks_a");
        }
        drive([&] { return results.size() == 10; }, 5ms);
        for (const auto& r : results) {
            CHECK(r.value()->token.value == "token-wks_a-3");
        }
        CHECK(fetcher.calls == 3);
        CHECK(fetcher.attempts == std::vector<unsigned>{1, 2, 3}); // numbered for request events
        const auto s = cache->stats();
        CHECK(s.token_requests == 3);
        CHECK(s.failures_transient == 2);
        CHECK(s.flights == 1);
    }

    TEST_CASE_FIXTURE(cache_fixture,
                      "after a failed flight the error is remembered for a backoff") {
        fetcher.respond = always(endpoint_failure(errc::server_error, 502));
        // One flight (three failed requests), then callers get its error at once, with no
        // request, for `backoff`; after it the next caller starts a new flight.
        auto fail_then_back_off = [&](int calls_after, std::chrono::seconds backoff) {
            results.clear();
            spawn_get("wks_a");
            drive([&] { return results.size() == 1; }, 1ms);
            CHECK(has_error(results.front(), errc::server_error));
            CHECK(fetcher.calls == calls_after);
            const auto failed_at = manual_clock::now();
            for (int i = 0; i < 10; ++i) {
                CHECK(has_error(get_result("wks_a"), errc::server_error));
            }
            manual_clock::advance(failed_at + backoff - manual_clock::now() - 2ms);
            CHECK(has_error(get_result("wks_a"), errc::server_error));
            CHECK(fetcher.calls == calls_after);
            manual_clock::advance(3ms);
        };
        fail_then_back_off(3, 4s); // 1 s doubled per failed request: twice
        CHECK(cache->stats().remembered_error_hits == 11);
        fail_then_back_off(6, 32s); // five times
        fail_then_back_off(9, 60s); // and from then on the cap
        fetcher.respond = nullptr;
        CHECK(get_now("wks_a")->token.value == "token-wks_a-10");
    }

    TEST_CASE_FIXTURE(cache_fixture,
                      "a 30 s outage at 1,000 callers a second costs at most 6 requests") {
        fetcher.respond = always(make_failure(boost::asio::error::connection_refused));
        for (int ms = 0; ms < 30'000; ++ms) {
            spawn_get("wks_cold");
            settle();
            manual_clock::advance(1ms);
        }
        drive([&] { return results.size() == 30'000; }, 1ms);
        for (const auto& r : results) {
            CHECK(has_error(r, boost::asio::error::connection_refused));
        }
        MESSAGE("token requests during the outage: " << fetcher.calls.load());
        CHECK(fetcher.calls <= 6);
        CHECK(fetcher.calls >= 3);
    }

    TEST_CASE_FIXTURE(cache_fixture,
                      "a failed refresh-ahead keeps serving the token and retries after backoff") {
        fetcher.lifetime = 100s;
        const auto t1 = get_now("wks_a");
        manual_clock::advance(70s);
        cache->find("wks_a");
        manual_clock::advance(11s);
        fetcher.respond = always(endpoint_failure(errc::server_error, 503));
        CHECK(cache->find("wks_a") == t1); // starts the refresh
        drive([&] { return fetcher.calls == 4 && fetcher.in_flight == 0; }, 1ms);
        settle(); // the third failure ends the flight
        const auto failed_at = manual_clock::now();
        // The failure dropped nothing: t1 is served until its hard margin, with no new
        // request before the backoff (4 s) is over.
        for (int s = 1; s < 4; ++s) {
            manual_clock::advance(failed_at + s * 1s - manual_clock::now());
            CHECK(cache->find("wks_a") == t1);
            settle();
            CHECK(fetcher.calls == 4);
        }
        fetcher.respond = nullptr;
        manual_clock::advance(failed_at + 4s + 1ms - manual_clock::now());
        CHECK(cache->find("wks_a") == t1);
        settle();
        CHECK(fetcher.calls == 5);
        CHECK(cache->find("wks_a")->token.value == "token-wks_a-5");
    }

    TEST_CASE_FIXTURE(cache_fixture, "any other 4xx is remembered like an OAuth error") {
        fetcher.respond = always(endpoint_failure(errc::http_error, 404));
        CHECK(has_error(get_result("wks_a"), errc::http_error));
        manual_clock::advance(29s);
        CHECK(has_error(get_result("wks_a"), errc::http_error));
        CHECK(fetcher.calls == 1); // never retried in a loop
        manual_clock::advance(1s);
        CHECK(has_error(get_result("wks_a"), errc::http_error));
        CHECK(fetcher.calls == 2);
    }

    TEST_CASE_FIXTURE(cache_fixture, "invalid_client is remembered for every workspace at once") {
        // The client's own credentials are wrong: asking again for other workspaces would
        // only repeat the same refusal.
        fetcher.respond = always(endpoint_failure(errc::oauth_error, 401, "invalid_client"));
        CHECK(has_error(get_result("wks_a"), errc::oauth_error));
        CHECK(has_error(get_result("wks_b"), errc::oauth_error));
        CHECK(has_error(get_result("wks_c"), errc::oauth_error));
        CHECK(fetcher.calls == 1);
        manual_clock::advance(30s);
        fetcher.respond = nullptr;
        CHECK(get_now("wks_b")->token.value == "token-wks_b-2");
    }

    //--------------------------------------------------------------------------
    // Endpoint protection

    TEST_CASE_FIXTURE(cache_fixture,
                      "at most 32 token requests in flight, first come first served") {
        fetcher.hold = true;
        for (int i = 0; i < 100; ++i) {
            spawn_get(key(i));
        }
        run_until([&] { return fetcher.holding() == 32; });
        settle();
        CHECK(fetcher.calls == 32);
        CHECK(cache->stats().in_flight == 32);
        CHECK(cache->stats().flights == 100); // the others wait for a slot
        fetcher.release(1);
        run_until([&] { return fetcher.calls == 33; });
        CHECK(fetcher.order.back() == key(32)); // the longest waiter goes next
        while (results.size() < 100) {
            fetcher.release();
            settle();
        }
        CHECK(fetcher.max_in_flight == 32);
        std::vector<std::string> expected;
        for (int i = 0; i < 100; ++i) {
            expected.push_back(key(i));
        }
        CHECK(fetcher.order == expected);
    }

    TEST_CASE_FIXTURE(cache_fixture, "a request that throws gives its slot back") {
        auto o = exact_options();
        o.max_concurrent_requests = 1;
        configure(o);
        fetcher.respond = [&](const std::string& ws, int n, steady_time sent) {
            if (ws == "wks_a") {
                throw std::runtime_error("boom");
            }
            return result<token_grant>(fetcher.grant(ws, n, sent));
        };
        CHECK(has_error(get_result("wks_a"), errc::internal_error)); // not retried
        CHECK(fetcher.calls == 1);
        CHECK(get_now("wks_b")->token.value == "token-wks_b-2"); // the one slot is free again
    }

    TEST_CASE_FIXTURE(cache_fixture, "a 429's Retry-After pauses that workspace") {
        fetcher.respond = [&](const std::string& ws, int n, steady_time sent) {
            return ws == "wks_a" && n == 1
                       ? result<token_grant>(
                             endpoint_failure(errc::rate_limited, 429, "", std::chrono::seconds(7)))
                       : result<token_grant>(fetcher.grant(ws, n, sent));
        };
        CHECK(has_error(get_result("wks_a"), errc::rate_limited));
        CHECK(fetcher.calls == 1);                               // not retried inside the flight
        CHECK(get_now("wks_b")->token.value == "token-wks_b-2"); // others carry on
        manual_clock::advance(6999ms);
        CHECK(has_error(get_result("wks_a"), errc::rate_limited));
        CHECK(fetcher.calls == 2);
        manual_clock::advance(1ms);
        CHECK(get_now("wks_a")->token.value == "token-wks_a-3");
    }

    TEST_CASE_FIXTURE(cache_fixture,
                      "a 503's Retry-After pauses the whole endpoint, at most 600 s") {
        fetcher.lifetime = 100s;
        const auto b = get_now("wks_b");
        manual_clock::advance(70s);
        cache->find("wks_b");
        fetcher.respond = [&](const std::string& ws, int n, steady_time sent) {
            return ws == "wks_a" ? result<token_grant>(endpoint_failure(errc::server_error, 503, "",
                                                                        std::chrono::seconds(900)))
                                 : result<token_grant>(fetcher.grant(ws, n, sent));
        };
        CHECK(has_error(get_result("wks_a"), errc::server_error));
        CHECK(fetcher.calls == 2); // not retried: the endpoint said when to come back
        CHECK(has_error(get_result("wks_c"), errc::server_error)); // paused too, no request
        CHECK(fetcher.calls == 2);
        manual_clock::advance(11s); // wks_b in its soft window: still served, not refreshed
        CHECK(cache->find("wks_b") == b);
        settle();
        CHECK(fetcher.calls == 2);
        manual_clock::advance(600s - 11s - 1ms);
        CHECK(has_error(get_result("wks_c"), errc::server_error));
        manual_clock::advance(1ms); // the cap, not the 900 s asked for
        CHECK(get_now("wks_c")->token.value == "token-wks_c-3");
    }

    //--------------------------------------------------------------------------
    // Memory

    TEST_CASE_FIXTURE(cache_fixture, "the least recently used workspace is evicted first") {
        event_log log;
        auto o = exact_options();
        o.max_entries = 256; // one shard of 256
        o.on_event = log.hook();
        configure(o);
        for (int i = 0; i < 256; ++i) {
            get_now(key(i));
        }
        CHECK(cache->size() == 256);
        // Uses are recorded at most every 1/16 of the soft window (45 s here), so the order
        // only changes once that much time has passed.
        manual_clock::advance(60s);
        cache->find(key(0)); // now the most recently used
        get_now(key(256));
        CHECK(cache->size() == 256);
        CHECK(cache->find(key(0)) != nullptr);
        CHECK(cache->find(key(1)) == nullptr);
        CHECK(cache->stats().evictions == 1);
        CHECK(log.count(kind::eviction, "lru") == 1);
        CHECK(std::any_of(log.events.begin(), log.events.end(), [](const auto& e) {
            return e.what == kind::eviction && e.workspace == key(1);
        }));
    }

    TEST_CASE_FIXTURE(cache_fixture, "entries with a flight are never evicted") {
        auto o = exact_options();
        o.max_entries = 256;
        configure(o);
        fetcher.hold = true;
        for (int i = 0; i < 300; ++i) {
            spawn_get(key(i));
        }
        settle();
        CHECK(cache->size() == 300); // over the bound: none can go while its flight runs
        while (results.size() < 300) {
            fetcher.release();
            settle();
        }
        for (const auto& r : results) {
            CHECK(r.has_value());
        }
        fetcher.hold = false;
        get_now("wks_new");
        CHECK(cache->size() <= 256);
    }

    TEST_CASE_FIXTURE(cache_fixture, "expired entries are swept as new ones arrive") {
        event_log log;
        auto o = exact_options();
        o.max_entries = 256;
        o.on_event = log.hook();
        configure(o);
        fetcher.lifetime = 10s;
        for (int i = 0; i < 10; ++i) {
            get_now(key(i));
        }
        manual_clock::advance(11s);
        for (int i = 0; i < 5; ++i) {
            get_now("wks_new" + std::to_string(i));
        }
        CHECK(cache->size() == 5); // far below the bound, but the expired ones are gone
        CHECK(log.count(kind::eviction, "expired") == 10);
    }

    TEST_CASE_FIXTURE(cache_fixture, "a bound of 10,000 holds 10,000 workspaces before evicting") {
        // The bound is on the whole cache, not on each shard's share of it: hashing never
        // spreads ids evenly over the shards.
        auto o = exact_options();
        o.max_entries = 10'000;
        configure(o);
        for (int i = 0; i < 10'000; ++i) {
            spawn_get(key(i));
        }
        run_until([&] { return results.size() == 10'000; });
        CHECK(cache->size() == 10'000);
        CHECK(cache->stats().evictions == 0);

        spawn_get(key(10'000));
        run_until([&] { return results.size() == 10'001; });
        CHECK(cache->size() == 10'000);
        CHECK(cache->stats().evictions == 1);
    }

    TEST_CASE_FIXTURE(cache_fixture,
                      "1,000,000 workspaces with a bound of 10,000 keep at most 10,000 entries") {
        // GLUE_TEST_SCALE (tests/CMakeLists.txt) is 10 under the sanitizer presets, where a
        // million take minutes: 100,000 still pass through the bound ten times over.
        constexpr int batches = 1000 / GLUE_TEST_SCALE;
        auto o = exact_options();
        o.max_entries = 10'000;
        configure(o);
        std::size_t most = 0;
        for (int batch = 0; batch < batches; ++batch) {
            results.clear();
            for (int i = 0; i < 1000; ++i) {
                spawn_get(key(batch * 1000 + i));
            }
            run_until([&] { return results.size() == 1000; });
            most = std::max(most, cache->size());
        }
        CHECK(fetcher.calls == batches * 1000);
        CHECK(most <= 10'000);
        CHECK(cache->stats().evictions >= batches * 1000 - 10'000);
    }

    //--------------------------------------------------------------------------
    // Visibility

    TEST_CASE_FIXTURE(cache_fixture, "the counters say what happened") {
        auto t = get_now("wks_a");           // miss, flight, request
        cache->find("wks_a");                // hit
        cache->find("wks_a");                // hit
        cache->invalidate("wks_a", nullptr); // no-op
        cache->invalidate("wks_a", t.get()); // applied
        get_now("wks_a");                    // miss, flight (forced), request
        fetcher.respond = always(endpoint_failure(errc::oauth_error, 400, "invalid_grant"));
        get_result("wks_b"); // miss, flight, permanent failure
        get_result("wks_b"); // miss, remembered error
        fetcher.hold = true;
        fetcher.respond = nullptr;
        spawn_get("wks_c");
        spawn_get("wks_c"); // joins the flight
        run_until([&] { return fetcher.holding() == 1; });
        settle();
        const auto s = cache->stats();
        CHECK(s.hits == 2);
        CHECK(s.misses == 6);
        CHECK(s.flights == 4);
        CHECK(s.waiters_joined == 5);
        CHECK(s.token_requests == 4);
        CHECK(s.failures_permanent == 1);
        CHECK(s.failures_transient == 0);
        CHECK(s.remembered_error_hits == 1);
        CHECK(s.invalidations_applied == 1);
        CHECK(s.invalidations_noop == 1);
        CHECK(s.entries == 3);
        CHECK(s.in_flight == 1);
        CHECK(s.refresh_aheads == 0);
        CHECK(s.evictions == 0);
    }

    TEST_CASE_FIXTURE(cache_fixture, "events tell what happened, with the reason, never a token") {
        event_log log;
        auto o = exact_options();
        o.on_event = log.hook();
        configure(o);
        fetcher.lifetime = 100s;
        auto t1 = get_now("wks_a");
        manual_clock::advance(70s);
        cache->find("wks_a");
        manual_clock::advance(11s);
        cache->find("wks_a"); // refresh ahead
        settle();
        auto t2 = cache->find("wks_a");
        cache->invalidate("wks_a", t1.get()); // stale
        cache->invalidate("wks_a", t2.get()); // applied
        get_now("wks_a");                     // forced
        auto t3 = cache->find("wks_a");
        cache->invalidate("wks_a", t3.get()); // throttled
        fetcher.respond = always(endpoint_failure(errc::oauth_error, 400, "invalid_grant"));
        get_result("wks_b");

        CHECK(log.count(kind::refresh_start, "miss") == 2);
        CHECK(log.count(kind::refresh_success, "miss") == 1);
        CHECK(log.count(kind::refresh_failure, "miss") == 1);
        CHECK(log.count(kind::refresh_start, "refresh_ahead") == 1);
        CHECK(log.count(kind::refresh_success, "refresh_ahead") == 1);
        CHECK(log.count(kind::invalidation_noop, "stale") == 1);
        CHECK(log.count(kind::invalidation_applied, "401") == 1);
        CHECK(log.count(kind::refresh_start, "forced") == 1);
        CHECK(log.count(kind::refresh_success, "forced") == 1);
        CHECK(log.count(kind::invalidation_noop, "throttled") == 1);
        for (const auto& e : log.events) {
            CHECK(e.workspace.find("token-") == std::string::npos);
            CHECK(e.reason.find("token-") == std::string::npos);
            if (e.what == kind::refresh_failure) {
                CHECK(e.error == errc::oauth_error);
                CHECK(e.workspace == "wks_b");
            }
        }
    }

} // TEST_SUITE
