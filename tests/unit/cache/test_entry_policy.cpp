// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The cache entry's policy, event by event, from every state an entry can be in: no cache, no
// clock, no timers. Time is a parameter, so the boundaries (exactly at refresh_from, at
// usable_until, at the end of a backoff or pause) and the extremes of the clock are tested
// directly. A test suite of many small cases, hence its length.

#include <glue/error.hpp>

#include "cache/entry_policy.hpp"

#include <boost/asio/error.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <climits>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace gd = glue::detail;
using namespace std::chrono_literals;
using gd::entry_policy;
using gd::entry_state;
using gd::failure;
using gd::failure_class;
using gd::invalidate_result;
using gd::miss_action;
using gd::steady_time;
using gd::token_ptr;
using glue::errc;
using ns = std::chrono::nanoseconds;

const steady_time t0 = steady_time{} + 1000h; // any moment: nothing here reads a clock
constexpr auto never = steady_time::max();

gd::entry_rules test_rules() {
    gd::entry_rules r;
    r.flight_timeout = 10s;
    r.forced_refresh_interval = 5s;
    r.refresh_min_interval = 10s;
    r.retry_attempts = 3;
    r.retry_base_delay = 200ms;
    r.backoff_initial = 1s;
    r.backoff_max = 60s;
    r.permanent_failure_memory = 30s;
    r.retry_after_cap = 600s;
    return r;
}

// A one-hour token issued at t0: refreshed ahead from t0+2880s (a 720 s soft window), usable
// until t0+3540s (a 60 s hard margin), expiring at t0+3600s.
constexpr auto refresh_at = 2880s;
constexpr auto usable_for = 3540s;
constexpr auto lifetime = 3600s;
constexpr auto window = lifetime - refresh_at;

token_ptr token(steady_time issued = t0, std::string stamp = "stamp-1") {
    auto t = std::make_shared<gd::cached_token>();
    t->token.value = "tok";
    t->token.expires_at = issued + lifetime;
    t->refresh_from = issued + refresh_at;
    t->usable_until = issued + usable_for;
    t->authorization = "Bearer tok";
    t->stamp = std::move(stamp);
    return t;
}

failure with(errc e, int status, std::string oauth = {}, std::chrono::seconds retry_after = -1s) {
    glue::diagnostics d;
    d.http_status = status;
    d.oauth_error = std::move(oauth);
    d.retry_after = retry_after;
    return gd::make_failure(make_error_code(e), "token request failed", std::move(d));
}

// One failure of each class, as the endpoint would cause it.
failure aborted() {
    return gd::make_failure(boost::asio::error::operation_aborted);
}
failure transient() {
    return with(errc::server_error, 500);
}
failure permanent() {
    return with(errc::oauth_error, 400, "invalid_grant");
}
failure rate_limited(std::chrono::seconds retry_after = -1s) {
    return with(errc::rate_limited, 429, {}, retry_after);
}
failure overloaded(std::chrono::seconds retry_after) {
    return with(errc::server_error, 503, {}, retry_after);
}
failure client_rejected() {
    return with(errc::oauth_error, 401, "invalid_client");
}

// The states an entry can be in, at `now` = t0 + 3000s (inside the default token's soft window).
const steady_time now = t0 + 3000s;

struct named_state {
    const char* name;
    entry_state e;
};

