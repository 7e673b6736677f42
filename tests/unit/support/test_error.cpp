// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// glue::errc and glue::error, redaction of secrets in printed values and error messages, and the
// configuration checks of glue::client's constructor. No network: constructing a client makes
// no connection.

#include <glue/client.hpp>
#include <glue/config.hpp>
#include <glue/error.hpp>
#include <glue/types.hpp>

#include "support/outcome.hpp"

#include <boost/asio/io_context.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using glue::errc;
using namespace std::chrono_literals;

constexpr errc all_errcs[] = {
    errc::invalid_argument, errc::oauth_error,   errc::unauthorized,   errc::forbidden,
    errc::rate_limited,     errc::server_error,  errc::http_error,     errc::bad_response,
    errc::graphql_error,    errc::timeout,       errc::decode_error,   errc::repeated_cursor,
    errc::too_many_pages,   errc::bad_signature, errc::state_mismatch, errc::authorization_denied,
    errc::missing_code};

bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

template <class T>
std::string printed(const T& value) {
    std::ostringstream os;
    os << value;
    return os.str();
}

/// Whether `text` shows any run of `n` consecutive characters of `secret`.
bool shows_part_of(std::string_view text, std::string_view secret, std::size_t n) {
    for (std::size_t i = 0; i + n <= secret.size(); ++i) {
        if (contains(text, secret.substr(i, n))) {
            return true;
        }
    }
    return false;
}

constexpr std::string_view secret = "S3CR3T-Zq8vXw41KpRm";

glue::client_config valid_config() {
    glue::client_config cfg;
    cfg.api_url = "http://127.0.0.1:1";
    cfg.client_id = "glue-unit-test-client";
    cfg.client_secret = std::string(secret);
    return cfg;
}

/// The glue::error the client's constructor throws for `cfg`, if it throws one.
std::optional<glue::error> construction_error(const glue::client_config& cfg) {
    boost::asio::io_context ioc;
    try {
        glue::client c(ioc.get_executor(), cfg);
    } catch (const glue::error& e) {
        return e;
    }
    return std::nullopt;
}

} // namespace

