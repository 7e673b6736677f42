// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The GraphQL call's decisions (src/client/graphql_call), driven event by event: no I/O, no
// timers, no clock. Time and jitter are the tests' own values. Longer than 500 lines because it
// is one suite of many small cases, one or two per rule of the unit.

#include <glue/config.hpp>
#include <glue/error.hpp>
#include <glue/types.hpp>

#include "client/graphql_call.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/json.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace gd = glue::detail;
namespace ev = gd::call_events;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using std::chrono::nanoseconds;
using action = gd::call_action;

const gd::steady_time t0 = gd::steady_time{} + 1000h; // "now" when a call starts

// A graphql() call with the default client_config: 4 attempts, 100 ms doubling up to 10 s, a
// 30 s deadline, a query (idempotent), the cache's token.
gd::call_settings query_settings() {
    gd::call_settings s;
    s.attempts = 4;
    s.base_delay = 100ms;
    s.max_delay = 10s;
    s.deadline = t0 + 30s;
    s.idempotent = true;
    s.own_token = false;
    return s;
}

gd::call_settings mutation_settings() {
    auto s = query_settings();
    s.idempotent = false;
    return s;
}

gd::http_response status(unsigned code, std::string retry_after = {}) {
    gd::http_response r;
    r.status = code;
    r.body = "{}";
    r.retry_after = std::move(retry_after);
    return r;
}

// The transport failed after the request may have left (a reset mid-exchange).
gd::failure sent_failure() {
    return gd::make_failure(asio::error::connection_reset);
}

// The transport failed before one byte left (a refused connection).
gd::failure unsent_failure() {
    auto f = gd::make_failure(asio::error::connection_refused);
    f.unsent = true;
    return f;
}

// Each helper resumes `c` with one event and returns the action.
action respond(gd::graphql_call& c, const gd::http_response& r, gd::steady_time now = t0,
               double jitter = 1.0) {
    return c.resume(ev::responded{r, now, jitter});
}

action fail(gd::graphql_call& c, const gd::failure& f, gd::steady_time now = t0,
            double jitter = 1.0) {
    return c.resume(ev::send_failed{f, now, jitter});
}

// Through start (and the token, if the call uses the cache's) to the first send.
void to_send(gd::graphql_call& c) {
    auto a = c.resume(ev::start{});
    if (!c.settings().own_token) {
        REQUIRE(a.kind == action::get_token);
        a = c.resume(ev::token_ready{});
    }
    REQUIRE(a.kind == action::send);
}

// After a sleep, to the next send.
void slept_to_send(gd::graphql_call& c) {
    auto a = c.resume(ev::slept{true});
    if (!c.settings().own_token) {
        REQUIRE(a.kind == action::get_token);
        a = c.resume(ev::token_ready{});
    }
    REQUIRE(a.kind == action::send);
}

bool is_internal_error(const action& a) {
    return a.kind == action::done && a.error && a.error->ec == glue::errc::internal_error;
}

//------------------------------------------------------------------------------
// The transition table

enum class state { initial, getting_token, sending, invalidating, sleeping, finished };
enum class event {
    start,
    token_ready,
    token_failed,
    declined,
    responded,
    send_failed,
    invalidated,
    slept
};

const std::vector<state> all_states = {state::initial,      state::getting_token, state::sending,
                                       state::invalidating, state::sleeping,      state::finished};
const std::vector<event> all_events = {event::start,       event::token_ready, event::token_failed,
                                       event::declined,    event::responded,   event::send_failed,
                                       event::invalidated, event::slept};

// A call of query_settings() brought into `s`.
gd::graphql_call in_state(state s) {
    gd::graphql_call c(query_settings());
    const auto r401 = status(401);
    const auto r503 = status(503);
    switch (s) {
    case state::initial:
        break;
    case state::getting_token:
        REQUIRE(c.resume(ev::start{}).kind == action::get_token);
        break;
    case state::sending:
        to_send(c);
        break;
    case state::invalidating:
        to_send(c);
        REQUIRE(respond(c, r401).kind == action::invalidate_and_retry);
        break;
    case state::sleeping:
        to_send(c);
        REQUIRE(respond(c, r503).kind == action::sleep);
        break;
    case state::finished:
        REQUIRE(c.resume(ev::start{}).kind == action::get_token);
        REQUIRE(c.resume(ev::token_failed{sent_failure()}).kind == action::done);
        break;
    }
    return c;
}

