// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The fleet permits' decisions on their own, with time passed in: the script's arguments,
// reservations mapped onto the steady clock, held turns, batch sizes, the local bucket.

#include "shared_cache/fleet_schedule.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>

namespace {

using namespace std::chrono_literals;
using glue::detail::fleet_reservation;
using glue::detail::fleet_schedule;
using glue::detail::steady_time;
using std::chrono::microseconds;

// Far from both ends of the clock's range.
const steady_time ft0 = steady_time(1000h);

fleet_reservation fleet_reply(microseconds first, microseconds spacing, long long count) {
    return fleet_reservation{first, spacing, count};
}

} // namespace

TEST_SUITE("fleet schedule") {
    TEST_CASE("the script's spacing and tolerance come from the rate and burst, bounded") {
        const fleet_schedule s(100, 5, 0);
        CHECK(s.spacing() == 10ms);
        CHECK(s.tolerance() == 40ms); // four turns early: five at once
        CHECK(fleet_schedule(3, 1, 0).spacing() == 333333us);
        CHECK(fleet_schedule(3, 0.5, 0).tolerance() == 0us); // a burst below one is one
        CHECK(fleet_schedule(1e12, 1, 0).spacing() == 1us);
        // No rate, or none that means anything: a turn every 2^40 µs, not a division by zero.
        CHECK(fleet_schedule(0, 1, 0).spacing() == microseconds(1LL << 40));
        CHECK(fleet_schedule(std::nan(""), 1, 0).spacing() == microseconds(1LL << 40));
        CHECK(fleet_schedule(1e-12, 1e30, 0).tolerance() == microseconds(1LL << 50));
    }

    TEST_CASE("a reservation's turns start at its anchor, early ones at once, then one per "
              "spacing") {
        fleet_schedule s(100, 3, 0);
        // Two turns of burst left: the first three at once.
        const auto next = s.reserved(ft0, fleet_reply(-20ms, 10ms, 5));
        CHECK(next == ft0 + 30ms);
        REQUIRE(s.held() == 5);
        for (const auto expected : {ft0, ft0, ft0, ft0 + 10ms, ft0 + 20ms}) {
            CHECK(s.next_held(ft0) == expected);
            s.take_held();
        }
        CHECK_FALSE(s.next_held(ft0).has_value());

        // The fleet ahead of now: the turns are later, and a reservation of none changes nothing.
        CHECK(s.reserved(ft0, fleet_reply(500ms, 10ms, 0)) == ft0 + 500ms);
        CHECK(s.held() == 0);
        CHECK(s.reserved(ft0, fleet_reply(500ms, 10ms, 2)) == ft0 + 520ms);
        CHECK(s.next_held(ft0) == ft0 + 500ms);
    }

    TEST_CASE("a held turn goes out at its time, and is dropped once past") {
        fleet_schedule s(100, 1, 0);
        s.reserved(ft0, fleet_reply(0ms, 10ms, 4)); // ft0, +10, +20, +30 ms
        // At +15 ms: ft0 and +10 ms are past (lost), +20 ms is next.
        CHECK(s.next_held(ft0 + 15ms) == ft0 + 20ms);
        CHECK(s.held() == 2);
        s.take_held();
        // Its very time still counts; a microsecond later it is gone.
        CHECK(s.next_held(ft0 + 30ms) == ft0 + 30ms);
        CHECK_FALSE(s.next_held(ft0 + 30ms + 1us).has_value());
        CHECK(s.held() == 0);
    }

    TEST_CASE("a reply out of bounds is bounded: at most a batch, turns saturated") {
        fleet_schedule s(100, 1, 0);
        s.reserved(ft0, fleet_reply(microseconds::max(), microseconds::max(), 1'000'000));
        CHECK(s.held() == fleet_schedule::max_batch);
        CHECK(s.next_held(ft0) > ft0 + 24h * 365);
        fleet_schedule late(100, 1, 0);
        CHECK(late.reserved(steady_time::max() - 1h, fleet_reply(10h, 1h, 3)) ==
              steady_time::max());
        CHECK(late.next_held(steady_time::max() - 1h) == steady_time::max());
    }

    TEST_CASE("the batch: the callers waiting, at least one, at most fifty") {
        const fleet_schedule s(100, 1, 0);
        CHECK(s.batch_size(0, ft0) == 1);
        CHECK(s.batch_size(7, ft0) == 7);
        CHECK(s.batch_size(80, ft0) == fleet_schedule::max_batch);
    }

    TEST_CASE("the look-ahead: the next window's callers when this process keeps up with the "
              "fleet's rate") {
        fleet_schedule s(100, 1, 0);               // a turn every 10 ms
        s.reserved(ft0, fleet_reply(1s, 10ms, 0)); // the fleet's schedule a second ahead
        // 20 takes at once: 200 a second, above the fleet's 100: every turn reserved ahead is
        // taken before it passes.
        for (int i = 0; i < 20; ++i) {
            s.note_take(ft0);
        }
        CHECK(s.batch_size(3, ft0) == 23);
        CHECK(s.batch_size(40, ft0) == fleet_schedule::max_batch);
        // The demand fades over the window: 20 / e after 100 ms.
        CHECK(s.batch_size(0, ft0 + 100ms) == static_cast<long long>(std::floor(20 / std::exp(1))));
    }

    TEST_CASE("the look-ahead below the fleet's rate: only the turns the callers reach before "
              "they pass") {
        fleet_schedule s(100, 1, 0);
        for (int i = 0; i < 5; ++i) {
            s.note_take(ft0); // 50 a second, half the fleet's rate
        }
        // An idle fleet (the last reply had its next turn now): callers at 20 ms intervals
        // would reach none of a look-ahead spaced 10 ms before it passed.
        s.reserved(ft0, fleet_reply(0ms, 10ms, 0));
        CHECK(s.batch_size(2, ft0) == 2);
        // The fleet 25 ms ahead: 50 x 25 ms / (1 - 0.5) = 2.5, two turns.
        s.reserved(ft0, fleet_reply(25ms, 10ms, 0));
        CHECK(s.batch_size(2, ft0) == 4);
        // 60 ms ahead: 6, so all five of the window's callers.
        s.reserved(ft0, fleet_reply(60ms, 10ms, 0));
        CHECK(s.batch_size(2, ft0) == 7);
        // One caller, now and then: no look-ahead at all.
        fleet_schedule sparse(100, 1, 0);
        sparse.note_take(ft0);
        CHECK(sparse.batch_size(1, ft0) == 1);
    }

    TEST_CASE("the local bucket: fallback_rate, with its share of the burst") {
        // A tenth of the rate, a tenth of the burst of 20: two at once, then one per 100 ms.
        fleet_schedule s(100, 20, 10);
        CHECK(s.local_next(ft0) == ft0);
        s.local_take(ft0);
        CHECK(s.local_next(ft0) == ft0);
        s.local_take(ft0);
        CHECK(s.local_next(ft0) == ft0 + 100ms);
        s.local_take(ft0);
        CHECK(s.local_next(ft0) == ft0 + 200ms);
        // Idle, it fills up again (to its burst, no more).
        CHECK(s.local_next(ft0 + 10s) == ft0 + 10s);
        s.local_take(ft0 + 10s);
        s.local_take(ft0 + 10s);
        CHECK(s.local_next(ft0 + 10s) == ft0 + 10s + 100ms);

        // No fallback rate: the fleet's, and its burst.
        fleet_schedule own(100, 1, 0);
        own.local_take(ft0);
        CHECK(own.local_next(ft0) == ft0 + 10ms);
    }
}
