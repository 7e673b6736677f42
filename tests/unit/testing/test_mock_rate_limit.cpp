// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The mock's rate limits (mock_server_options::graphql_rate_limit, ..._per_workspace) on a
// manual clock: the burst, the refill, workspaces apart from each other and from the app, the
// Retry-After they ask for, the counters, and the workspace map staying small.

#include "testing/mock_rate_limit.hpp"

#include <doctest/doctest.h>

#include <string>

namespace {

namespace gt = glue::testing::detail;
using namespace std::chrono_literals;
using verdict = gt::rate_decision::verdict;

// A manual clock's times: t(0) is an arbitrary start, t(d) d later.
gt::rate_time t(std::chrono::nanoseconds d = 0ns) {
    return gt::rate_time{} + 1000h + d;
}

// How many of `n` requests for `ws` at `now` are admitted.
std::size_t admitted_of(gt::rate_limiter& l, std::size_t n, const std::string& ws,
                        gt::rate_time now) {
    std::size_t ok = 0;
    for (std::size_t i = 0; i < n; ++i) {
        ok += l.admit(ws, now).what == verdict::admitted;
    }
    return ok;
}

const std::string wks_a = "wks_A", wks_b = "wks_B";

} // namespace

TEST_SUITE("mock rate limit") {
    TEST_CASE("the app's burst goes through at once, then 429 with Retry-After: 1") {
        gt::rate_limiter l(50, 0, 5, 1s);
        for (int i = 0; i < 5; ++i) {
            CHECK(l.admit(i % 2 ? wks_a : wks_b, t()).what == verdict::admitted);
        }
        for (int i = 0; i < 15; ++i) {
            const auto d = l.admit(wks_a, t());
            CHECK(d.what == verdict::refused_app);
            CHECK(d.retry_after == 1s);
        }
        const auto s = l.stats();
        CHECK(s.admitted == 5);
        CHECK(s.refused == 15);
        CHECK(s.refused_app == 15);
        CHECK(s.refused_workspace == 0);
    }

    TEST_CASE("burst 0 is a second's worth of the rate, and at least one request") {
        gt::rate_limiter ten(10, 0, 0, 1s);
        CHECK(admitted_of(ten, 30, wks_a, t()) == 10);
        gt::rate_limiter half(0.5, 0, 0, 1s);
        CHECK(admitted_of(half, 3, wks_a, t()) == 1);
        gt::rate_limiter per_workspace(0, 4, 0, 1s);
        CHECK(admitted_of(per_workspace, 10, wks_a, t()) == 4);
    }

    TEST_CASE("the bucket refills at the rate, up to its capacity") {
        gt::rate_limiter l(50, 0, 5, 1s);
        CHECK(admitted_of(l, 5, wks_a, t()) == 5);
        CHECK(admitted_of(l, 1, wks_a, t(19ms)) == 0);          // 0.95 of a request
        CHECK(admitted_of(l, 2, wks_a, t(21ms)) == 1);          // 1.05
        CHECK(admitted_of(l, 10, wks_a, t(21ms + 110ms)) == 5); // 5.55, capped at 5
        CHECK(admitted_of(l, 10, wks_a, t(1h)) == 5);           // capped at the burst
        CHECK(l.stats().admitted == 16);
    }

    TEST_CASE("a clock that goes back adds nothing, and refills once when it comes forward") {
        gt::rate_limiter l(10, 0, 1, 1s);
        CHECK(admitted_of(l, 1, wks_a, t(1s)) == 1);
        CHECK(admitted_of(l, 1, wks_a, t()) == 0);
        CHECK(admitted_of(l, 1, wks_a, t(1s + 50ms)) == 0);
        CHECK(admitted_of(l, 1, wks_a, t(1s + 120ms)) == 1);
    }

    TEST_CASE("workspaces have buckets of their own") {
        gt::rate_limiter l(0, 2, 0, 1s);
        CHECK(admitted_of(l, 5, wks_a, t()) == 2);
        CHECK(admitted_of(l, 5, wks_b, t()) == 2);
        const auto d = l.admit(wks_a, t());
        CHECK(d.what == verdict::refused_workspace);
        CHECK(d.retry_after == 1s); // half a second, rounded up
        CHECK(admitted_of(l, 5, wks_a, t(600ms)) == 1);
        const auto s = l.stats();
        CHECK(s.admitted == 5);
        CHECK(s.refused == 11); // 3 + 3 + 1 + 4
        CHECK(s.refused_workspace == 11);
        CHECK(s.refused_app == 0);
    }

    TEST_CASE("a refusal takes nothing from the other bucket") {
        gt::rate_limiter l(3, 2, 0, 1s); // app: 3 at once; each workspace: 2
        CHECK(admitted_of(l, 3, wks_a, t()) == 2);
        // wks_A's refusal left the app's third request for wks_B.
        CHECK(l.admit(wks_b, t()).what == verdict::admitted);
        // The app is empty now: wks_B is refused by the app, and keeps its second request.
        CHECK(l.admit(wks_b, t()).what == verdict::refused_app);
        CHECK(l.admit(wks_b, t(340ms)).what == verdict::admitted); // the app has 1.02
        CHECK(l.stats().refused_app == 1);
        CHECK(l.stats().refused_workspace == 1);
    }

    TEST_CASE("Retry-After: the whole seconds until a request would pass, at least the setting") {
        gt::rate_limiter slow(0, 0.25, 0, 1s); // one request every 4 s
        CHECK(slow.admit(wks_a, t()).what == verdict::admitted);
        CHECK(slow.admit(wks_a, t()).retry_after == 4s);
        CHECK(slow.admit(wks_a, t(1500ms)).retry_after == 3s); // 2.5 s, rounded up
        gt::rate_limiter longer(50, 0, 1, 7s);
        CHECK(longer.admit(wks_a, t()).what == verdict::admitted);
        CHECK(longer.admit(wks_a, t()).retry_after == 7s);
        gt::rate_limiter both(0.5, 0.2, 1, 1s); // the slower of the two buckets counts
        CHECK(both.admit(wks_a, t()).what == verdict::admitted);
        CHECK(both.admit(wks_a, t()).retry_after == 5s);
        gt::rate_limiter glacial(1e-9, 0, 1, 1s); // a day at most
        CHECK(glacial.admit(wks_a, t()).what == verdict::admitted);
        CHECK(glacial.admit(wks_a, t()).retry_after == 24h);
    }

    TEST_CASE("without limits every request is admitted and counted") {
        gt::rate_limiter l(0, 0, 0, 1s);
        CHECK(admitted_of(l, 1000, wks_a, t()) == 1000);
        CHECK(l.stats().admitted == 1000);
        CHECK(l.stats().refused == 0);
        CHECK(l.workspace_buckets() == 0);
        l.reset_stats();
        CHECK(l.stats().admitted == 0);
    }

    TEST_CASE("the workspace map holds the recently used workspaces, not all ever seen") {
        gt::rate_limiter l(0, 10, 0, 1s); // a used bucket is full again 0.1 s later
        std::size_t most = 0;
        for (int i = 0; i < 20'000; ++i) {
            // 1000 new workspaces a second: about 100 of them are not full at any time.
            CHECK(l.admit("wks_" + std::to_string(i), t(i * 1ms)).what == verdict::admitted);
            most = std::max(most, l.workspace_buckets());
        }
        CHECK(most <= 1024);
        // A workspace dropped as full comes back full: nothing was lost.
        CHECK(admitted_of(l, 20, "wks_0", t(20s)) == 10);
    }
}
