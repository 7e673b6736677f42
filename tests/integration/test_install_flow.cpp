// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The authorization-code install flow against the mock server, as an app runs it: the
// authorize URL (a browser follows it), the callback, the code exchange with PKCE, the token set
// used for GraphQL and kept in a token store, and the refresh; with the refusals on the way.

#include <glue/glue.hpp>

#include "support/client_fixture.hpp"
#include "support/raw_http.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/value.hpp>

#include <doctest/doctest.h>

namespace {

using namespace glue::test;
namespace oauth = glue::oauth;

/// Where the mock's authorize endpoint installs the app.
const std::string installed_ws = glue::testing::mock_server_options{}.authorize_workspace;

const std::vector<std::string> scopes = {"workspaces:read", "threads:read",
                                         "threads.messages:write"};

/// An app's side of one authorization: its state and verifier, and where the browser lands.
struct authorization {
    std::string state = oauth::make_state();
    std::string verifier = oauth::make_code_verifier();
    std::string callback; ///< the redirect back to the app (the authorize endpoint's Location)
};

/// A browser that approves the authorize URL: the redirect the mock answers with.
authorization authorize(const glue::testing::mock_server& server, const glue::client_config& cfg,
                        bool pkce = true) {
    authorization a;
    oauth::authorize_params p;
    p.scopes = scopes;
    p.state = a.state;
    if (pkce) {
        p.code_challenge = oauth::pkce_challenge(a.verifier);
    }
    const auto res = raw_get(server.port(), target_of(oauth::authorize_url(cfg, p)));
    REQUIRE(res.status == 302);
    a.callback = res.header("location");
    REQUIRE(a.callback.starts_with(cfg.redirect_uri + "?"));
    return a;
}

struct install_fixture : client_fixture {
    /// The code the callback carries, checked against the state.
    std::string code_of(const authorization& a) {
        return oauth::parse_callback(target_of(a.callback), a.state).code;
    }

    /// `{ me { id } }` with the token set's own access token.
    std::string me_with(const oauth::token_set& t) {
        glue::graphql_request req("{ me { id } }");
        req.access_token = t.access_token;
        return std::string(
            run(client->graphql(installed_ws, std::move(req))).data.at("me").at("id").as_string());
    }
};

} // namespace

