// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// A misbehaving server: every call ends with a result or the right typed error, never a crash
// or a hang. Over 500 lines: one suite of many small cases, one per fault (tests/FAULTS.md).

#include "support/client_fixture.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <thread>

namespace asio = boost::asio;
using namespace glue::test;

namespace {

/// A client configuration for a server of the test's own on 127.0.0.1.
glue::client_config config_for(std::string_view scheme, std::uint16_t port) {
    glue::client_config cfg;
    cfg.api_url = std::string(scheme) + "://127.0.0.1:" + std::to_string(port);
    cfg.client_id = "id";
    cfg.client_secret = "secret";
    return cfg;
}

using clock_type = std::chrono::steady_clock;

/// How long `f` takes.
template <class F>
clock_type::duration time_of(F&& f) {
    const auto start = clock_type::now();
    f();
    return clock_type::now() - start;
}

/// A query whose answer is a few hundred bytes.
const glue::graphql_request groups_query("{ groups { nodes { id name } } }");

/// A sendMessage mutation succeeds, sent once, and `connections` have been accepted by then.
void check_mutation_sent_once(client_fixture& f, std::size_t connections) {
    const auto requests = f.server.graphql_requests();
    glue::graphql_request send{
        "mutation($in: SendMessageInput!) { sendMessage(input: $in) { message { id } } }",
        {{"in", {{"threadID", "thr_1"}, {"message", {{"text", "hi"}}}}}}};
    CHECK(f.run(f.client->graphql(ws, std::move(send))).data.is_object());
    CHECK(f.server.graphql_requests() == requests + 1);
    CHECK(f.server.messages_created(ws) == 1);
    CHECK(f.server.connections_accepted() == connections);
}

} // namespace