std::vector<named_state> all_states() {
    std::vector<named_state> v;
    auto add = [&](const char* name, auto make) {
        entry_state e;
        make(e);
        v.push_back({name, std::move(e)});
    };
    add("new", [](entry_state&) {});
    add("fresh token", [](entry_state& e) {
        e.token = token(now - 100s);
        e.last_used = now - 1s;
    });
    add("token in its soft window", [](entry_state& e) {
        e.token = token();
        e.last_used = now - 1s;
    });
    add("token in its hard margin", [](entry_state& e) {
        e.token = token(now - 3550s);
        e.last_used = now - 1s;
    });
    add("token expired", [](entry_state& e) {
        e.token = token(now - 4000s);
        e.last_used = now - 1s;
    });
    // As `failures` transient failures in a row leave it, backing off until `until`.
    auto remember = [](entry_state& e, unsigned failures, steady_time until) {
        e.remembered = transient();
        e.failed_requests = failures;
        e.retry_not_before = until;
        e.refresh_not_before = until;
        e.last_used = now - 1s;
    };
    add("error in force", [&](entry_state& e) { remember(e, 1, now + 1s); });
    add("error lapsed", [&](entry_state& e) { remember(e, 1, now - 1s); });
    add("token kept through a failed refresh", [&](entry_state& e) {
        e.token = token();
        remember(e, 2, now + 2s);
    });
    add("401 applied", [](entry_state& e) {
        e.last_forced = now - 1s;
        e.forced_pending = true;
        e.rejected_stamp = "stamp-1";
        e.last_used = now - 1s;
    });
    add("401 applied long ago, token refetched", [](entry_state& e) {
        e.token = token();
        e.last_forced = now - 60s;
        e.last_used = now - 1s;
    });
    add("token refetched right after a 401", [](entry_state& e) {
        e.token = token();
        e.last_forced = now - 1s;
        e.last_used = now - 1s;
    });
    return v;
}

bool same(const std::optional<failure>& a, const std::optional<failure>& b) {
    return a.has_value() == b.has_value() && (!a || (a->ec == b->ec && a->diag == b->diag));
}

// The fields a given event must leave alone.
void check_unchanged_but_last_used(const entry_state& before, const entry_state& after) {
    CHECK(after.token == before.token);
    CHECK(after.refresh_not_before == before.refresh_not_before);
    CHECK(after.retry_not_before == before.retry_not_before);
    CHECK(same(after.remembered, before.remembered));
    CHECK(after.failed_requests == before.failed_requests);
    CHECK(after.last_forced == before.last_forced);
    CHECK(after.forced_pending == before.forced_pending);
    CHECK(after.rejected_stamp == before.rejected_stamp);
}

void check_unchanged(const entry_state& before, const entry_state& after) {
    check_unchanged_but_last_used(before, after);
    CHECK(after.last_used == before.last_used);
}

