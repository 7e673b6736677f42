// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTS_SECRET_SCAN_HPP
#define GLUE_TESTS_SECRET_SCAN_HPP

// The secret scan: a scenario set run with a recognisable client secret, capturing every text
// the library produces (exception messages, printed values, token and request events,
// error-code messages, diagnostics the client wrote), then failing if any of them holds the
// secret or a full token. Over HTTP/1.1 (integration/test_secrets.cpp) and HTTP/2
// (integration/test_http2_faults.cpp) alike.

#include "support/client_fixture.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <mutex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace glue::test {

/// The client secret the scan looks for.
inline const std::string scan_secret = "S3CR3T-hygiene-7f3a9c2e51";

/// Everything the library said during a test.
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
    /// Makes the client of `c` report its token and request events here.
    void listen(glue::client_config& c) {
        c.on_token_event = [this](const glue::token_event& e) {
            add(std::string(e.workspace) + " " + std::string(e.reason) + " " + e.error.message());
        };
        c.on_request_event = [this](const glue::request_event& e) {
            add(std::string(e.workspace) + " " + std::string(e.operation) + " " +
                e.error.message());
        };
    }
    /// Fails for each line holding any of `needles`.
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

/// The scan's scenarios on `f`, whose server knows scan_secret and whose client reports to
/// `said`: a token, a query and the configuration printed; a revoked token; 401, 403 and 500
/// from the GraphQL endpoint and 400, 401 and 503 from the token endpoint, with and without
/// exceptions; a wrong secret; bad input refused before any I/O. Returns the tokens handed out
/// (each also printed into `said`).
inline std::vector<std::string> run_secret_scenarios(client_fixture& f, transcript& said) {
    namespace asio = boost::asio;
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
    const std::pair<testing::endpoint, int> statuses[] = {
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
            auto [ec, r] = co_await f.client->async_graphql(other, once, diag,
                                                            asio::as_tuple(asio::use_awaitable));
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
        wrong.client_secret = scan_secret + "-wrong";
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
    return tokens;
}

/// Fails for each line of `said` holding scan_secret or one of `tokens`.
inline void check_no_secret(transcript& said, const std::vector<std::string>& tokens) {
    std::vector<std::string> needles = {scan_secret};
    needles.insert(needles.end(), tokens.begin(), tokens.end());
    said.check_free_of(needles);
}

} // namespace glue::test

#endif
