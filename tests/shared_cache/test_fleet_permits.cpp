// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The fleet-wide rate limit with a real Redis (Debian's redis-server on a free port of
// 127.0.0.1): the reserve script on its own, then fleet_permits instances taking turns from one
// key. The turns handed out are checked, not how fast anything ran: take() returns a time and
// does not wait for it.

#include "shared_cache/fleet_permits.hpp"
#include "shared_cache/lua_scripts.hpp"
#include "support/redis_server.hpp"
#include "support/test_support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <hiredis/read.h>

namespace {

using namespace std::chrono_literals;
using glue::test::redis_server;
using glue::test::redis_value;
namespace gd = glue::detail;
namespace asio = boost::asio;
using std::chrono::microseconds;
using steady = std::chrono::steady_clock;
using kind = glue::token_event::kind;

const std::string rate_key = "glue:glue-test-client:rate";

/// Redis's clock (TIME) in µs: what the script counts in.
long long redis_now_us(const redis_server& redis) {
    const auto t = redis.command({"TIME"});
    return std::stoll(t.elements.at(0).str) * 1'000'000 + std::stoll(t.elements.at(1).str);
}

redis_value reserve(const redis_server& redis, microseconds spacing, microseconds tolerance,
                    long long n, microseconds horizon) {
    const gd::redis_layout layout("glue-test-client");
    return redis.command(gd::reserve_turns_command(layout, spacing, tolerance, n, horizon));
}

/// fleet_permits on `ioc` sharing `redis`'s key glue:glue-test-client:rate, its events kept.
struct permits_on {
    permits_on(asio::io_context& io, const redis_server& redis, double rate, double burst = 1,
               double fallback_rate = 0, std::chrono::milliseconds timeout = 500ms)
        : ioc(io) {
        gd::fleet_permit_options o;
        o.address = *gd::parse_redis_url(redis.url());
        o.client_id = "glue-test-client";
        o.rate = rate;
        o.burst = burst;
        o.fallback_rate = fallback_rate;
        o.timeout = timeout;
        o.on_event = [this](const glue::token_event& e) {
            std::lock_guard lock(m);
            events.emplace_back(e.what, std::string(e.reason));
        };
        permits = gd::make_fleet_permits(ioc.get_executor(), std::move(o));
    }
    ~permits_on() {
        permits->shutdown();
        ioc.restart();
        ioc.run_for(1s); // until its connection is closed (at once: nothing else is left)
    }

    gd::result<gd::steady_time> take(std::chrono::milliseconds within = 10s) {
        return glue::test::run(ioc, permits->take(steady::now() + within));
    }

    /// `n` takes called at once, in this order, each within `within`: their outcomes, in order.
    std::vector<gd::result<gd::steady_time>> takes(std::size_t n,
                                                   std::chrono::milliseconds within = 10s) {
        auto out = std::make_shared<std::vector<gd::result<gd::steady_time>>>(
            n, gd::make_failure(glue::errc::internal_error));
        auto done = std::make_shared<std::size_t>(0);
        for (std::size_t i = 0; i < n; ++i) {
            asio::co_spawn(ioc, permits->take(steady::now() + within),
                           [out, done, i](std::exception_ptr e, gd::result<gd::steady_time> r) {
                               REQUIRE_FALSE(e);
                               (*out)[i] = std::move(r);
                               ++*done;
                           });
        }
        glue::test::run_until(ioc, [&] { return *done == n; });
        return std::move(*out);
    }

    std::vector<std::pair<kind, std::string>> seen() {
        std::lock_guard lock(m);
        return events;
    }

    asio::io_context& ioc;
    std::mutex m;
    std::vector<std::pair<kind, std::string>> events; // before the permits: their hook writes here
    std::shared_ptr<gd::fleet_permits> permits;
};

/// A caller that takes a turn and waits for it, over and over, while `left` says there are
/// turns to take and until `stop`; the turns it got join `turns`, its failures `failed`.
asio::awaitable<void> paced_caller(gd::fleet_permits& p, std::shared_ptr<int> left,
                                   gd::steady_time stop, std::vector<gd::steady_time>& turns,
                                   int& failed) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (*left > 0 && steady::now() < stop) {
        --*left;
        const auto r = co_await p.take(steady::now() + 10s);
        if (!r) {
            ++failed;
            co_return;
        }
        turns.push_back(*r);
        timer.expires_at(*r);
        co_await timer.async_wait(asio::use_awaitable);
    }
}