TEST_SUITE("faults") {

    TEST_CASE("broken GraphQL responses are typed errors") {
        client_fixture f({}, [](glue::client_config& c) { c.max_response_body_bytes = 1 << 20; });
        f.run(f.client->fetch_token(ws)); // the token endpoint is fine
        struct broken {
            fault::kind kind;
            glue::error_code expected;
        };
        const broken cases[] = {
            {fault::kind::malformed_json, errc::bad_response},
            {fault::kind::truncated_body, errc::bad_response},
            {fault::kind::oversized_body, errc::bad_response},
            {fault::kind::close_after_headers, errc::bad_response},
            {fault::kind::oversized_headers, errc::bad_response},
            {fault::kind::close_without_response, asio::error::eof},
        };
        for (const auto& c : cases) {
            CAPTURE(static_cast<int>(c.kind));
            f.server.set_fault(endpoint::graphql, misbehaving(c.kind));
            auto e = f.error_of(f.client->graphql(ws, {"{ me { id } }"}));
            CHECK(e.code() == c.expected);
        }
        f.server.clear_faults();
        CHECK(f.run(f.client->graphql(ws, {"{ me { id } }"})).data.is_object()); // still usable
    }

    TEST_CASE_FIXTURE(
        client_fixture,
        "a broken token response is retried, then a typed error once retries run out") {
        int n = 0;
        for (auto kind : {fault::kind::malformed_json, fault::kind::truncated_body,
                          fault::kind::oversized_body, fault::kind::oversized_headers}) {
            CAPTURE(static_cast<int>(kind));
            const auto before = server.token_requests();
            server.set_fault(endpoint::token, misbehaving(kind, 1));
            CHECK(run(client->fetch_token("wks_t" + std::to_string(++n))).token_type == "Bearer");
            CHECK(server.token_requests() == before + 2);
            server.set_fault(endpoint::token, misbehaving(kind, 3)); // every attempt
            auto e = error_of(client->fetch_token("wks_t" + std::to_string(++n)));
            CHECK(e.code() == errc::bad_response);
            CHECK(server.token_requests() == before + 5);
        }
    }

    TEST_CASE_FIXTURE(client_fixture, "HTTP statuses map to typed errors with their details") {
        run(client->fetch_token(ws));
        struct mapping {
            int status;
            glue::error_code expected;
        };
        const mapping cases[] = {
            {500, errc::server_error}, {502, errc::server_error}, {503, errc::server_error},
            {504, errc::server_error}, {429, errc::rate_limited}, {403, errc::forbidden},
            {400, errc::graphql_error}};             // the mock's bodies are GraphQL envelopes
        glue::graphql_request once("{ me { id } }"); // the mapping, not the retries
        once.retry_attempts = 1;
        for (const auto& c : cases) {
            CAPTURE(c.status);
            server.set_fault(endpoint::graphql, answering(c.status, "7"));
            auto e = error_of(client->graphql(ws, once));
            CHECK(e.code() == c.expected);
            CHECK(e.http_status() == c.status);
            CHECK(e.details()->retry_after == 7s);
        }
        server.set_fault(endpoint::graphql, answering(418, {}, "I'm a teapot"));
        auto e = error_of(client->graphql(ws, {"{ me { id } }"}));
        CHECK(e.code() == errc::http_error);
        CHECK(e.graphql_errors().empty());
    }

    TEST_CASE_FIXTURE(client_fixture, "the token endpoint's statuses map to typed errors") {
        server.set_fault(endpoint::token, answering(500));
        CHECK(error_of(client->fetch_token(ws)).code() == errc::server_error);
        server.set_fault(endpoint::token, answering(429, "30"));
        auto e = error_of(client->fetch_token("wks_b"));
        CHECK(e.code() == errc::rate_limited);
        CHECK(e.details()->retry_after == 30s);
    }

    TEST_CASE_FIXTURE(client_fixture, "a redirect from the token endpoint is not followed") {
        fault redirect = answering(302, {}, "{}");
        server.set_fault(endpoint::token, redirect);
        // The mock can't add a Location header, but none would be followed: one request, no more.
        auto e = error_of(client->fetch_token(ws));
        CHECK(e.code() == errc::http_error);
        CHECK(e.http_status() == 302);
        CHECK(server.requests() == 1);
    }

    TEST_CASE("a slow server hits the call's deadline") {
        client_fixture f({}, [](glue::client_config& c) { c.request_timeout = 300ms; });
        fault slow;
        slow.delay = 3s;
        SUBCASE("GraphQL") {
            f.run(f.client->fetch_token(ws));
            f.server.set_fault(endpoint::graphql, slow);
            const auto took = time_of([&] {
                CHECK(f.error_of(f.client->graphql(ws, {"{ me { id } }"})).code() == errc::timeout);
            });
            CHECK(took < 300ms + 700ms); // the deadline, not the server, ended it
        }
        SUBCASE("token") {
            f.server.set_fault(endpoint::token, slow);
            const auto took = time_of(
                [&] { CHECK(f.error_of(f.client->fetch_token(ws)).code() == errc::timeout); });
            CHECK(took < 300ms + 700ms);
        }
    }

    TEST_CASE_FIXTURE(client_fixture,
                      "a kept-alive connection the server dropped is retried once, fresh") {
        run(client->graphql(ws, {"{ me { id } }"}));
        CHECK(server.connections_accepted() == 1);
        // The server reads the next request on that connection, then closes it unanswered.
        server.set_fault(endpoint::graphql, misbehaving(fault::kind::close_without_response, 1));
        auto r = run(client->graphql(ws, {"{ me { id } }"}));
        CHECK(r.data.at("me").is_object());
        CHECK(server.graphql_requests() == 3);
        CHECK(server.connections_accepted() == 2);
    }

    TEST_CASE("a connection the server closed while idle: neither a query nor a mutation lands "
              "on it") {
        glue::testing::mock_server_options opts;
        opts.idle_timeout = 100ms;
        client_fixture f(opts);
        f.run(f.client->graphql(ws, {"{ me { id } }"}));
        const auto accepted = f.server.connections_accepted();
        std::this_thread::sleep_for(300ms); // the server closes the idle connection

        // Every request peeks at an idle connection first: this one shows EOF, so the query goes
        // on a fresh connection, once.
        CHECK(f.run(f.client->graphql(ws, {"{ me { id } }"})).data.is_object());
        CHECK(f.server.connections_accepted() == accepted + 1);
        std::this_thread::sleep_for(300ms);

        // A mutation that must not go twice never lands on the dead connection either: it is sent
        // once, on a fresh one, and succeeds.
        check_mutation_sent_once(f, accepted + 2);
    }

    TEST_CASE("a TLS connection the server closed while idle, with close_notify: a mutation "
              "avoids it") {
        glue::testing::mock_server_options opts;
        opts.tls = true;
        opts.idle_timeout = 100ms; // then close_notify, then FIN, as TLS servers do
        client_fixture f(opts);
        f.run(f.client->graphql(ws, {"{ me { id } }"}));
        const auto accepted = f.server.connections_accepted();
        std::this_thread::sleep_for(300ms);

        // The close_notify is readable on the idle connection: stale, so the mutation goes out
        // once, on a fresh connection.
        check_mutation_sent_once(f, accepted + 1);
    }

    TEST_CASE_FIXTURE(client_fixture, "a mutation whose fate is unknown is not sent again") {
        run(client->graphql(ws, {"{ me { id } }"}));
        server.set_fault(endpoint::graphql, misbehaving(fault::kind::close_without_response, 1));
        glue::graphql_request send{
            "mutation($in: SendMessageInput!) { sendMessage(input: $in) { message { id } } }",
            {{"in", {{"threadID", "thr_1"}, {"message", {{"text", "hi"}}}}}}};
        auto e = error_of(client->graphql(ws, std::move(send)));
        CHECK(e.code() == asio::error::eof);
        CHECK(server.graphql_requests() == 2);
    }

    TEST_CASE("a server that never finishes the TLS handshake hits connect_timeout") {
        asio::io_context ioc;
        // It listens (so the kernel completes TCP's handshake) but never says a word.
        asio::ip::tcp::acceptor silent(ioc, {asio::ip::make_address("127.0.0.1"), 0});
        auto cfg = config_for("https", silent.local_endpoint().port());
        cfg.connect_timeout = 300ms;
        glue::client c(ioc.get_executor(), cfg);
        try {
            glue::test::run(ioc, c.fetch_token(ws));
            FAIL("expected a failure");
        } catch (const glue::error& e) {
            CHECK(e.code() == errc::timeout);
            CHECK(std::string(e.what()).find("opening a connection") != std::string::npos);
        }
    }

    TEST_CASE("a refused connection fails fast with the transport's code") {
        asio::io_context ioc;
        std::uint16_t port = 0;
        {
            // A port nobody listens on: bound, then released.
            asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
            port = a.local_endpoint().port();
        }
        glue::client c(ioc.get_executor(), config_for("http", port));
        try {
            glue::test::run(ioc, c.fetch_token(ws));
            FAIL("expected a failure");
        } catch (const glue::error& e) {
            CHECK(e.code() == asio::error::connection_refused);
            CHECK(e.http_status() == 0);
        }
    }

    TEST_CASE("a body that trickles in past the deadline is a timeout at the deadline") {
        client_fixture f({}, [](glue::client_config& c) {
            c.request_timeout = 300ms;
            c.token_request_timeout = 300ms;
            c.token_retry_attempts = 1;
        });
        fault trickle = misbehaving(fault::kind::slow_body); // headers at once, then 1 byte/100 ms
        trickle.write_interval = 100ms;
        SUBCASE("GraphQL") {
            f.run(f.client->fetch_token(ws));
            f.server.set_fault(endpoint::graphql, trickle);
            const auto took = time_of([&] {
                CHECK(f.error_of(f.client->graphql(ws, groups_query)).code() == errc::timeout);
            });
            CHECK(took < 300ms + 700ms); // the whole answer would take tens of seconds
            CHECK(f.server.graphql_requests() == 1);
        }
        SUBCASE("token") {
            f.server.set_fault(endpoint::token, trickle);
            const auto took = time_of(
                [&] { CHECK(f.error_of(f.client->fetch_token(ws)).code() == errc::timeout); });
            CHECK(took < 300ms + 700ms);
        }
        SUBCASE("a slow body that ends in time is a success") {
            trickle.write_interval = 1ms;
            f.run(f.client->fetch_token(ws));
            f.server.set_fault(endpoint::graphql, trickle);
            glue::graphql_request patient("{ me { id } }");
            patient.timeout = 5s;
            CHECK(f.run(f.client->graphql(ws, patient)).data.at("me").is_object());
        }
    }

    TEST_CASE("a reset in the middle of the body is the transport's connection_reset") {
        client_fixture f({}, [](glue::client_config& c) {
            c.graphql_retry_base_delay = 1ms;
            c.graphql_retry_max_delay = 1ms;
            c.token_retry_base_delay = 1ms;
        });
        SUBCASE("GraphQL, no retries left") {
            f.run(f.client->fetch_token(ws));
            f.server.set_fault(endpoint::graphql, misbehaving(fault::kind::reset_mid_body));
            glue::graphql_request once("{ me { id } }");
            once.retry_attempts = 1;
            auto e = f.error_of(f.client->graphql(ws, once));
            CHECK(e.code() == asio::error::connection_reset);
            CHECK(e.http_status() == 0);
            CHECK(f.server.graphql_requests() == 1);
        }
        SUBCASE("a query goes again") {
            f.run(f.client->fetch_token(ws));
            f.server.set_fault(endpoint::graphql, misbehaving(fault::kind::reset_mid_body, 1));
            CHECK(f.run(f.client->graphql(ws, {"{ me { id } }"})).data.at("me").is_object());
            CHECK(f.server.graphql_requests() == 2);
        }
        SUBCASE("a mutation that took effect does not") {
            f.run(f.client->fetch_token(ws));
            f.server.set_fault(endpoint::graphql, misbehaving(fault::kind::reset_mid_body, 1));
            glue::graphql_request send{
                "mutation($in: SendMessageInput!) { sendMessage(input: $in) { message { id } } }",
                {{"in", {{"threadID", "thr_1"}, {"message", {{"text", "hi"}}}}}}};
            CHECK(f.error_of(f.client->graphql(ws, std::move(send))).code() ==
                  asio::error::connection_reset);
            CHECK(f.server.graphql_requests() == 1);
            CHECK(f.server.messages_created(ws) == 1);
        }
        SUBCASE("token: retried inside the flight, then the error") {
            f.server.set_fault(endpoint::token, misbehaving(fault::kind::reset_mid_body));
            CHECK(f.error_of(f.client->fetch_token(ws)).code() == asio::error::connection_reset);
            CHECK(f.server.token_requests() == 3); // token_retry_attempts
        }
    }

    TEST_CASE("a header block larger than max_response_header_bytes is bad_response") {
        fault big = misbehaving(fault::kind::oversized_headers);
        big.oversized_bytes = 32 * 1024; // then the normal answer
        SUBCASE("within the limit it is an answer like any other") {
            client_fixture f(
                {}, [](glue::client_config& c) { c.max_response_header_bytes = 128 * 1024; });
            f.run(f.client->fetch_token(ws));
            f.server.set_fault(endpoint::graphql, big);
            CHECK(f.run(f.client->graphql(ws, {"{ me { id } }"})).data.at("me").is_object());
            f.server.set_fault(endpoint::token, big);
            CHECK(f.run(f.client->fetch_token("wks_b")).token_type == "Bearer");
        }
        SUBCASE("beyond it, on both endpoints") {
            client_fixture f({}, [](glue::client_config& c) {
                c.max_response_header_bytes = 16 * 1024;
                c.token_retry_attempts = 1;
            });
            f.run(f.client->fetch_token(ws));
            f.server.set_fault(endpoint::graphql, big);
            auto e = f.error_of(f.client->graphql(ws, {"{ me { id } }"}));
            CHECK(e.code() == errc::bad_response);
            CHECK(f.server.graphql_requests() == 1); // not retried
            f.server.set_fault(endpoint::token, big);
            CHECK(f.error_of(f.client->fetch_token("wks_b")).code() == errc::bad_response);
        }
    }

    TEST_CASE_FIXTURE(
        client_fixture,
        "chunked answers, the last chunk split over two writes, keep the connection") {
        const auto plain_me = run(client->graphql(ws, {"{ me { id } }"})).data;
        const auto plain_groups = run(client->graphql(ws, groups_query)).data;
        CHECK(server.connections_accepted() == 1);

        server.set_fault(endpoint::graphql, misbehaving(fault::kind::chunked));
        for (int i = 0; i < 2; ++i) { // the second on the same connection: nothing was left over
            CHECK(run(client->graphql(ws, {"{ me { id } }"})).data == plain_me);
            CHECK(run(client->graphql(ws, groups_query)).data == plain_groups);
        }
        server.set_fault(endpoint::token, misbehaving(fault::kind::chunked));
        auto t = run(client->fetch_token("wks_b"));
        CHECK(t.value.starts_with("glue_at_"));
        CHECK(t.expires_at > clock_type::now() + 30min);
        server.clear_faults();
        CHECK(run(client->graphql("wks_b", {"{ me { id } }"})).data.at("me").is_object());
        CHECK(server.connections_accepted() == 1);
        CHECK(server.requests() == 9);
    }

    TEST_CASE("401/403/429/500/502/503/504 on both endpoints: the typed error, after the retries "
              "the rules allow") {
        glue::testing::mock_server server;
        struct row {
            endpoint where;
            int status;
            std::string retry_after; // the Retry-After header, if any
            std::string body;        // empty: the mock's (an OAuth error, a GraphQL envelope)
            errc expected;
            std::size_t requests;        // at the endpoint, retries included
            std::size_t token_refetches; // GraphQL 401: the one forced refresh
        };
        // Token endpoint: transient failures (5xx, but a 503 with Retry-After) are retried once
        // (token_retry_attempts = 2). GraphQL: 429, 500, 502, 503 and 504 are retried once
        // (graphql_retry_attempts = 2); a 401 refetches the token and goes again once.
        const row rows[] = {
            {endpoint::token, 401, "", "", errc::oauth_error, 1, 0},
            {endpoint::token, 403, "", "", errc::oauth_error, 1, 0}, // with an OAuth `error`
            {endpoint::token, 403, "", "Forbidden", errc::forbidden, 1, 0},
            {endpoint::token, 429, "1", "", errc::rate_limited, 1, 0},
            {endpoint::token, 500, "", "", errc::server_error, 2, 0},
            {endpoint::token, 502, "", "", errc::server_error, 2, 0},
            {endpoint::token, 503, "", "", errc::server_error, 2, 0},
            {endpoint::token, 503, "1", "", errc::server_error, 1, 0}, // overloaded: not retried
            {endpoint::token, 504, "", "", errc::server_error, 2, 0},
            {endpoint::graphql, 401, "", "", errc::unauthorized, 2, 1},
            {endpoint::graphql, 403, "", "", errc::forbidden, 1, 0},
            {endpoint::graphql, 429, "", "", errc::rate_limited, 2, 0},
            {endpoint::graphql, 429, "0", "", errc::rate_limited, 2, 0},
            {endpoint::graphql, 429, "5", "", errc::rate_limited, 1, 0}, // beyond the deadline
            {endpoint::graphql, 500, "", "", errc::server_error, 2, 0},
            {endpoint::graphql, 502, "", "", errc::server_error, 2, 0},
            {endpoint::graphql, 503, "", "", errc::server_error, 2, 0},
            {endpoint::graphql, 503, "0", "", errc::server_error, 2, 0},
            {endpoint::graphql, 504, "", "", errc::server_error, 2, 0},
        };
        auto cfg = server.client_config();
        cfg.request_timeout = 2s;
        cfg.token_retry_attempts = 2;
        cfg.token_retry_base_delay = 1ms;
        cfg.graphql_retry_attempts = 2;
        cfg.graphql_retry_base_delay = 1ms;
        cfg.graphql_retry_max_delay = 1ms;
        for (const auto& r : rows) {
            const bool token = r.where == endpoint::token;
            CAPTURE(token);
            CAPTURE(r.status);
            CAPTURE(r.retry_after);
            CAPTURE(r.body);
            server.clear_faults();
            asio::io_context ioc;
            glue::client c(ioc.get_executor(), cfg); // a fresh cache: nothing remembered
            if (!token) {
                glue::test::run(ioc, c.fetch_token(ws));
            }
            server.set_fault(r.where, answering(r.status, r.retry_after, r.body));
            server.reset_counters();
            std::optional<glue::error> e;
            const auto took = time_of([&] {
                try {
                    if (token) {
                        glue::test::run(ioc, c.fetch_token(ws), 5s);
                    } else {
                        glue::test::run(ioc, c.graphql(ws, {"{ me { id } }"}), 5s);
                    }
                } catch (const glue::error& err) {
                    e = err;
                }
            });
            REQUIRE(e);
            CHECK(e->code() == r.expected);
            CHECK(e->http_status() == r.status);
            if (!r.retry_after.empty()) {
                CHECK(e->details()->retry_after == std::chrono::seconds(std::stoi(r.retry_after)));
            }
            CHECK((token ? server.token_requests() : server.graphql_requests()) == r.requests);
            if (!token) {
                CHECK(server.token_requests() == r.token_refetches);
            }
            CHECK(took < 1s);
        }
    }

    TEST_CASE("the token endpoint down for a while, then up: callers recover without a restart") {
        // Short timeouts and small backoffs, so callers keep calling through the outage.
        const auto tweak = [](glue::client_config& c) {
            c.request_timeout = 500ms;
            c.token_request_timeout = 400ms;
            c.connect_timeout = 200ms;
            c.token_retry_attempts = 2;
            c.token_retry_base_delay = 10ms;
            c.failure_backoff_initial = 50ms;
            c.failure_backoff_max = 200ms;
            c.graphql_retry_base_delay = 10ms;
            c.graphql_retry_max_delay = 50ms;
        };
        std::optional<glue::testing::mock_server> server(std::in_place);
        auto cfg = server->client_config();
        tweak(cfg);
        asio::io_context ioc;
        glue::client client(ioc.get_executor(), cfg);
        const std::uint16_t port = server->port();

        bool refused = false;
        SUBCASE("503") {}
        SUBCASE("connection refused") {
            refused = true;
        }
        CAPTURE(refused);
        glue::test::run(ioc, client.graphql(ws, {"{ me { id } }"})); // warm: tokens, connections

        const auto down = clock_type::now();
        const auto up = down + 1500ms, stop_calling = up + 1s;
        if (refused) {
            server.reset(); // every connection closed, nobody listening
        } else {
            server->set_fault(endpoint::token, answering(503));
        }
        // Back up after the outage, on the same port.
        asio::steady_timer outage(ioc, up);
        outage.async_wait([&](glue::error_code) {
            if (refused) {
                glue::testing::mock_server_options o;
                o.port = port;
                server.emplace(o);
            } else {
                server->clear_faults();
            }
        });

        struct call {
            clock_type::time_point start;
            glue::error_code ec; // success: none
        };
        std::vector<call> calls;
        int loops_done = 0;
        // Eight callers: half use a new workspace every time (cold flights), half the same one
        // (its failure backoff must end), each a token then a query.
        auto loop = [&](int n) -> asio::awaitable<void> {
            asio::steady_timer pause(co_await asio::this_coro::executor);
            for (int i = 0; clock_type::now() < stop_calling && i < 1000; ++i) {
                const std::string w =
                    n % 2 ? "wks_loop" + std::to_string(n)
                          : "wks_loop" + std::to_string(n) + "_" + std::to_string(i);
                call c{clock_type::now(), {}};
                glue::graphql_request me("{ me { id } }"); // named: see test_support.hpp
                try {
                    co_await client.fetch_token(w);
                    co_await client.graphql(w, std::move(me));
                } catch (const glue::error& e) {
                    c.ec = e.code();
                }
                calls.push_back(c);
                pause.expires_after(20ms);
                co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
            }
            ++loops_done;
        };
        for (int n = 0; n < 8; ++n) {
            asio::co_spawn(ioc, loop(n), asio::detached);
        }
        glue::test::run_until(
            ioc, [&] { return loops_done == 8; }, 10s); // nothing hangs

        std::set<std::string> outage_errors, unexpected, after_errors;
        std::size_t failed = 0, after = 0, after_ok = 0;
        for (const auto& c : calls) {
            if (c.start < up && c.ec) {
                ++failed;
                outage_errors.insert(c.ec.message());
                const bool expected = c.ec == errc::server_error || c.ec == errc::timeout ||
                                      (refused && (c.ec == asio::error::connection_refused ||
                                                   c.ec == asio::error::eof ||
                                                   c.ec == asio::error::connection_reset));
                if (!expected) {
                    unexpected.insert(c.ec.message());
                }
            }
            // Past the last failure's backoff (200 ms) and a margin, every call succeeds.
            if (c.start >= up + 500ms) {
                ++after;
                after_ok += !c.ec;
                if (c.ec) {
                    after_errors.insert(c.ec.message());
                }
            }
        }
        CHECK(failed > 0); // the outage was felt
        CHECK_MESSAGE(unexpected.empty(), (unexpected.empty() ? "" : *unexpected.begin()));
        CHECK(after >= 8 * 5); // every caller kept calling after it
        CHECK_MESSAGE(after_ok == after, (after_errors.empty() ? "" : *after_errors.begin()));
    }

    TEST_CASE("10,000 calls in flight when the io_context is stopped and the client destroyed") {
        glue::testing::mock_server server;
        auto alive = std::make_shared<int>(0); // one copy per call's completion handler
        std::size_t completed = 0, aborted = 0;
        {
            asio::io_context ioc;
            std::optional<glue::client> client(std::in_place, ioc.get_executor(),
                                               server.client_config());
            glue::test::run(ioc, client->fetch_token(ws));
            server.set_fault(endpoint::graphql, delayed(20s));
            server.set_fault(endpoint::token, delayed(20s));
            auto record = [&completed, &aborted, alive](std::exception_ptr e, auto&&...) {
                ++completed;
                try {
                    if (e) {
                        std::rethrow_exception(e);
                    }
                } catch (const glue::error& err) {
                    aborted += err.code() == asio::error::operation_aborted;
                }
            };
            // 1,000 cold workspaces (32 token requests on the wire, the rest queued behind the
            // cap), then 9,000 queries (the other 32 connections, the rest queued for one).
            std::vector<std::string> cold; // a call refers to its id until it completes
            for (int i = 0; i < 1000; ++i) {
                cold.push_back("wks_cold" + std::to_string(i));
            }
            for (const auto& id : cold) {
                asio::co_spawn(ioc, client->fetch_token(id), record);
            }
            glue::test::run_until(ioc, [&] { return server.token_requests() == 1 + 32; });
            for (int i = 0; i < 9000; ++i) {
                asio::co_spawn(ioc, client->graphql(ws, {"{ me { id } }"}), record);
            }
            glue::test::run_until(ioc, [&] { return server.graphql_requests() == 64 - 32; });
            ioc.stop();
            client.reset();
            CHECK(completed == 0);
            SUBCASE("run again: every call completes, aborted") {
                glue::test::run_until(
                    ioc, [&] { return completed == 10'000; }, 10s);
                CHECK(aborted == 10'000);
                ioc.restart();
                ioc.run_for(5s);
                CHECK(ioc.stopped()); // nothing was left behind
            }
            SUBCASE("never run again: the io_context destroys them") {}
        }
        CHECK(alive.use_count() == 1); // every handler, and the call it belonged to, is gone
    }

    // A peer that went silent on an HTTP/2 connection (a path that died without a reset): the
    // connection would hold every stream put on it until each one's deadline. A PING it does
    // not answer within connect_timeout closes it.
    struct silent_h2 : client_fixture {
        static glue::testing::mock_server_options options() {
            glue::testing::mock_server_options o;
            o.tls = true;
            o.http2 = true;
            o.http2_silent_after_streams = 2; // the token request and the first query
            return o;
        }
        silent_h2()
            : client_fixture(options(), [](glue::client_config& c) {
                c.connect_timeout = 300ms; // the PING's time to answer, too
                c.request_timeout = 2s;
            }) {
            REQUIRE(run(client->graphql(ws, {"{ me { id } }"})).data.is_object());
            REQUIRE(server.http2_stats().connections == 1);
            REQUIRE(glue::test::eventually(
                [&] { return server.http2_stats().connections_silenced == 1; }, 5s));
        }
    };

    TEST_CASE_FIXTURE(silent_h2, "HTTP/2: a mutation on a connection gone silent goes once, on a "
                                 "fresh one, when the PING before it is not answered") {
        check_mutation_sent_once(*this, 2);
        CHECK(server.http2_stats().connections == 2);
    }

    TEST_CASE_FIXTURE(silent_h2, "HTTP/2: a call that reaches its deadline on a connection gone "
                                 "silent has it checked with a PING and closed; the next call "
                                 "goes on a fresh one") {
        CHECK(error_of(client->graphql(ws, {"{ me { id } }"})).code() == errc::timeout);
        // The PING after the deadline goes unanswered: the connection is closed.
        ioc.restart();
        glue::test::run_until(
            ioc, [&] { return client->metrics().pool.open == 0; }, 5s);
        CHECK(client->metrics().pool.closed(glue::close_reason::error) == 1);
        CHECK(run(client->graphql(ws, {"{ me { id } }"})).data.is_object());
        CHECK(server.http2_stats().connections == 2);
    }

} // TEST_SUITE
