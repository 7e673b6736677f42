// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The glue command's error lines (tools/glue/error_text.hpp), exactly, for every class of
// failure: those test_cli.sh can't bring about on 127.0.0.1 (a failed name lookup) included.

#include "glue/error_text.hpp"
#include "support/outcome.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/json/parse.hpp>

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace {

using glue::errc;
using glue::cli::error_context;
using glue::cli::error_line;
namespace asio = boost::asio;

error_context local() {
    error_context ctx;
    ctx.host = "127.0.0.1:1";
    ctx.workspace = "wks_1";
    ctx.timeout = std::chrono::seconds(30);
    return ctx;
}

glue::error failure(glue::error_code ec, glue::diagnostics d = {}) {
    return glue::error(ec, "glue::client::graphql",
                       std::make_shared<const glue::diagnostics>(std::move(d)));
}

glue::error failure(errc e, glue::diagnostics d = {}) {
    return failure(glue::make_error_code(e), std::move(d));
}

// What the library throws: to_error's reason() included.
glue::error thrown(errc e, std::string_view reason, glue::diagnostics d = {}) {
    return glue::detail::to_error(
        glue::detail::make_failure(glue::make_error_code(e), reason, std::move(d)),
        "client::graphql");
}

glue::diagnostics answered(int status, std::string request_id = {}) {
    glue::diagnostics d;
    d.http_status = status;
    d.request_id = std::move(request_id);
    return d;
}

// A glue::error made by its public constructor has no reason(): the code's message stands in.
glue::error bad_response_without_reason() {
    return failure(errc::bad_response, answered(200, "req_6"));
}

} // namespace

