// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Secret hygiene: the secret scan (support/secret_scan.hpp) over HTTP/1.1, and the install flow
// and webhooks scanned the same way for their own secrets.

#include "support/client_fixture.hpp"
#include "support/raw_http.hpp"
#include "support/secret_scan.hpp"

#include <doctest/doctest.h>

#include <sstream>

using namespace glue::test;

TEST_SUITE("secrets") {

    TEST_CASE("no message, printed value or event holds the client secret or a full token") {
        transcript said;
        glue::testing::mock_server_options opts;
        opts.client_secret = scan_secret;
        client_fixture f(opts, [&](glue::client_config& c) { said.listen(c); });
        const auto tokens = run_secret_scenarios(f, said);
        CHECK(tokens.size() == 2);
        check_no_secret(said, tokens);
    }

    TEST_CASE("the install flow and webhooks say no secret, token, code or signature") {
        transcript said;
        glue::testing::mock_server_options opts;
        opts.client_secret = scan_secret;
        opts.webhook_secret = "WHSEC-hygiene-0b1c2d3e4f";
        client_fixture f(opts);
        std::vector<std::string> needles = {scan_secret, opts.webhook_secret};
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
            wrong.client_secret = scan_secret + "-wrong";
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
