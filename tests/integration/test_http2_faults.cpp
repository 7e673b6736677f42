// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The client over HTTP/2 against the mock server speaking it (mock_server_options::http2 on
// TLS, ALPN h2), with the mock's HTTP/2 faults: many calls over one connection, GOAWAY and
// REFUSED_STREAM with mutations in flight, the server's stream limit, a stalled stream at its
// deadline, a cancelled call's RST_STREAM, and the secret scan. Token and GraphQL requests share
// the connections; everything is asserted through the mock's and the pool's counters.

#include "support/client_fixture.hpp"
#include "support/secret_scan.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace glue::test;

namespace {

// RFC 9113 §7's error codes, as http2_stats() counts them.
constexpr std::uint32_t h2f_refused_stream = 7;
constexpr std::uint32_t h2f_cancel = 8;

/// The mock over TLS offering h2, which the client's default (http2_mode::automatic) takes.
glue::testing::mock_server_options h2f_options() {
    glue::testing::mock_server_options o;
    o.tls = true;
    o.http2 = true;
    return o;
}

/// Retries without a noticeable backoff: a call sent again doesn't wait.
void h2f_quick(glue::client_config& c) {
    c.graphql_retry_base_delay = 1ms;
    c.graphql_retry_max_delay = 2ms;
    c.token_retry_base_delay = 1ms;
}

const glue::graphql_request h2f_query("{ me { id } }");

/// A sendMessage mutation with text of its own, so that one sent twice is a mock repeat.
glue::graphql_request h2f_mutation(int n) {
    return {"mutation($in: SendMessageInput!) { sendMessage(input: $in) { message { id } } }",
            {{"in", {{"threadID", "thr_1"}, {"message", {{"text", "h2 " + std::to_string(n)}}}}}}};
}

/// How a GraphQL call of the test ended. Its handler holds it too: a call still running when a
/// failed test unwinds (the fixture then completes it) writes into live memory.
struct h2f_end {
    bool done = false;
    glue::error_code ec;
};

/// A GraphQL call of the test.
struct h2f_call {
    explicit h2f_call(glue::graphql_request r) : req(std::move(r)) {}

    bool done() const { return end->done; }
    glue::error_code ec() const { return end->ec; }

    glue::graphql_request req;
    std::shared_ptr<h2f_end> end = std::make_shared<h2f_end>();
};

/// `n` calls of `req`.
std::vector<h2f_call> h2f_calls(std::size_t n, const glue::graphql_request& req) {
    std::vector<h2f_call> calls;
    calls.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        calls.emplace_back(req);
    }
    return calls;
}

/// Starts `c` on the client; `slot` may cancel it.
void h2f_start(client_fixture& f, const h2f_call& c, asio::cancellation_slot slot = {}) {
    f.client->async_graphql(
        ws, c.req,
        asio::bind_cancellation_slot(
            slot, [end = c.end](glue::error_code ec, const glue::graphql_response&) {
                end->ec = ec;
                end->done = true;
            }));
}

/// Starts every call of `calls` at once.
void h2f_start_all(client_fixture& f, const std::vector<h2f_call>& calls) {
    for (const auto& c : calls) {
        h2f_start(f, c);
    }
}

/// The server (whose stream limit is `limit`) neither refused a stream beyond it nor ended a
/// connection for one.
void h2f_check_limit_kept(const client_fixture& f, std::size_t limit) {
    const auto h2 = f.server.http2_stats();
    CHECK(h2.max_concurrent_streams == limit);
    CHECK(h2.streams_refused == 0);
    CHECK(h2.goaways_sent_with_error == 0);
}

/// Runs the client until every call of `calls` has ended; each must have succeeded.
void h2f_finish_ok(client_fixture& f, std::vector<h2f_call>& calls) {
    run_until(f.ioc, [&] {
        return std::all_of(calls.begin(), calls.end(), [](const h2f_call& c) { return c.done(); });
    });
    for (std::size_t i = 0; i < calls.size(); ++i) {
        CAPTURE(i);
        CAPTURE(calls[i].ec().message());
        CHECK(!calls[i].ec());
    }
}