std::vector<gd::steady_time> times_of(const std::vector<gd::result<gd::steady_time>>& rs) {
    std::vector<gd::steady_time> out;
    for (const auto& r : rs) {
        REQUIRE(r.has_value());
        out.push_back(*r);
    }
    return out;
}

} // namespace

TEST_SUITE("fleet permits") {
    TEST_CASE("the reserve script: a batch of consecutive turns by Redis's clock, none past the "
              "horizon, nothing changed when none fit") {
        redis_server redis;
        // A second apart, two turns of burst (seconds: the checks hold however slowly each
        // command is sent). An empty bucket: the first three at once.
        const auto before = redis_now_us(redis);
        auto r = reserve(redis, 1s, 2s, 5, 60s);
        const auto after = redis_now_us(redis);
        REQUIRE(r.type == REDIS_REPLY_ARRAY);
        REQUIRE(r.elements.size() == 3);
        CHECK(r.elements[0].integer == -2'000'000);
        CHECK(r.elements[1].integer == 1'000'000);
        CHECK(r.elements[2].integer == 5);
        // The next turn, 5 spacings on from Redis's now, in µs, and expiring when it is past.
        const long long tat = std::stoll(redis.command({"GET", rate_key}).str);
        CHECK(tat >= before + 5'000'000);
        CHECK(tat <= after + 5'000'000);
        const auto pttl = redis.command({"PTTL", rate_key}).integer;
        CHECK(pttl > 4000);
        CHECK(pttl <= 5001);

        // The next batch continues where that one ended, less the tolerance.
        r = reserve(redis, 1s, 2s, 5, 60s);
        const long long first = r.elements[0].integer;
        CHECK(first <= 3'000'000);
        CHECK(first > 2'000'000);
        CHECK(r.elements[2].integer == 5);

        // A horizon before the next turn: nothing reserved, nothing written.
        const std::string kept = redis.command({"GET", rate_key}).str;
        r = reserve(redis, 1s, 2s, 5, 0us);
        CHECK(r.elements[2].integer == 0);
        CHECK(r.elements[0].integer > 0);
        CHECK(redis.command({"GET", rate_key}).str == kept);

        // A horizon part of the way: the turns up to it.
        r = reserve(redis, 1s, 2s, 50, 20s);
        const long long f = r.elements[0].integer, count = r.elements[2].integer;
        CHECK(count == (20'000'000 - f) / 1'000'000 + 1);
        CHECK(count < 50);

        // A value that is not the script's (no expiry, or not a number) counts as none.
        for (const std::string planted : {"99999999999999999", "not a number"}) {
            CAPTURE(planted);
            redis.command({"SET", rate_key, planted});
            r = reserve(redis, 1s, 2s, 5, 60s);
            CHECK(r.elements[0].integer == -2'000'000);
            CHECK(r.elements[2].integer == 5);
            CHECK(redis.command({"PTTL", rate_key}).integer > 0);
        }
    }

    TEST_CASE("turns go out in the order take() was called, one spacing apart, from one round "
              "trip for everyone waiting") {
        redis_server redis;
        asio::io_context ioc;
        permits_on p(ioc, redis, 100); // a turn every 10 ms, no burst
        const auto start = steady::now();
        const auto turns = times_of(p.takes(20));
        CHECK(turns.front() >= start);
        CHECK(turns.front() <= steady::now());
        for (std::size_t i = 1; i < turns.size(); ++i) {
            CAPTURE(i);
            CHECK(turns[i] - turns[i - 1] == 10ms); // one reservation: one anchor
        }
        CHECK(p.permits->stats().batches == 1);
        CHECK_FALSE(p.permits->stats().fallback);
        CHECK(p.seen().empty()); // fleet_rate_up only after an outage
    }

    TEST_CASE("batches: 200 callers at once take four round trips of fifty") {
        redis_server redis;
        asio::io_context ioc;
        permits_on p(ioc, redis, 100);
        const auto turns = times_of(p.takes(200, 60s));
        CHECK(p.permits->stats().batches == 4);
        // Within a batch one reply anchors every turn: exactly a spacing apart. Across batches
        // each reply has its own anchor, its arrival, late by however long the reply took to
        // reach its coroutine; a loaded machine makes that anything (a CI run at load 11 saw
        // a batch's first turn 4.8 ms before the previous batch's last), so it isn't checked.
        REQUIRE(turns.size() == 200);
        for (std::size_t i = 1; i < turns.size(); ++i) {
            CAPTURE(i);
            if (i % 50 != 0) {
                CHECK(turns[i] - turns[i - 1] == 10ms);
            }
        }
    }

    TEST_CASE("batches: callers that wait for their turns and take the next get them from the "
              "look-ahead, a round trip per many turns") {
        redis_server redis;
        asio::io_context ioc;
        permits_on p(ioc, redis, 500); // 300 turns: 0.6 s
        auto left = std::make_shared<int>(300);
        std::vector<gd::steady_time> turns;
        int failed = 0;
        for (int c = 0; c < 8; ++c) {
            asio::co_spawn(ioc,
                           paced_caller(*p.permits, left, gd::steady_time::max(), turns, failed),
                           asio::detached);
        }
        glue::test::run_until(ioc, [&] { return turns.size() + failed == 300; });
        CHECK(failed == 0);
        // A batch is the demand of 100 ms, 50 turns at 500 a second: about 6 round trips once
        // the demand is known. A tenth of the takes leaves room for the first few.
        CAPTURE(p.permits->stats().batches);
        CHECK(p.permits->stats().batches <= 300 / 10);
    }

    TEST_CASE("four instances on four threads sharing one key: the turns handed out keep to the "
              "fleet's rate and burst in every span, spread over all four") {
        redis_server redis;
        constexpr double rate = 200, burst = 5;
        constexpr int instances = 4, callers = 4;
        std::vector<std::unique_ptr<asio::io_context>> iocs;
        std::vector<std::unique_ptr<permits_on>> permits;
        for (int i = 0; i < instances; ++i) {
            iocs.push_back(std::make_unique<asio::io_context>());
            // A timeout no slow build reaches: this case is about Redis's turns, and a fallback
            // to the local bucket (checked below never to happen) would not be.
            permits.push_back(std::make_unique<permits_on>(*iocs.back(), redis, rate, burst,
                                                           rate / instances, 10s));
        }
        // Each instance's callers take a turn, wait for it and take the next, for a second (at
        // most 1000 turns): all four keep asking, as the processes of a bulk job do.
        std::vector<std::vector<gd::steady_time>> turns(instances);
        std::vector<int> failed(instances, 0);
        std::vector<std::thread> threads;
        const auto stop = steady::now() + 1s;
        for (int i = 0; i < instances; ++i) {
            auto left = std::make_shared<int>(1000);
            for (int c = 0; c < callers; ++c) {
                asio::co_spawn(*iocs[i],
                               paced_caller(*permits[i]->permits, left, stop, turns[i], failed[i]),
                               asio::detached);
            }
            threads.emplace_back([&ioc = *iocs[i]] { ioc.run_for(30s); });
        }
        for (auto& t : threads) {
            t.join();
        }
        std::vector<gd::steady_time> all;
        for (int i = 0; i < instances; ++i) {
            CAPTURE(i);
            CHECK(failed[i] == 0);
            CHECK(turns[i].size() >= 20); // spread: each instance has a good part of ~200
            all.insert(all.end(), turns[i].begin(), turns[i].end());
        }
        std::sort(all.begin(), all.end());
        CHECK(all.size() >= 150);
        // In every span [a, b] between two turns: at most rate x (b - a) + burst turns, with
        // 5 ms for the error of mapping each reply onto this process's clock (each is anchored
        // when it arrives).
        std::size_t worst_excess = 0;
        for (std::size_t a = 0; a < all.size(); ++a) {
            for (std::size_t b = a; b < all.size(); ++b) {
                const double span = std::chrono::duration<double>(all[b] - all[a] + 5ms).count();
                const double allowed = rate * span + burst;
                if (static_cast<double>(b - a + 1) > allowed) {
                    worst_excess = std::max(worst_excess, b - a + 1);
                }
            }
        }
        CHECK(worst_excess == 0);
        for (auto& p : permits) {
            CHECK(p->seen().empty()); // no fleet_rate_down: every turn came from Redis
            p->permits->shutdown();
        }
    }

    TEST_CASE("Redis killed mid-run: the fallback rate applies, the outage is told once, and "
              "batches resume once Redis is back") {
        redis_server redis;
        asio::io_context ioc;
        permits_on p(ioc, redis, 1000, 1, 50, 300ms); // 1000/s for the fleet, 50/s alone
        REQUIRE(p.take().has_value());
        REQUIRE(p.permits->stats().batches == 1);

        redis.kill();
        // The turns held ahead go first; then a round trip fails, and the calls go local.
        for (int i = 0; i < 200 && !p.permits->stats().fallback; ++i) {
            REQUIRE(p.take().has_value());
        }
        REQUIRE(p.permits->stats().fallback);
        const auto local = times_of(p.takes(20));
        for (std::size_t i = 1; i < local.size(); ++i) {
            CAPTURE(i);
            CHECK(local[i] - local[i - 1] == 20ms); // 50 a second: the local bucket's spacing
        }
        auto events = p.seen();
        REQUIRE(events.size() == 1);
        CHECK(events[0].first == kind::fleet_rate_down);
        CHECK_FALSE(events[0].second.empty());

        redis.restart();
        // The link connects again when a call needs it, after its backoff; the round trip after
        // that succeeds.
        const auto batches = p.permits->stats().batches;
        for (int i = 0; i < 300 && p.permits->stats().fallback; ++i) {
            REQUIRE(p.take().has_value());
            std::this_thread::sleep_for(50ms); // a call every 50 ms, at most 15 s
        }
        CHECK_FALSE(p.permits->stats().fallback);
        CHECK(p.permits->stats().batches > batches);
        events = p.seen();
        REQUIRE(events.size() == 2);
        CHECK(events[1].first == kind::fleet_rate_up);
    }

    TEST_CASE("Redis that stops answering: the round trip times out, the call gets a local "
              "turn, and the outage is told once") {
        redis_server redis;
        asio::io_context ioc;
        permits_on p(ioc, redis, 2, 1, 1, 300ms); // a turn every 500 ms, and one a second alone
        REQUIRE(p.take().has_value());
        redis.pause();
        // A turn held ahead first, then a round trip that gets no answer: a local turn.
        for (int i = 0; i < 5 && !p.permits->stats().fallback; ++i) {
            REQUIRE(p.take(5s).has_value());
        }
        redis.resume();
        CHECK(p.permits->stats().fallback);
        REQUIRE(p.take(5s).has_value()); // local, at once: no second down
        const auto events = p.seen();
        REQUIRE(events.size() == 1);
        CHECK(events[0].first == kind::fleet_rate_down);
    }

    TEST_CASE("a deadline before the next turn: rate_limited with retry_after, and nothing "
              "reserved") {
        redis_server redis;
        asio::io_context ioc;
        permits_on a(ioc, redis, 1); // one a second
        REQUIRE(a.take().has_value());
        const std::string tat = redis.command({"GET", rate_key}).str;
        const auto batches = a.permits->stats().batches;

        // From a turn held ahead, or from a round trip whose horizon ends before the next turn.
        permits_on b(ioc, redis, 1);
        for (auto* p : {&a, &b}) {
            const auto r = p->take(100ms);
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().ec == glue::errc::rate_limited);
            REQUIRE(r.error().diag);
            CHECK(r.error().diag->retry_after >= 1s);
            CHECK(r.error().diag->retry_after <= 3s);
        }
        CHECK(redis.command({"GET", rate_key}).str == tat);
        CHECK(a.permits->stats().batches == batches);
        CHECK(b.permits->stats().batches == 0);
    }

    TEST_CASE("shutdown with callers waiting: they all fail at once, and so does any take() "
              "after it") {
        redis_server redis;
        asio::io_context ioc;
        permits_on p(ioc, redis, 100, 1, 0, 5000ms);
        redis.pause(); // the first connection's handshake goes unanswered
        std::vector<gd::result<gd::steady_time>> out;
        for (int i = 0; i < 10; ++i) {
            asio::co_spawn(ioc, p.permits->take(steady::now() + 30s),
                           [&](std::exception_ptr e, gd::result<gd::steady_time> r) {
                               REQUIRE_FALSE(e);
                               out.push_back(std::move(r));
                           });
        }
        ioc.run_for(100ms); // all queued behind the flight
        CHECK(out.empty());
        const auto asked = steady::now();
        p.permits->shutdown();
        glue::test::run_until(
            ioc, [&] { return out.size() == 10; }, 1s);
        CHECK(steady::now() - asked < 1s);
        for (const auto& r : out) {
            REQUIRE_FALSE(r.has_value());
            CHECK(r.error().ec == asio::error::operation_aborted);
        }
        const auto after = p.take();
        REQUIRE_FALSE(after.has_value());
        CHECK(after.error().ec == asio::error::operation_aborted);
        redis.resume();
    }

    TEST_CASE("idle fleet permits are no work for the io_context: run() returns when the takes "
              "are done") {
        redis_server redis;
        asio::io_context ioc;
        permits_on p(ioc, redis, 1000);
        int done = 0;
        for (int i = 0; i < 10; ++i) {
            asio::co_spawn(ioc, p.permits->take(steady::now() + 10s),
                           [&](std::exception_ptr e, gd::result<gd::steady_time> r) {
                               done += !e && r.has_value();
                           });
        }
        ioc.run_for(20s);
        CHECK(done == 10);
        CHECK(ioc.stopped()); // out of work, not out of time
    }
}
