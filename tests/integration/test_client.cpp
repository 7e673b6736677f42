// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// fetch_token() and graphql() against the mock server: what goes over the wire, what comes
// back, and what is refused before any I/O.

#include <glue/version.hpp>

#include "support/client_fixture.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/params_view.hpp>

#include <doctest/doctest.h>

#include <limits>
#include <map>

namespace {

namespace asio = boost::asio;
using namespace glue::test;
namespace json = boost::json;

std::map<std::string, std::string> form_fields(const std::string& body) {
    std::map<std::string, std::string> out;
    for (auto p : boost::urls::params_view(body)) {
        out[p.key] = p.value;
    }
    return out;
}

} // namespace

TEST_SUITE("client") {

    TEST_CASE_FIXTURE(client_fixture,
                      "fetch_token returns the workspace's token, then the cached one") {
        const auto before = std::chrono::steady_clock::now();
        glue::access_token t = run(client->fetch_token(ws));
        CHECK(t.value.starts_with("glue_at_"));
        CHECK(t.token_type == "Bearer");
        CHECK(t.user_id.starts_with("usr_"));
        CHECK(t.expires_at > before + 3590s);
        CHECK(t.expires_at <= std::chrono::steady_clock::now() + 3600s);

        glue::access_token again = run(client->fetch_token(ws));
        CHECK(again.value == t.value);
        CHECK(server.token_requests(ws) == 1);
        CHECK(server.requests() == 1);
    }

    TEST_CASE_FIXTURE(client_fixture, "the token request is the documented form POST") {
        run(client->fetch_token(ws));
        auto req = server.last_request(endpoint::token);
        CHECK(req.method == "POST");
        CHECK(req.target == "/oauth/token");
        CHECK(req.headers["content-type"] == "application/x-www-form-urlencoded");
        CHECK(req.headers["user-agent"] == "glue-cpp/" GLUE_VERSION_STRING);
        CHECK(req.headers.count("authorization") == 0);
        auto form = form_fields(req.body);
        CHECK(form["grant_type"] == "client_credentials");
        CHECK(form["client_id"] == cfg.client_id);
        CHECK(form["client_secret"] == cfg.client_secret);
        CHECK(form["redirect_uri"] == cfg.redirect_uri);
        CHECK(form["subject"] == ws);
        CHECK(form.size() == 5);
    }

    TEST_CASE_FIXTURE(client_fixture, "graphql sends JSON with the workspace's bearer token") {
        auto r = run(client->graphql(ws, {"{ me { id name } }"}));
        CHECK(r.data.at("me").at("name") == "Glue Test App");
        auto token = run(client->fetch_token(ws));
        CHECK(r.data.at("me").at("id").as_string() == token.user_id);

        auto req = server.last_request(endpoint::graphql);
        CHECK(req.target == "/public/graphql");
        CHECK(req.headers["content-type"] == "application/json");
        CHECK(req.headers["accept"] == "application/json");
        CHECK(req.headers["authorization"] == "Bearer " + token.value);
        CHECK(req.headers["user-agent"] == "glue-cpp/" GLUE_VERSION_STRING);
        // Empty variables and operation name are left out.
        CHECK(json::parse(req.body) == json::parse(R"({"query":"{ me { id name } }"})"));

        glue::graphql_request with_all{
            "query Groups($n: Int) { groups(first: $n) { nodes { id } } }", {{"n", 2}}, "Groups"};
        run(client->graphql(ws, with_all));
        CHECK(
            json::parse(server.last_request(endpoint::graphql).body) ==
            json::parse(R"({"query":"query Groups($n: Int) { groups(first: $n) { nodes { id } } }",
                          "variables":{"n":2},"operationName":"Groups"})"));
        CHECK(server.token_requests() == 1);
    }

    TEST_CASE_FIXTURE(client_fixture, "a Relay connection can be walked page by page") {
        const std::string query = "query($after: String) { groups(first: 2, after: $after) "
                                  "{ nodes { id name } pageInfo { hasNextPage endCursor } } }";
        std::vector<std::string> names;
        json::object variables;
        for (int page = 0; page < 10; ++page) {
            glue::graphql_request req{query, variables};
            auto r = run(client->graphql(ws, std::move(req)));
            const auto& groups = r.data.at("groups");
            for (const auto& n : groups.at("nodes").as_array()) {
                names.emplace_back(n.at("name").as_string());
            }
            if (!groups.at("pageInfo").at("hasNextPage").as_bool()) {
                break;
            }
            variables["after"] = groups.at("pageInfo").at("endCursor");
        }
        CHECK(names ==
              std::vector<std::string>{"Group 1", "Group 2", "Group 3", "Group 4", "Group 5"});
    }

    TEST_CASE_FIXTURE(client_fixture, "sendMessage with uniqueBy updates instead of duplicating") {
        const std::string mutation =
            "mutation Send($input: SendMessageInput!) { sendMessage(input: "
            "$input) { thread { id subject } message { id text } } }";
        json::object input = {
            {"thread", {{"recipients", {"grp_1"}}, {"subject", "Deploys"}}},
            {"message", {{"text", "Deployed **v1**"}, {"uniqueBy", "deploy-v1"}}}};
        glue::graphql_request first{mutation, {{"input", input}}};
        glue::graphql_request second{mutation, {{"input", input}}};
        auto a = run(client->graphql(ws, std::move(first)));
        auto b = run(client->graphql(ws, std::move(second)));
        CHECK(a.data.at("sendMessage").at("message").at("text") == "Deployed **v1**");
        CHECK(a.data.at("sendMessage").at("thread").at("subject") == "Deploys");
        CHECK(a.data.at("sendMessage").at("message").at("id") ==
              b.data.at("sendMessage").at("message").at("id"));
        CHECK(server.messages_created() == 1);
    }

    TEST_CASE_FIXTURE(client_fixture,
                      "GraphQL errors throw graphql_error with the errors and partial data") {
        auto e = error_of(client->graphql(ws, {"{ me { id } nope }"}));
        CHECK(e.code() == errc::graphql_error);
        REQUIRE(e.graphql_errors().size() == 1);
        CHECK(e.graphql_errors()[0].message.find("nope") != std::string::npos);
        CHECK(e.graphql_errors()[0].path == json::array{"nope"});
        CHECK(e.partial_data().at("me").at("id").as_string().starts_with("usr_"));
        CHECK(e.http_status() == 200);
        // Server text stays out of what(): it may echo input.
        CHECK(std::string(e.what()).find("nope") == std::string::npos);
    }

    TEST_CASE_FIXTURE(client_fixture, "an awaitable made from a temporary id can start later") {
        // Asio's awaitables are lazy: this one starts after the caller's string is gone, so the
        // call must hold its own copy of the id.
        auto later = [&] {
            const std::string id = std::string("wks_Later") + "LaterLaterLater";
            return client->fetch_token(id);
        }();
        const std::string reuse = std::string("wks_Noise") + "NoiseNoiseNoise"; // same size
        run(std::move(later));
        CHECK(server.token_requests("wks_LaterLaterLaterLater") == 1);
        CHECK(server.token_requests(reuse) == 0);
    }

    TEST_CASE_FIXTURE(client_fixture, "bad input is refused before any I/O") {
        const std::string too_long(200, 'a');
        const std::string_view with_nul("wks_a\0b", 7);
        for (std::string_view bad :
             {std::string_view(""), std::string_view("wks_a\r\nX-Evil: 1"),
              std::string_view("wks a"), std::string_view(too_long), with_nul}) {
            CAPTURE(bad.size());
            CHECK(error_of(client->fetch_token(bad)).code() == errc::invalid_argument);
            CHECK(error_of(client->graphql(bad, {"{ me { id } }"})).code() ==
                  errc::invalid_argument);
        }
        CHECK(error_of(client->graphql(ws, {""})).code() == errc::invalid_argument);
        glue::graphql_request bad_name{"query Q { me { id } }", {}, "Q-1"};
        CHECK(error_of(client->graphql(ws, std::move(bad_name))).code() == errc::invalid_argument);
        // An infinite number would go out as `Infinity`, which is not JSON.
        glue::graphql_request infinite{
            "query Q($n: Float) { me { id } }",
            {{"n", {{"deep", {1.0, std::numeric_limits<double>::infinity()}}}}}};
        CHECK(error_of(client->graphql(ws, std::move(infinite))).code() == errc::invalid_argument);
        CHECK(server.connections_accepted() == 0);
        CHECK(server.requests() == 0);
    }

    TEST_CASE("client: an oversized request is refused before any I/O") {
        client_fixture f({}, [](glue::client_config& c) { c.max_request_body_bytes = 1024; });
        glue::graphql_request big{"{ me { id } }", {{"blob", std::string(2000, 'x')}}};
        CHECK(f.error_of(f.client->graphql(ws, std::move(big))).code() == errc::invalid_argument);
        CHECK(f.server.connections_accepted() == 0);
    }

    TEST_CASE("client: strict workspace ids") {
        client_fixture f({}, [](glue::client_config& c) { c.strict_workspace_ids = true; });
        CHECK(f.error_of(f.client->fetch_token("team-42")).code() == errc::invalid_argument);
        CHECK(f.run(f.client->fetch_token(ws)).token_type == "Bearer");
    }

    TEST_CASE("client: a wrong secret is invalid_client, and the secret is nowhere in the error") {
        const std::string secret = "wrong-SECRET-4f1b9c";
        client_fixture f({}, [&](glue::client_config& c) { c.client_secret = secret; });
        auto e = f.error_of(f.client->fetch_token(ws));
        CHECK(e.code() == errc::oauth_error);
        CHECK(e.oauth_error() == "invalid_client");
        CHECK(e.http_status() == 401);
        CHECK(std::string(e.what()).find(secret) == std::string::npos);
        CHECK(std::string(e.what()).find("fetch_token") != std::string::npos);

        auto g = f.error_of(f.client->graphql(ws, {"{ me { id } }"}));
        CHECK(g.code() == errc::oauth_error);
        CHECK(std::string(g.what()).find(secret) == std::string::npos);
    }

    TEST_CASE("client: a workspace without the app installed is invalid_grant") {
        glue::testing::mock_server_options opts;
        opts.any_workspace = false;
        opts.workspaces = {std::string(ws)};
        client_fixture f(opts);
        CHECK(f.run(f.client->fetch_token(ws)).token_type == "Bearer");
        auto e = f.error_of(f.client->fetch_token("wks_other"));
        CHECK(e.code() == errc::oauth_error);
        CHECK(e.oauth_error() == "invalid_grant");
        CHECK(e.http_status() == 400);
    }

    TEST_CASE("client: a trailing slash in api_url does not double up") {
        glue::testing::mock_server server;
        asio::io_context ioc;
        auto cfg = server.client_config();
        cfg.api_url += "/";
        glue::client c(ioc.get_executor(), cfg);
        CHECK(glue::test::run(ioc, c.fetch_token(ws)).token_type == "Bearer");
        CHECK(server.last_request(endpoint::token).target == "/oauth/token");
    }

} // TEST_SUITE
