// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Extra request headers (client_config::default_headers, graphql_request::headers) and the
// response headers a failed call keeps (capture_response_headers, diagnostics::request_id):
// against the mock server, which records what it was sent and numbers its answers
// (X-Request-Id: req_<n>), and against raw servers for request ids the mock never sends.

#include "support/client_fixture.hpp"
#include "support/raw_server.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using namespace glue::test;

const std::string traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

bool has_text(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

/// The value of the first captured header called `name` (lower case); empty if none.
std::string captured(const glue::diagnostics& d, std::string_view name) {
    for (const auto& h : d.response_headers) {
        if (h.name == name) {
            return h.value;
        }
    }
    return {};
}

glue::graphql_request with_headers(std::vector<glue::http_header> headers) {
    glue::graphql_request req("{ me { id } }");
    req.headers = std::move(headers);
    return req;
}

/// One GraphQL attempt per call, so that a failure is the first answer's.
void one_attempt(glue::client_config& c) {
    c.graphql_retry_attempts = 1;
    c.token_retry_attempts = 1;
}

//------------------------------------------------------------------------------
// A raw server's answers

std::string answer_text(int status, std::string_view body, std::string_view extra = {}) {
    return "HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n" + std::string(extra) + "\r\n" + std::string(body);
}

/// A token at /oauth/token; at /public/graphql a 500 with the header lines `extra`.
responder failing_graphql(std::string extra) {
    return [extra = std::move(extra)](const seen_request& r) {
        if (r.target == "/oauth/token") {
            return answer_text(200, R"({"access_token":"tok_ok","token_type":"Bearer"})");
        }
        return answer_text(500, R"({"errors":[{"message":"down"}]})", extra);
    };
}

glue::client_config raw_config(std::uint16_t port) {
    glue::client_config cfg;
    cfg.api_url = "http://127.0.0.1:" + std::to_string(port);
    cfg.client_id = "glue-headers-client";
    cfg.client_secret = "glue-headers-secret";
    cfg.request_timeout = 5s;
    cfg.connect_timeout = 3s;
    one_attempt(cfg);
    return cfg;
}

/// The error of one GraphQL call to a raw server answering the GraphQL request with `extra`.
glue::error raw_failure(std::string extra,
                        const std::function<void(glue::client_config&)>& tweak = {}) {
    raw_server server(failing_graphql(std::move(extra)));
    asio::io_context ioc;
    auto cfg = raw_config(server.port());
    if (tweak) {
        tweak(cfg);
    }
    glue::client client(ioc.get_executor(), cfg);
    try {
        glue::test::run(ioc, client.graphql(ws, {"{ me { id } }"}), 10s);
    } catch (const glue::error& e) {
        return e;
    }
    FAIL("the call succeeded, but it should have failed");
    throw; // not reached
}

} // namespace

