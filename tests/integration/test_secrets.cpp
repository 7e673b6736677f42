// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Secret hygiene: a scenario set run with a recognisable client secret, capturing every text the
// library produces — exception messages, printed values, token events, error-code messages,
// diagnostics the client wrote — and failing if any of them holds the secret or a full token.

#include "support/client_fixture.hpp"
#include "support/raw_http.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <mutex>
#include <sstream>

namespace {

namespace asio = boost::asio;
using namespace glue::test;

const std::string secret = "S3CR3T-hygiene-7f3a9c2e51";

// Everything the library said during the test.
struct transcript {
    std::mutex mtx;
    std::vector<std::string> lines;

    void add(std::string s) {
        std::lock_guard lock(mtx);
        lines.push_back(std::move(s));
    }
    void add(const glue::error& e) {
        add(e.what());
        add(e.code().message());
        add(e.oauth_error());
    }
    // Fails for each line holding any of `needles`.
    void check_free_of(const std::vector<std::string>& needles) {
        std::lock_guard lock(mtx);
        REQUIRE(!lines.empty());
        for (const auto& line : lines) {
            for (const auto& n : needles) {
                CAPTURE(line);
                CHECK(line.find(n) == std::string::npos);
            }
        }
    }
};

} // namespace

TEST_SUITE("secrets") {

    TEST_CASE("no message, printed value or event holds the client secret or a full token") {
        transcript said;
        glue::testing::mock_server_options opts;
        opts.client_secret = secret;
        client_fixture f(opts, [&](glue::client_config& c) {
            c.on_token_event = [&](const glue::token_event& e) {
                said.add(std::string(e.workspace) + " " + std::string(e.reason) + " " +
                         e.error.message());
            };
        });
        std::vector<std::string> tokens;
        auto record = [&](const glue::access_token& t) {
            tokens.push_back(t.value);
            std::ostringstream os;
            os << t;
            said.add(os.str());
        };

        // Success: a token, a query, the configuration printed.
        record(f.run(f.client->fetch_token(ws)));
        glue::graphql_request me("{ me { id } }");
        f.run(f.client->graphql(ws, me));
        std::ostringstream cfg;
        cfg << f.cfg;
        said.add(cfg.str());

        // A revoked token: 401, the forced refresh, a new token.
        f.server.revoke_tokens(ws);
        f.run(f.client->graphql(ws, me));
        record(f.run(f.client->fetch_token(ws)));

        // Failures from both endpoints, with and without exceptions.
        const std::pair<glue::testing::endpoint, int> statuses[] = {
            {endpoint::graphql, 401}, {endpoint::graphql, 403}, {endpoint::graphql, 500},
            {endpoint::token, 400},   {endpoint::token, 401},   {endpoint::token, 503}};
        int n = 0;
        for (auto [where, status] : statuses) {
            f.server.set_fault(where, answering(status));
            const std::string other = "wks_hygiene" + std::to_string(n++);
            glue::graphql_request once("{ me { id } }");
            once.retry_attempts = 1;
            said.add(f.error_of(f.client->graphql(other, once)));
            glue::diagnostics diag;
            auto no_throw = [&]() -> asio::awaitable<void> {
                auto [ec, r] = co_await f.client->async_graphql(
                    other, once, diag, asio::as_tuple(asio::use_awaitable));
                said.add(ec.message());
                said.add(diag.oauth_error);
                said.add(diag.oauth_error_description);
            };
            f.run(no_throw());
            f.server.clear_faults();
        }
        // A wrong secret: the token endpoint refuses the client.
        {
            auto wrong = f.cfg;
            wrong.client_secret = secret + "-wrong";
            glue::client c(f.ioc.get_executor(), wrong);
            try {
                glue::test::run(f.ioc, c.fetch_token(ws));
                FAIL("a wrong secret was accepted");
            } catch (const glue::error& e) {
                said.add(e);
                CHECK(e.oauth_error() == "invalid_client");
            }
            std::ostringstream os;
            os << wrong;
            said.add(os.str());
        }
        // Bad input, refused before any I/O.
        said.add(f.error_of(f.client->fetch_token("wks_\r\nAuthorization: Bearer x")));

        std::vector<std::string> needles = {secret};
        needles.insert(needles.end(), tokens.begin(), tokens.end());
        CHECK(tokens.size() == 2);
        said.check_free_of(needles);
    }

    TEST_CASE("the install flow and webhooks say no secret, token, code or signature") {
        transcript said;
        glue::testing::mock_server_options opts;
        opts.client_secret = secret;
        opts.webhook_secret = "WHSEC-hygiene-0b1c2d3e4f";
        client_fixture f(opts);
        std::vector<std::string> needles = {secret, opts.webhook_secret};
        auto print = [&](const glue::oauth::token_set& t) {
            needles.push_back(t.access_token);
            needles.push_back(t.refresh_token);
            std::ostringstream os;
            os << t;
            said.add(os.str());
        };

        namespace oauth = glue::oauth;
        const std::string state = oauth::make_state();
        const std::string verifier = oauth::make_code_verifier();
        oauth::authorize_params p;
        p.scopes = {"threads:read"};
        p.state = state;
        p.code_challenge = oauth::pkce_challenge(verifier);
        const std::string url = oauth::authorize_url(f.cfg, p);
        said.add(url);
        const auto approved = raw_get(f.server.port(), target_of(url));
        const std::string code =
            oauth::parse_callback(target_of(approved.header("location")), state).code;
        needles.push_back(code);
        needles.push_back(verifier);

        const oauth::token_set first = f.run(f.client->exchange_code(code, {}, verifier));
        print(first);
        print(f.run(f.client->refresh(first.refresh_token)));
        // Refusals: a used code, a used refresh token, a wrong secret, a forged callback.
        said.add(f.error_of(f.client->exchange_code(code, {}, verifier)));
        said.add(f.error_of(f.client->refresh(first.refresh_token)));
        {
            auto wrong = f.cfg;
            wrong.client_secret = secret + "-wrong";
            glue::client c(f.ioc.get_executor(), wrong);
            try {
                glue::test::run(f.ioc, c.refresh(first.refresh_token));
                FAIL("a wrong secret was accepted");
            } catch (const glue::error& e) {
                said.add(e);
            }
        }
        try {
            oauth::parse_callback("/cb?code=" + code + "&state=forged", state);
        } catch (const glue::error& e) {
            said.add(e);
        }
        // A webhook whose signature doesn't match.
        const std::string body = R"({"type":"message.created","workspaceID":"wks_1"})";
        const std::string signature = glue::webhook::sign(body + " ", opts.webhook_secret);
        needles.push_back(signature);
        try {
            glue::webhook::parse_verified(body, signature, opts.webhook_secret);
            FAIL("a wrong signature was accepted");
        } catch (const glue::error& e) {
            said.add(e);
        }
        said.check_free_of(needles);
    }
}