TEST_SUITE("cli error lines") {
    TEST_CASE("transport: refused, no address, TLS, a broken connection") {
        CHECK(error_line(failure(asio::error::connection_refused), local()) ==
              "glue: cannot connect to 127.0.0.1:1 (connection refused); is GLUE_API_URL right?");
        auto api = local();
        api.host = "api.example.invalid";
        CHECK(error_line(failure(asio::error::host_not_found), api) ==
              "glue: cannot find the address of api.example.invalid (host not found "
              "(authoritative)); is GLUE_API_URL right?");
        api.host = "api.example.invalid:8443";
        CHECK(error_line(failure(asio::error::host_not_found_try_again), api) ==
              "glue: cannot find the address of api.example.invalid (host not found "
              "(non-authoritative), try again later); is GLUE_API_URL right?");
        const glue::error_code verify(
            static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_CERTIFICATE_VERIFY_FAILED)),
            asio::error::get_ssl_category());
        CHECK(error_line(failure(verify), local()) ==
              "glue: cannot verify the TLS certificate of 127.0.0.1:1 (certificate verify "
              "failed); if a private CA signed it, pass that CA with --ca-file or GLUE_CA_FILE");
        auto with_ca = local();
        with_ca.ca_file = true;
        CHECK(error_line(failure(verify), with_ca) ==
              "glue: cannot verify the TLS certificate of 127.0.0.1:1 (certificate verify "
              "failed); is the --ca-file (GLUE_CA_FILE) the CA that signed it?");
        CHECK(error_line(failure(asio::ssl::error::stream_truncated), local()) ==
              "glue: TLS with 127.0.0.1:1 failed (stream truncated); is it an https:// server, "
              "and GLUE_API_URL right?");
        CHECK(error_line(failure(asio::error::connection_reset), local()) ==
              "glue: the connection to 127.0.0.1:1 failed (connection reset by peer); try again");
        CHECK(error_line(failure(asio::error::operation_aborted), local()) ==
              "glue: the call was cancelled");
    }

    TEST_CASE("through a proxy, the proxy is named") {
        auto ctx = local();
        ctx.proxy = "127.0.0.1:3128";
        CHECK(error_line(failure(asio::error::connection_refused), ctx) ==
              "glue: cannot connect to 127.0.0.1:3128 (connection refused); are GLUE_API_URL and "
              "the proxy (--proxy, GLUE_PROXY) right?");
        glue::diagnostics d = answered(407);
        d.proxy_status = 407;
        CHECK(error_line(failure(errc::forbidden, d), ctx) ==
              "glue: the proxy 127.0.0.1:3128 refused the credentials (HTTP 407); check the user "
              "and password in --proxy or GLUE_PROXY");
    }

    TEST_CASE("the token endpoint: credentials, a workspace without the app, other refusals") {
        glue::diagnostics d = answered(401, "req_3");
        d.oauth_error = "invalid_client";
        d.oauth_error_description = "ECHO client_secret=hunter2";
        CHECK(error_line(failure(errc::oauth_error, d), local()) ==
              "glue: 127.0.0.1:1 rejected the app's credentials (invalid_client, HTTP 401); check "
              "GLUE_CLIENT_ID and GLUE_CLIENT_SECRET");
        d.http_status = 400;
        d.oauth_error = "invalid_grant";
        CHECK(error_line(failure(errc::oauth_error, d), local()) ==
              "glue: 127.0.0.1:1 gave no token for workspace wks_1 (invalid_grant); is the app "
              "installed in that workspace?");
        d.oauth_error = "invalid_request";
        CHECK(error_line(failure(errc::oauth_error, d), local()) ==
              "glue: 127.0.0.1:1 refused the token request (invalid_request); check "
              "GLUE_CLIENT_ID, GLUE_CLIENT_SECRET and GLUE_REDIRECT_URI (a redirect URI "
              "registered for the app)");
        CHECK(error_line(failure(errc::unauthorized, answered(401, "req_9")), local()) ==
              "glue: 127.0.0.1:1 refused the credentials (HTTP 401, request id req_9); check "
              "GLUE_CLIENT_ID and GLUE_CLIENT_SECRET, and that the app is installed in wks_1");
        CHECK(error_line(failure(errc::forbidden, answered(403)), local()) ==
              "glue: 127.0.0.1:1 refused the request (HTTP 403, forbidden); does the app have the "
              "scopes this operation needs?");
    }

    TEST_CASE("throttling, server errors, unexpected and unreadable answers") {
        glue::diagnostics limited = answered(429, "req_4");
        limited.retry_after = std::chrono::seconds(1000);
        CHECK(error_line(failure(errc::rate_limited, limited), local()) ==
              "glue: 127.0.0.1:1 is rate limiting the app (HTTP 429, retry after 1000 s, request "
              "id req_4); wait, and try again");
        glue::diagnostics paused;
        paused.retry_after = std::chrono::seconds(7);
        CHECK(error_line(failure(errc::rate_limited, paused), local()) ==
              "glue: the call's turn under the rate limit came too late (retry after 7 s); lower "
              "the request rate, or raise --timeout");
        CHECK(error_line(failure(errc::server_error, answered(503, "req_5")), local()) ==
              "glue: 127.0.0.1:1 failed (HTTP 503, server error, request id req_5); try again "
              "later, and quote the request id if it persists");
        CHECK(error_line(failure(errc::server_error, answered(500)), local()) ==
              "glue: 127.0.0.1:1 failed (HTTP 500, server error); try again later");
        CHECK(error_line(failure(errc::http_error, answered(404)), local()) ==
              "glue: 127.0.0.1:1 gave an unexpected answer (HTTP 404); is GLUE_API_URL right?");
        CHECK(error_line(thrown(errc::http_error, "the server did not select HTTP/2 (ALPN), and "
                                                  "client_config::http2 is required"),
                         local()) ==
              "glue: 127.0.0.1:1: the server did not select HTTP/2 (ALPN), and "
              "client_config::http2 is required; use --http2 auto (GLUE_HTTP2), or a server that "
              "speaks HTTP/2");
        CHECK(error_line(bad_response_without_reason(), local()) ==
              "glue: 127.0.0.1:1 sent an answer glue can't read (malformed, truncated or "
              "oversized response) (HTTP 200, request id req_6); is GLUE_API_URL right?");
        CHECK(error_line(thrown(errc::bad_response, "the GraphQL response is not a JSON object",
                                answered(200, "req_6")),
                         local()) ==
              "glue: 127.0.0.1:1 sent an answer glue can't read (the GraphQL response is not a "
              "JSON object) (HTTP 200, request id req_6); is GLUE_API_URL right?");
    }

    TEST_CASE("GraphQL errors: message, location and path, server text on one line") {
        glue::diagnostics d = answered(200, "req_2");
        d.graphql_errors.push_back(
            {R"(Cannot query field "idx" on type "User". Did you mean "id"?)",
             {},
             boost::json::parse(R"([{"line":1,"column":8}])").as_array(),
             {}});
        CHECK(
            error_line(failure(errc::graphql_error, d), local()) ==
            R"(glue: the query failed: Cannot query field "idx" on type "User". Did you mean "id"? (GraphQL error at 1:8))");
        d.graphql_errors.push_back(
            {"no\naccess", boost::json::parse(R"(["groups","nodes",3])").as_array(), {}, {}});
        d.graphql_errors.push_back({"third", {}, {}, {}});
        d.graphql_errors.push_back({"fourth", {}, {}, {}});
        CHECK(
            error_line(failure(errc::graphql_error, d), local()) ==
            R"(glue: the query failed: Cannot query field "idx" on type "User". Did you mean "id"? (GraphQL error at 1:8); no access (GraphQL error path groups.nodes[3]); third (GraphQL error); and 1 more)");
    }

    TEST_CASE("timeouts, invalid arguments, pagination") {
        CHECK(error_line(failure(errc::timeout), local()) ==
              "glue: 127.0.0.1:1 did not answer in time (deadline "
              "exceeded; --timeout is 30 s); try again, or raise "
              "--timeout");
        CHECK(error_line(failure(errc::invalid_argument), local()) ==
              "glue: invalid argument (nothing was sent)");
        CHECK(error_line(thrown(errc::invalid_argument, "workspace id is empty"), local()) ==
              "glue: workspace id is empty (nothing was sent)");
        CHECK(error_line(failure(errc::repeated_cursor), local()) ==
              "glue: pagination stopped: 127.0.0.1:1 handed out a cursor it had handed out "
              "before, so the walk would loop");
        auto paged = local();
        paged.paginate = "groups";
        CHECK(error_line(thrown(errc::bad_response, "the answer has no connection at the path"),
                         paged) ==
              "glue: --paginate groups: the answer has no connection at the path; does the query "
              "select the connection at that path, with pageInfo { hasNextPage endCursor } and "
              "nodes or edges { node }?");
        CHECK(error_line(failure(errc::too_many_pages), local()) ==
              "glue: pagination stopped: the connection has more pages than --max-pages; raise "
              "it to get the rest");
    }

    TEST_CASE("the classes glue query can't meet say the library's own words") {
        CHECK(error_line(failure(errc::internal_error), local()) ==
              "glue: an unexpected exception inside glue");
        CHECK(error_line(thrown(errc::decode_error, "expected a string, got a number"), local()) ==
              "glue: expected a string, got a number");
        CHECK(error_line(failure(boost::system::errc::make_error_code(
                             boost::system::errc::not_enough_memory)),
                         local()) == "glue: out of memory");
    }

    TEST_CASE("-v's line: what(), the category, value and source location") {
        static constexpr boost::source_location where = BOOST_CURRENT_LOCATION;
        const glue::error_code refused(boost::system::errc::connection_refused,
                                       boost::system::system_category(), &where);
        const auto line = glue::cli::error_detail(failure(refused));
        CHECK(line.starts_with("glue: detail: glue::client::graphql: Connection refused "
                               "[system:111 at "));
        CHECK(line.find("test_error_text.cpp:") != std::string::npos);
        CHECK(error_line(failure(refused), local()).find("system:") == std::string::npos);
    }

    TEST_CASE("a URL's host and port, never its user or password") {
        using glue::cli::authority_of;
        CHECK(authority_of("http://127.0.0.1:1") == "127.0.0.1:1");
        CHECK(authority_of("https://api.gluegroups.com") == "api.gluegroups.com");
        CHECK(authority_of("https://[::1]:8443/base") == "[::1]:8443");
        CHECK(authority_of("http://user:pw@proxy:3128") == "proxy:3128");
        CHECK(authority_of("user:pw@proxy:3128") == "proxy:3128");
        CHECK(authority_of("proxy:3128") == "proxy:3128");
        CHECK(authority_of("::not a url pw@") == "(unparsable URL)");
    }
}
