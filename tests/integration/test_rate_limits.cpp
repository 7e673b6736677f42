// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The mock server's GraphQL rate limits on the wire: raw requests (so the client's own handling
// of 429 can't change what is sent), the buckets on the manual clock, or on the real one.

#include "support/client_fixture.hpp"
#include "support/raw_http.hpp"

#include <boost/json/parse.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

namespace {

namespace json = boost::json;
using namespace glue::test;
using namespace std::chrono_literals;
using glue::testing::mock_server_options;

/// `{ me { id } }` in `workspace`, with a token the test's client fetched for it.
raw_response me(client_fixture& f, std::string_view workspace) {
    const std::string token = f.run(f.client->fetch_token(workspace)).value;
    return raw_request(
        f.server.port(), boost::beast::http::verb::post, "/public/graphql",
        R"({"query":"{ me { id } }"})",
        {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + token}});
}

/// The statuses of `n` requests one after the other.
std::vector<unsigned> statuses_of(client_fixture& f, std::size_t n, std::string_view workspace,
                                  std::vector<raw_response>* refused = nullptr) {
    std::vector<unsigned> out;
    for (std::size_t i = 0; i < n; ++i) {
        raw_response r = me(f, workspace);
        out.push_back(r.status);
        if (r.status == 429 && refused) {
            refused->push_back(std::move(r));
        }
    }
    return out;
}

std::vector<unsigned> repeated(std::size_t ok, std::size_t refused) {
    std::vector<unsigned> v(ok, 200);
    v.insert(v.end(), refused, 429);
    return v;
}

} // namespace

TEST_SUITE("mock rate limits") {
    TEST_CASE("50 a second with a burst of 5: 5 of 20 back-to-back requests, then 429") {
        mock_server_options opts;
        opts.graphql_rate_limit = 50;
        opts.rate_limit_burst = 5;
        opts.rate_limit_clock = &manual_clock::now;
        client_fixture f(opts);

        std::vector<raw_response> refused;
        CHECK(statuses_of(f, 20, ws, &refused) == repeated(5, 15));
        for (const auto& r : refused) {
            CHECK(r.header("retry-after") == "1");
            CHECK(r.header("content-type") == "application/json");
            CHECK(json::parse(r.body).at("errors").at(0).at("message").as_string() ==
                  "rate limit exceeded for the app");
        }
        auto s = f.server.rate_limit_stats();
        CHECK(s.admitted == 5);
        CHECK(s.refused == 15);
        CHECK(s.refused_app == 15);
        CHECK(s.refused_workspace == 0);
        CHECK(f.server.graphql_requests() == 20);

        manual_clock::advance(1s); // a second's refill, capped at the burst
        CHECK(statuses_of(f, 7, ws) == repeated(5, 2));
        s = f.server.rate_limit_stats();
        CHECK(s.admitted == 10);
        CHECK(s.refused == 17);
        f.server.reset_counters();
        CHECK(f.server.rate_limit_stats().admitted == 0);
        CHECK(f.server.rate_limit_stats().refused == 0);
    }

    TEST_CASE("each workspace has its own limit, keyed by its token") {
        mock_server_options opts;
        opts.graphql_rate_limit_per_workspace = 2;
        opts.rate_limit_retry_after = 3s;
        opts.rate_limit_clock = &manual_clock::now;
        client_fixture f(opts);
        const std::string other = "wks_OtherWorkspace0000000000000";

        std::vector<raw_response> refused;
        CHECK(statuses_of(f, 3, ws, &refused) == repeated(2, 1));
        CHECK(statuses_of(f, 3, other, &refused) == repeated(2, 1));
        for (const auto& r : refused) {
            CHECK(r.header("retry-after") == "3");
            CHECK(json::parse(r.body).at("errors").at(0).at("message").as_string() ==
                  "rate limit exceeded for the workspace");
        }
        manual_clock::advance(600ms);
        CHECK(statuses_of(f, 2, ws) == repeated(1, 1));
        const auto s = f.server.rate_limit_stats();
        CHECK(s.admitted == 5);
        CHECK(s.refused_workspace == 3);
        CHECK(s.refused_app == 0);
    }

    TEST_CASE("a request without a valid token gets 401 and uses none of the limit") {
        mock_server_options opts;
        opts.graphql_rate_limit = 1;
        opts.rate_limit_clock = &manual_clock::now;
        client_fixture f(opts);
        const auto r =
            raw_request(f.server.port(), boost::beast::http::verb::post, "/public/graphql",
                        R"({"query":"{ me { id } }"})", {{"Authorization", "Bearer not-a-token"}});
        CHECK(r.status == 401);
        CHECK(statuses_of(f, 2, ws) == repeated(1, 1));
        CHECK(f.server.rate_limit_stats().admitted == 1);
    }

    TEST_CASE("an outage is a fault: 503 without Retry-After, before the limits") {
        mock_server_options opts;
        opts.graphql_rate_limit = 1000;
        client_fixture f(opts);
        f.server.set_fault(endpoint::graphql, answering(503));
        const auto r = me(f, ws);
        CHECK(r.status == 503);
        CHECK_FALSE(r.has("retry-after"));
        CHECK(f.server.rate_limit_stats().admitted == 0);
        f.server.clear_faults();
        CHECK(me(f, ws).status == 200);
        CHECK(f.server.rate_limit_stats().admitted == 1);
    }

    TEST_CASE("on the real clock: what was admitted fits the rate, and the counters add up") {
        mock_server_options opts;
        opts.graphql_rate_limit = 50;
        opts.rate_limit_burst = 5;
        opts.threads = 2;
        client_fixture f(opts);
        f.run(f.client->fetch_token(ws)); // the token request is not limited
        const auto start = std::chrono::steady_clock::now();
        const auto statuses = statuses_of(f, 20, ws);
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const auto ok = static_cast<std::size_t>(std::ranges::count(statuses, 200u));
        CHECK(std::ranges::count(statuses, 429u) + ok == 20);
        CHECK(std::vector<unsigned>(statuses.begin(), statuses.begin() + 5) == repeated(5, 0));
        CHECK(static_cast<double>(ok) <= 5 + elapsed * 50 + 1);
        const auto s = f.server.rate_limit_stats();
        CHECK(s.admitted == ok);
        CHECK(s.refused == 20 - ok);
        CHECK(f.server.graphql_requests() == 20);
    }
}