action apply(gd::graphql_call& c, event e) {
    const auto r200 = status(200);
    switch (e) {
    case event::start:
        return c.resume(ev::start{});
    case event::token_ready:
        return c.resume(ev::token_ready{});
    case event::token_failed:
        return c.resume(ev::token_failed{sent_failure()});
    case event::declined:
        return c.resume(ev::declined{});
    case event::responded:
        return respond(c, r200);
    case event::send_failed:
        return fail(c, sent_failure());
    case event::invalidated:
        return c.resume(ev::invalidated{false});
    case event::slept:
        return c.resume(ev::slept{true});
    }
    return {};
}

// What each event does in each state; nullopt: it can't happen there, and ends the call with
// errc::internal_error.
std::optional<action::kind_t> expected(state s, event e) {
    switch (s) {
    case state::initial:
        if (e == event::start) {
            return action::get_token;
        }
        break;
    case state::getting_token:
        if (e == event::token_ready) {
            return action::send;
        }
        if (e == event::token_failed) {
            return action::done;
        }
        break;
    case state::sending:
        if (e == event::declined) {
            return action::get_token;
        }
        if (e == event::responded) {
            return action::done; // a 200
        }
        if (e == event::send_failed) {
            return action::sleep; // a reset, on a query
        }
        break;
    case state::invalidating:
        if (e == event::invalidated) {
            return action::get_token;
        }
        break;
    case state::sleeping:
        if (e == event::slept) {
            return action::get_token;
        }
        break;
    case state::finished:
        break;
    }
    return std::nullopt;
}

