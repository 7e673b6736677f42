// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The token endpoint's response: expires_in, the grant, and the failures it describes.

#include "protocol/token_grant.hpp"
#include "protocol/token_response.hpp"
#include "protocol_test.hpp"

#include <boost/json.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

namespace {

namespace json = boost::json;
using namespace protocol_test;
using namespace std::chrono_literals;

constexpr auto fallback_lifetime = 300s;

std::int64_t lifetime_of(const json::value& expires_in) {
    return gd::token_lifetime(&expires_in, fallback_lifetime).count();
}

const gd::steady_time sent_at = gd::steady_time{} + 12345s;

gd::result<gd::token_grant> token_response(unsigned status, std::string body,
                                           std::string retry_after = {}) {
    return gd::parse_token_response(response(status, std::move(body), std::move(retry_after)),
                                    fallback_lifetime, sent_at);
}

/// A 200 token response whose access_token is `token` (already JSON-escaped).
gd::result<gd::token_grant> token_response_with(std::string_view token_json) {
    return token_response(200, R"({"access_token":)" + std::string(token_json) +
                                   R"(,"token_type":"Bearer","expires_in":60})");
}

} // namespace

TEST_SUITE("protocol") {

    //------------------------------------------------------------------------------
    // token_lifetime

    TEST_CASE("token_lifetime falls back for a missing, non-positive or sub-second expires_in") {
        CHECK(gd::token_lifetime(nullptr, fallback_lifetime) == fallback_lifetime);
        CHECK(lifetime_of(0) == 300);
        CHECK(lifetime_of(-5) == 300);
        CHECK(lifetime_of(-1e30) == 300);
        CHECK(lifetime_of(0.5) == 300);
        CHECK(lifetime_of(std::numeric_limits<double>::quiet_NaN()) == 300);
        CHECK(lifetime_of(std::numeric_limits<std::int64_t>::min()) == 300);
    }

    TEST_CASE("token_lifetime clamps huge values to max_token_lifetime") {
        const auto max = gd::max_token_lifetime.count();
        CHECK(lifetime_of(1e30) == max);
        CHECK(lifetime_of(std::numeric_limits<std::uint64_t>::max()) == max);
        CHECK(lifetime_of(std::numeric_limits<std::int64_t>::max()) == max);
        CHECK(lifetime_of(1e300) == max);
        CHECK(lifetime_of(std::numeric_limits<double>::infinity()) == max);
        CHECK(lifetime_of(max) == max);
        CHECK(lifetime_of(max + 1) == max);
    }

    TEST_CASE("token_lifetime keeps ordinary values and truncates fractions") {
        CHECK(lifetime_of(315705599) == 315705599); // Glue's documented 10-year example
        CHECK(lifetime_of(1) == 1);
        CHECK(lifetime_of(3600) == 3600);
        CHECK(lifetime_of(3.7) == 3);
        CHECK(lifetime_of(std::uint64_t(7200)) == 7200);
    }

    TEST_CASE("token_lifetime accepts a numeric string and nothing else") {
        CHECK(lifetime_of("3600") == 3600);
        CHECK(lifetime_of("3.5") == 3);
        for (std::string_view s : {"36x", "", "abc", " 3600", "3600 ", "0", "-3600", "nan"}) {
            CAPTURE(s);
            CHECK(lifetime_of(json::string(s)) == 300);
        }
    }

    TEST_CASE("token_lifetime falls back for booleans, null, arrays and objects") {
        CHECK(lifetime_of(true) == 300);
        CHECK(lifetime_of(nullptr) == 300);
        CHECK(lifetime_of(json::array{3600}) == 300);
        CHECK(lifetime_of(json::object{{"seconds", 3600}}) == 300);
    }

    //------------------------------------------------------------------------------
    // parse_token_response

    TEST_CASE("a 200 token response becomes a grant") {
        const auto r = token_response(
            200, R"({"access_token":"tok-ABC.123_~+/=","token_type":"Bearer","expires_in":3600,)"
                 R"("user_id":"usr_7","scope":"ignored"})");
        REQUIRE(r.has_value());
        CHECK(r->value == "tok-ABC.123_~+/=");
        CHECK(r->token_type == "Bearer");
        CHECK(r->user_id == "usr_7");
        CHECK(r->lifetime == 3600s);
        CHECK(r->sent_at == sent_at);
    }

    TEST_CASE("token_type defaults to Bearer, compares case-insensitively, and must be Bearer") {
        const auto missing = token_response(200, R"({"access_token":"t"})");
        REQUIRE(missing.has_value());
        CHECK(missing->token_type == "Bearer");
        CHECK(missing->lifetime == fallback_lifetime);
        CHECK(missing->user_id.empty());

        const auto lower = token_response(200, R"({"access_token":"t","token_type":"bearer"})");
        REQUIRE(lower.has_value());
        CHECK(lower->token_type == "bearer");

        for (std::string_view type : {R"("mac")", R"("")", R"(null)", R"(1)", R"("Bearer ")"}) {
            CAPTURE(type);
            const auto r = token_response(200, R"({"access_token":"t","token_type":)" +
                                                   std::string(type) + "}");
            CHECK(fails_with(r, errc::bad_response));
        }
    }

    TEST_CASE("a token response without a usable access_token is a bad_response") {
        CHECK(fails_with(token_response(200, R"({"token_type":"Bearer"})"), errc::bad_response));
        for (std::string_view token :
             {R"("")", R"(null)", R"(42)", R"(["t"])", R"({"t":1})", R"("a b")", R"("a\r\nb")",
              R"("a\u0000b")", R"("caf\u00e9")", R"("a\tb")", R"("a\u007fb")"}) {
            CAPTURE(token);
            const auto r = token_response_with(token);
            CHECK(fails_with(r, errc::bad_response));
            CHECK(diag_of(r).http_status == 200);
        }
    }

    TEST_CASE("a 200 token response that is not a JSON object is a bad_response") {
        for (std::string_view body : {"<html>oops</html>", "[1,2]", R"({"access_token":"abc")", "",
                                      R"("access_token")", "null"}) {
            CAPTURE(body);
            CHECK(fails_with(token_response(200, std::string(body)), errc::bad_response));
        }
    }

    TEST_CASE("an RFC 6749 error response becomes oauth_error with its diagnostics") {
        const auto bad_request =
            token_response(400, R"({"error":"invalid_client","error_description":"x"})");
        CHECK(fails_with(bad_request, errc::oauth_error));
        const auto& d = diag_of(bad_request);
        CHECK(d.oauth_error == "invalid_client");
        CHECK(d.oauth_error_description == "x");
        CHECK(d.http_status == 400);

        const auto unauthorized = token_response(401, R"({"error":"invalid_client"})");
        CHECK(fails_with(unauthorized, errc::oauth_error));
        CHECK(diag_of(unauthorized).oauth_error == "invalid_client");
        CHECK(diag_of(unauthorized).http_status == 401);
    }

    TEST_CASE("a failed token request without an OAuth error maps the HTTP status") {
        const auto not_json = token_response(400, "Bad Request");
        CHECK(fails_with(not_json, errc::http_error));
        CHECK(diag_of(not_json).http_status == 400);
        CHECK(diag_of(not_json).oauth_error.empty());

        CHECK(fails_with(token_response(500, R"({"error":"server_error"})"), errc::server_error));
        CHECK(fails_with(token_response(429, R"({"error":"slow_down"})"), errc::rate_limited));
        CHECK(fails_with(token_response(302, ""), errc::http_error));
        CHECK(diag_of(token_response(302, "")).http_status == 302);

        const auto unavailable = token_response(503, "", "7");
        CHECK(fails_with(unavailable, errc::server_error));
        CHECK(diag_of(unavailable).retry_after == 7s);
        CHECK(diag_of(unavailable).http_status == 503);
        CHECK(diag_of(token_response(500, "")).retry_after < 0s); // no Retry-After
    }

} // TEST_SUITE