TEST_SUITE("headers") {

    //------------------------------------------------------------------------------
    // Extra request headers

    TEST_CASE("default headers go with token and GraphQL requests, a call's own with its own") {
        client_fixture f({}, [](glue::client_config& c) {
            c.default_headers = {{"X-Api-Key", "key-1234"}, {"X-Tenant", "acme"}};
        });
        f.run(f.client->graphql(ws,
                                with_headers({{"traceparent", traceparent}, {"X-Note", "a\tb"}})));
        auto token = f.server.last_request(endpoint::token);
        CHECK(token.headers["x-api-key"] == "key-1234");
        CHECK(token.headers["x-tenant"] == "acme");
        CHECK(token.headers.count("traceparent") == 0); // the call's own: its GraphQL request's
        auto gql = f.server.last_request(endpoint::graphql);
        CHECK(gql.headers["x-api-key"] == "key-1234");
        CHECK(gql.headers["x-tenant"] == "acme");
        CHECK(gql.headers["traceparent"] == traceparent);
        CHECK(gql.headers["x-note"] == "a\tb");
        // The client's own headers are still the client's.
        CHECK(gql.headers["content-type"] == "application/json");
        CHECK(gql.headers["authorization"].starts_with("Bearer "));

        // The next call without headers of its own sends the defaults only.
        f.run(f.client->graphql(ws, {"{ me { id } }"}));
        gql = f.server.last_request(endpoint::graphql);
        CHECK(gql.headers["x-api-key"] == "key-1234");
        CHECK(gql.headers.count("traceparent") == 0);
        CHECK(gql.headers.count("x-note") == 0);
        CHECK(f.server.token_requests() == 1);
    }

    TEST_CASE("a call's headers go with each of its attempts") {
        client_fixture f({}, [](glue::client_config& c) {
            c.graphql_retry_base_delay = 1ms;
            c.graphql_retry_max_delay = 1ms;
        });
        f.run(f.client->fetch_token(ws));
        f.server.set_fault(endpoint::graphql, answering(502, {}, {}, 1));
        f.run(f.client->graphql(ws, with_headers({{"traceparent", traceparent}})));
        CHECK(f.server.graphql_requests() == 2);
        CHECK(f.server.last_request(endpoint::graphql).headers["traceparent"] == traceparent);
    }

    TEST_CASE("a call's own headers and its own token go together") {
        client_fixture f;
        const std::string token = f.run(f.client->fetch_token(ws)).value;
        auto req = with_headers({{"traceparent", traceparent}, {"X-Note", "n"}});
        req.access_token = token;
        f.run(f.client->graphql(ws, req));
        auto gql = f.server.last_request(endpoint::graphql);
        CHECK(gql.headers["authorization"] == "Bearer " + token);
        CHECK(gql.headers["traceparent"] == traceparent);
        CHECK(gql.headers["x-note"] == "n");
    }

    TEST_CASE("a call's header that could inject or override is refused before any I/O") {
        struct bad_case {
            std::string what;
            std::vector<glue::http_header> headers;
        };
        std::vector<bad_case> cases = {
            {"CR", {{"X-A", "a\rX-Injected: 1"}}},
            {"LF", {{"X-A", "a\nX-Injected: 1"}}},
            {"CRLF", {{"X-A", "a\r\n\r\nGET / HTTP/1.1"}}},
            {"NUL", {{"X-A", std::string("a\0b", 3)}}},
            {"another control character", {{"X-A", "a\x1b"}}},
            {"leading space", {{"X-A", " a"}}},
            {"trailing tab", {{"X-A", "a\t"}}},
            {"CRLF in the name", {{"X-A\r\nX-Injected", "1"}}},
            {"a space in the name", {{"X A", "1"}}},
            {"a colon in the name", {{"X-A:", "1"}}},
            {"an empty name", {{"", "1"}}},
            {"a name over 256 characters", {{std::string(257, 'n'), "1"}}},
            {"a value over 8 KiB", {{"X-A", std::string(8 * 1024 + 1, 'v')}}},
        };
        std::vector<glue::http_header> too_many;
        for (int i = 0; i < 65; ++i) {
            too_many.push_back({"X-H" + std::to_string(i), "v"});
        }
        cases.push_back({"65 headers", too_many});
        for (std::string name :
             {"hOST", "aUTHORIZATION", "pROXY-aUTHORIZATION", "cONTENT-lENGTH", "cONTENT-tYPE",
              "cONTENT-eNCODING", "tRANSFER-eNCODING", "cONNECTION", "kEEP-aLIVE", "tE", "tRAILER",
              "uPGRADE", "eXPECT", "aCCEPT", "aCCEPT-eNCODING", "uSER-aGENT"}) {
            cases.push_back({"reserved " + name, {{"X-Fine", "1"}, {name, "1"}}});
        }
        for (const auto& c : cases) {
            CAPTURE(c.what);
            client_fixture f;
            auto e = f.error_of(f.client->graphql(ws, with_headers(c.headers)));
            CHECK(e.code() == errc::invalid_argument);
            CHECK_FALSE(has_text(e.what(), "Injected"));
            CHECK(f.server.requests() == 0); // not even a token request
            CHECK(f.server.connections_accepted() == 0);
        }
        // The limits themselves are fine.
        client_fixture f;
        std::vector<glue::http_header> most(too_many.begin(), too_many.begin() + 64);
        most.back() = {std::string(256, 'n'), std::string(8 * 1024, 'v')};
        f.run(f.client->graphql(ws, with_headers(most)));
        auto gql = f.server.last_request(endpoint::graphql);
        CHECK(gql.headers["x-h0"] == "v");
        CHECK(gql.headers[std::string(256, 'n')] == std::string(8 * 1024, 'v'));
    }

    //------------------------------------------------------------------------------
    // Captured response headers

    TEST_CASE("a failed call keeps the server's request id, in its diagnostics and what()") {
        client_fixture f({}, one_attempt);
        f.run(f.client->fetch_token(ws));
        f.server.set_fault(endpoint::graphql, answering(500));
        SUBCASE("a 500") {
            auto e = f.error_of(f.client->graphql(ws, {"{ me { id } }"}));
            CHECK(e.code() == errc::server_error);
            const auto& d = *e.details();
            CHECK(captured(d, "x-request-id").starts_with("req_"));
            CHECK(d.request_id == captured(d, "x-request-id"));
            CHECK(has_text(e.what(), "[request id: " + d.request_id + "]"));
        }
        SUBCASE("a 503 with Retry-After: that header is captured too") {
            f.server.set_fault(endpoint::graphql, answering(503, "3600"));
            auto e = f.error_of(f.client->graphql(ws, {"{ me { id } }"}));
            const auto& d = *e.details();
            CHECK(captured(d, "retry-after") == "3600");
            CHECK(has_text(e.what(), "[request id: req_"));
        }
        SUBCASE("a GraphQL error") {
            f.server.clear_faults();
            auto e = f.error_of(f.client->graphql(ws, {"{ nope }"}));
            CHECK(e.code() == errc::graphql_error);
            CHECK(e.details()->request_id.starts_with("req_"));
            CHECK(has_text(e.what(), "[request id: req_"));
        }
        SUBCASE("through the async form's diagnostics") {
            glue::diagnostics diag;
            std::optional<glue::error_code> got;
            f.client->async_graphql(ws, glue::graphql_request("{ me { id } }"), diag,
                                    [&](glue::error_code ec, glue::graphql_response) { got = ec; });
            run_until(f.ioc, [&] { return got.has_value(); });
            CHECK(*got == errc::server_error);
            CHECK(diag.request_id.starts_with("req_"));
            CHECK(captured(diag, "x-request-id") == diag.request_id);
        }
    }

    TEST_CASE("the request id is the failing answer's own") {
        client_fixture f({}, one_attempt);
        f.run(f.client->fetch_token(ws));                // answer req_1
        f.run(f.client->graphql(ws, {"{ me { id } }"})); // req_2
        f.server.set_fault(endpoint::graphql, answering(500));
        CHECK(f.error_of(f.client->graphql(ws, {"{ me { id } }"})).details()->request_id ==
              "req_3");
        CHECK(f.error_of(f.client->graphql(ws, {"{ me { id } }"})).details()->request_id ==
              "req_4");
    }

    TEST_CASE("a failed token request keeps the request id too") {
        client_fixture f({}, [](glue::client_config& c) { c.client_secret = "wrong-secret"; });
        auto e = f.error_of(f.client->fetch_token(ws));
        CHECK(e.oauth_error() == "invalid_client");
        CHECK(e.details()->request_id.starts_with("req_"));
        CHECK(has_text(e.what(), "[request id: req_"));
    }

    TEST_CASE("capture_response_headers chooses what is kept; the mock can leave its ids out") {
        SUBCASE("none captured: no headers, no request id") {
            client_fixture f({}, [](glue::client_config& c) {
                one_attempt(c);
                c.capture_response_headers.clear();
            });
            f.server.set_fault(endpoint::graphql, answering(500));
            auto e = f.error_of(f.client->graphql(ws, {"{ me { id } }"}));
            CHECK(e.details()->response_headers.empty());
            CHECK(e.details()->request_id.empty());
            CHECK_FALSE(has_text(e.what(), "request id"));
        }
        SUBCASE("names in any case, kept in lower case") {
            client_fixture f({}, [](glue::client_config& c) {
                one_attempt(c);
                c.capture_response_headers = {"Content-TYPE", "X-REQUEST-ID"};
            });
            f.server.set_fault(endpoint::graphql, answering(500));
            auto e = f.error_of(f.client->graphql(ws, {"{ me { id } }"}));
            CHECK(captured(*e.details(), "content-type") == "application/json");
            CHECK(e.details()->request_id.starts_with("req_"));
        }
        SUBCASE("a mock without request ids") {
            glue::testing::mock_server_options o;
            o.request_ids = false;
            client_fixture f(o, one_attempt);
            f.server.set_fault(endpoint::graphql, answering(500));
            auto e = f.error_of(f.client->graphql(ws, {"{ me { id } }"}));
            CHECK(captured(*e.details(), "x-request-id").empty());
            CHECK(e.details()->request_id.empty());
            CHECK_FALSE(has_text(e.what(), "request id"));
        }
    }

    TEST_CASE("a request id that isn't 1 to 128 visible ASCII characters is not kept as one") {
        const std::string longest(128, 'r');
        struct id_case {
            std::string what, header, value;
            std::string id; ///< kept as the request id; empty: none
        };
        const id_case cases[] = {
            {"128 characters", "X-Request-Id", longest, longest},
            {"129 characters", "X-Request-Id", longest + "r", ""},
            {"a space", "X-Request-Id", "req 1", ""},
            {"non-ASCII", "X-Request-Id", "req\xc3\xa9", ""},
            {"empty", "X-Request-Id", "", ""},
            {"AWS's", "x-amzn-RequestId", "aws-1", "aws-1"},
            {"Cloudflare's", "CF-RAY", "8f1e2d3c4b5a6978-AMS", "8f1e2d3c4b5a6978-AMS"},
        };
        for (const auto& c : cases) {
            CAPTURE(c.what);
            auto e = raw_failure(c.header + ": " + c.value + "\r\n");
            CHECK(e.code() == errc::server_error);
            CHECK(e.details()->request_id == c.id);
            CHECK(has_text(e.what(), "request id") == !c.id.empty());
            REQUIRE(e.details()->response_headers.size() == 1);
            std::string lower = c.header;
            std::transform(lower.begin(), lower.end(), lower.begin(),
                           [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
            CHECK(e.details()->response_headers[0].name == lower);
            // Kept whole below 256 bytes.
            CHECK(e.details()->response_headers[0].value == c.value);
        }
        // An unusable x-request-id gives way to the next name.
        auto e = raw_failure("X-Request-Id: req 1\r\nCF-Ray: ray-2\r\n");
        CHECK(e.details()->request_id == "ray-2");
    }

    TEST_CASE("captured values are cut at 256 bytes, and at most 32 headers are kept") {
        auto e = raw_failure("X-Request-Id: " + std::string(1000, 'r') + "\r\n");
        REQUIRE(e.details()->response_headers.size() == 1);
        CHECK(e.details()->response_headers[0].value == std::string(256, 'r'));
        CHECK(e.details()->request_id.empty());

        std::string many;
        for (int i = 0; i < 40; ++i) {
            many += "X-Request-Id: id-" + std::to_string(i) + "\r\n";
        }
        e = raw_failure(many);
        REQUIRE(e.details()->response_headers.size() == 32);
        CHECK(e.details()->response_headers[31].value == "id-31"); // the first 32, in order
        CHECK(e.details()->request_id == "id-0");
    }

} // TEST_SUITE