TEST_SUITE("entry policy") {
    const entry_policy policy(test_rules());

    //--------------------------------------------------------------------------
    // Every event from every state

    TEST_CASE("a hit from every state with a usable token") {
        for (const auto& s : all_states()) {
            if (!entry_policy::usable(s.e.token, now)) {
                continue;
            }
            for (bool running : {false, true}) {
                CAPTURE(s.name);
                CAPTURE(running);
                auto e = s.e;
                const auto a = policy.on_hit(e, running, now);
                check_unchanged_but_last_used(s.e, e);
                // The previous use was 1 s ago, less than 1/16 of the window: not recorded.
                CHECK_FALSE(a.record_use);
                CHECK(e.last_used == s.e.last_used);
                const bool in_window = now >= e.token->refresh_from;
                const bool allowed = now >= e.refresh_not_before;
                CHECK(a.refresh_ahead == (in_window && allowed && !running));
            }
        }
    }

    TEST_CASE("a miss from every state") {
        for (const auto& s : all_states()) {
            for (bool running : {false, true}) {
                CAPTURE(s.name);
                CAPTURE(running);
                auto e = s.e;
                const auto a = policy.on_miss(e, running, now);
                check_unchanged_but_last_used(s.e, e);
                CHECK(e.last_used == now);
                const bool in_force = s.e.remembered && now < s.e.retry_not_before;
                if (running) {
                    CHECK(a.what == miss_action::join);
                } else if (in_force) {
                    CHECK(a.what == miss_action::answer_remembered);
                } else {
                    CHECK(a.what == miss_action::start_flight);
                    CHECK(a.reason == (s.e.forced_pending ? "forced" : "miss"));
                }
            }
        }
    }

    TEST_CASE("a flight's start from every state") {
        for (const auto& s : all_states()) {
            for (bool shared : {false, true}) {
                CAPTURE(s.name);
                CAPTURE(shared);
                auto e = s.e;
                const auto plan = policy.on_flight_start(e, now, shared);
                CHECK(plan.deadline == now + (shared ? 20s : 10s));
                if (s.e.forced_pending) {
                    CHECK(plan.replacing == s.e.rejected_stamp);
                    CHECK(e.rejected_stamp.empty()); // handed to the flight
                } else {
                    CHECK(plan.replacing == (s.e.token ? s.e.token->stamp : ""));
                    CHECK(e.rejected_stamp == s.e.rejected_stamp);
                }
                CHECK(e.token == s.e.token);
                CHECK(e.forced_pending == s.e.forced_pending); // until the flight ends
                CHECK(e.retry_not_before == s.e.retry_not_before);
                CHECK(same(e.remembered, s.e.remembered));
            }
        }
    }

    TEST_CASE("a success from every state") {
        for (const auto& s : all_states()) {
            CAPTURE(s.name);
            auto e = s.e;
            const auto t = token(now - 10s, "stamp-2");
            policy.on_success(e, t, now);
            CHECK(e.token == t);
            CHECK(e.failed_requests == 0);
            CHECK_FALSE(e.remembered);
            CHECK(e.retry_not_before == steady_time{});
            CHECK(e.refresh_not_before == steady_time{});
            CHECK_FALSE(e.forced_pending);
            CHECK(e.last_forced == s.e.last_forced); // still throttles the next 401
            CHECK(e.last_used == s.e.last_used);
        }
    }

    TEST_CASE("a failure of each class from every state") {
        struct expected {
            failure why;
            ns wait;                  // with no earlier failure counted
            bool pauses_the_endpoint; // for as long as the key waits
        };
        const std::vector<std::pair<const char*, expected>> classes = {
            {"transient", {transient(), 1s, false}},
            {"permanent", {permanent(), 30s, false}},
            {"rate_limited", {rate_limited(120s), 120s, false}},
            {"overloaded", {overloaded(90s), 90s, true}},
            {"client_rejected", {client_rejected(), 30s, true}},
        };
        for (const auto& s : all_states()) {
            for (const auto& row : classes) {
                const char* const cls = row.first;
                const expected& x = row.second;
                CAPTURE(s.name);
                CAPTURE(cls);
                auto e = s.e;
                const auto pause = policy.on_failure(e, x.why, 1, false, now);
                const auto wait =
                    std::string(cls) == "transient" ? ns(1s) * (1 << s.e.failed_requests) : x.wait;
                CHECK(e.token == s.e.token); // a failure never drops a token
                CHECK(same(e.remembered, x.why));
                CHECK(e.failed_requests == s.e.failed_requests + 1);
                CHECK(e.retry_not_before == now + wait);
                CHECK(e.refresh_not_before == now + wait);
                CHECK_FALSE(e.forced_pending);
                CHECK(e.last_used == s.e.last_used);
                CHECK(pause == (x.pauses_the_endpoint ? std::optional(now + wait) : std::nullopt));
            }
        }
    }

    TEST_CASE("a failure that is not the key's, from every state, changes nothing but the "
              "pending 401") {
        for (const auto& s : all_states()) {
            CAPTURE(s.name);
            for (bool paused : {false, true}) {
                // Cancelled or shut down, even after failed requests.
                auto e = s.e;
                CHECK_FALSE(policy.on_failure(e, aborted(), 2, paused, now));
                CHECK_FALSE(e.forced_pending);
                e.forced_pending = s.e.forced_pending;
                check_unchanged(s.e, e);
            }
            for (const auto& why : {transient(), permanent(), rate_limited(60s), overloaded(60s),
                                    client_rejected()}) {
                for (bool paused : {false, true}) {
                    CAPTURE(paused);
                    // Nothing sent: never given a slot, or stopped by the endpoint's pause.
                    auto e = s.e;
                    CHECK_FALSE(policy.on_failure(e, why, 0, paused, now));
                    CHECK_FALSE(e.forced_pending);
                    e.forced_pending = s.e.forced_pending;
                    check_unchanged(s.e, e);
                }
            }
        }
    }

    TEST_CASE("a 401 from every state") {
        for (const auto& s : all_states()) {
            CAPTURE(s.name);
            // For another token, or none.
            const auto other = token();
            for (auto rejected :
                 std::initializer_list<const gd::cached_token*>{other.get(), nullptr}) {
                auto e = s.e;
                CHECK(policy.on_rejected(e, rejected, now) == invalidate_result::stale);
                check_unchanged(s.e, e);
            }
            // For the token the entry holds.
            if (s.e.token) {
                auto e = s.e;
                const bool throttled = s.e.last_forced && now < *s.e.last_forced + 5s;
                const auto r = policy.on_rejected(e, s.e.token.get(), now);
                if (throttled) {
                    CHECK(r == invalidate_result::throttled);
                    check_unchanged(s.e, e);
                } else {
                    CHECK(r == invalidate_result::applied);
                    CHECK_FALSE(e.token);
                    CHECK(e.rejected_stamp == s.e.token->stamp);
                    CHECK(e.last_forced == now);
                    CHECK(e.forced_pending);
                    // The error and backoff stay as they were.
                    CHECK(e.retry_not_before == s.e.retry_not_before);
                    CHECK(same(e.remembered, s.e.remembered));
                }
            }
        }
    }

    TEST_CASE("expiry and eviction preference from every state") {
        struct expected {
            bool expired;
            bool keeps_state;
        };
        const std::vector<expected> table = {
            {true, false},  // new
            {false, false}, // fresh token
            {false, false}, // token in its soft window
            {false, false}, // token in its hard margin: not handed out, but not yet expired
            {true, false},  // token expired
            {false, true},  // error in force
            {true, false},  // error lapsed
            {false, true},  // token kept through a failed refresh
            {true, true},   // 401 applied: nothing to keep but the throttle
            {false, false}, // 401 applied long ago, token refetched
            {false, true},  // token refetched right after a 401
        };
        const auto states = all_states();
        REQUIRE(states.size() == table.size());
        for (std::size_t i = 0; i < states.size(); ++i) {
            CAPTURE(states[i].name);
            CHECK(entry_policy::expired(states[i].e, false, now) == table[i].expired);
            CHECK_FALSE(entry_policy::expired(states[i].e, true, now)); // a flight keeps it
            CHECK(policy.keeps_state(states[i].e, now) == table[i].keeps_state);
        }
    }

    //--------------------------------------------------------------------------
    // Boundaries

    TEST_CASE("a token is usable up to, not at, usable_until") {
        const auto t = token();
        CHECK_FALSE(entry_policy::usable(nullptr, t0));
        CHECK(entry_policy::usable(t, t0));
        CHECK(entry_policy::usable(t, t0 + usable_for - 1ns));
        CHECK_FALSE(entry_policy::usable(t, t0 + usable_for));
        CHECK_FALSE(entry_policy::usable(t, t0 + lifetime));
        CHECK_FALSE(entry_policy::usable(t, never));
    }

    TEST_CASE("a hit refreshes ahead from exactly refresh_from") {
        entry_state e;
        e.token = token();
        const auto at = t0 + refresh_at;
        e.last_used = at - 1s;
        CHECK_FALSE(policy.on_hit(e, false, at - 1ns).refresh_ahead);
        e.last_used = at - 1s;
        CHECK(policy.on_hit(e, false, at).refresh_ahead);
        e.last_used = at - 1s;
        CHECK(policy.on_hit(e, false, t0 + usable_for - 1ns).refresh_ahead);
    }

    TEST_CASE("a hit refreshes ahead only for a workspace in steady use") {
        entry_state e;
        e.token = token();
        const auto at = t0 + 3000s;
        SUBCASE("the previous use exactly one soft window ago counts") {
            e.last_used = at - window;
            CHECK(policy.on_hit(e, false, at).refresh_ahead);
        }
        SUBCASE("one just before it doesn't, but this use is recorded") {
            e.last_used = at - window - 1ns;
            const auto a = policy.on_hit(e, false, at);
            CHECK_FALSE(a.refresh_ahead);
            CHECK(a.record_use);
            CHECK(e.last_used == at);
            // So the next hit, at once, refreshes.
            CHECK(policy.on_hit(e, false, at + 1ns).refresh_ahead);
        }
        SUBCASE("a use later than now (another thread's) counts") {
            e.last_used = at + 1s;
            const auto a = policy.on_hit(e, false, at);
            CHECK(a.refresh_ahead);
            CHECK_FALSE(a.record_use);
            CHECK(e.last_used == at + 1s);
        }
    }

    TEST_CASE("a hit records its use only every 1/16 of the soft window") {
        entry_state e;
        e.token = token();
        e.last_used = t0;
        CHECK_FALSE(policy.on_hit(e, false, t0 + window / 16 - 1ns).record_use);
        CHECK(e.last_used == t0);
        CHECK(policy.on_hit(e, false, t0 + window / 16).record_use);
        CHECK(e.last_used == t0 + window / 16);
    }

    TEST_CASE("a hit waits for refresh_not_before and for the running flight") {
        entry_state e;
        e.token = token();
        const auto at = t0 + 3000s;
        e.refresh_not_before = at + 10s;
        e.last_used = at;
        CHECK_FALSE(policy.on_hit(e, false, at + 10s - 1ns).refresh_ahead);
        CHECK(policy.on_hit(e, false, at + 10s).refresh_ahead);
        CHECK_FALSE(policy.on_hit(e, true, at + 10s).refresh_ahead);
    }

    TEST_CASE("a remembered error answers up to, not at, retry_not_before") {
        entry_state e;
        policy.on_failure(e, transient(), 1, false, t0);
        REQUIRE(e.retry_not_before == t0 + 1s);
        CHECK(policy.on_miss(e, false, t0).what == miss_action::answer_remembered);
        CHECK(policy.on_miss(e, false, t0 + 1s - 1ns).what == miss_action::answer_remembered);
        CHECK(policy.on_miss(e, false, t0 + 1s).what == miss_action::start_flight);
        CHECK(policy.on_miss(e, true, t0).what == miss_action::join);
    }

    TEST_CASE("an entry keeps state up to, not at, the end of its backoff") {
        entry_state e;
        policy.on_failure(e, permanent(), 1, false, t0);
        CHECK(policy.keeps_state(e, t0 + 30s - 1ns));
        CHECK_FALSE(entry_policy::expired(e, false, t0 + 30s - 1ns));
        CHECK_FALSE(policy.keeps_state(e, t0 + 30s));
        CHECK(entry_policy::expired(e, false, t0 + 30s));
    }

    TEST_CASE("an entry expires at, not before, its token's expires_at") {
        entry_state e;
        e.token = token();
        CHECK_FALSE(entry_policy::expired(e, false, t0 + usable_for));
        CHECK_FALSE(entry_policy::expired(e, false, t0 + lifetime - 1ns));
        CHECK(entry_policy::expired(e, false, t0 + lifetime));
    }

    TEST_CASE("a second 401 is throttled up to, not at, forced_refresh_interval") {
        entry_state e;
        e.token = token();
        REQUIRE(policy.on_rejected(e, e.token.get(), t0) == invalidate_result::applied);
        CHECK(policy.keeps_state(e, t0 + 5s - 1ns));
        CHECK_FALSE(policy.keeps_state(e, t0 + 5s));
        auto next = token(t0, "stamp-2");
        policy.on_success(e, next, t0 + 1s);
        CHECK(policy.on_rejected(e, next.get(), t0 + 5s - 1ns) == invalidate_result::throttled);
        CHECK(e.token == next);
        CHECK(policy.on_rejected(e, next.get(), t0 + 5s) == invalidate_result::applied);
        CHECK(e.rejected_stamp == "stamp-2");
    }

    TEST_CASE("a 401 leads to a forced flight that replaces the rejected stamp") {
        entry_state e;
        e.token = token(t0, "stamp-7");
        REQUIRE(policy.on_rejected(e, e.token.get(), t0) == invalidate_result::applied);
        const auto a = policy.on_miss(e, false, t0);
        CHECK(a.what == miss_action::start_flight);
        CHECK(a.reason == "forced");
        CHECK(policy.on_flight_start(e, t0, true).replacing == "stamp-7");
        CHECK(e.forced_pending); // until the flight ends
        policy.on_success(e, token(t0, "stamp-8"), t0 + 1s);
        CHECK_FALSE(e.forced_pending);
        CHECK(policy.on_flight_start(e, t0 + 1s, true).replacing == "stamp-8");
    }

    TEST_CASE("a token that arrives inside its soft window is not refreshed at once") {
        entry_state e;
        SUBCASE("before refresh_from: refreshed ahead as soon as it enters the window") {
            policy.on_success(e, token(), t0 + refresh_at - 1ns);
            CHECK(e.refresh_not_before == steady_time{});
        }
        SUBCASE("exactly at refresh_from: not for refresh_min_interval") {
            policy.on_success(e, token(), t0 + refresh_at);
            CHECK(e.refresh_not_before == t0 + refresh_at + 10s);
            e.last_used = t0 + refresh_at;
            CHECK_FALSE(policy.on_hit(e, false, t0 + refresh_at + 10s - 1ns).refresh_ahead);
            CHECK(policy.on_hit(e, false, t0 + refresh_at + 10s).refresh_ahead);
        }
    }

    //--------------------------------------------------------------------------
    // Failures: backoff, Retry-After, pauses

    TEST_CASE("the per-key backoff doubles across flights up to backoff_max") {
        entry_state e;
        const std::vector<ns> waits = {1s, 2s, 4s, 8s, 16s, 32s, 60s, 60s};
        steady_time at = t0;
        for (std::size_t i = 0; i < waits.size(); ++i) {
            CAPTURE(i);
            policy.on_failure(e, transient(), 1, false, at);
            CHECK(e.failed_requests == i + 1);
            CHECK(e.retry_not_before == at + waits[i]);
            at = e.retry_not_before;
        }
        SUBCASE("a success starts it again") {
            policy.on_success(e, token(at), at);
            policy.on_failure(e, transient(), 1, false, at);
            CHECK(e.retry_not_before == at + 1s);
        }
    }

    TEST_CASE("every failed request of a flight counts towards the backoff") {
        entry_state e;
        policy.on_failure(e, transient(), 3, false, t0); // three tries inside one flight
        CHECK(e.failed_requests == 3);
        CHECK(e.retry_not_before == t0 + 4s);
    }

    TEST_CASE("the failure count stops at 63, however many requests failed") {
        auto rules = test_rules();
        rules.backoff_max = std::chrono::milliseconds::max();
        const entry_policy p(rules);
        entry_state e;
        p.on_failure(e, transient(), 62, false, t0);
        CHECK(e.failed_requests == 62);
        CHECK(e.retry_not_before == never); // 2^61 s: past the end of the clock
        p.on_failure(e, transient(), 5, false, t0);
        CHECK(e.failed_requests == 63);
        p.on_failure(e, transient(), UINT_MAX, false, t0);
        CHECK(e.failed_requests == 63);
        entry_state f;
        p.on_failure(f, transient(), UINT_MAX, false, t0);
        CHECK(f.failed_requests == 63);
        CHECK(f.retry_not_before == never);
    }

    TEST_CASE("Retry-After lengthens a 429's backoff, never shortens it, up to its cap") {
        struct row {
            std::chrono::seconds retry_after;
            unsigned earlier_failures;
            ns wait;
        };
        const std::vector<row> rows = {
            {-1s, 0, 1s},      // absent: the backoff
            {-1s, 3, 8s},      // absent: the backoff, doubled
            {0s, 0, 1s},       // 0 must not let every caller send another request
            {1s, 0, 1s},       // equal
            {2s, 0, 2s},       // longer: taken
            {5s, 3, 8s},       // shorter than the backoff: the backoff
            {600s, 0, 600s},   // exactly the cap
            {601s, 0, 600s},   // past it: the cap
            {86400s, 6, 600s}, // a day: the cap, which beats the 60 s backoff_max
        };
        for (const auto& r : rows) {
            CAPTURE(r.retry_after.count());
            CAPTURE(r.earlier_failures);
            entry_state e;
            e.failed_requests = r.earlier_failures;
            CHECK_FALSE(policy.on_failure(e, rate_limited(r.retry_after), 1, false, t0));
            CHECK(e.retry_not_before == t0 + r.wait);
        }
    }

    TEST_CASE("a 503 with Retry-After pauses the whole endpoint for as long as the key") {
        entry_state e;
        e.failed_requests = 2;
        CHECK(policy.on_failure(e, overloaded(0s), 1, false, t0) == t0 + 4s);
        CHECK(e.retry_not_before == t0 + 4s);
        entry_state f;
        CHECK(policy.on_failure(f, overloaded(1000s), 1, false, t0) == t0 + 600s);
    }

    TEST_CASE("a 503 without Retry-After, or a 500 with one, is transient") {
        entry_state e;
        CHECK_FALSE(policy.on_failure(e, with(errc::server_error, 503), 1, false, t0));
        CHECK(e.retry_not_before == t0 + 1s);
        entry_state f;
        CHECK_FALSE(policy.on_failure(f, with(errc::server_error, 500, {}, 120s), 1, false, t0));
        CHECK(f.retry_not_before == t0 + 1s);
    }

    TEST_CASE("a permanent failure is remembered for permanent_failure_memory, whatever the "
              "count") {
        for (auto why : {permanent(), with(errc::http_error, 404), with(errc::forbidden, 403),
                         client_rejected()}) {
            entry_state e;
            e.failed_requests = 10;
            policy.on_failure(e, why, 1, false, t0);
            CHECK(e.failed_requests == 11);
            CHECK(e.retry_not_before == t0 + 30s);
        }
    }

    TEST_CASE("a flight the pause stopped after failures of its own backs off as transient") {
        for (const auto& why :
             {transient(), permanent(), rate_limited(300s), overloaded(300s), client_rejected()}) {
            entry_state e;
            e.token = token();
            CHECK_FALSE(policy.on_failure(e, why, 2, true, t0)); // the pause is left as it is
            CHECK(e.failed_requests == 2);
            CHECK(e.retry_not_before == t0 + 2s);
            CHECK(e.refresh_not_before == t0 + 2s);
            CHECK(same(e.remembered, why));
            CHECK(e.token);
        }
    }

    TEST_CASE("the endpoint's pause is lengthened, never shortened") {
        gd::endpoint_pause p;
        CHECK_FALSE(p.at(t0));
        CHECK_FALSE(p.at(steady_time{}));
        const auto first = overloaded(60s), second = client_rejected(), third = transient();
        p.extend(t0 + 60s, first);
        CHECK(p.at(t0 - 1ns));
        CHECK(same(p.at(t0), first));
        CHECK(same(p.at(t0 + 60s - 1ns), first));
        CHECK_FALSE(p.at(t0 + 60s));
        p.extend(t0 + 30s, second); // shorter: ignored, failure and all
        CHECK(same(p.at(t0 + 59s), first));
        p.extend(t0 + 60s, second); // equal: ignored
        CHECK(same(p.at(t0 + 59s), first));
        p.extend(t0 + 90s, third); // longer: taken, with its failure
        CHECK(same(p.at(t0 + 60s), third));
        CHECK_FALSE(p.at(t0 + 90s));
    }

    //--------------------------------------------------------------------------
    // Retries inside one flight

    TEST_CASE("only a transient failure is retried, up to retry_attempts, with doubling waits") {
        CHECK(policy.retry_wait(failure_class::transient, 1, false) == ns(200ms));
        CHECK(policy.retry_wait(failure_class::transient, 2, false) == ns(400ms));
        CHECK_FALSE(policy.retry_wait(failure_class::transient, 3, false));
        CHECK_FALSE(policy.retry_wait(failure_class::transient, 4, false));
        CHECK_FALSE(policy.retry_wait(failure_class::transient, 1, true)); // it threw
        for (auto cls :
             {failure_class::aborted, failure_class::permanent, failure_class::rate_limited,
              failure_class::overloaded, failure_class::client_rejected}) {
            CAPTURE(static_cast<int>(cls));
            CHECK_FALSE(policy.retry_wait(cls, 1, false));
        }
        for (unsigned attempts : {0u, 1u}) {
            auto rules = test_rules();
            rules.retry_attempts = attempts;
            CHECK_FALSE(entry_policy(rules).retry_wait(failure_class::transient, 1, false));
        }
    }

    TEST_CASE("a retry goes only if it starts before the flight's deadline") {
        CHECK(entry_policy::retry_in_time(t0, 1s, t0 + 1s + 1ns));
        CHECK_FALSE(entry_policy::retry_in_time(t0, 1s, t0 + 1s));
        CHECK_FALSE(entry_policy::retry_in_time(t0, 2s, t0 + 1s));
        CHECK_FALSE(entry_policy::retry_in_time(never - 1s, ns::max(), never));
        CHECK(entry_policy::retry_in_time(t0, ns::max() / 2, never));
    }

    //--------------------------------------------------------------------------
    // The extremes: every time computation saturates

    TEST_CASE("at the end of the clock nothing overflows") {
        auto rules = test_rules();
        rules.flight_timeout = std::chrono::milliseconds::max();
        rules.forced_refresh_interval = std::chrono::milliseconds::max();
        rules.refresh_min_interval = std::chrono::milliseconds::max();
        rules.retry_base_delay = std::chrono::milliseconds::max();
        rules.backoff_initial = std::chrono::milliseconds::max();
        rules.backoff_max = std::chrono::milliseconds::max();
        rules.permanent_failure_memory = std::chrono::milliseconds::max();
        rules.retry_after_cap = std::chrono::seconds::max();
        const entry_policy p(rules);
        const auto late = never - 1s;

        SUBCASE("a flight's deadline") {
            entry_state e;
            CHECK(p.on_flight_start(e, late, false).deadline == never);
            CHECK(p.on_flight_start(e, late, true).deadline == never);
            CHECK(policy.on_flight_start(e, never, true).deadline == never);
        }
        SUBCASE("backoffs and pauses") {
            for (const auto& why : {transient(), permanent(), rate_limited(600s),
                                    overloaded(std::chrono::seconds::max()), client_rejected()}) {
                entry_state e;
                const auto pause = p.on_failure(e, why, 1, false, late);
                CHECK(e.retry_not_before == never);
                CHECK(e.refresh_not_before == never);
                CHECK((!pause || *pause == never));
            }
            entry_state e;
            CHECK(policy.on_failure(e, overloaded(600s), 1, false, never) == never);
            CHECK(e.retry_not_before == never);
        }
        SUBCASE("the minimum refresh interval") {
            entry_state e;
            p.on_success(e, token(), t0 + refresh_at);
            CHECK(e.refresh_not_before == never);
        }
        SUBCASE("the 401 throttle") {
            entry_state e;
            e.token = token();
            REQUIRE(p.on_rejected(e, e.token.get(), late) == invalidate_result::applied);
            CHECK(p.keeps_state(e, never - 1ns));
            e.token = token();
            CHECK(p.on_rejected(e, e.token.get(), never - 1ns) == invalidate_result::throttled);
        }
        SUBCASE("a hit long after the previous use, and one at the end of the clock") {
            entry_state e;
            e.token = token(never - lifetime);
            e.last_used = never - 1ns;
            const auto a = policy.on_hit(e, false, never - lifetime + refresh_at);
            CHECK(a.refresh_ahead); // a use "later" than now counts as steady use
            CHECK_FALSE(a.record_use);
            for (auto long_ago : {steady_time{}, steady_time::min()}) {
                e.last_used = long_ago;
                const auto b = policy.on_hit(e, false, never - lifetime + refresh_at);
                CHECK_FALSE(b.refresh_ahead);
                CHECK(b.record_use);
            }
        }
        SUBCASE("retries") {
            CHECK(p.retry_wait(failure_class::transient, 1, false) == ns::max());
            CHECK(p.retry_wait(failure_class::transient, 2, false) == ns::max());
            CHECK_FALSE(entry_policy::retry_in_time(late, ns::max(), never));
        }
    }
}

} // namespace