TEST_SUITE("graphql call") {
    TEST_CASE("every event in every state") {
        for (state s : all_states) {
            for (event e : all_events) {
                CAPTURE(static_cast<int>(s));
                CAPTURE(static_cast<int>(e));
                auto c = in_state(s);
                const auto a = apply(c, e);
                if (auto want = expected(s, e)) {
                    CHECK(a.kind == *want);
                    CHECK_FALSE(is_internal_error(a));
                } else {
                    CHECK(is_internal_error(a));
                    // And the call stays over.
                    CHECK(is_internal_error(c.resume(ev::start{})));
                }
            }
        }
    }

    TEST_CASE("every event in every state, with the caller's own token") {
        auto s = query_settings();
        s.own_token = true;
        // No token is ever got: start, a declined send and a completed sleep all send.
        {
            gd::graphql_call c(s);
            CHECK(c.resume(ev::start{}).kind == action::send);
            CHECK(c.resume(ev::declined{}).kind == action::send);
            CHECK(c.attempt() == 1);
            const auto r = status(503);
            CHECK(respond(c, r).kind == action::sleep);
            CHECK(c.resume(ev::slept{true}).kind == action::send);
            CHECK(c.attempt() == 2);
            for (auto e : {event::start, event::token_ready, event::token_failed,
                           event::invalidated, event::slept}) {
                gd::graphql_call sending(s);
                REQUIRE(sending.resume(ev::start{}).kind == action::send);
                CAPTURE(static_cast<int>(e));
                CHECK(is_internal_error(apply(sending, e)));
            }
        }
        // A 401 is the answer: nothing to invalidate.
        {
            gd::graphql_call c(s);
            to_send(c);
            const auto r = status(401);
            const auto a = respond(c, r);
            CHECK(a.kind == action::done);
            CHECK_FALSE(a.error);
        }
    }

    TEST_CASE("a token that can't be had is the call's failure, diagnostics and all") {
        gd::graphql_call c(query_settings());
        REQUIRE(c.resume(ev::start{}).kind == action::get_token);
        glue::diagnostics d;
        d.http_status = 400;
        d.oauth_error = "invalid_client";
        const auto f =
            gd::make_failure(make_error_code(glue::errc::unauthorized), "token refused", d);
        const auto a = c.resume(ev::token_failed{f});
        REQUIRE(a.kind == action::done);
        REQUIRE(a.error);
        CHECK(a.error->ec == glue::errc::unauthorized);
        CHECK(a.error->message == "token refused");
        CHECK(a.error->diag == f.diag); // the same diagnostics, not a copy
    }

    TEST_CASE("a declined send gets a token again, and is not an attempt") {
        auto s = query_settings();
        s.attempts = 1;
        gd::graphql_call c(s);
        to_send(c);
        for (int i = 0; i < 10; ++i) {
            REQUIRE(c.resume(ev::declined{}).kind == action::get_token);
            REQUIRE(c.resume(ev::token_ready{}).kind == action::send);
        }
        CHECK(c.attempt() == 1);
        // The one attempt is still there: a 503 isn't retried (attempts = 1), but answered.
        const auto r = status(503);
        const auto a = respond(c, r);
        CHECK(a.kind == action::done);
        CHECK_FALSE(a.error);
    }

    //--------------------------------------------------------------------------
    // Retries

    TEST_CASE("retry counts: attempts sends, then the last outcome is the answer") {
        for (unsigned attempts : {0U, 1U, 2U, 4U, 7U}) {
            CAPTURE(attempts);
            auto s = query_settings();
            s.attempts = attempts;
            s.deadline = gd::steady_time::max();
            gd::graphql_call c(s);
            to_send(c);
            const auto r = status(503);
            unsigned sends = 1;
            for (;;) {
                const auto a = respond(c, r);
                if (a.kind == action::done) {
                    CHECK_FALSE(a.error); // the 503 itself: parsed by the caller
                    break;
                }
                REQUIRE(a.kind == action::sleep);
                slept_to_send(c);
                ++sends;
                CHECK(c.attempt() == sends);
            }
            CHECK(sends == (attempts == 0 ? 1 : attempts));
        }
    }

    TEST_CASE("retry counts: transport failures, the failure is the answer") {
        auto s = query_settings();
        s.deadline = gd::steady_time::max();
        gd::graphql_call c(s);
        to_send(c);
        glue::diagnostics d;
        d.http_status = 0;
        auto f = gd::make_failure(asio::error::connection_reset, "reset", d);
        for (unsigned i = 1; i < s.attempts; ++i) {
            REQUIRE(fail(c, f).kind == action::sleep);
            slept_to_send(c);
        }
        const auto a = fail(c, f);
        REQUIRE(a.kind == action::done);
        REQUIRE(a.error);
        CHECK(a.error->ec == asio::error::connection_reset);
        CHECK(a.error->message == "reset");
        CHECK(a.error->diag == f.diag);
        CHECK(c.attempt() == 4);
    }

    TEST_CASE("which statuses are sent again") {
        for (unsigned code : {429U, 500U, 502U, 503U, 504U}) {
            CAPTURE(code);
            gd::graphql_call c(query_settings());
            to_send(c);
            const auto r = status(code);
            CHECK(respond(c, r).kind == action::sleep);
        }
        for (unsigned code : {200U, 201U, 204U, 301U, 304U, 400U, 403U, 404U, 409U, 413U, 422U,
                              499U, 501U, 505U, 599U}) {
            CAPTURE(code);
            gd::graphql_call c(query_settings());
            to_send(c);
            const auto r = status(code, "1");
            const auto a = respond(c, r);
            CHECK(a.kind == action::done);
            CHECK_FALSE(a.error);
        }
    }

    TEST_CASE("which transport failures are sent again") {
        const std::vector<glue::error_code> transient = {
            asio::error::connection_reset,    asio::error::connection_refused,
            asio::error::broken_pipe,         asio::error::connection_aborted,
            asio::error::network_unreachable, make_error_code(asio::error::eof)};
        const std::vector<glue::error_code> final = {
            asio::error::operation_aborted, make_error_code(glue::errc::timeout),
            make_error_code(glue::errc::bad_response),
            glue::error_code(1, asio::error::get_ssl_category()),
            make_error_code(asio::error::host_not_found)};
        for (const auto& ec : transient) {
            CAPTURE(ec.message());
            CHECK(gd::retryable(gd::make_failure(ec)));
            gd::graphql_call c(query_settings());
            to_send(c);
            CHECK(fail(c, gd::make_failure(ec)).kind == action::sleep);
        }
        for (const auto& ec : final) {
            CAPTURE(ec.message());
            CHECK_FALSE(gd::retryable(gd::make_failure(ec)));
            auto f = gd::make_failure(ec);
            f.unsent = true; // even when it never left
            gd::graphql_call c(query_settings());
            to_send(c);
            const auto a = fail(c, f);
            REQUIRE(a.kind == action::done);
            REQUIRE(a.error);
            CHECK(a.error->ec == ec);
            CHECK(a.error->unsent);
        }
    }

    TEST_CASE("the backoff doubles from base_delay up to max_delay, times the jitter") {
        auto s = query_settings();
        s.attempts = 12;
        s.deadline = gd::steady_time::max();
        gd::graphql_call c(s);
        to_send(c);
        const auto r = status(500);
        const std::vector<nanoseconds> caps = {100ms,  200ms, 400ms, 800ms, 1600ms, 3200ms,
                                               6400ms, 10s,   10s,   10s,   10s};
        for (auto cap : caps) {
            CAPTURE(c.attempt());
            const auto a = respond(c, r);
            REQUIRE(a.kind == action::sleep);
            CHECK(a.wait == cap);
            slept_to_send(c);
        }
        CHECK(respond(c, r).kind == action::done);

        // The jitter is the share of the cap: full jitter, drawn by the caller.
        for (double j : {0.0, 0.25, 0.5, 0.999}) {
            gd::graphql_call d(s);
            to_send(d);
            const auto a = respond(d, r, t0, j);
            REQUIRE(a.kind == action::sleep);
            CHECK(a.wait == std::chrono::duration_cast<nanoseconds>(
                                std::chrono::duration<double, std::nano>(1e8 * j)));
        }
        // Out of [0, 1]: taken into it.
        const std::vector<std::pair<double, nanoseconds>> odd = {
            {-1.0, 0ns},
            {2.0, 100ms},
            {std::numeric_limits<double>::quiet_NaN(), 0ns},
            {std::numeric_limits<double>::infinity(), 100ms},
            {-std::numeric_limits<double>::infinity(), 0ns}};
        for (const auto& row : odd) {
            const double j = row.first;
            const nanoseconds want = row.second;
            CAPTURE(j);
            gd::graphql_call d(s);
            to_send(d);
            const auto a = fail(d, sent_failure(), t0, j);
            REQUIRE(a.kind == action::sleep);
            CHECK(a.wait == want);
        }
    }

    TEST_CASE("a zero base delay retries at once") {
        auto s = query_settings();
        s.base_delay = 0ns;
        gd::graphql_call c(s);
        to_send(c);
        const auto a = fail(c, sent_failure());
        REQUIRE(a.kind == action::sleep);
        CHECK(a.wait == 0ns);
    }

    //--------------------------------------------------------------------------
    // Retry-After and the deadline

    TEST_CASE("Retry-After on 429 and 503 is the wait, jitter or not") {
        for (unsigned code : {429U, 503U}) {
            CAPTURE(code);
            for (double j : {0.0, 0.5, 1.0}) {
                gd::graphql_call c(query_settings());
                to_send(c);
                const auto r = status(code, "7");
                const auto a = respond(c, r, t0, j);
                REQUIRE(a.kind == action::sleep);
                CHECK(a.wait == 7s);
            }
            // Zero: at once.
            gd::graphql_call c(query_settings());
            to_send(c);
            const auto r = status(code, "0");
            const auto a = respond(c, r);
            REQUIRE(a.kind == action::sleep);
            CHECK(a.wait == 0s);
        }
        // Unreadable: the backoff.
        gd::graphql_call c(query_settings());
        to_send(c);
        const auto r = status(503, "soon");
        const auto a = respond(c, r, t0, 0.5);
        REQUIRE(a.kind == action::sleep);
        CHECK(a.wait == 50ms);
        // Other statuses ignore it.
        gd::graphql_call d(query_settings());
        to_send(d);
        const auto r500 = status(500, "7");
        const auto b = respond(d, r500, t0, 1.0);
        REQUIRE(b.kind == action::sleep);
        CHECK(b.wait == 100ms);
    }

    TEST_CASE("Retry-After vs. the deadline: a wait that reaches it ends the call") {
        // The deadline is t0 + 30 s; the answer comes at t0 + 1 s.
        const auto now = t0 + 1s;
        for (const auto& row : std::vector<std::pair<std::string, bool>>{
                 {"28", true}, {"29", false}, {"30", false}, {"3600", false}}) {
            const std::string& after = row.first;
            const bool retried = row.second;
            CAPTURE(after);
            gd::graphql_call c(query_settings());
            to_send(c);
            const auto r = status(429, after);
            const auto a = respond(c, r, now);
            if (retried) {
                CHECK(a.kind == action::sleep);
            } else {
                REQUIRE(a.kind == action::done);
                CHECK_FALSE(a.error); // the 429 is the answer: rate_limited, with its details
            }
        }
        // The same for a backoff and a transport failure.
        gd::graphql_call c(query_settings());
        to_send(c);
        CHECK(fail(c, sent_failure(), t0 + 30s - 100ms - 1ns).kind == action::sleep);
        gd::graphql_call d(query_settings());
        to_send(d);
        const auto a = fail(d, sent_failure(), t0 + 30s - 100ms);
        REQUIRE(a.kind == action::done);
        CHECK(a.error->ec == asio::error::connection_reset);
        // Past the deadline already: even a zero wait is too long.
        gd::graphql_call e(query_settings());
        to_send(e);
        const auto r = status(503, "0");
        CHECK(respond(e, r, t0 + 30s).kind == action::done);
    }

    //--------------------------------------------------------------------------
    // Mutations

    TEST_CASE("the mutation rules: what makes a call idempotent") {
        const glue::client_config cfg;
        const auto until = t0 + 30s;
        const auto settings = [&](glue::graphql_request r) {
            return gd::graphql_call_settings(cfg, r, until);
        };
        CHECK(settings(glue::graphql_request("{ me { id } }")).idempotent);
        CHECK(settings(glue::graphql_request("query Q { groups { nodes { id } } }")).idempotent);
        CHECK_FALSE(settings(glue::graphql_request("mutation { deleteThing(id: 1) }")).idempotent);
        glue::graphql_request marked("mutation { deleteThing(id: 1) }");
        marked.idempotent = true;
        CHECK(settings(marked).idempotent);
        const boost::json::object input{{"threadID", "thr_1"},
                                        {"message", {{"text", "t"}, {"uniqueBy", "k"}}}};
        const glue::graphql_request upsert(
            "mutation S($in: SendMessageInput!) { sendMessage(input: $in) { message { id } } }",
            boost::json::object{{"in", input}});
        CHECK(settings(upsert).idempotent);
    }

    TEST_CASE("a mutation is sent again only when it never left") {
        // A failure after it may have left: the answer.
        {
            gd::graphql_call c(mutation_settings());
            to_send(c);
            const auto a = fail(c, sent_failure());
            REQUIRE(a.kind == action::done);
            CHECK(a.error->ec == asio::error::connection_reset);
        }
        // Never left: sent again, as often as a query.
        {
            gd::graphql_call c(mutation_settings());
            to_send(c);
            for (int i = 1; i < 4; ++i) {
                REQUIRE(fail(c, unsent_failure()).kind == action::sleep);
                slept_to_send(c);
            }
            CHECK(fail(c, unsent_failure()).kind == action::done);
        }
        // Any response is the answer, 429 and 5xx included.
        for (unsigned code : {429U, 500U, 502U, 503U, 504U}) {
            CAPTURE(code);
            gd::graphql_call c(mutation_settings());
            to_send(c);
            const auto r = status(code, "1");
            const auto a = respond(c, r);
            CHECK(a.kind == action::done);
            CHECK_FALSE(a.error);
        }
        // A 401 was not processed: the token is renewed and the mutation sent again, once.
        {
            gd::graphql_call c(mutation_settings());
            to_send(c);
            const auto r = status(401);
            CHECK(respond(c, r).kind == action::invalidate_and_retry);
        }
    }

    //--------------------------------------------------------------------------
    // 401

    TEST_CASE("a 401 renews the token and sends again, not counted as an attempt") {
        auto s = query_settings();
        s.attempts = 1;
        gd::graphql_call c(s);
        to_send(c);
        const auto r401 = status(401);
        CHECK(respond(c, r401).kind == action::invalidate_and_retry);
        CHECK(c.resume(ev::invalidated{false}).kind == action::get_token);
        CHECK(c.resume(ev::token_ready{}).kind == action::send);
        CHECK(c.attempt() == 1);
        const auto r200 = status(200);
        const auto a = respond(c, r200);
        CHECK(a.kind == action::done);
        CHECK_FALSE(a.error);
    }

    TEST_CASE("a second 401 is the answer") {
        gd::graphql_call c(query_settings());
        to_send(c);
        const auto r401 = status(401);
        REQUIRE(respond(c, r401).kind == action::invalidate_and_retry);
        REQUIRE(c.resume(ev::invalidated{false}).kind == action::get_token);
        REQUIRE(c.resume(ev::token_ready{}).kind == action::send);
        const auto a = respond(c, r401);
        CHECK(a.kind == action::done);
        CHECK_FALSE(a.error);
    }

    TEST_CASE("a second 401, after a retry in between, is still the answer") {
        gd::graphql_call c(query_settings());
        to_send(c);
        const auto r401 = status(401);
        const auto r503 = status(503);
        REQUIRE(respond(c, r401).kind == action::invalidate_and_retry);
        REQUIRE(c.resume(ev::invalidated{false}).kind == action::get_token);
        REQUIRE(c.resume(ev::token_ready{}).kind == action::send);
        REQUIRE(respond(c, r503).kind == action::sleep);
        slept_to_send(c);
        CHECK(respond(c, r401).kind == action::done);
    }

    TEST_CASE("a 401 after retries still renews the token once") {
        gd::graphql_call c(query_settings());
        to_send(c);
        const auto r503 = status(503);
        for (int i = 1; i < 4; ++i) {
            REQUIRE(respond(c, r503).kind == action::sleep);
            slept_to_send(c);
        }
        CHECK(c.attempt() == 4);
        const auto r401 = status(401);
        CHECK(respond(c, r401).kind == action::invalidate_and_retry);
        CHECK(c.resume(ev::invalidated{false}).kind == action::get_token);
        CHECK(c.resume(ev::token_ready{}).kind == action::send);
        // The last attempt: no more retries.
        CHECK(respond(c, r503).kind == action::done);
    }

    TEST_CASE("a throttled invalidation makes the 401 the answer") {
        gd::graphql_call c(query_settings());
        to_send(c);
        const auto r401 = status(401);
        REQUIRE(respond(c, r401).kind == action::invalidate_and_retry);
        const auto a = c.resume(ev::invalidated{true});
        CHECK(a.kind == action::done);
        CHECK_FALSE(a.error);
    }

    TEST_CASE("a 401 renewal whose token can't be had fails with the token's failure") {
        gd::graphql_call c(query_settings());
        to_send(c);
        const auto r401 = status(401);
        REQUIRE(respond(c, r401).kind == action::invalidate_and_retry);
        REQUIRE(c.resume(ev::invalidated{false}).kind == action::get_token);
        const auto a = c.resume(ev::token_failed{gd::make_failure(glue::errc::unauthorized)});
        REQUIRE(a.kind == action::done);
        CHECK(a.error->ec == glue::errc::unauthorized);
    }

    //--------------------------------------------------------------------------
    // Cancellation and shutdown

    TEST_CASE("a sleep cut short (cancelled, or shut down) ends the call, aborted") {
        gd::graphql_call c(query_settings());
        to_send(c);
        const auto r = status(503);
        REQUIRE(respond(c, r).kind == action::sleep);
        const auto a = c.resume(ev::slept{false});
        REQUIRE(a.kind == action::done);
        REQUIRE(a.error);
        CHECK(a.error->ec == asio::error::operation_aborted);
        CHECK(c.attempt() == 1);
    }

    TEST_CASE("a cancelled token wait or send is not retried") {
        const auto aborted = gd::make_failure(asio::error::operation_aborted);
        {
            gd::graphql_call c(query_settings());
            REQUIRE(c.resume(ev::start{}).kind == action::get_token);
            const auto a = c.resume(ev::token_failed{aborted});
            REQUIRE(a.kind == action::done);
            CHECK(a.error->ec == asio::error::operation_aborted);
        }
        {
            auto f = aborted;
            f.unsent = true; // cancelled while queued for a connection
            gd::graphql_call c(query_settings());
            to_send(c);
            const auto a = fail(c, f);
            REQUIRE(a.kind == action::done);
            CHECK(a.error->ec == asio::error::operation_aborted);
        }
    }

    //--------------------------------------------------------------------------
    // Extreme durations

    TEST_CASE("saturation: huge delays, late clocks and far deadlines don't overflow") {
        // A base delay of the longest duration, doubled many times: capped, never negative.
        auto s = query_settings();
        s.attempts = std::numeric_limits<unsigned>::max();
        s.base_delay = nanoseconds::max();
        s.max_delay = nanoseconds::max();
        s.deadline = gd::steady_time::max();
        gd::graphql_call c(s);
        to_send(c);
        for (int i = 0; i < 70; ++i) {
            const auto a = fail(c, sent_failure(), t0, 0.5);
            REQUIRE(a.kind == action::sleep);
            CHECK(a.wait > 0ns);
            CHECK(a.wait <= nanoseconds::max());
            slept_to_send(c);
        }
        // The whole cap (jitter 1): now + wait saturates at the deadline (max): not retried.
        CHECK(fail(c, sent_failure(), t0, 1.0).kind == action::done);

        // A small base doubled past 2^63 ns: the cap, exactly.
        auto small = query_settings();
        small.attempts = 200;
        small.base_delay = 1ns;
        small.max_delay = nanoseconds::max();
        small.deadline = gd::steady_time::max();
        gd::graphql_call d(small);
        to_send(d);
        for (int i = 1; i < 100; ++i) {
            REQUIRE(fail(d, sent_failure(), t0, 0.0).kind == action::sleep);
            slept_to_send(d);
        }
        const auto big = fail(d, sent_failure(), gd::steady_time{}, 0.5);
        REQUIRE(big.kind == action::sleep);
        CHECK(big.wait >= nanoseconds::max() / 2 - 1024ns);

        // A clock near its end: the deadline check saturates instead of wrapping into the past.
        auto late = query_settings();
        late.deadline = gd::steady_time::max();
        gd::graphql_call e(late);
        to_send(e);
        const auto r = status(429, "31536000");
        CHECK(respond(e, r, gd::steady_time::max() - 1h).kind == action::done);
        // And far from it, a year's Retry-After (the longest believed) is waited.
        gd::graphql_call f(late);
        to_send(f);
        const auto longest = status(429, "99999999999999999999");
        const auto a = respond(f, longest, t0);
        REQUIRE(a.kind == action::sleep);
        CHECK(a.wait == std::chrono::seconds(365LL * 24 * 3600));
    }

    TEST_CASE("saturation: the settings of extreme configurations") {
        glue::client_config cfg;
        cfg.graphql_retry_base_delay = std::chrono::milliseconds::max();
        cfg.graphql_retry_max_delay = std::chrono::milliseconds::max();
        cfg.token_retry_base_delay = std::chrono::milliseconds::max();
        const auto g = gd::graphql_call_settings(cfg, glue::graphql_request("{ a }"), t0);
        CHECK(g.base_delay == nanoseconds::max());
        CHECK(g.max_delay == nanoseconds::max());
        const auto t = gd::grant_call_settings(cfg, t0);
        CHECK(t.base_delay == nanoseconds::max());
        CHECK(t.max_delay == nanoseconds::max());
    }

    //--------------------------------------------------------------------------
    // Settings

    TEST_CASE("graphql_call_settings: the request's attempts, else the client's; its token") {
        glue::client_config cfg;
        cfg.graphql_retry_attempts = 5;
        cfg.graphql_retry_base_delay = 150ms;
        cfg.graphql_retry_max_delay = 2s;
        glue::graphql_request r("{ a }");
        auto s = gd::graphql_call_settings(cfg, r, t0 + 1s);
        CHECK(s.attempts == 5);
        CHECK(s.base_delay == 150ms);
        CHECK(s.max_delay == 2s);
        CHECK(s.deadline == t0 + 1s);
        CHECK_FALSE(s.own_token);
        r.retry_attempts = 2;
        r.access_token = "tok";
        s = gd::graphql_call_settings(cfg, r, t0);
        CHECK(s.attempts == 2);
        CHECK(s.own_token);
    }

    TEST_CASE("grants: the token request's attempts, sent again only when never sent") {
        glue::client_config cfg;
        cfg.token_retry_attempts = 3;
        cfg.token_retry_base_delay = 200ms;
        const auto s = gd::grant_call_settings(cfg, t0 + 10s);
        CHECK(s.attempts == 3);
        CHECK(s.base_delay == 200ms);
        CHECK(s.max_delay == nanoseconds::max());
        CHECK(s.deadline == t0 + 10s);
        CHECK_FALSE(s.idempotent);
        CHECK(s.own_token);

        // Any response is the answer, even a 503 or a 401.
        for (unsigned code : {200U, 400U, 401U, 503U}) {
            CAPTURE(code);
            gd::graphql_call c(s);
            to_send(c);
            const auto r = status(code, "1");
            const auto a = respond(c, r);
            CHECK(a.kind == action::done);
            CHECK_FALSE(a.error);
        }
        // A refused connection: three sends, doubling without a cap but the deadline.
        gd::graphql_call c(s);
        to_send(c);
        REQUIRE(fail(c, unsent_failure()).kind == action::sleep);
        slept_to_send(c);
        const auto a = fail(c, unsent_failure());
        REQUIRE(a.kind == action::sleep);
        CHECK(a.wait == 400ms);
        slept_to_send(c);
        CHECK(fail(c, unsent_failure()).kind == action::done);
        // A failure that may have reached the server: the code may be spent; the answer.
        gd::graphql_call d(s);
        to_send(d);
        CHECK(fail(d, sent_failure()).kind == action::done);
    }

    TEST_CASE("the retry budget pays for retries after failures, not after throttling") {
        gd::retry_budget budget(10);
        auto s = query_settings();
        s.budget = &budget;
        s.retry_cost = 5;
        s.timeout_cost = 10;
        // Two 503s without Retry-After: two retries paid, the budget is spent.
        gd::graphql_call c(s);
        to_send(c);
        const auto r503 = status(503);
        REQUIRE(respond(c, r503).kind == action::sleep);
        slept_to_send(c);
        REQUIRE(respond(c, r503).kind == action::sleep);
        CHECK(budget.left() == 0);
        slept_to_send(c);
        // The third 503: attempts remain, the budget can't pay: the 503 is the answer.
        auto a = respond(c, r503);
        CHECK(a.kind == action::done);
        CHECK_FALSE(a.error);
        CHECK(budget.denied() == 1);

        // Throttling answers are retried for free, even with nothing left.
        for (const auto& r : {status(429), status(429, "1"), status(503, "1")}) {
            gd::graphql_call d(s);
            to_send(d);
            CHECK(respond(d, r).kind == action::sleep);
        }
        CHECK(budget.left() == 0);

        // A transport failure pays too: with nothing left it is the answer.
        gd::graphql_call e(s);
        to_send(e);
        a = fail(e, unsent_failure());
        CHECK(a.kind == action::done);
        CHECK(a.error);
    }

    TEST_CASE("the retry budget: a success gives back its retry's cost, or 1") {
        gd::retry_budget budget(20);
        auto s = query_settings();
        s.budget = &budget;
        s.retry_cost = 5;
        s.timeout_cost = 10;
        gd::graphql_call c(s);
        to_send(c);
        REQUIRE(fail(c, gd::make_failure(asio::error::timed_out)).kind == action::sleep);
        CHECK(budget.left() == 10); // a timeout costs more
        slept_to_send(c);
        const auto ok = status(200);
        REQUIRE(respond(c, ok).kind == action::done);
        CHECK(budget.left() == 20); // its cost back
        gd::graphql_call d(s);
        to_send(d);
        const auto bad = status(400);
        REQUIRE(respond(d, bad).kind == action::done);
        CHECK(budget.left() == 20); // full: a healthy answer adds nothing beyond it

        glue::client_config cfg;
        glue::graphql_request q;
        q.query = "{ me { id } }";
        const auto from_cfg = gd::graphql_call_settings(cfg, q, t0 + 30s);
        CHECK(from_cfg.retry_cost == 5);
        CHECK(from_cfg.timeout_cost == 10);
    }
}

} // namespace
