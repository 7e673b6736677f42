// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The lifetime rules that make a grant a cached token: the hard margin, the soft window and
// its jitter, and the longest lifetime.

#include "cache/cached_token.hpp"
#include "protocol/token_grant.hpp"

#include <doctest/doctest.h>

#include <chrono>

namespace {

namespace gd = glue::detail;
using namespace std::chrono_literals;

const gd::steady_time sent_at = gd::steady_time{} + 12345s;

} // namespace

TEST_SUITE("token cache") {

    TEST_CASE("hard_margin(lifetime) is min(60 s, lifetime / 10)") {
        CHECK(gd::hard_margin(3s) == 300ms);
        CHECK(gd::hard_margin(100s) == 10s);
        CHECK(gd::hard_margin(600s) == 60s);
        CHECK(gd::hard_margin(3600s) == 60s);
        CHECK(gd::hard_margin(gd::max_token_lifetime) == 60s);
    }

    TEST_CASE("make_cached_token anchors expiry at sent_at and subtracts the hard margin") {
        for (auto lifetime : {3s, 600s, 3600s}) {
            CAPTURE(lifetime.count());
            const auto t =
                gd::make_cached_token({"tok", "Bearer", "usr_1", lifetime, sent_at}, 15min, 0);
            REQUIRE(t != nullptr);
            CHECK(t->token.value == "tok");
            CHECK(t->token.token_type == "Bearer");
            CHECK(t->token.user_id == "usr_1");
            CHECK(t->token.expires_at == sent_at + lifetime);
            CHECK(t->usable_until == t->token.expires_at - gd::hard_margin(lifetime));
            CHECK(t->authorization == "Bearer tok");
        }
    }

    TEST_CASE("the soft window is max(2 x hard margin, 20% of lifetime), capped") {
        CHECK(gd::soft_window(3s, 15min) == 600ms);     // 2 x 300 ms
        CHECK(gd::soft_window(100s, 15min) == 20s);     // 20%
        CHECK(gd::soft_window(3600s, 15min) == 720s);   // 20%
        CHECK(gd::soft_window(86400s, 15min) == 15min); // capped
        CHECK(gd::soft_window(gd::max_token_lifetime, 15min) == 15min);
        CHECK(gd::soft_window(3600s, 5min) == 5min); // the cap is a parameter
    }

    TEST_CASE("the soft window starts refreshes ahead, shortened by the jitter") {
        const auto full = gd::make_cached_token({"t", "Bearer", "", 3600s, sent_at}, 15min, 0);
        CHECK(full->refresh_from == full->token.expires_at - 720s);
        const auto jittered =
            gd::make_cached_token({"t", "Bearer", "", 3600s, sent_at}, 15min, 0.1);
        CHECK(jittered->refresh_from == jittered->token.expires_at - 648s); // 720 s less 10%
        // However much is taken off, the window still opens before the hard margin.
        const auto most = gd::make_cached_token({"t", "Bearer", "", 3s, sent_at}, 15min, 0.99);
        CHECK(most->refresh_from <= most->usable_until);
    }

    TEST_CASE("the longest lifetime does not overflow steady_clock arithmetic") {
        const auto now = std::chrono::steady_clock::now();
        const auto t =
            gd::make_cached_token({"tok", "Bearer", "", gd::max_token_lifetime, now}, 15min, 0.1);
        CHECK(t->token.expires_at > now);
        CHECK(t->token.expires_at - now == gd::max_token_lifetime);
        CHECK(t->usable_until == t->token.expires_at - 60s);
        CHECK(t->usable_until > now + 19 * 365 * 24h);
        CHECK(t->refresh_from < t->usable_until);
        CHECK(t->refresh_from >= t->token.expires_at - 15min);
    }

} // TEST_SUITE