TEST_SUITE("error") {

    //------------------------------------------------------------------------------
    // errc and its category

    TEST_CASE("the glue category is named \"glue\"") {
        CHECK(std::string_view(glue::glue_category().name()) == "glue");
        CHECK(&glue::make_error_code(errc::timeout).category() == &glue::glue_category());
    }

    TEST_CASE("every errc has a distinct, non-empty message and a non-zero value") {
        std::set<std::string> messages;
        for (auto e : all_errcs) {
            CAPTURE(static_cast<int>(e));
            const auto ec = glue::make_error_code(e);
            CHECK(static_cast<int>(e) != 0);
            CHECK(ec.value() == static_cast<int>(e));
            CHECK(ec.failed());
            CHECK_FALSE(ec.message().empty());
            messages.insert(ec.message());
        }
        CHECK(messages.size() == std::size(all_errcs));
    }

    TEST_CASE("errc values keep their documented numbering") {
        CHECK(static_cast<int>(errc::invalid_argument) == 1);
        CHECK(static_cast<int>(errc::timeout) == 10);
        CHECK(static_cast<int>(errc::too_many_pages) == 13);
        CHECK(static_cast<int>(errc::missing_code) == 17);
    }

    TEST_CASE("an error_code made from an errc compares equal to that errc only") {
        const glue::error_code ec = errc::timeout; // is_error_code_enum
        CHECK(ec == glue::make_error_code(errc::timeout));
        CHECK(ec == errc::timeout);
        CHECK(ec != errc::server_error);
        CHECK(ec.value() != 0);
        CHECK(ec);
        CHECK(glue::make_error_code(errc::invalid_argument) != glue::error_code());
    }

    //------------------------------------------------------------------------------
    // glue::error

    TEST_CASE("glue::error's accessors return its diagnostics") {
        glue::diagnostics d;
        d.http_status = 400;
        d.oauth_error = "invalid_client";
        d.oauth_error_description = "unknown client";
        d.graphql_errors.push_back({"boom", {"me"}, {}, {{"code", "X"}}});
        d.partial_data = boost::json::object{{"me", nullptr}};
        d.retry_after = 7s;
        const auto diag = std::make_shared<const glue::diagnostics>(std::move(d));

        const glue::error e(glue::make_error_code(errc::oauth_error), "context", diag);
        CHECK(e.code() == errc::oauth_error);
        CHECK(e.http_status() == 400);
        CHECK(e.oauth_error() == "invalid_client");
        CHECK(e.oauth_error_description() == "unknown client");
        REQUIRE(e.graphql_errors().size() == 1);
        CHECK(e.graphql_errors()[0].message == "boom");
        CHECK(e.partial_data() == boost::json::object{{"me", nullptr}});
        CHECK(e.details() == diag);
        CHECK(e.details()->retry_after == 7s);
    }

    TEST_CASE("a glue::error without diagnostics reports none") {
        const glue::error e(glue::make_error_code(errc::timeout), "context");
        CHECK(e.code() == errc::timeout);
        CHECK(e.http_status() == 0);
        CHECK(e.oauth_error().empty());
        CHECK(e.oauth_error_description().empty());
        CHECK(e.graphql_errors().empty());
        CHECK(e.partial_data().is_null());
        REQUIRE(e.details() != nullptr);
        CHECK(e.details()->retry_after < 0s);
    }

    TEST_CASE("to_error names the operation and HTTP status but never server text") {
        glue::diagnostics d;
        d.http_status = 400;
        d.oauth_error = "invalid_client";
        d.oauth_error_description = "ECHO-secret-from-server";
        d.graphql_errors.push_back({"ECHO-graphql-message-1", {}, {}, {}});
        d.graphql_errors.push_back({"ECHO-graphql-message-2", {}, {}, {}});
        d.partial_data = boost::json::object{{"ECHO-data-key", "ECHO-data-value"}};
        const auto f = glue::detail::make_failure(glue::make_error_code(errc::oauth_error),
                                                  "the token request failed", std::move(d));

        const auto e = glue::detail::to_error(f, "client::fetch_token");
        const std::string_view what = e.what();
        CAPTURE(what);
        CHECK(e.code() == errc::oauth_error);
        CHECK(contains(what, "fetch_token"));
        CHECK(contains(what, "400"));
        CHECK(contains(what, "the token request failed"));
        CHECK_FALSE(contains(what, "ECHO"));
        CHECK(e.details() == f.diag); // the very same diagnostics object
        CHECK(e.oauth_error_description() == "ECHO-secret-from-server");
    }

    TEST_CASE("to_error without a response leaves the HTTP status out") {
        const auto e =
            glue::detail::to_error(glue::detail::make_failure(errc::timeout), "client::graphql");
        const std::string_view what = e.what();
        CAPTURE(what);
        CHECK(e.code() == errc::timeout);
        CHECK(contains(what, "graphql"));
        CHECK_FALSE(contains(what, "HTTP"));
        CHECK(e.http_status() == 0);
    }

    TEST_CASE("what() is a line for people: no category, value or source location") {
        // An Asio failure carries its source location in the error_code; what() leaves it,
        // and the category and value, to code().
        static constexpr boost::source_location where = BOOST_CURRENT_LOCATION;
        const glue::error_code refused(boost::system::errc::connection_refused,
                                       boost::system::system_category(), &where);
        const glue::error e(refused, "glue::client::graphql");
        CHECK(std::string_view(e.what()) ==
              "glue::client::graphql: " + std::string(refused.message()));
        CHECK(e.code() == refused);
        CHECK(e.code().has_location());
        CHECK(contains(e.code().what(), "system:111 at "));

        const glue::error g(glue::make_error_code(errc::graphql_error), "context");
        CHECK(std::string_view(g.what()) == "context: the GraphQL response carried errors");
        CHECK(g.reason().empty());
    }

    TEST_CASE("to_error keeps its message apart too, as reason()") {
        glue::diagnostics d;
        d.http_status = 200;
        d.request_id = "req_2";
        const auto e = glue::detail::to_error(
            glue::detail::make_failure(glue::make_error_code(errc::bad_response),
                                       "the GraphQL response is not a JSON object", std::move(d)),
            "client::graphql");
        CHECK(std::string_view(e.what()) ==
              "glue::client::graphql (HTTP 200): the GraphQL response is not a JSON object "
              "[request id: req_2]: malformed, truncated or oversized response");
        CHECK(e.reason() == "the GraphQL response is not a JSON object");
        CHECK(glue::detail::to_error(glue::detail::make_failure(errc::timeout), "x")
                  .reason()
                  .empty());
    }

    TEST_CASE("to_error adds the server's request id, and nothing else the server sent") {
        glue::diagnostics d;
        d.http_status = 500;
        d.response_headers = {{"x-request-id", "req_7"}, {"x-echo", "ECHO-header"}};
        d.request_id = "req_7";
        const auto e = glue::detail::to_error(
            glue::detail::make_failure(glue::make_error_code(errc::server_error), "it failed",
                                       std::move(d)),
            "client::graphql");
        const std::string_view what = e.what();
        CAPTURE(what);
        CHECK(contains(what, "it failed [request id: req_7]"));
        CHECK_FALSE(contains(what, "ECHO"));
        CHECK(e.details()->response_headers.size() == 2);

        glue::diagnostics none;
        none.http_status = 500;
        none.response_headers = {{"x-request-id", "req 7"}}; // not a usable id: not kept as one
        const auto plain = glue::detail::to_error(
            glue::detail::make_failure(glue::make_error_code(errc::server_error), "it failed",
                                       std::move(none)),
            "client::graphql");
        CHECK_FALSE(contains(plain.what(), "request id"));
    }

    //------------------------------------------------------------------------------
    // Printing secrets

    TEST_CASE("a printed access_token shows at most the last 4 characters of its value") {
        glue::access_token t;
        t.value = "Q7mZ2pLx9RkV4nTb8wYc1sHd6fJg3aUe5oIyK0Ns";
        t.token_type = "Bearer";
        t.user_id = "usr_unit_test";
        t.expires_at = std::chrono::steady_clock::now() + 1h;
        REQUIRE(t.value.size() == 40);

        const auto out = printed(t);
        CAPTURE(out);
        CHECK(contains(out, t.value.substr(36)));
        CHECK_FALSE(contains(out, t.value.substr(0, 36)));
        CHECK_FALSE(shows_part_of(out, t.value, 5));
        CHECK(contains(out, "Bearer"));
        CHECK(contains(out, "usr_unit_test"));
    }

    TEST_CASE("a printed short access_token shows none of its value") {
        glue::access_token t;
        t.value = "KXQPJWZV";
        t.token_type = "Bearer";
        t.user_id = "usr_short";
        const auto out = printed(t);
        CAPTURE(out);
        CHECK_FALSE(shows_part_of(out, t.value, 2));
        CHECK(contains(out, "Bearer"));
        CHECK(contains(out, "usr_short"));
    }

    TEST_CASE("a printed client_config never shows the client secret") {
        auto cfg = valid_config();
        cfg.api_url = "https://api.example.test/base";
        const auto out = printed(cfg);
        CAPTURE(out);
        CHECK_FALSE(shows_part_of(out, secret, 6));
        CHECK(contains(out, "https://api.example.test/base"));
        CHECK(contains(out, "glue-unit-test-client"));
    }

    //------------------------------------------------------------------------------
    // glue::client's configuration checks

    TEST_CASE("glue::client refuses a configuration it can't use, without the secret in what()") {
        struct bad_case {
            std::string_view what;
            std::function<void(glue::client_config&)> change;
        };
        const bad_case cases[] = {
            {"unparseable api_url", [](auto& c) { c.api_url = "not a url"; }},
            {"empty api_url", [](auto& c) { c.api_url = ""; }},
            {"non-http scheme", [](auto& c) { c.api_url = "ftp://127.0.0.1"; }},
            {"http to a non-loopback host", [](auto& c) { c.api_url = "http://example.com"; }},
            {"api_url with user info", [](auto& c) { c.api_url = "https://u:p@api.example.test"; }},
            {"empty client_id", [](auto& c) { c.client_id.clear(); }},
            {"empty client_secret", [](auto& c) { c.client_secret.clear(); }},
            {"CR LF in client_secret", [](auto& c) { c.client_secret += "\r\nX-Injected: 1"; }},
            {"NUL in client_secret", [](auto& c) { c.client_secret += '\0'; }},
            {"LF in client_id", [](auto& c) { c.client_id += "\nX"; }},
            {"CR in user_agent", [](auto& c) { c.user_agent = "agent\r"; }},
            {"max_connections 0", [](auto& c) { c.max_connections = 0; }},
            {"max_response_header_bytes 0", [](auto& c) { c.max_response_header_bytes = 0; }},
            {"max_response_body_bytes 0", [](auto& c) { c.max_response_body_bytes = 0; }},
            {"max_request_body_bytes 0", [](auto& c) { c.max_request_body_bytes = 0; }},
            {"request_timeout 0", [](auto& c) { c.request_timeout = 0ms; }},
            {"negative token_request_timeout", [](auto& c) { c.token_request_timeout = -1ms; }},
            {"connect_timeout 0", [](auto& c) { c.connect_timeout = 0ms; }},
            {"default_token_lifetime 0", [](auto& c) { c.default_token_lifetime = 0s; }},
            {"negative connection_idle_timeout", [](auto& c) { c.connection_idle_timeout = -1ms; }},
            {"negative connection_max_lifetime", [](auto& c) { c.connection_max_lifetime = -1ms; }},
            {"negative max_requests_per_second", [](auto& c) { c.max_requests_per_second = -1; }},
            {"NaN max_requests_per_second_per_workspace",
             [](auto& c) { c.max_requests_per_second_per_workspace = std::nan(""); }},
            {"infinite max_requests_per_second",
             [](auto& c) { c.max_requests_per_second = HUGE_VAL; }},
            {"app_throttle_workspaces 0", [](auto& c) { c.app_throttle_workspaces = 0; }},
            {"throttle_window 0", [](auto& c) { c.throttle_window = 0ms; }},
            {"retry_cost 0 with a budget", [](auto& c) { c.retry_cost = 0; }},
            {"fleet_rate_limit without a shared cache",
             [](auto& c) {
                 c.fleet_rate_limit = true;
                 c.max_requests_per_second = 100;
             }},
            {"fleet_rate_limit without a rate",
             [](auto& c) {
                 c.fleet_rate_limit = true;
                 c.shared_cache_url = "redis://127.0.0.1:1";
                 c.shared_cache_key = std::string(64, 'a');
             }},
            {"missing ca_file with https",
             [](auto& c) {
                 c.api_url = "https://api.gluegroups.com";
                 c.ca_file = "/nonexistent/glue-unit-test-ca.pem";
             }},
            {"garbage ca_pem with https",
             [](auto& c) {
                 c.api_url = "https://api.gluegroups.com";
                 c.ca_pem = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
             }},
        };
        for (const auto& bad : cases) {
            CAPTURE(bad.what);
            auto cfg = valid_config();
            bad.change(cfg);
            const auto e = construction_error(cfg);
            REQUIRE(e.has_value());
            CHECK(e->code() == errc::invalid_argument);
            const std::string_view what = e->what();
            CAPTURE(what);
            CHECK(contains(what, "client"));
            CHECK_FALSE(shows_part_of(what, secret, 6));
        }
    }

    TEST_CASE("glue::client accepts a valid configuration without doing any I/O") {
        boost::asio::io_context ioc;
        {
            glue::client c(ioc.get_executor(), valid_config());
            CHECK(c.config().api_url == "http://127.0.0.1:1");
            CHECK(c.config().client_id == "glue-unit-test-client");
            CHECK(c.get_executor() == ioc.get_executor());

            // An idle client keeps no work on the io_context: poll() finds nothing to run and
            // leaves the io_context stopped for lack of work.
            CHECK(ioc.poll() == 0);
            CHECK(ioc.stopped());
            ioc.restart();
            CHECK(ioc.run() == 0);
        }
        ioc.restart();
        CHECK(ioc.run() == 0);
    }

    TEST_CASE("connection ageing: 0 (no limit) is accepted, and the limits are printed") {
        auto cfg = valid_config();
        cfg.connection_idle_timeout = 0ms;
        cfg.connection_max_lifetime = 0ms;
        CHECK_FALSE(construction_error(cfg).has_value());
        std::ostringstream os;
        os << glue::client_config{};
        CHECK(contains(os.str(), "connection_idle_timeout=60000ms"));
        CHECK(contains(os.str(), "connection_max_lifetime=600000ms"));
    }

    TEST_CASE("glue::client accepts http to a non-loopback host only with allow_insecure_http") {
        auto cfg = valid_config();
        cfg.api_url = "http://example.com";
        cfg.allow_insecure_http = true;
        CHECK_FALSE(construction_error(cfg).has_value());

        cfg.api_url = "https://api.gluegroups.com/base/";
        cfg.allow_insecure_http = false;
        CHECK_FALSE(construction_error(cfg).has_value());
    }

    //------------------------------------------------------------------------------
    // Default headers and the headers to capture

    TEST_CASE("a default header that can't be sent refuses the client, never showing its value") {
        const std::string value_secret = "APIKEY-Ld93kQm2Xv7Tz";
        struct bad_case {
            std::string_view what;
            glue::http_header header;
            std::string_view named; ///< what what() names it by
        };
        const bad_case cases[] = {
            {"CR LF in the value", {"X-Api-Key", value_secret + "\r\nX-Injected: 1"}, "X-Api-Key"},
            {"NUL in the value", {"X-Api-Key", value_secret + '\0'}, "X-Api-Key"},
            {"a trailing space", {"X-Api-Key", value_secret + " "}, "X-Api-Key"},
            {"a value over 8 KiB",
             {"X-Api-Key", value_secret + std::string(8192, 'k')},
             "X-Api-Key"},
            {"a reserved name", {"aUTHORIZATION", "Bearer " + value_secret}, "aUTHORIZATION"},
            {"a reserved name", {"Content-Length", "0"}, "Content-Length"},
            // A name that is not a token is not repeated: only its place in the list.
            {"CR LF in the name", {"X-A\r\nX-Injected", value_secret}, "default_headers[1]:"},
            {"a space in the name", {"X A", value_secret}, "default_headers[1]:"},
        };
        for (const auto& bad : cases) {
            CAPTURE(bad.what);
            auto cfg = valid_config();
            cfg.default_headers = {{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-"
                                                   "b7ad6b7169203331-01"},
                                   bad.header};
            const auto e = construction_error(cfg);
            REQUIRE(e.has_value());
            CHECK(e->code() == errc::invalid_argument);
            const std::string_view what = e->what();
            CAPTURE(what);
            CHECK(contains(what, "glue::client: default_headers[1]"));
            CHECK(contains(what, bad.named));
            CHECK_FALSE(shows_part_of(what, value_secret, 6));
            CHECK_FALSE(contains(what, "Injected"));
        }
        auto cfg = valid_config();
        cfg.default_headers.resize(65, {"X-Api-Key", value_secret});
        const auto e = construction_error(cfg);
        REQUIRE(e.has_value());
        CHECK(e->code() == errc::invalid_argument);
        CHECK(contains(e->what(), "more than 64"));
        CHECK_FALSE(shows_part_of(e->what(), value_secret, 6));
    }

    TEST_CASE("capture_response_headers: at most 32 names, each an HTTP token") {
        auto cfg = valid_config();
        cfg.capture_response_headers.clear();
        CHECK_FALSE(construction_error(cfg).has_value());
        for (int i = 0; i < 32; ++i) {
            cfg.capture_response_headers.push_back("X-Header-" + std::to_string(i));
        }
        CHECK_FALSE(construction_error(cfg).has_value());
        cfg.capture_response_headers.push_back("X-Header-32");
        auto e = construction_error(cfg);
        REQUIRE(e.has_value());
        CHECK(e->code() == errc::invalid_argument);
        CHECK(contains(e->what(), "capture_response_headers"));
        for (std::string_view name : {"", "x request id", "x-request-id\r\n", "x:y"}) {
            CAPTURE(name);
            cfg.capture_response_headers = {"x-request-id", std::string(name)};
            e = construction_error(cfg);
            REQUIRE(e.has_value());
            CHECK(e->code() == errc::invalid_argument);
        }
        cfg.capture_response_headers = {std::string(257, 'x')};
        CHECK(construction_error(cfg).has_value());
        cfg.capture_response_headers = {std::string(256, 'x'), "X-Request-ID"};
        CHECK_FALSE(construction_error(cfg).has_value());
    }

    TEST_CASE("a printed client_config names the default headers, never their values") {
        auto cfg = valid_config();
        cfg.default_headers = {{"X-Api-Key", "APIKEY-Ld93kQm2Xv7Tz"}, {"traceparent", "00-ab"}};
        const std::string out = printed(cfg);
        CAPTURE(out);
        CHECK(contains(out, "default_headers=[X-Api-Key, traceparent]"));
        CHECK_FALSE(contains(out, "APIKEY"));
        CHECK_FALSE(contains(out, "00-ab"));
    }

    TEST_CASE("valid default headers are accepted without any I/O") {
        auto cfg = valid_config();
        for (int i = 0; i < 64; ++i) {
            cfg.default_headers.push_back(
                {"X-Header-" + std::to_string(i), "value " + std::to_string(i)});
        }
        cfg.default_headers.back() = {"X-Empty", ""};
        CHECK_FALSE(construction_error(cfg).has_value());
    }

} // TEST_SUITE
