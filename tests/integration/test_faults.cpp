// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// A misbehaving server: every call ends with a result or the right typed error, never a crash
// or a hang.

#include <boost/asio/ip/tcp.hpp>

#include <doctest/doctest.h>

#include <thread>

#include "support/client_fixture.hpp"

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
                          fault::kind::oversized_body}) {
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
            CHECK(f.error_of(f.client->graphql(ws, {"{ me { id } }"})).code() == errc::timeout);
        }
        SUBCASE("token") {
            f.server.set_fault(endpoint::token, slow);
            CHECK(f.error_of(f.client->fetch_token(ws)).code() == errc::timeout);
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

    TEST_CASE("a connection the server closed while idle: a query goes again, a mutation avoids "
              "it") {
        glue::testing::mock_server_options opts;
        opts.idle_timeout = 100ms;
        client_fixture f(opts);
        f.run(f.client->graphql(ws, {"{ me { id } }"}));
        const auto accepted = f.server.connections_accepted();
        std::this_thread::sleep_for(300ms); // the server closes the idle connection

        // A query takes the idle connection without a look: it fails before any response byte
        // and goes again, once, on a fresh connection.
        CHECK(f.run(f.client->graphql(ws, {"{ me { id } }"})).data.is_object());
        CHECK(f.server.connections_accepted() == accepted + 1);
        std::this_thread::sleep_for(300ms);

        // A mutation that must not go twice looks first (a peek), so it never lands on the dead
        // connection: it is sent once, on a fresh one, and succeeds.
        const auto requests = f.server.graphql_requests();
        glue::graphql_request send{
            "mutation($in: SendMessageInput!) { sendMessage(input: $in) { message { id } } }",
            {{"in", {{"threadID", "thr_1"}, {"message", {{"text", "hi"}}}}}}};
        CHECK(f.run(f.client->graphql(ws, std::move(send))).data.is_object());
        CHECK(f.server.graphql_requests() == requests + 1);
        CHECK(f.server.messages_created(ws) == 1);
        CHECK(f.server.connections_accepted() == accepted + 2);
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

} // TEST_SUITE