TEST_SUITE("install flow") {
    TEST_CASE_FIXTURE(install_fixture, "authorize, callback, exchange with PKCE, use, store, "
                                       "refresh") {
        const auto a = authorize(server, cfg);
        const std::string& ws = installed_ws;
        const oauth::token_set t = run(client->exchange_code(code_of(a), {}, a.verifier));
        CHECK(!t.access_token.empty());
        CHECK(t.token_type == "Bearer");
        CHECK(!t.refresh_token.empty());
        CHECK(t.user_id == server.app_user_id(ws));
        CHECK(t.scopes == scopes);
        CHECK(t.expires_at > std::chrono::system_clock::now() + 3500s);
        CHECK(server.authorizations() == 1);
        // The form the token endpoint got (RFC 6749 §4.1.3 with RFC 7636's verifier).
        const auto sent = server.last_request(endpoint::token);
        CHECK(sent.body.find("grant_type=authorization_code") != std::string::npos);
        CHECK(sent.body.find("code_verifier=" + a.verifier) != std::string::npos);

        // The installation's token works for GraphQL, in place of the client-credentials one.
        CHECK(me_with(t) == server.app_user_id(ws));
        CHECK(server.token_requests() == 1); // no client-credentials token was fetched

        oauth::memory_token_store store;
        run(store.save(t.user_id, t));
        const auto kept = run(store.load(t.user_id));
        REQUIRE(kept);
        CHECK(kept->refresh_token == t.refresh_token);

        // Refresh rotates the refresh token: the new set works, the old refresh token doesn't.
        const oauth::token_set r = run(client->refresh(kept->refresh_token));
        CHECK(r.access_token != t.access_token);
        CHECK(r.refresh_token != t.refresh_token);
        CHECK(r.user_id == t.user_id);
        CHECK(me_with(r) == server.app_user_id(ws));
        const auto used = error_of(client->refresh(t.refresh_token));
        CHECK(used.code() == errc::oauth_error);
        CHECK(used.oauth_error() == "invalid_grant");
    }

    TEST_CASE_FIXTURE(install_fixture, "without PKCE, and with scope as a JSON array") {
        glue::testing::mock_server_options o;
        o.scope_as_array = true;
        client_fixture other(o);
        const auto a = authorize(other.server, other.cfg, /*pkce=*/false);
        const auto code = oauth::parse_callback(target_of(a.callback), a.state).code;
        const oauth::token_set t = other.run(other.client->exchange_code(code));
        CHECK(t.scopes == scopes);
        CHECK(other.server.last_request(endpoint::token).body.find("code_verifier") ==
              std::string::npos);
    }

    TEST_CASE_FIXTURE(install_fixture, "a code works once; its second use revokes its tokens") {
        const auto a = authorize(server, cfg);
        const std::string code = code_of(a);
        const oauth::token_set t = run(client->exchange_code(code, {}, a.verifier));
        CHECK(me_with(t) == server.app_user_id(installed_ws));
        const auto again = error_of(client->exchange_code(code, {}, a.verifier));
        CHECK(again.code() == errc::oauth_error);
        CHECK(again.oauth_error() == "invalid_grant");
        CHECK(again.http_status() == 400);
        // With its own token a 401 is the caller's to handle: no refetch, no retry.
        const auto graphql_before = server.graphql_requests();
        glue::graphql_request req("{ me { id } }");
        req.access_token = t.access_token;
        const auto revoked = error_of(client->graphql(installed_ws, std::move(req)));
        CHECK(revoked.code() == errc::unauthorized);
        CHECK(server.graphql_requests() == graphql_before + 1);
    }

    TEST_CASE_FIXTURE(install_fixture, "a wrong verifier or redirect_uri is invalid_grant") {
        const auto a = authorize(server, cfg);
        const auto wrong =
            error_of(client->exchange_code(code_of(a), {}, oauth::make_code_verifier()));
        CHECK(wrong.oauth_error() == "invalid_grant");
        const auto b = authorize(server, cfg);
        const auto missing = error_of(client->exchange_code(code_of(b)));
        CHECK(missing.oauth_error() == "invalid_grant");
        const auto c = authorize(server, cfg);
        const auto elsewhere =
            error_of(client->exchange_code(code_of(c), "http://localhost:8080/other", c.verifier));
        CHECK(elsewhere.oauth_error() == "invalid_grant");
    }

    TEST_CASE_FIXTURE(install_fixture, "a denial reaches the app as authorization_denied") {
        server.set_authorize_denied(true);
        const auto a = authorize(server, cfg);
        try {
            oauth::parse_callback(target_of(a.callback), a.state);
            FAIL("no exception");
        } catch (const glue::error& e) {
            CHECK(e.code() == errc::authorization_denied);
            CHECK(e.oauth_error() == "access_denied");
        }
        CHECK(server.authorizations() == 0);
    }

    TEST_CASE_FIXTURE(install_fixture, "bad codes, refresh tokens and verifiers are refused "
                                       "before any I/O") {
        for (std::string code :
             {std::string(), std::string("a b"), std::string("a\r\nb"), std::string(4097, 'a')}) {
            CHECK(error_of(client->exchange_code(code)).code() == errc::invalid_argument);
            CHECK(error_of(client->refresh(code)).code() == errc::invalid_argument);
        }
        CHECK(error_of(client->exchange_code("abc", {}, "short")).code() == errc::invalid_argument);
        CHECK(error_of(client->exchange_code("abc", "http://x/\r\n")).code() ==
              errc::invalid_argument);
        glue::graphql_request req("{ me { id } }");
        req.access_token = "tok\r\nX-Injected: 1";
        CHECK(error_of(client->graphql(ws, std::move(req))).code() == errc::invalid_argument);
        CHECK(server.requests() == 0);
    }

    TEST_CASE_FIXTURE(install_fixture, "a code exchange that may have arrived is not sent again") {
        const auto a = authorize(server, cfg);
        server.set_fault(endpoint::token, answering(503));
        const auto e = error_of(client->exchange_code(code_of(a), {}, a.verifier));
        CHECK(e.code() == errc::server_error);
        CHECK(server.token_requests() == 1);
        server.clear_faults();
        server.set_fault(endpoint::token, misbehaving(fault::kind::close_after_processing, 1));
        const auto b = authorize(server, cfg);
        const auto lost = error_of(client->exchange_code(code_of(b), {}, b.verifier));
        CHECK(lost.code() != errc::invalid_argument);
        CHECK(server.token_requests() == 2);
    }

    TEST_CASE("with nothing listening, an exchange fails with connection_refused") {
        // Each attempt certainly never arrived, so each is tried again, up to
        // token_retry_attempts, before the failure is reported.
        glue::client_config cfg;
        {
            glue::testing::mock_server gone;
            cfg = gone.client_config();
        }
        cfg.token_retry_base_delay = 1ms;
        boost::asio::io_context ioc;
        glue::client c(ioc.get_executor(), cfg);
        try {
            run(ioc, c.exchange_code("abc"));
            FAIL("no exception");
        } catch (const glue::error& e) {
            CHECK(e.code() == boost::asio::error::connection_refused);
        }
    }
}
