// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Request events and client::metrics() through the public API, against the mock server: which
// events a call produces, in which order, with what outcome, retry decision and time split, and
// what the counters and the pool's figures say after it. Scenario by scenario: a fresh call, a
// reused connection, a 401's refetch, a 429's pause, a retry, a cancellation, a timeout.

#include "support/client_fixture.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace glue::test;
using namespace std::chrono_literals;
using glue::request_event;

// A request_event kept past the hook: its strings copied.
struct seen_event {
    request_event e;
    std::string workspace, operation, request_id;
    std::vector<glue::http_header> headers;
};

struct event_log {
    std::mutex mtx;
    std::vector<seen_event> events;

    void add(const request_event& e) {
        std::lock_guard lock(mtx);
        seen_event s{
            e, std::string(e.workspace), std::string(e.operation), std::string(e.request_id),
            std::vector<glue::http_header>(e.response_headers.begin(), e.response_headers.end())};
        s.e.workspace = {};
        s.e.operation = {};
        s.e.request_id = {};
        s.e.response_headers = {};
        events.push_back(std::move(s));
    }

    // The events since the last take().
    std::vector<seen_event> take() {
        std::lock_guard lock(mtx);
        return std::exchange(events, {});
    }
};

// Made before the client, whose hook it is.
struct event_log_holder {
    std::shared_ptr<event_log> log = std::make_shared<event_log>();
};

struct observed_fixture : event_log_holder, client_fixture {
    explicit observed_fixture(const std::function<void(glue::client_config&)>& tweak = {})
        : client_fixture({}, [this, tweak](glue::client_config& c) {
            c.on_request_event = [log = log](const request_event& e) { log->add(e); };
            c.graphql_retry_base_delay = 20ms;
            c.adaptive_rate = false;
            if (tweak) {
                tweak(c);
            }
        }) {}
};

glue::graphql_request named_query() {
    glue::graphql_request r("query Me { me { id } }");
    r.operation_name = "Me";
    return r;
}

using endpoint_kind = request_event::endpoint;

// The parts of an attempt's time add up to its total, give or take the library's own work.
void check_time_split(const request_event& e) {
    const auto& t = e.time;
    const auto parts = t.backoff + t.token_wait + t.throttle_wait + t.connection_wait + t.exchange;
    CHECK(t.total >= parts - 1ms); // the parts were read around the total's own clock reads
    // The rest is the library's own work between the parts (generous: sanitizers, a busy CI).
    CHECK(t.total <= parts + 200ms);
    if (!e.new_connection) {
        CHECK(t.dns == 0ns);
        CHECK(t.tcp == 0ns);
        CHECK(t.tls == 0ns);
    }
}

} // namespace