/// `n` calls at once, the odd ones mutations (each of its own), all of which must succeed.
std::vector<h2f_call> h2f_mixed_run(client_fixture& f, int n) {
    std::vector<h2f_call> calls;
    calls.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        calls.emplace_back(i % 2 == 1 ? h2f_mutation(i) : h2f_query);
    }
    h2f_start_all(f, calls);
    h2f_finish_ok(f, calls);
    return calls;
}

/// Starts `held`, whose answer will stall after its headers (the graphql fault, set here for one
/// request), and runs the client until the server has it.
void h2f_start_stalled(client_fixture& f, h2f_call& held, asio::cancellation_slot slot = {}) {
    f.server.set_fault(endpoint::graphql, misbehaving(fault::kind::stall_after_headers, 1));
    const auto before = f.server.graphql_requests();
    h2f_start(f, held, slot);
    run_until(f.ioc, [&] { return f.server.graphql_requests() == before + 1; });
}

/// 20 queries on the client while another call's stream hangs: they all succeed.
void h2f_others_go_on(client_fixture& f) {
    auto others = h2f_calls(20, h2f_query);
    h2f_start_all(f, others);
    h2f_finish_ok(f, others);
}

/// The RST_STREAMs of `resets` (http2_stats()'s, by error code) with `code`.
std::size_t h2f_resets(const std::map<std::uint32_t, std::size_t>& resets, std::uint32_t code) {
    const auto it = resets.find(code);
    return it == resets.end() ? 0 : it->second;
}

/// RST_STREAMs the server received with `code`.
std::size_t h2f_resets_received(const client_fixture& f, std::uint32_t code) {
    return h2f_resets(f.server.http2_stats().resets_received, code);
}

} // namespace

