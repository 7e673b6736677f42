// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// call_trace on its own: which events it emits and when (an attempt's event waits for the
// decision after it, the last one for the call's outcome), what it counts, and the saturating
// difference of time points it times with. Times are passed in: no clock is read here.

#include "client/call_trace.hpp"
#include "support/saturating.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <limits>
#include <vector>

namespace {

namespace gd = glue::detail;
using namespace std::chrono_literals;
using glue::request_event;

struct trace_harness {
    std::vector<request_event> events;
    glue::request_event_hook hook = [this](const request_event& e) { events.push_back(e); };
    gd::hook_gate gate;
    gd::call_metrics metrics;
    gd::steady_time t0 = gd::steady_time(1h);

    gd::trace_sink sink; // a trace holds on to it

    gd::call_trace make(bool with_hook = true, bool with_metrics = true) {
        sink = {};
        if (with_hook) {
            sink.hook = &hook;
            sink.gate = &gate;
        }
        sink.metrics = with_metrics ? &metrics : nullptr;
        return gd::call_trace(sink, request_event::endpoint::graphql, "wks_A", "Op", t0);
    }

    // The pool wrote a request and read an answer, ending at `at`.
    static void exchanged(gd::call_trace& t, gd::steady_time at) {
        gd::send_trace s;
        s.written = true;
        s.bytes_sent = 100;
        s.bytes_received = 50;
        s.exchange = 2ms;
        s.ended_at = at;
        t.absorb(s);
    }
};

gd::http_response answer(unsigned status) {
    gd::http_response r;
    r.status = status;
    r.captured.push_back({"x-request-id", "req_7"});
    return r;
}

} // namespace

TEST_SUITE("call trace") {
    TEST_CASE("a retried attempt is told when the retry is decided; the last when the call ends") {
        trace_harness h;
        auto t = h.make();
        t.add_token_wait(3ms);
        trace_harness::exchanged(t, h.t0 + 5ms);
        const auto r503 = answer(503);
        t.ended(&r503, {}, h.t0 + 5ms);
        CHECK(h.events.empty()); // what follows is not known yet
        t.then({true, glue::retry_reason::unavailable, 40ms});
        REQUIRE(h.events.size() == 1);
        CHECK(h.events[0].attempt == 1);
        CHECK(h.events[0].http_status == 503);
        CHECK(h.events[0].retry);
        CHECK(h.events[0].reason == glue::retry_reason::unavailable);
        CHECK(h.events[0].retry_delay == 40ms);
        CHECK(!h.events[0].last);
        CHECK(h.events[0].time.token_wait == 3ms);
        CHECK(h.events[0].time.total == 5ms);
        CHECK(h.events[0].bytes_sent == 100);

        t.add_backoff(40ms);
        trace_harness::exchanged(t, h.t0 + 50ms);
        const auto r200 = answer(200);
        t.ended(&r200, {}, h.t0 + 50ms);
        t.then({});
        CHECK(h.events.size() == 1); // the last attempt waits for the call's outcome
        t.finish(make_error_code(glue::errc::graphql_error));
        REQUIRE(h.events.size() == 2);
        CHECK(h.events[1].attempt == 2);
        CHECK(h.events[1].last);
        CHECK(h.events[1].error == glue::errc::graphql_error);
        CHECK(h.events[1].time.backoff == 40ms);
        CHECK(h.events[1].time.token_wait == 0ms); // each attempt's parts are its own
        CHECK(h.events[1].time.total == 45ms);

        const auto m = h.metrics.snapshot();
        CHECK(m.calls == 1);
        CHECK(m.attempts == 2);
        CHECK(m.retried(glue::retry_reason::unavailable) == 1);
        CHECK(m.ended(glue::call_outcome::graphql_error) == 1);
        CHECK(m.exchange_duration.count == 2);
        CHECK(m.exchange_duration.buckets[7] == 2); // 2 ms: the (1 ms, 2 ms] bucket
    }

    TEST_CASE("an attempt that sent nothing says so") {
        trace_harness h;
        auto t = h.make();
        t.ended(nullptr, make_error_code(glue::errc::rate_limited), h.t0 + 1ms);
        t.finish(make_error_code(glue::errc::rate_limited));
        REQUIRE(h.events.size() == 1);
        CHECK(!h.events[0].sent);
        CHECK(h.events[0].bytes_sent == 0);
        CHECK(h.metrics.snapshot().attempts == 0);
        CHECK(h.metrics.snapshot().ended(glue::call_outcome::rate_limited) == 1);
    }

    TEST_CASE("no hook: no event; no metrics: nothing counted; a closed gate: no hook") {
        trace_harness h;
        {
            auto t = h.make(false, true);
            trace_harness::exchanged(t, h.t0 + 1ms);
            t.ended(nullptr, {}, h.t0 + 1ms);
            t.finish({});
        }
        CHECK(h.events.empty());
        CHECK(h.metrics.snapshot().calls == 1);
        {
            auto t = h.make(true, false);
            t.ended(nullptr, {}, h.t0 + 1ms);
            h.gate.close(); // the client shut down meanwhile
            t.finish({});
        }
        CHECK(h.events.empty());
        CHECK(h.metrics.snapshot().calls == 1);
    }

    TEST_CASE("saturating_sub: differences of extreme time points clamp") {
        using tp = gd::steady_time;
        CHECK(gd::saturating_sub(tp::max(), tp::min()) == tp::duration::max());
        CHECK(gd::saturating_sub(tp::min(), tp::max()) == tp::duration::min());
        CHECK(gd::saturating_sub(tp(5s), tp(2s)) == 3s);
        CHECK(gd::saturating_sub(tp(2s), tp(5s)) == -3s);
        CHECK(gd::saturating_sub(tp::max(), tp(0s)) == tp::duration::max());
    }
}