TEST_SUITE("observability") {
    TEST_CASE("a fresh call: the token request, then the GraphQL request on its connection") {
        observed_fixture f;
        f.run(f.client->graphql(ws, named_query()));
        auto events = f.log->take();
        REQUIRE(events.size() == 2);

        const auto& token = events[0];
        CHECK(token.e.target == endpoint_kind::token);
        CHECK(token.workspace == ws);
        CHECK(token.operation.empty());
        CHECK(token.e.attempt == 1);
        CHECK(token.e.sent);
        CHECK(token.e.http_status == 200);
        CHECK(!token.e.error);
        CHECK(token.e.last);
        CHECK(!token.e.retry);
        CHECK(token.e.new_connection);
        CHECK(token.e.time.tcp > 0ns);
        CHECK(token.e.bytes_sent > 0);
        CHECK(token.e.bytes_received > 0);
        check_time_split(token.e);

        const auto& call = events[1];
        CHECK(call.e.target == endpoint_kind::graphql);
        CHECK(call.workspace == ws);
        CHECK(call.operation == "Me");
        CHECK(call.e.attempt == 1);
        CHECK(call.e.sent);
        CHECK(call.e.http_status == 200);
        CHECK(!call.e.error);
        CHECK(call.e.last);
        CHECK(!call.e.new_connection); // the token request's connection, kept alive
        CHECK(call.e.time.token_wait >= token.e.time.exchange);
        CHECK(call.e.time.exchange > 0ns);
        // The mock names every response: the id is captured and offered as the request id.
        CHECK(call.request_id.starts_with("req_"));
        CHECK(call.request_id != token.request_id);
        check_time_split(call.e);

        const auto m = f.client->metrics();
        CHECK(m.calls == 1);
        CHECK(m.attempts == 1);
        CHECK(m.ended(glue::call_outcome::ok) == 1);
        CHECK(m.call_duration.count == 1);
        CHECK(m.exchange_duration.count == 2); // the token request's and the call's
        CHECK(m.call_duration.quantile(0.5) > 0);
        CHECK(m.pool.connects == 1);
        CHECK(m.pool.open == 1);
        CHECK(m.pool.idle == 1);
        CHECK(m.pool.leased == 0);
        CHECK(m.pool.waiting == 0);
        CHECK(m.pool.tls_handshakes == 0); // plain http:// to the loopback mock
    }

    TEST_CASE("a reused connection: no token request, no connect") {
        observed_fixture f;
        f.run(f.client->graphql(ws, named_query()));
        f.log->take();
        f.run(f.client->graphql(ws, named_query()));
        auto events = f.log->take();
        REQUIRE(events.size() == 1);
        CHECK(events[0].e.target == endpoint_kind::graphql);
        CHECK(!events[0].e.new_connection);
        CHECK(events[0].e.time.token_wait == 0ns);
        CHECK(events[0].e.time.tcp == 0ns);
        CHECK(f.client->metrics().pool.connects == 1);
        CHECK(f.client->metrics().calls == 2);
    }

    TEST_CASE("a 401: the rejected request retries for unauthorized, then the refetch, then "
              "the second request") {
        observed_fixture f;
        f.run(f.client->fetch_token(ws));
        f.log->take();
        f.server.revoke_tokens(ws);
        f.run(f.client->graphql(ws, named_query()));
        auto events = f.log->take();
        REQUIRE(events.size() == 3);
        CHECK(events[0].e.target == endpoint_kind::graphql);
        CHECK(events[0].e.http_status == 401);
        CHECK(events[0].e.retry);
        CHECK(events[0].e.reason == glue::retry_reason::unauthorized);
        CHECK(!events[0].e.last);
        CHECK(events[0].e.attempt == 1);
        CHECK(events[1].e.target == endpoint_kind::token);
        CHECK(events[1].e.http_status == 200);
        CHECK(events[2].e.target == endpoint_kind::graphql);
        CHECK(events[2].e.http_status == 200);
        CHECK(events[2].e.attempt == 2);
        CHECK(events[2].e.last);
        CHECK(events[2].e.time.token_wait > 0ns);

        const auto m = f.client->metrics();
        CHECK(m.calls == 1);
        CHECK(m.attempts == 2);
        CHECK(m.retried(glue::retry_reason::unauthorized) == 1);
        CHECK(m.ended(glue::call_outcome::ok) == 1);
    }

    TEST_CASE("a 429: retried after the pause, which the next attempt waited for") {
        observed_fixture f;
        f.run(f.client->fetch_token(ws));
        f.log->take();
        f.server.set_fault(endpoint::graphql, answering(429, {}, {}, 1));
        f.run(f.client->graphql(ws, named_query()));
        auto events = f.log->take();
        REQUIRE(events.size() == 2);
        CHECK(events[0].e.http_status == 429);
        CHECK(events[0].e.retry);
        CHECK(events[0].e.reason == glue::retry_reason::throttled);
        CHECK(events[0].e.retry_delay > 0ns);
        CHECK(events[1].e.http_status == 200);
        CHECK(events[1].e.attempt == 2);
        CHECK(events[1].e.last);
        // The workspace's pause and the call's backoff overlap: the attempt waited in one or
        // the other, at least as long as the backoff it was told.
        CHECK(events[1].e.time.backoff + events[1].e.time.throttle_wait >=
              events[0].e.retry_delay - 1ms);
        check_time_split(events[1].e);
        CHECK(f.client->metrics().retried(glue::retry_reason::throttled) == 1);
    }

    TEST_CASE("503s answered: two retries, then the call fails with the last") {
        observed_fixture f;
        f.run(f.client->fetch_token(ws));
        f.log->take();
        f.server.set_fault(endpoint::graphql, answering(503, {}, {}, -1));
        glue::graphql_request req = named_query();
        req.retry_attempts = 3;
        auto e = f.error_of(f.client->graphql(ws, req));
        CHECK(e.code() == errc::server_error);
        auto events = f.log->take();
        REQUIRE(events.size() == 3);
        for (unsigned i = 0; i < 3; ++i) {
            CAPTURE(i);
            CHECK(events[i].e.attempt == i + 1);
            CHECK(events[i].e.http_status == 503);
            CHECK(events[i].e.retry == (i < 2));
            CHECK(events[i].e.last == (i == 2));
        }
        CHECK(events[0].e.reason == glue::retry_reason::unavailable);
        CHECK(events[1].e.time.backoff > 0ns);
        CHECK(events[2].e.error == errc::server_error); // the call's failure, on its last event
        const auto m = f.client->metrics();
        CHECK(m.attempts == 3);
        CHECK(m.retried(glue::retry_reason::unavailable) == 2);
        CHECK(m.ended(glue::call_outcome::server_error) == 1);
    }

    TEST_CASE("a kept-alive connection closed under the request: sent again inside the attempt") {
        observed_fixture f;
        f.run(f.client->fetch_token(ws));
        f.log->take();
        f.server.set_fault(endpoint::graphql, misbehaving(fault::kind::close_without_response, 1));
        f.run(f.client->graphql(ws, named_query()));
        auto events = f.log->take();
        REQUIRE(events.size() == 1); // the pool's resend is not a retry of the call
        CHECK(events[0].e.http_status == 200);
        CHECK(events[0].e.new_connection);
        const auto m = f.client->metrics();
        CHECK(m.pool.resends == 1);
        CHECK(m.pool.closed(glue::close_reason::error) == 1);
        CHECK(m.attempts == 1);
    }

    TEST_CASE("a transport failure retried: network") {
        observed_fixture f;
        f.run(f.client->fetch_token(ws));
        f.log->take();
        // The first closes the kept-alive connection (sent again on a new one, which the second
        // closes too): the call's first attempt fails, its retry succeeds.
        f.server.set_fault(endpoint::graphql, misbehaving(fault::kind::close_without_response, 2));
        f.run(f.client->graphql(ws, named_query()));
        auto events = f.log->take();
        REQUIRE(events.size() == 2);
        CHECK(events[0].e.http_status == 0);
        CHECK(events[0].e.error);
        CHECK(events[0].e.sent);
        CHECK(events[0].e.retry);
        CHECK(events[0].e.reason == glue::retry_reason::network);
        CHECK(events[1].e.http_status == 200);
        CHECK(events[1].e.new_connection); // the first one was closed
        CHECK(f.client->metrics().pool.closed(glue::close_reason::error) +
                  f.client->metrics().pool.closed(glue::close_reason::server_close) >=
              1);
    }

    TEST_CASE("a cancellation: one last event, operation_aborted, the connection closed") {
        observed_fixture f;
        f.run(f.client->fetch_token(ws));
        f.log->take();
        f.server.set_fault(endpoint::graphql, delayed(20s, 1));
        asio::cancellation_signal signal;
        std::optional<glue::error_code> got;
        f.client->async_graphql(
            ws, named_query(),
            asio::bind_cancellation_slot(
                signal.slot(), [&](glue::error_code ec, glue::graphql_response) { got = ec; }));
        asio::steady_timer later(f.ioc, 200ms);
        later.async_wait([&](glue::error_code) { signal.emit(asio::cancellation_type::terminal); });
        run_until(
            f.ioc, [&] { return got.has_value(); }, 10s);
        CHECK(*got == asio::error::operation_aborted);
        auto events = f.log->take();
        REQUIRE(events.size() == 1);
        CHECK(events[0].e.error == asio::error::operation_aborted);
        CHECK(events[0].e.sent);
        CHECK(events[0].e.last);
        CHECK(!events[0].e.retry);
        CHECK(events[0].e.time.exchange >= 150ms);
        const auto m = f.client->metrics();
        CHECK(m.ended(glue::call_outcome::cancelled) == 1);
        CHECK(m.pool.closed(glue::close_reason::cancelled) == 1);
        CHECK(m.pool.open == 0);
    }

    TEST_CASE("a timeout: one last event with errc::timeout") {
        observed_fixture f;
        f.run(f.client->fetch_token(ws));
        f.log->take();
        f.server.set_fault(endpoint::graphql, delayed(20s, 1));
        glue::graphql_request req = named_query();
        req.timeout = 300ms;
        auto e = f.error_of(f.client->graphql(ws, req));
        CHECK(e.code() == errc::timeout);
        auto events = f.log->take();
        REQUIRE(events.size() == 1);
        CHECK(events[0].e.error == errc::timeout);
        CHECK(events[0].e.last);
        CHECK(events[0].e.time.exchange >= 250ms);
        const auto m = f.client->metrics();
        CHECK(m.ended(glue::call_outcome::timeout) == 1);
        CHECK(m.pool.closed(glue::close_reason::cancelled) == 1);
    }

    TEST_CASE("a call refused before sending: an event that says nothing was sent") {
        observed_fixture f([](glue::client_config& c) {
            c.max_requests_per_second = 1;
            c.rate_limit_burst = 1;
        });
        f.run(f.client->fetch_token(ws));
        f.run(f.client->graphql(ws, named_query())); // takes the one turn
        f.log->take();
        glue::graphql_request req = named_query();
        req.timeout = 100ms;
        auto e = f.error_of(f.client->graphql(ws, req));
        CHECK(e.code() == errc::rate_limited);
        auto events = f.log->take();
        REQUIRE(events.size() == 1);
        CHECK(!events[0].e.sent);
        CHECK(events[0].e.error == errc::rate_limited);
        CHECK(events[0].e.bytes_sent == 0);
        CHECK(events[0].e.last);
        const auto m = f.client->metrics();
        CHECK(m.attempts == 1); // the first call's only
        CHECK(m.ended(glue::call_outcome::rate_limited) == 1);
    }

    TEST_CASE("bad input is counted as a call, with no event") {
        observed_fixture f;
        CHECK(f.error_of(f.client->graphql("not a workspace id", named_query())).code() ==
              errc::invalid_argument);
        CHECK(f.log->take().empty());
        CHECK(f.client->metrics().ended(glue::call_outcome::invalid_argument) == 1);
        CHECK(f.server.requests() == 0);
    }

    TEST_CASE("collect_metrics off: the pool's figures only") {
        observed_fixture f([](glue::client_config& c) { c.collect_metrics = false; });
        f.run(f.client->graphql(ws, named_query()));
        const auto m = f.client->metrics();
        CHECK(m.calls == 0);
        CHECK(m.call_duration.count == 0);
        CHECK(m.pool.connects == 1);
        CHECK(f.log->take().size() == 2); // events don't depend on it
    }

    TEST_CASE("no event once the client is shut down, though its calls end after") {
        auto gone = std::make_shared<std::atomic<bool>>(false);
        auto late = std::make_shared<std::atomic<int>>(0);
        client_fixture f({}, [&](glue::client_config& c) {
            c.on_request_event = [gone, late](const request_event&) {
                if (*gone) {
                    ++*late;
                }
            };
        });
        f.run(f.client->fetch_token(ws));
        f.server.set_fault(endpoint::graphql, delayed(20s, 1));
        std::optional<glue::error_code> got;
        f.client->async_graphql(ws, named_query(),
                                [&](glue::error_code ec, glue::graphql_response) { got = ec; });
        f.ioc.run_for(100ms);
        *gone = true;
        f.client.reset(); // the call in flight ends with operation_aborted, later
        run_until(
            f.ioc, [&] { return got.has_value(); }, 10s);
        CHECK(*got == asio::error::operation_aborted);
        CHECK(*late == 0);
    }

    TEST_CASE("no event carries a secret: the client secret, a token, a variable's value, the "
              "query") {
        observed_fixture f;
        const std::string token = f.run(f.client->fetch_token(ws)).value;
        const std::string variable_value = "a-variable-value-that-is-private";
        glue::graphql_request req("query Who($note: String) { me { id } }");
        req.operation_name = "Who";
        req.variables["note"] = variable_value;
        f.run(f.client->graphql(ws, req)); // a plain call
        f.server.revoke_tokens(ws);
        f.run(f.client->graphql(ws, req)); // a 401, its refetch and second request
        f.server.set_fault(endpoint::graphql, answering(429, {}, {}, 1));
        f.run(f.client->graphql(ws, req)); // a throttled one
        f.server.set_fault(endpoint::graphql, answering(400, {}, {}, 1));
        f.error_of(f.client->graphql(ws, req)); // a rejected one
        glue::graphql_request own = req;
        own.access_token = token; // revoked by now: a 401 with the caller's own token
        f.error_of(f.client->graphql(ws, own));
        const auto events = f.log->take();
        CHECK(events.size() >= 8);
        for (const auto& s : events) {
            std::string all = s.workspace + "|" + s.operation + "|" + s.request_id;
            for (const auto& h : s.headers) {
                all += "|" + h.name + ":" + h.value;
            }
            all += "|" + s.e.error.message();
            CAPTURE(all);
            for (const std::string& secret :
                 {f.cfg.client_secret, token, variable_value, req.query}) {
                CHECK(all.find(secret) == std::string::npos);
            }
        }
    }
}

TEST_SUITE("observability") {
    TEST_CASE("latency_histogram: quantiles inside their buckets") {
        glue::latency_histogram h;
        CHECK(h.quantile(0.5) == 0);
        // 90 durations in (1 ms, 2 ms], 10 in (100 ms, 200 ms].
        h.buckets[7] = 90;  // bounds[7] = 2 ms
        h.buckets[13] = 10; // bounds[13] = 200 ms
        h.count = 100;
        CHECK(h.quantile(0.5) > 1e-3);
        CHECK(h.quantile(0.5) <= 2e-3);
        CHECK(h.quantile(0.9) <= 2e-3);
        CHECK(h.quantile(0.99) > 100e-3);
        CHECK(h.quantile(0.99) <= 200e-3);
        CHECK(h.quantile(1.0) == doctest::Approx(200e-3));
        h.buckets.back() = 100; // above every bound
        h.count = 200;
        CHECK(h.quantile(0.99) == glue::latency_histogram::bounds.back());
    }
}
