// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The token cache under a random mix of calls from several coroutines on an io_context run by
// two threads, on the real steady clock, with a shutdown from a third thread while calls are
// still running. Nothing here is a timed pass/fail check: the clock only decides which paths
// the traffic takes (refresh-ahead, timeouts, throttled 401s), and every bound checked is
// derived from the duration actually measured. The seed is printed; GLUE_STRESS_SEED replays a
// mix (as far as two threads can replay anything).

#include "support/cache_fixture.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace glue::test;

namespace {

using steady = std::chrono::steady_clock;
using stress_cache = glue::detail::basic_token_cache<steady>;

constexpr int keys = 50;
constexpr auto min_lifetime = 2s, max_lifetime = 4s;

/// A number from `seed` and `n` alone: what the fetcher does with its n-th request does not
/// depend on which thread asks.
std::uint64_t mix(std::uint64_t seed, std::uint64_t n) {
    std::uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (n + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/// The token endpoint, thread-safe: tokens of 2-4 s (so that they are refreshed ahead within
/// the run); one request in 2 answered 1-20 ms late; one in 8 failing transiently, but never
/// two requests of a key in a row, so that every flight succeeds by its second request.
struct stress_fetcher {
    std::uint64_t seed = 0;
    std::atomic<std::uint64_t> requests{0};
    std::atomic<int> in_flight{0};
    std::atomic<int> failures{0};
    std::array<std::atomic<int>, keys> per_key{};
    std::array<std::atomic<bool>, keys> failed_last{};

    asio::awaitable<result<token_grant>> fetch(std::string ws, steady_time) {
        const auto n = requests++;
        ++in_flight;
        struct leave {
            std::atomic<int>& count;
            ~leave() { --count; }
        } counted{in_flight};
        const int k = std::stoi(ws.substr(4));
        ++per_key.at(static_cast<std::size_t>(k));
        const auto sent_at = steady::now();
        const auto r = mix(seed, n);
        if (r % 2 == 0) {
            asio::steady_timer late(co_await asio::this_coro::executor,
                                    std::chrono::milliseconds(1 + (r >> 8) % 20));
            auto [ec] = co_await late.async_wait(asio::as_tuple(asio::use_awaitable));
            if (ec) {
                co_return make_failure(ec); // stopped by shutdown()
            }
        }
        if ((r >> 16) % 8 == 0 && !failed_last[static_cast<std::size_t>(k)].exchange(true)) {
            ++failures;
            co_return endpoint_failure(errc::server_error, 500);
        }
        failed_last[static_cast<std::size_t>(k)] = false;
        const auto lifetime = min_lifetime + std::chrono::milliseconds((r >> 24) % 2001);
        co_return token_grant{"token-" + ws + "-" + std::to_string(n), "Bearer", "usr_app",
                              std::chrono::duration_cast<std::chrono::seconds>(lifetime), sent_at};
    }
};

/// What the traffic saw, counted from every thread.
struct tally {
    std::atomic<int> started{0}, completed{0}; // get() calls, each kind of them
    std::atomic<int> tokens{0}, aborted{0}, timeouts{0}, other_errors{0}, wrong_token{0};
    std::atomic<int> off_executor{0}, after_shutdown_not_aborted{0};
    std::atomic<int> hits{0}, invalidations{0}, cancels_emitted{0}, timer_won{0};
    std::atomic<int> workers_done{0}, worker_exceptions{0};
};

} // namespace

TEST_SUITE("cache stress") {

    TEST_CASE("random calls from two threads, then shutdown from a third") {
        std::uint64_t seed = std::random_device{}();
        if (const char* s = std::getenv("GLUE_STRESS_SEED")) {
            seed = std::strtoull(s, nullptr, 10);
        }
        MESSAGE("seed: " << seed << " (GLUE_STRESS_SEED=" << seed << " replays it)");

        constexpr int workers = 8;
        constexpr int max_ops_per_worker = 50'000; // a bound on the work, whatever the speed
        constexpr int ops_after_shutdown = 20;     // each worker's calls once it saw shutdown
        constexpr auto traffic_for = 2s;           // then shutdown(), and the tails
        constexpr auto forced_interval = 100ms;

        asio::io_context ioc(2);
        stress_fetcher fetcher;
        fetcher.seed = seed;
        tally t;

        std::atomic<bool> shut{false}; // set as soon as shutdown() returned
        std::atomic<int> hooks{0}, hooks_after_shutdown{0};
        glue::detail::token_cache_options o;
        o.forced_refresh_interval = forced_interval;
        o.retry_base_delay = 5ms;
        o.backoff_initial = 50ms;
        o.on_event = [&](const glue::token_event&) {
            ++hooks;
            if (shut) {
                ++hooks_after_shutdown;
            }
        };
        const auto t0 = steady::now();
        std::optional<stress_cache> cache;
        cache.emplace(
            ioc.get_executor(),
            [&fetcher](std::string ws, steady_time deadline, unsigned) {
                return fetcher.fetch(std::move(ws), deadline);
            },
            std::move(o));

        // The outcome of a get() for `ws`, resumed on `ex`, started after shutdown or not.
        auto record = [&](const std::string& ws, const token_result& r, bool on_own_executor,
                          bool started_after_shutdown) {
            ++t.completed;
            t.off_executor += !on_own_executor;
            if (r) {
                ++t.tokens;
                t.wrong_token += !(*r)->token.value.starts_with("token-" + ws + "-");
            } else if (r.error().ec == asio::error::operation_aborted) {
                ++t.aborted;
            } else if (r.error().ec == errc::timeout) {
                ++t.timeouts;
            } else {
                ++t.other_errors; // no flight fails: each gets a token by its second request
            }
            t.after_shutdown_not_aborted +=
                started_after_shutdown && !has_error(r, asio::error::operation_aborted);
        };

        using strand = asio::strand<asio::io_context::executor_type>;
        std::atomic<int> ops{0}; // all workers' together
        auto worker = [&](strand ex, int id) -> asio::awaitable<void> {
            using namespace asio::experimental::awaitable_operators;
            std::minstd_rand rng(static_cast<std::uint32_t>(mix(seed, 1'000'000 + id)));
            auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
            asio::steady_timer pace(ex);
            int tail = ops_after_shutdown;
            for (int op = 0; op < max_ops_per_worker && tail > 0; ++op) {
                ++ops;
                const bool after = shut;
                tail -= after;
                // Of 100 calls: 40 find(), 30 get(), 2 a 401 then get(), 14 get() raced with a
                // timer, 14 get() cancelled by a signal. The 401s go to the first 10 keys only:
                // their forced refreshes hit the throttle, while the other keys' tokens live
                // into their soft window and are refreshed ahead.
                const int dice = pick(100);
                const int kind = dice < 40 ? 0 : dice < 70 ? 1 : dice < 72 ? 2 : dice < 86 ? 3 : 4;
                const std::string ws = key(pick(kind == 2 ? 10 : keys));
                // Half the calls with a deadline of 1-500 ms, half with one past the flight's own
                // (10 s): those wait with no timer of their own, so a wake-up the cache lost
                // would leave them hanging (and be seen) rather than time out.
                const auto deadline =
                    steady::now() + (pick(2) ? 30s : std::chrono::milliseconds(1 + pick(500)));
                if (after) { // invalidate() runs a hook, unless the cache has been shut down
                    ++t.invalidations;
                    (void)cache->invalidate(ws, nullptr);
                }
                switch (kind) {
                case 0: { // a hit, or nothing
                    t.hits += cache->find(ws) != nullptr;
                    break;
                }
                case 1: { // a miss: wait for the token
                    ++t.started;
                    auto r = co_await cache->get(ws, deadline);
                    record(ws, r, ex.running_in_this_thread(), after);
                    break;
                }
                case 2: { // a 401 for the token just used, then a token again
                    auto used = cache->find(ws);
                    if (!used) {
                        ++t.started;
                        auto r = co_await cache->get(ws, deadline);
                        record(ws, r, ex.running_in_this_thread(), after);
                        if (!r) { // a 401 for a token no longer known: stale, still a hook
                            ++t.invalidations;
                            (void)cache->invalidate(ws, nullptr);
                            break;
                        }
                        used = *r;
                    }
                    ++t.invalidations;
                    (void)cache->invalidate(ws, used.get());
                    ++t.started;
                    auto r = co_await cache->get(ws, deadline);
                    record(ws, r, ex.running_in_this_thread(), after);
                    break;
                }
                case 3: { // raced with a timer of 0-3 ms
                    ++t.started;
                    asio::steady_timer timer(ex, std::chrono::milliseconds(pick(4)));
                    auto winner = co_await (cache->get(ws, deadline) ||
                                            timer.async_wait(asio::use_awaitable));
                    if (winner.index() == 0) {
                        record(ws, std::get<0>(winner), ex.running_in_this_thread(), after);
                    } else {
                        // The get() lost and was cancelled: it completed, as aborted.
                        ++t.timer_won;
                        record(ws, make_failure(asio::error::operation_aborted),
                               ex.running_in_this_thread(), after);
                    }
                    break;
                }
                default: { // bound to a signal emitted after 0-3 ms, if still running
                    struct call {
                        std::string ws; // the get() refers to it until it completes
                        asio::cancellation_signal cancel;
                        bool done = false;
                    };
                    auto c = std::make_shared<call>();
                    c->ws = ws;
                    ++t.started;
                    asio::co_spawn(ex, cache->get(c->ws, deadline),
                                   asio::bind_cancellation_slot(
                                       c->cancel.slot(),
                                       [&, c, ws, ex, after](std::exception_ptr e, token_result r) {
                                           // On this strand: co_spawn completes on the executor it
                                           // ran on.
                                           CHECK_FALSE(c->done); // exactly once
                                           c->done = true;
                                           if (e) {
                                               ++t.worker_exceptions;
                                               ++t.completed;
                                               return;
                                           }
                                           record(ws, r, ex.running_in_this_thread(), after);
                                       }));
                    pace.expires_after(std::chrono::milliseconds(pick(4)));
                    co_await pace.async_wait(asio::as_tuple(asio::use_awaitable));
                    if (!c->done) { // the call is still pending: its slot is still connected
                        ++t.cancels_emitted;
                        c->cancel.emit(asio::cancellation_type::terminal);
                    }
                    break;
                }
                }
                if (pick(4) == 0) { // now and then a pause, so that time passes between calls
                    pace.expires_after(std::chrono::microseconds(pick(1000)));
                    co_await pace.async_wait(asio::as_tuple(asio::use_awaitable));
                }
            }
        };
        for (int id = 0; id < workers; ++id) {
            const auto ex = asio::make_strand(ioc);
            asio::co_spawn(ex, worker(ex, id), [&](std::exception_ptr e) {
                t.worker_exceptions += e != nullptr;
                ++t.workers_done;
            });
        }

        std::atomic<bool> a_done{false}, b_done{false};
        std::thread a([&] {
            ioc.run();
            a_done = true;
        });
        std::thread b([&] {
            ioc.run();
            b_done = true;
        });

        // Shutdown from this (third) thread while the workers are still calling: after 2 s, or
        // once they made half of their calls, whichever comes first.
        while (steady::now() < t0 + traffic_for && ops < workers * max_ops_per_worker / 2) {
            std::this_thread::sleep_for(1ms);
        }
        const int started_before_shutdown = t.started;
        cache->shutdown();
        shut = true;
        const auto t_shutdown = steady::now();

        // With no work guard, run() returns once the workers are done and nothing is pending.
        // The bound is below the flights' own 10 s deadline: a flight (or its deadline timer)
        // that outlived shutdown() would keep run() from returning for that long.
        const bool returned = eventually([&] { return a_done && b_done; }, 8s);
        CHECK_MESSAGE(returned, "run() did not return after shutdown: work was left behind");
        if (!returned) {
            ioc.stop(); // so that the threads can be joined
        }
        a.join();
        b.join();

        const auto d = t_shutdown - t0; // token requests happen only within [t0, t_shutdown]
        const auto s = cache->stats();
        MESSAGE("ran " << std::chrono::duration_cast<std::chrono::milliseconds>(d).count()
                       << " ms: " << t.started.load() << " gets (" << t.tokens.load() << " tokens, "
                       << t.aborted.load() << " aborted, " << t.timeouts.load() << " timeouts), "
                       << t.hits.load() << " hits, " << t.invalidations.load() << " 401s ("
                       << s.invalidations_applied << " applied), " << t.cancels_emitted.load()
                       << " cancels, " << t.timer_won.load() << " races lost, "
                       << fetcher.requests.load() << " requests (" << fetcher.failures.load()
                       << " failed), " << s.refresh_aheads << " refreshes ahead, " << hooks.load()
                       << " hooks");

        // Every started call completed exactly once, and the traffic was still going on.
        CHECK(t.workers_done.load() == workers);
        CHECK(t.worker_exceptions.load() == 0);
        CHECK(t.completed.load() == t.started.load());
        CHECK(started_before_shutdown > 0);
        CHECK(t.started.load() > started_before_shutdown); // calls after shutdown() too
        // Every waiter resumed on its own strand, got its own key's token or an error that says
        // why: aborted (cancelled, or shut down), or its deadline passed.
        CHECK(t.off_executor.load() == 0);
        CHECK(t.wrong_token.load() == 0);
        CHECK(t.other_errors.load() == 0);
        CHECK(t.after_shutdown_not_aborted.load() == 0);

        // Token requests per key. A flight makes at most 2 requests (the fetcher never fails
        // a key twice in a row, and a transient failure is retried within the flight). A key's
        // flights never overlap, and after the first each is either
        //  - forced by an applied 401: at most one per forced_refresh_interval, so at most
        //    d / interval + 1 of them; or
        //  - a miss or a refresh ahead, which needs the previous flight's token to be in its
        //    soft window or past its usable life (a 401'd token is followed by a forced flight,
        //    and no flight fails, so nothing else makes a key miss): that is at least
        //    0.8 × lifetime ≥ 1.6 s after the previous token was requested, hence after the
        //    previous flight started; at most d / 1.6 s of them.
        const auto spacing = std::chrono::milliseconds(min_lifetime) * 4 / 5;
        const auto flights_bound = 1 + (d / forced_interval + 1) + d / spacing;
        const auto requests_bound = 2 * flights_bound;
        MESSAGE("bound: " << requests_bound << " requests per key");
        int busiest = 0;
        for (const auto& n : fetcher.per_key) {
            busiest = std::max(busiest, n.load());
        }
        CHECK(busiest <= requests_bound);
        CHECK(fetcher.requests.load() <= static_cast<std::uint64_t>(keys * requests_bound));
        CHECK(s.invalidations_applied <= static_cast<std::uint64_t>(keys) *
                                             static_cast<std::uint64_t>(d / forced_interval + 1));

        // No hook after shutdown() returned, nothing left in flight.
        CHECK(hooks.load() > 0);
        CHECK(hooks_after_shutdown.load() == 0);
        CHECK(s.in_flight == 0);
        CHECK(fetcher.in_flight.load() == 0);

        cache.reset(); // the destructor's shutdown() is a no-op now, and runs no hook either
        CHECK(hooks_after_shutdown.load() == 0);
    }

} // TEST_SUITE