TEST_SUITE("http2 faults") {

    TEST_CASE("200 calls at once: one connection, one TLS handshake, one token request") {
        auto o = h2f_options();
        o.http2_max_concurrent_streams = 256; // room for all of them on one connection
        client_fixture f(o);
        // Each answer waits, so the calls are in flight together: more than the 100 streams a
        // client assumes before the server's SETTINGS say otherwise.
        f.server.set_fault(endpoint::graphql, delayed(250ms));
        auto calls = h2f_calls(200, h2f_query);
        h2f_start_all(f, calls);
        h2f_finish_ok(f, calls);
        const auto h2 = f.server.http2_stats();
        CHECK(f.server.connections_accepted() == 1);
        CHECK(f.server.open_connections() == 1);
        CHECK(f.server.tls_handshakes() == 1);
        CHECK(h2.tls_handshakes_h2 == 1);
        CHECK(h2.connections == 1);
        CHECK(h2.streams_opened == 201); // the token request's stream and the calls'
        CHECK(h2.max_concurrent_streams > 100);
        CHECK(f.server.token_requests() == 1);
        CHECK(f.server.graphql_requests() == 200);
        const auto pool = f.client->metrics().pool;
        CHECK(pool.connects == 1);
        CHECK(pool.tls_handshakes == 1);
        CHECK(pool.open == 1);
        CHECK(pool.http2 == 1);
        CHECK(pool.resends == 0);
    }

    TEST_CASE("GOAWAY mid-run: no call lost, no mutation run twice, another connection") {
        auto o = h2f_options();
        o.http2_goaway_after_streams = 16; // the token request's stream, then 15 of the calls'
        client_fixture f(o, h2f_quick);
        f.run(f.client->fetch_token(ws));
        h2f_mixed_run(f, 40);
        CHECK(f.server.http2_stats().goaways_sent >= 1);
        CHECK(f.server.mutations_executed() == 20);
        CHECK(f.server.messages_created(ws) == 20);
        CHECK(f.server.mutation_repeats() == 0);
        CHECK(f.server.graphql_executions("") == 40);
        CHECK(f.server.connections_accepted() >= 2);
        const auto pool = f.client->metrics().pool;
        CHECK(pool.resends >= 1); // calls past the GOAWAY went again
        CHECK(pool.connects >= 2);
        CHECK(f.server.token_requests() == 1);
    }

    TEST_CASE("REFUSED_STREAM: a refused mutation goes again and runs once") {
        auto o = h2f_options();
        o.http2_refuse_every = 2; // the token request's stream goes, the mutation's is refused
        client_fixture f(o, h2f_quick);
        f.run(f.client->fetch_token(ws));
        CHECK(f.run(f.client->graphql(ws, h2f_mutation(1))).data.is_object());
        const auto h2 = f.server.http2_stats();
        CHECK(h2.streams_refused == 1);
        CHECK(h2f_resets(h2.resets_sent, h2f_refused_stream) == 1);
        CHECK(h2.streams_opened == 3);
        CHECK(f.server.graphql_requests() == 1); // the refused stream never reached it
        CHECK(f.server.mutations_executed() == 1);
        CHECK(f.server.messages_created(ws) == 1);
        CHECK(f.client->metrics().pool.resends == 1);
    }

    TEST_CASE("REFUSED_STREAM: every refused call of a run is sent again, each once") {
        auto o = h2f_options();
        o.http2_refuse_every = 5;
        client_fixture f(o, h2f_quick);
        f.run(f.client->fetch_token(ws));
        h2f_mixed_run(f, 40);
        const auto h2 = f.server.http2_stats();
        CHECK(h2.streams_refused >= 1);
        // Every stream the server saw was a call's (or the token request's) one send: answered
        // once, or refused and sent again.
        CHECK(h2.streams_opened == 1 + 40 + h2.streams_refused);
        CHECK(h2.streams_refused == h2.streams_opened / 5);
        CHECK(h2f_resets(h2.resets_sent, h2f_refused_stream) == h2.streams_refused);
        CHECK(f.server.graphql_requests() == 40);
        CHECK(f.server.mutations_executed() == 20);
        CHECK(f.server.mutation_repeats() == 0);
        CHECK(f.client->metrics().pool.resends >= 1);
    }

    TEST_CASE("the server's limit of 10 streams: never more at once, more connections only when "
              "they run out") {
        auto o = h2f_options();
        o.http2_max_concurrent_streams = 10;
        client_fixture f(o);
        f.run(f.client->fetch_token(ws));
        // Each answer waits, so all 40 calls are in flight together.
        f.server.set_fault(endpoint::graphql, delayed(300ms));
        auto calls = h2f_calls(40, h2f_query);
        h2f_start_all(f, calls);
        h2f_finish_ok(f, calls);
        h2f_check_limit_kept(f, 10);
        CHECK(f.server.connections_accepted() == 4);
        const auto pool = f.client->metrics().pool;
        CHECK(pool.connects == 4);
        CHECK(pool.http2 == 4);
    }

    TEST_CASE("the server's limit of 10 streams with max_connections 1: 40 calls, 10 at a time") {
        auto o = h2f_options();
        o.http2_max_concurrent_streams = 10;
        client_fixture f(o, [](glue::client_config& c) { c.max_connections = 1; });
        f.run(f.client->fetch_token(ws));
        f.server.set_fault(endpoint::graphql, delayed(20ms));
        auto calls = h2f_calls(40, h2f_query);
        h2f_start_all(f, calls);
        std::size_t most_waiting = 0;
        run_until(f.ioc, [&] {
            most_waiting = std::max(most_waiting, f.client->metrics().pool.waiting);
            return std::all_of(calls.begin(), calls.end(),
                               [](const h2f_call& c) { return c.done(); });
        });
        h2f_finish_ok(f, calls);
        h2f_check_limit_kept(f, 10);
        CHECK(f.server.connections_accepted() == 1);
        CHECK(f.client->metrics().pool.connects == 1);
        CHECK(most_waiting > 0); // the calls beyond the streams waited for one
    }

    TEST_CASE("a stalled answer hits its call's deadline: that stream alone is reset") {
        client_fixture f(h2f_options());
        f.run(f.client->fetch_token(ws));
        h2f_call held{h2f_query};
        held.req.timeout = 300ms;
        held.req.retry_attempts = 1;
        h2f_start_stalled(f, held);
        h2f_others_go_on(f);
        run_until(f.ioc, [&] { return held.done(); });
        CHECK(held.ec() == errc::timeout);
        run_until(f.ioc, [&] { return h2f_resets_received(f, h2f_cancel) == 1; });
        CHECK(f.server.http2_stats().resets_received.size() == 1);
        // The connection carries on.
        CHECK(f.run(f.client->graphql(ws, h2f_query)).data.is_object());
        CHECK(f.server.connections_accepted() == 1);
        const auto pool = f.client->metrics().pool;
        CHECK(pool.connects == 1);
        CHECK(pool.closed(glue::close_reason::cancelled) == 0);
    }

    TEST_CASE("a request body the server grants no window hits the call's deadline, unprocessed") {
        auto o = h2f_options();
        o.http2_stall_request_bodies = true;
        client_fixture f(o);
        // The token request's body would stall as well: a token of the test's own instead.
        glue::graphql_request stalled(h2f_query);
        stalled.access_token = "token-of-the-test";
        stalled.timeout = 300ms;
        for (int i = 1; i <= 2; ++i) {
            CAPTURE(i);
            CHECK(f.error_of(f.client->graphql(ws, stalled)).code() == errc::timeout);
            run_until(f.ioc, [&] { return h2f_resets_received(f, h2f_cancel) == std::size_t(i); });
        }
        CHECK(f.server.graphql_requests() == 0);
        CHECK(f.server.connections_accepted() == 1); // the second went on the same connection
        CHECK(f.client->metrics().pool.connects == 1);
    }

    TEST_CASE("a cancelled call resets its stream alone (CANCEL): the others and the connection "
              "go on") {
        client_fixture f(h2f_options());
        f.run(f.client->fetch_token(ws));
        h2f_call held{h2f_query};
        asio::cancellation_signal cancel;
        h2f_start_stalled(f, held, cancel.slot());
        h2f_others_go_on(f);
        CHECK(!held.done());
        cancel.emit(asio::cancellation_type::terminal);
        run_until(f.ioc, [&] { return held.done(); });
        CHECK(held.ec() == asio::error::operation_aborted);
        run_until(f.ioc, [&] { return h2f_resets_received(f, h2f_cancel) == 1; });
        CHECK(f.server.http2_stats().resets_received.size() == 1);
        CHECK(f.run(f.client->graphql(ws, h2f_query)).data.is_object());
        CHECK(f.server.connections_accepted() == 1);
        CHECK(f.server.open_connections() == 1);
        const auto pool = f.client->metrics().pool;
        CHECK(pool.connects == 1);
        CHECK(pool.closed(glue::close_reason::cancelled) == 0);
    }

    TEST_CASE("the secret scan over HTTP/2, with a refused stream, a GOAWAY and a deadline") {
        transcript said;
        auto scanned = [&said](glue::testing::mock_server_options o) {
            o.client_secret = scan_secret;
            return std::make_unique<client_fixture>(o, [&said](glue::client_config& c) {
                said.listen(c);
                h2f_quick(c);
            });
        };
        auto f = scanned(h2f_options());
        auto tokens = run_secret_scenarios(*f, said);
        CHECK(tokens.size() == 2);
        CHECK(f->server.http2_stats().tls_handshakes_http1 == 0); // everything went over h2

        // A deadline: an answer stalled after its headers.
        {
            h2f_call held{h2f_query};
            held.req.timeout = 300ms;
            held.req.retry_attempts = 1;
            h2f_start_stalled(*f, held);
            run_until(f->ioc, [&] { return held.done(); });
            CHECK(held.ec() == errc::timeout);
            said.add(held.ec().message());
            glue::graphql_request late(h2f_query);
            late.timeout = 300ms;
            f->server.set_fault(endpoint::graphql, misbehaving(fault::kind::stall_after_headers));
            said.add(f->error_of(f->client->graphql(ws, late)));
            f->server.clear_faults();
        }
        // Refused streams: a server that refuses every one, to the token request and to a call
        // with a token of its own, until they give up.
        {
            auto o = h2f_options();
            o.http2_refuse_every = 1;
            auto refusing = scanned(o);
            said.add(refusing->error_of(refusing->client->fetch_token(ws)));
            glue::graphql_request mine = h2f_mutation(1);
            mine.access_token = tokens.back();
            said.add(refusing->error_of(refusing->client->graphql(ws, mine)));
            CHECK(refusing->server.http2_stats().streams_refused >= 2);
        }
        // GOAWAYs: a server that goes away after every second stream, with calls in flight.
        {
            auto o = h2f_options();
            o.http2_goaway_after_streams = 2;
            auto leaving = scanned(o);
            const auto t = leaving->run(leaving->client->fetch_token(ws));
            tokens.push_back(t.value);
            h2f_mixed_run(*leaving, 10);
            CHECK(leaving->client->metrics().pool.resends >= 1);
            CHECK(leaving->server.mutation_repeats() == 0);
        }
        check_no_secret(said, tokens);
    }
}
