// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The throttle layer's decisions (src/throttle/) on a manual clock: the token bucket's turns, the
// rate meter, the adaptive rate's curve, the retry budget, and the throttle table's pauses,
// scopes and limits. No I/O, no timers.

#include "throttle/cubic_rate.hpp"
#include "throttle/rate_meter.hpp"
#include "throttle/retry_budget.hpp"
#include "throttle/throttle_table.hpp"
#include "throttle/token_bucket.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

namespace {

namespace gd = glue::detail;
using namespace std::chrono_literals;
using gd::admission;
using gd::answer_signal;
using std::chrono::nanoseconds;

const gd::steady_time t0 = gd::steady_time{} + 1000h;
constexpr nanoseconds no_retry_after{-1};

gd::throttle_options options() {
    gd::throttle_options o;
    o.adaptive = false;
    return o;
}

} // namespace

TEST_SUITE("throttle") {

    TEST_CASE("token bucket: a burst goes at once, then turns follow the rate in order") {
        gd::token_bucket b;
        b.configure(10, 3); // 100 ms apart, three at once
        std::vector<gd::steady_time> turns;
        for (int i = 0; i < 6; ++i) {
            const auto t = b.next_turn(t0);
            b.take(t);
            turns.push_back(t);
        }
        CHECK(turns[0] == t0);
        CHECK(turns[1] == t0);
        CHECK(turns[2] == t0);
        CHECK(turns[3] == t0 + 100ms);
        CHECK(turns[4] == t0 + 200ms);
        CHECK(turns[5] == t0 + 300ms);
        // Idle long enough, the whole burst is back, never more.
        CHECK(b.next_turn(t0 + 10s) == t0 + 10s);
        CHECK(!b.idle(t0 + 500ms));
        CHECK(b.idle(t0 + 600ms));
    }

    TEST_CASE("token bucket: a turn given back is reused only if it was the last one") {
        gd::token_bucket b;
        b.configure(10, 1);
        const auto first = b.take(b.next_turn(t0));
        const auto t2 = b.next_turn(t0);
        const auto second = b.take(t2);
        CHECK(t2 == t0 + 100ms);
        b.give_back(first); // not the last taken: lost, nothing changes
        CHECK(b.next_turn(t0) == t0 + 200ms);
        b.give_back(second);
        CHECK(b.next_turn(t0) == t0 + 100ms); // the second turn is free again
    }

    TEST_CASE("token bucket: no rate, no limit; extreme rates don't overflow") {
        gd::token_bucket b;
        CHECK(!b.limited());
        CHECK(b.next_turn(t0) == t0);
        b.configure(0, 5);
        CHECK(!b.limited());
        b.configure(1e-300, 1); // one per 1e300 s: the interval saturates
        CHECK(b.limited());
        b.take(t0);
        CHECK(b.next_turn(t0) > t0 + 24h);
        b.configure(1e300, 1e300);
        CHECK(b.limited());
    }

    TEST_CASE("rate meter: events of the last second, per second") {
        gd::rate_meter m;
        CHECK(m.quiet(t0));
        for (int i = 0; i < 100; ++i) {
            m.add(t0 + i * 10ms); // 100 over one second
        }
        CHECK(m.per_second(t0 + 990ms) == doctest::Approx(100).epsilon(0.15));
        CHECK(m.per_second(t0 + 1500ms) < 60);
        CHECK(m.quiet(t0 + 3s));
    }

    TEST_CASE("cubic rate: a cut to 70% of what got through, back to it after K, beyond after") {
        gd::cubic_rate c;
        CHECK(!c.active());
        REQUIRE(c.on_throttle(t0, t0, 500));
        CHECK(c.rate() == doctest::Approx(350));
        const double k = std::cbrt(500 * 0.3 / 0.4); // about 7.2 s
        c.on_success(t0 + std::chrono::duration_cast<nanoseconds>(std::chrono::duration<double>(k)),
                     1000);
        CHECK(c.rate() == doctest::Approx(500).epsilon(0.01));
        c.on_success(t0 + 12s, 1000);
        CHECK(c.rate() > 500);
        // Never more than twice what is actually sent.
        gd::cubic_rate idle;
        idle.on_throttle(t0, t0, 500);
        idle.on_success(t0 + 60s, 100);
        CHECK(idle.rate() ==
              doctest::Approx(350)); // the curve is far above, 2 × 100 below the rate
    }

    TEST_CASE("cubic rate: one cut per round: answers to requests sent before the cut don't cut") {
        gd::cubic_rate c;
        REQUIRE(c.on_throttle(t0, t0 - 5ms, 1000));
        CHECK(!c.on_throttle(t0 + 1ms, t0 - 1ms, 1000)); // sent before the cut
        CHECK(c.rate() == doctest::Approx(700));
        REQUIRE(c.on_throttle(t0 + 50ms, t0 + 10ms, 1000)); // sent after it: cuts from the rate
        CHECK(c.rate() == doctest::Approx(490));
        // Nothing got through (an outage): the floor.
        gd::cubic_rate down;
        down.on_throttle(t0, t0, 0);
        CHECK(down.rate() == doctest::Approx(gd::cubic_rate::min_rate));
    }

    TEST_CASE("retry budget: AWS standard mode's arithmetic") {
        gd::retry_budget b(500);
        int retries = 0;
        while (b.try_spend(5)) {
            ++retries;
        }
        CHECK(retries == 100);
        CHECK(b.left() == 0);
        CHECK(b.denied() == 1);
        b.on_success(0); // a success without a retry: 1 back
        CHECK(b.left() == 1);
        b.on_success(5); // a retried success: its cost back
        CHECK(b.left() == 6);
        for (int i = 0; i < 1000; ++i) {
            b.on_success(10);
        }
        CHECK(b.left() == 500); // never above the capacity
        gd::retry_budget none(0);
        CHECK(!none.enabled());
        CHECK(none.try_spend(1'000'000));
    }

    TEST_CASE("table: nothing configured, nothing throttled: every call goes at once") {
        gd::throttle_table t(options());
        for (int i = 0; i < 100; ++i) {
            CHECK(t.admit("wks_a", t0, t0 + 1s).kind == admission::go);
            t.on_sent("wks_a", t0);
        }
        const auto s = t.stats(t0);
        CHECK(s.requests_sent == 100);
        CHECK(s.app_rate_limit == 0);
    }

    TEST_CASE("table: a 429 pauses its workspace only, until Retry-After") {
        gd::throttle_table t(options());
        t.on_sent("wks_a", t0);
        t.on_answer("wks_a", answer_signal::throttled, 2s, t0, t0 + 10ms, 0.5);
        auto a = t.admit("wks_a", t0 + 20ms, t0 + 30s);
        CHECK(a.kind == admission::wait_pause);
        CHECK(a.at == t0 + 2010ms);
        CHECK(t.admit("wks_b", t0 + 20ms, t0 + 30s).kind == admission::go);
        CHECK(t.admit("wks_a", t0 + 2010ms, t0 + 30s).kind == admission::go);
        const auto s = t.stats(t0 + 20ms);
        CHECK(s.throttled == 1);
        CHECK(s.workspace_pauses == 1);
        CHECK(s.app_pauses == 0);
    }

    TEST_CASE(
        "table: a call whose deadline ends inside the pause fails at once, with retry_after") {
        gd::throttle_table t(options());
        t.on_answer("wks_a", answer_signal::throttled, 5s, t0, t0, 0.5);
        auto a = t.admit("wks_a", t0 + 1s, t0 + 2s);
        REQUIRE(a.kind == admission::refused);
        REQUIRE(a.error);
        CHECK(a.error->ec == glue::errc::rate_limited);
        REQUIRE(a.error->diag);
        CHECK(a.error->diag->retry_after == 4s);
        CHECK(t.stats(t0 + 1s).calls_failed_waiting == 1);
    }

    TEST_CASE("table: a 429 without Retry-After pauses for a backoff that grows with each one") {
        auto o = options();
        o.backoff_base = 100ms;
        o.backoff_max = 1s;
        gd::throttle_table t(o);
        nanoseconds last{};
        for (int i = 1; i <= 6; ++i) {
            const auto now = t0 + i * 10s;
            t.on_answer("wks_a", answer_signal::throttled, no_retry_after, now, now, 1.0);
            const auto a = t.admit("wks_a", now, now + 30s);
            REQUIRE(a.kind == admission::wait_pause);
            const auto pause = a.at - now;
            CHECK(pause >= last);
            CHECK(pause <= 1s);
            last = pause;
        }
        CHECK(last == 1s);
        // An answer that got through resets the backoff.
        t.on_answer("wks_a", answer_signal::accepted, no_retry_after, t0 + 70s, t0 + 70s, 0);
        t.on_answer("wks_a", answer_signal::throttled, no_retry_after, t0 + 80s, t0 + 80s, 1.0);
        CHECK(t.admit("wks_a", t0 + 80s, t0 + 90s).at - (t0 + 80s) == 100ms);
    }

    TEST_CASE("table: 429s on three workspaces in a row pause the app") {
        gd::throttle_table t(options());
        t.on_answer("wks_a", answer_signal::throttled, 1s, t0, t0, 0.5);
        t.on_answer("wks_b", answer_signal::throttled, 1s, t0, t0 + 1ms, 0.5);
        CHECK(t.admit("wks_z", t0 + 2ms, t0 + 30s).kind == admission::go);
        t.on_answer("wks_c", answer_signal::throttled, 1s, t0, t0 + 2ms, 0.5);
        auto a = t.admit("wks_z", t0 + 3ms, t0 + 30s);
        CHECK(a.kind == admission::wait_pause);
        CHECK(a.at == t0 + 1002ms);
        CHECK(t.stats(t0).app_pauses == 1);
    }

    TEST_CASE("table: 429s on several workspaces while most answers get through don't") {
        gd::throttle_table t(options());
        for (int i = 0; i < 200; ++i) {
            const auto now = t0 + i * 4ms;
            t.on_answer("wks_z", answer_signal::accepted, no_retry_after, now, now, 0);
        }
        const char* names[] = {"wks_a", "wks_b", "wks_c", "wks_d", "wks_e"};
        for (int i = 0; i < 5; ++i) { // 5 of 205 answers: under 5%
            const auto now = t0 + 800ms + i * 1ms;
            t.on_answer(names[i], answer_signal::throttled, 1s, now, now, 0.5);
        }
        CHECK(t.admit("wks_z", t0 + 810ms, t0 + 30s).kind == admission::go);
        CHECK(t.stats(t0).app_pauses == 0);
        CHECK(t.stats(t0).workspace_pauses == 5);
    }

    TEST_CASE("table: a workspace refused far more often than the others has its rate cut") {
        auto o = options();
        o.adaptive = true;
        gd::throttle_table t(o);
        for (int i = 0; i < 400; ++i) { // 400 answers on 20 workspaces, 20 of them wks_hot's
            const auto now = t0 + i * 2ms;
            const std::string ws = i % 20 ? "wks_" + std::to_string(i % 20) : "wks_hot";
            t.on_sent(ws, now);
            t.on_answer(ws, answer_signal::accepted, no_retry_after, now, now, 0);
        }
        for (int i = 0; i < 4; ++i) { // 4 of 24 of wks_hot's answers, 4 of 404 of all
            const auto now = t0 + 800ms + i * 10ms;
            t.on_answer("wks_hot", answer_signal::throttled, 0s, now, now, 0.5);
        }
        const auto later = t0 + 2s;
        CHECK(t.stats(later).app_pauses == 0);
        CHECK(t.stats(later).app_rate_limit == 0);
        int go = 0;
        for (int i = 0; i < 20; ++i) {
            if (t.admit("wks_hot", later, later + 10s).kind == admission::go) {
                ++go;
            }
        }
        CHECK(go >= 1);
        CHECK(go <= 2); // its own rate now: a burst of one or two (about 17 a second)
        CHECK(t.admit("wks_7", later, later + 10s).kind == admission::go);
    }

    TEST_CASE("table: the same 429 twice, or 429s further apart than the window, don't") {
        gd::throttle_table t(options());
        t.on_answer("wks_a", answer_signal::throttled, 1s, t0, t0, 0.5);
        t.on_answer("wks_a", answer_signal::throttled, 1s, t0, t0, 0.5);
        t.on_answer("wks_b", answer_signal::throttled, 1s, t0, t0 + 1ms, 0.5);
        t.on_answer("wks_c", answer_signal::throttled, 1s, t0, t0 + 1500ms, 0.5);
        CHECK(t.admit("wks_z", t0 + 1501ms, t0 + 30s).kind == admission::go);
    }

    TEST_CASE("table: a 503 with Retry-After, or a 429 without a workspace, pauses the app") {
        gd::throttle_table t(options());
        t.on_answer("wks_a", answer_signal::unavailable, 3s, t0, t0, 0.5);
        auto a = t.admit("wks_z", t0, t0 + 1s);
        REQUIRE(a.kind == admission::refused);
        CHECK(a.error->ec == glue::errc::server_error);
        CHECK(a.error->diag->retry_after == 3s);

        gd::throttle_table u(options());
        u.on_answer("", answer_signal::throttled, 2s, t0, t0, 0.5);
        CHECK(u.admit("wks_z", t0, t0 + 30s).kind == admission::wait_pause);
    }

    TEST_CASE("table: the app-wide limit hands out turns in order, within deadlines") {
        auto o = options();
        o.app_rate = 10;
        o.burst = 2;
        gd::throttle_table t(o);
        std::vector<admission> got;
        for (int i = 0; i < 5; ++i) {
            got.push_back(t.admit(i % 2 ? "wks_a" : "wks_b", t0, t0 + 250ms));
        }
        CHECK(got[0].kind == admission::go);
        CHECK(got[1].kind == admission::go);
        CHECK(got[2].kind == admission::wait_turn);
        CHECK(got[2].at == t0 + 100ms);
        CHECK(got[3].at == t0 + 200ms);
        // The next turn (t0 + 300 ms) is past the deadline: refused, and nothing taken.
        REQUIRE(got[4].kind == admission::refused);
        CHECK(got[4].error->ec == glue::errc::rate_limited);
        CHECK(got[4].error->diag->retry_after == 1s);
        CHECK(t.admit("wks_c", t0, t0 + 1s).at == t0 + 300ms);
        CHECK(t.stats(t0).app_rate_limit == 10);
    }

    TEST_CASE("table: a pause voids the turns given before it; turns start again at its end") {
        auto o = options();
        o.app_rate = 10;
        o.burst = 1;
        gd::throttle_table t(o);
        std::vector<admission> turns;
        for (int i = 0; i < 5; ++i) {
            turns.push_back(t.admit("wks_a", t0, t0 + 10s));
        }
        REQUIRE(turns[4].kind == admission::wait_turn);
        CHECK(turns[4].at == t0 + 400ms);
        CHECK(t.turn_holds("wks_a", turns[1], t0 + 100ms));
        t.on_answer("", answer_signal::throttled, 1s, t0, t0 + 150ms, 0.5); // the app pauses
        CHECK_FALSE(t.turn_holds("wks_a", turns[2], t0 + 200ms));           // paused
        CHECK_FALSE(t.turn_holds("wks_a", turns[4], t0 + 1200ms)); // given before the pause
        // Asked again after the pause, in order: from its end, at the rate.
        CHECK(t.admit("wks_a", t0 + 1150ms, t0 + 10s).kind == admission::go);
        auto again = t.admit("wks_a", t0 + 1150ms, t0 + 10s);
        CHECK(again.at == t0 + 1250ms);
        CHECK(t.turn_holds("wks_a", again, t0 + 1250ms));
    }

    TEST_CASE("table: a workspace's limit holds it alone") {
        auto o = options();
        o.workspace_rate = 5;
        o.burst = 1;
        gd::throttle_table t(o);
        CHECK(t.admit("wks_a", t0, t0 + 1s).kind == admission::go);
        auto a = t.admit("wks_a", t0, t0 + 1s);
        CHECK(a.kind == admission::wait_turn);
        CHECK(a.at == t0 + 200ms);
        CHECK(t.admit("wks_b", t0, t0 + 1s).kind == admission::go);
        CHECK(a.workspace_turn);
        // A turn given back goes to the next caller.
        t.give_back("wks_a", a);
        CHECK(t.admit("wks_a", t0, t0 + 1s).at == t0 + 200ms);
    }

    TEST_CASE("table: a workspace waiting for its own turn holds no turn of the app's") {
        auto o = options();
        o.app_rate = 10;
        o.workspace_rate = 1;
        o.burst = 1;
        gd::throttle_table t(o);
        CHECK(t.admit("wks_a", t0, t0 + 5s).kind == admission::go);
        auto a = t.admit("wks_a", t0 + 1ms, t0 + 5s);
        REQUIRE(a.kind == admission::wait_turn);
        REQUIRE(a.workspace_turn);
        CHECK(a.at == t0 + 1s);
        // Meanwhile the app's turns go to the others, 100 ms apart, not after wks_a's second.
        CHECK(t.admit("wks_b", t0 + 1ms, t0 + 5s).at == t0 + 100ms);
        CHECK(t.admit("wks_c", t0 + 1ms, t0 + 5s).at == t0 + 200ms);
        // wks_a's turn has come: now the app's.
        CHECK(t.admit("wks_a", t0 + 1s, t0 + 5s, true).kind == admission::go);
        // A workspace's turn taken with an app turn past the deadline is given back.
        for (int i = 0; i < 40; ++i) {
            t.admit("wks_" + std::to_string(100 + i), t0 + 1s, t0 + 10s);
        }
        auto d = t.admit("wks_d", t0 + 1s, t0 + 2s);
        CHECK(d.kind == admission::refused);
        CHECK(t.admit("wks_d", t0 + 1s, t0 + 10s).workspace_turn == false); // its turn is still now
    }

    TEST_CASE("table: adaptive: nothing limited until a throttling answer, then the app's rate") {
        auto o = options();
        o.adaptive = true;
        gd::throttle_table t(o);
        // 500 requests got through in the last second, on many workspaces.
        for (int i = 0; i < 500; ++i) {
            const auto now = t0 + i * 2ms;
            const std::string ws = "wks_" + std::to_string(i % 50);
            REQUIRE(t.admit(ws, now, now + 1s).kind == admission::go);
            t.on_sent(ws, now);
            t.on_answer(ws, answer_signal::accepted, no_retry_after, now, now, 0);
        }
        // Then 429s across the workspaces: an app-wide limit (over 5% of the answers refused).
        const auto now = t0 + 999ms;
        for (int i = 0; i < 30; ++i) {
            const std::string ws = "wks_" + std::to_string(i);
            t.on_answer(ws, answer_signal::throttled, no_retry_after, now, now, 0.0);
        }
        const auto s = t.stats(now);
        CHECK(s.app_pauses == 1);
        CHECK(s.app_rate_limit == doctest::Approx(350).epsilon(0.05));
        // After the pause, turns come at that rate.
        const auto later = now + 10s;
        int go = 0;
        for (int i = 0; i < 200; ++i) {
            if (t.admit("wks_x", later, later + 1s).kind == admission::go) {
                ++go;
            }
        }
        CHECK(go >= 1);
        CHECK(go <= 40); // the burst: a tenth of a second's worth
    }

    TEST_CASE("table: adaptive: a cut right after a pause is from the rate accepted outside it") {
        auto o = options();
        o.adaptive = true;
        gd::throttle_table t(o);
        t.on_answer("", answer_signal::unavailable, 800ms, t0, t0, 0); // nothing accepted: no cut
        CHECK(t.stats(t0).app_rate_limit == 0);
        for (int i = 0; i < 100; ++i) { // 100 in the 200 ms after the pause: 500 a second
            const auto now = t0 + 800ms + i * 2ms;
            t.on_answer("wks_a", answer_signal::accepted, no_retry_after, now, now, 0);
        }
        const auto now = t0 + 1000ms;
        t.on_answer("", answer_signal::unavailable, 1s, now - 1ms, now, 0);
        CHECK(t.stats(now).app_rate_limit == doctest::Approx(350).epsilon(0.02));
    }

    TEST_CASE("table: idle workspaces are forgotten, busy ones kept") {
        auto o = options();
        o.adaptive = true;
        gd::throttle_table t(o);
        t.on_answer("wks_paused", answer_signal::throttled, 600s, t0, t0, 0.5);
        for (int i = 0; i < 5000; ++i) {
            const auto now = t0 + 10s + i * 1ms;
            t.on_sent("wks_" + std::to_string(i), now);
        }
        // About a second's worth is kept; the paused one survived every sweep.
        CHECK(t.workspace_states() < 3000);
        CHECK(t.admit("wks_paused", t0 + 20s, t0 + 30s).kind == admission::refused);
    }

} // TEST_SUITE
