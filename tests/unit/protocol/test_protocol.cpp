// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The wire formats as pure functions: input checks, the token request and response, the GraphQL
// request and response, Retry-After and api_url parsing. No network, no sockets.

#include <glue/error.hpp>
#include <glue/types.hpp>

#include "cache/cached_token.hpp"
#include "protocol/protocol.hpp"
#include "transport/http_pool.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/json.hpp>

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace json = boost::json;
namespace gd = glue::detail;
using namespace std::chrono_literals;
using namespace std::string_view_literals;
using gd::operation_kind;
using glue::errc;

//------------------------------------------------------------------------------
// Helpers

gd::http_response response(unsigned status, std::string body, std::string retry_after = {}) {
    gd::http_response r;
    r.status = status;
    r.body = std::move(body);
    r.retry_after = std::move(retry_after);
    return r;
}

/// The failure a result holds; fails the test when it holds a value.
template <class T>
gd::failure failure_of(const gd::result<T>& r) {
    REQUIRE_FALSE(r.has_value());
    return r.error();
}

/// The failure's diagnostics; fails the test when there are none.
template <class T>
const glue::diagnostics& diag_of(const gd::result<T>& r) {
    const auto f = failure_of(r);
    REQUIRE(f.diag != nullptr);
    return *f.diag; // owned by `r` as well
}

template <class T>
bool fails_with(const gd::result<T>& r, errc e) {
    return r.has_error() && r.error().ec == e;
}

std::string encode(std::initializer_list<gd::form_field> fields) {
    return gd::form_encode(std::span<const gd::form_field>(fields.begin(), fields.size()));
}

using decoded_fields = std::vector<std::pair<std::string, std::string>>;

decoded_fields decode(std::string_view body) {
    auto r = gd::form_decode(body);
    REQUIRE(r.has_value());
    return *r;
}

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

gd::result<glue::graphql_response> graphql_response(unsigned status, std::string body,
                                                    std::string retry_after = {}) {
    return gd::parse_graphql_response(response(status, std::move(body), std::move(retry_after)));
}

json::object body_object(const glue::graphql_request& req) {
    const auto v = json::parse(gd::graphql_body(req));
    REQUIRE(v.is_object());
    return v.get_object();
}

operation_kind kind_of(std::string_view document, std::string_view name = {}) {
    return gd::graphql_operation_kind(document, name);
}

std::string http_date(std::time_t t) {
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[64];
    const auto n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return std::string(buf, n);
}

gd::origin origin_of(std::string_view url, bool allow_insecure_http = false) {
    auto r = gd::parse_origin(url, allow_insecure_http);
    REQUIRE_MESSAGE(r.has_value(), url);
    return *r;
}

} // namespace

TEST_SUITE("protocol") {

    //------------------------------------------------------------------------------
    // check_workspace_id, is_header_safe

    TEST_CASE("check_workspace_id rejects empty, overlong, control, space and non-ASCII ids") {
        const std::string bad[] = {
            "",
            std::string(gd::max_workspace_id_size + 1, 'a'),
            "wks_a\rb",
            "wks_a\nb",
            std::string("wks_a\0b", 7),
            "wks_a b",
            "wks_a\tb",
            "wks_a\x7f"
            "b",
            "wks_a\x80"
            "b",
            "wks_\xc3\xa9",
            "\xff",
        };
        for (const auto& id : bad) {
            for (bool strict : {false, true}) {
                CAPTURE(id);
                CAPTURE(strict);
                const auto r = gd::check_workspace_id(id, strict);
                CHECK(fails_with(r, errc::invalid_argument));
                CHECK_FALSE(failure_of(r).message.empty());
            }
        }
    }

    TEST_CASE("check_workspace_id accepts printable ids up to the size limit") {
        CHECK(gd::check_workspace_id("wks_32kbzWHxtQvfVEgwEdQduuxRTYG", false).has_value());
        CHECK(gd::check_workspace_id("team-42", false).has_value());
        CHECK(gd::check_workspace_id("a!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~z", false).has_value());
        CHECK(
            gd::check_workspace_id(std::string(gd::max_workspace_id_size, 'a'), false).has_value());
        CHECK(gd::max_workspace_id_size == 128);
    }

    TEST_CASE("strict check_workspace_id requires wks_ followed by base62") {
        CHECK(gd::check_workspace_id("wks_32kbzWHxtQvfVEgwEdQduuxRTYG", true).has_value());
        CHECK(gd::check_workspace_id("wks_0", true).has_value());
        for (std::string_view id :
             {"wks_", "abc", "wks_ab-c", "team-42", "WKS_abc", "wks_ab_c", "xwks_abc", "wks-abc"}) {
            CAPTURE(id);
            const auto r = gd::check_workspace_id(id, true);
            CHECK(fails_with(r, errc::invalid_argument));
            CHECK_FALSE(failure_of(r).message.empty());
        }
    }

    TEST_CASE("is_header_safe refuses control characters but allows tab and non-ASCII") {
        CHECK(gd::is_header_safe(""));
        CHECK(gd::is_header_safe("client-id_123 with spaces"));
        CHECK(gd::is_header_safe("a\tb"));
        CHECK(gd::is_header_safe("caf\xc3\xa9"));
        for (std::string_view s :
             {"a\rb"sv, "a\nb"sv, "a\r\nb"sv, "a\0b"sv, "a\x01"sv, "a\x1f"sv, "a\x7f"sv, "\n"sv}) {
            CAPTURE(s);
            CHECK_FALSE(gd::is_header_safe(s));
        }
    }

    //------------------------------------------------------------------------------
    // form_encode, form_decode

    TEST_CASE("form_encode percent-encodes reserved and non-ASCII bytes, space as '+'") {
        CHECK(encode({{"grant_type", "client_credentials"}}) == "grant_type=client_credentials");
        CHECK(encode({{"v", "a&b=c+d%e f/g?h#i"}}) == "v=a%26b%3Dc%2Bd%25e+f%2Fg%3Fh%23i");
        CHECK(encode({{"v", "caf\xc3\xa9"}}) == "v=caf%C3%A9");
        CHECK(encode({{"v", "+"}}) == "v=%2B");
        CHECK(encode({{"v", " "}}) == "v=+");
        CHECK(encode({{"v", "\r\n\0"sv}}) == "v=%0D%0A%00");
        const std::string unreserved =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
        CHECK(encode({{"v", unreserved}}) == "v=" + unreserved);
        CHECK(encode({{"a&b", "c"}}) == "a%26b=c"); // names are encoded too
    }

    TEST_CASE("form_encode keeps the field order and writes empty values as 'a='") {
        CHECK(encode({}) == "");
        CHECK(encode({{"a", ""}}) == "a=");
        CHECK(encode({{"z", "1"}, {"a", "2"}, {"m", ""}, {"a", "3"}}) == "z=1&a=2&m=&a=3");
    }

    TEST_CASE("form_decode(form_encode(x)) == x for every byte value") {
        std::string all_bytes;
        for (int i = 0; i < 256; ++i) {
            all_bytes += static_cast<char>(i);
        }
        std::vector<std::string> values = {all_bytes,
                                           "",
                                           " ",
                                           "+",
                                           "%",
                                           "%2B",
                                           "a b+c",
                                           "=&=&",
                                           "caf\xc3\xa9",
                                           "line\r\nbreak",
                                           std::string(1000, 'x')};
        for (int i = 0; i < 256; ++i) {
            values.push_back(std::string(1, static_cast<char>(i)));
            values.push_back("a" + std::string(1, static_cast<char>(i)) + "b");
        }
        for (const auto& v : values) {
            CAPTURE(v);
            const gd::form_field fields[] = {{"key", v}, {v, "value"}, {"last", v}};
            const auto body = gd::form_encode(fields);
            const auto back = decode(body);
            REQUIRE(back.size() == 3);
            CHECK(back[0] == std::pair<std::string, std::string>("key", v));
            CHECK(back[1] == std::pair<std::string, std::string>(v, "value"));
            CHECK(back[2] == std::pair<std::string, std::string>("last", v));
        }
    }

    TEST_CASE("form_decode turns '+' into a space and %2B into '+'") {
        const decoded_fields expected = {{"a", "1 2"}, {"b", "+"}, {"c d", "x"}};
        CHECK(decode("a=1+2&b=%2B&c+d=x") == expected);
    }

    TEST_CASE("form_decode: empty body, keys without '=', empty values") {
        CHECK(decode("").empty());
        const decoded_fields expected = {{"a", ""}, {"b", "2"}, {"c", ""}};
        CHECK(decode("a&b=2&c=") == expected);
    }

    TEST_CASE("form_decode of an empty body reads nothing, not even a NUL after it") {
        // Found by fuzz/form_roundtrip: Boost.URL's parse_query took an empty view's data() for
        // a C string, so a null data() crashed and any other read past the view.
        CHECK(decode(std::string_view()).empty());
        const char no_nul[1] = {'&'};
        CHECK(decode(std::string_view(no_nul, 0)).empty());
    }

    TEST_CASE("form_decode reads only the view it is given") {
        // Found by fuzz/form_roundtrip: Boost.URL 1.81's parse_query measures its input with
        // strlen, so a view that is a prefix of a longer string was decoded as the whole string.
        const std::string s = "a=1&b=2";
        const decoded_fields expected = {{"a", "1"}, {"b", ""}};
        CHECK(decode(std::string_view(s).substr(0, 5)) == expected);
        const char no_nul[3] = {'x', '=', 'y'};
        CHECK(decode(std::string_view(no_nul, 3)) == decoded_fields{{"x", "y"}});
    }

    TEST_CASE("form_decode rejects malformed percent-encoding") {
        for (std::string_view body : {"a=%zz", "a=%", "a=%2", "%g0=1", "a=1&b=%Z9"}) {
            CAPTURE(body);
            const auto r = gd::form_decode(body);
            CHECK(fails_with(r, errc::invalid_argument));
        }
    }

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

    //------------------------------------------------------------------------------
    // Lifetime rules (token.hpp)

    TEST_CASE("the hard margin is min(60 s, lifetime / 10)") {
        CHECK(gd::hard_margin(3s) == 300ms);
        CHECK(gd::hard_margin(100s) == 10s);
        CHECK(gd::hard_margin(600s) == 60s);
        CHECK(gd::hard_margin(3600s) == 60s);
        CHECK(gd::hard_margin(gd::max_token_lifetime) == 60s);
    }

    TEST_CASE("make_cached_token anchors expiry at sent_at and subtracts the hard margin") {
        for (auto lifetime : {3s, 600s, 3600s}) {
            CAPTURE(lifetime.count());
            const auto t =
                gd::make_cached_token({"tok", "Bearer", "usr_1", lifetime, sent_at}, 15min, 0);
            REQUIRE(t != nullptr);
            CHECK(t->token.value == "tok");
            CHECK(t->token.token_type == "Bearer");
            CHECK(t->token.user_id == "usr_1");
            CHECK(t->token.expires_at == sent_at + lifetime);
            CHECK(t->usable_until == t->token.expires_at - gd::hard_margin(lifetime));
            CHECK(t->authorization == "Bearer tok");
        }
    }

    TEST_CASE("the soft window is max(2 x hard margin, 20% of lifetime), capped") {
        CHECK(gd::soft_window(3s, 15min) == 600ms);     // 2 x 300 ms
        CHECK(gd::soft_window(100s, 15min) == 20s);     // 20%
        CHECK(gd::soft_window(3600s, 15min) == 720s);   // 20%
        CHECK(gd::soft_window(86400s, 15min) == 15min); // capped
        CHECK(gd::soft_window(gd::max_token_lifetime, 15min) == 15min);
        CHECK(gd::soft_window(3600s, 5min) == 5min); // the cap is a parameter
    }

    TEST_CASE("the soft window starts refreshes ahead, shortened by the jitter") {
        const auto full = gd::make_cached_token({"t", "Bearer", "", 3600s, sent_at}, 15min, 0);
        CHECK(full->refresh_from == full->token.expires_at - 720s);
        const auto jittered =
            gd::make_cached_token({"t", "Bearer", "", 3600s, sent_at}, 15min, 0.1);
        CHECK(jittered->refresh_from == jittered->token.expires_at - 648s); // 720 s less 10%
        // However much is taken off, the window still opens before the hard margin.
        const auto most = gd::make_cached_token({"t", "Bearer", "", 3s, sent_at}, 15min, 0.99);
        CHECK(most->refresh_from <= most->usable_until);
    }

    TEST_CASE("the longest lifetime does not overflow steady_clock arithmetic") {
        const auto now = std::chrono::steady_clock::now();
        const auto t =
            gd::make_cached_token({"tok", "Bearer", "", gd::max_token_lifetime, now}, 15min, 0.1);
        CHECK(t->token.expires_at > now);
        CHECK(t->token.expires_at - now == gd::max_token_lifetime);
        CHECK(t->usable_until == t->token.expires_at - 60s);
        CHECK(t->usable_until > now + 19 * 365 * 24h);
        CHECK(t->refresh_from < t->usable_until);
        CHECK(t->refresh_from >= t->token.expires_at - 15min);
    }

    //------------------------------------------------------------------------------
    // graphql_body

    TEST_CASE("graphql_body sends only the query when there are no variables or name") {
        const auto body = gd::graphql_body({"{ me { id } }"});
        CHECK(body == R"({"query":"{ me { id } }"})");
        const auto o = body_object({"{ me { id } }"});
        CHECK(o.size() == 1);
        CHECK(o.at("query") == "{ me { id } }");
    }

    TEST_CASE("graphql_body adds variables and operationName when set") {
        const json::object vars{
            {"id", "thr_1"}, {"n", 3}, {"nested", json::object{{"a", nullptr}}}};
        const auto o = body_object({"query Q($id: ID!) { a }", vars, "Q"});
        CHECK(o.size() == 3);
        CHECK(o.at("query") == "query Q($id: ID!) { a }");
        CHECK(o.at("variables") == vars);
        CHECK(o.at("operationName") == "Q");

        const auto name_only = body_object({"query Q { a }", {}, "Q"});
        CHECK(name_only.size() == 2);
        CHECK_FALSE(name_only.contains("variables"));
        CHECK(name_only.at("operationName") == "Q");

        const auto vars_only = body_object({"{ a }", {{"x", 1}}});
        CHECK(vars_only.size() == 2);
        CHECK_FALSE(vars_only.contains("operationName"));
    }

    TEST_CASE("parse_variables refuses a number beyond a double, which would go out as Infinity") {
        // Found by fuzz/graphql_document: Boost.JSON 1.81 reads 1e400 as infinity and writes
        // it back as `Infinity`, so the request body was not JSON.
        for (std::string_view text : {R"({"a": 1e400})", R"({"a": [{"b": -1e999}]})"}) {
            CAPTURE(text);
            try {
                glue::parse_variables(text);
                FAIL("no error");
            } catch (const glue::error& e) {
                CHECK(e.code() == glue::errc::invalid_argument);
            }
        }
        const auto v = glue::parse_variables(R"({"a": 1e300, "b": [2.5]})");
        CHECK(json::parse(gd::graphql_body({"{ a }", v})).at("variables") == v);
    }

    TEST_CASE("graphql_body escapes quotes, backslashes, newlines, controls and keeps unicode") {
        const std::string query =
            "query {\n  a(s: \"q\\\"x\", t: \"caf\xc3\xa9 \xe2\x9c\x93\")\t\x01 }";
        const auto body = gd::graphql_body({query});
        CHECK(body.find('\n') == std::string::npos);
        CHECK(body.find('\x01') == std::string::npos);
        const auto o = body_object({query});
        CHECK(o.at("query").as_string() == query);
    }

    //------------------------------------------------------------------------------
    // parse_graphql_response

    TEST_CASE("a 200 GraphQL response with data is an answer, with its extensions") {
        const auto r = graphql_response(
            200, R"({"data":{"me":{"id":"usr_1"}},"extensions":{"cost":{"requested":3}}})");
        REQUIRE(r.has_value());
        CHECK(r->data == json::parse(R"({"me":{"id":"usr_1"}})"));
        CHECK(r->extensions == json::parse(R"({"cost":{"requested":3}})").as_object());

        const auto null_data = graphql_response(200, R"({"data":null})");
        REQUIRE(null_data.has_value());
        CHECK(null_data->data.is_null());
        CHECK(null_data->extensions.empty());
    }

    TEST_CASE("a 200 GraphQL response with errors is a graphql_error carrying them") {
        const auto r = graphql_response(
            200, R"({"errors":[{"message":"boom","path":["me",0,"name"],)"
                 R"("locations":[{"line":1,"column":3}],"extensions":{"code":"FORBIDDEN"}},)"
                 R"({"message":"second"}],"data":{"me":null}})");
        CHECK(fails_with(r, errc::graphql_error));
        const auto& d = diag_of(r);
        CHECK(d.http_status == 200);
        REQUIRE(d.graphql_errors.size() == 2);
        const auto& e = d.graphql_errors[0];
        CHECK(e.message == "boom");
        CHECK(e.path == json::array{"me", 0, "name"});
        CHECK(e.locations == json::parse(R"([{"line":1,"column":3}])").as_array());
        CHECK(e.extensions == json::object{{"code", "FORBIDDEN"}});
        CHECK(d.graphql_errors[1].message == "second");
        CHECK(d.graphql_errors[1].path.empty());
        CHECK(d.partial_data == json::parse(R"({"me":null})"));

        const auto without_data = graphql_response(200, R"({"errors":[{"message":"x"}]})");
        CHECK(fails_with(without_data, errc::graphql_error));
        CHECK(diag_of(without_data).partial_data.is_null());
    }

    TEST_CASE("an empty errors list is no error") {
        const auto r = graphql_response(200, R"({"errors":[],"data":{"a":1}})");
        REQUIRE(r.has_value());
        CHECK(r->data == json::object{{"a", 1}});
    }

    TEST_CASE("a malformed 200 GraphQL response is a bad_response") {
        for (std::string_view body :
             {R"({"errors":"boom","data":{}})", R"({"errors":{"message":"x"},"data":{}})",
              R"({"errors":1})", R"({"extensions":{}})", "{}", R"({"data":{"a":1})", "<html>",
              R"([{"data":{}}])", "", "null", R"("data")"}) {
            CAPTURE(body);
            const auto r = graphql_response(200, std::string(body));
            CHECK(fails_with(r, errc::bad_response));
            CHECK(diag_of(r).http_status == 200);
        }
    }

    TEST_CASE("a 4xx with a GraphQL errors envelope is a graphql_error with its status") {
        const auto r = graphql_response(400, R"({"errors":[{"message":"Syntax Error"}]})");
        CHECK(fails_with(r, errc::graphql_error));
        CHECK(diag_of(r).http_status == 400);
        REQUIRE(diag_of(r).graphql_errors.size() == 1);
        CHECK(diag_of(r).graphql_errors[0].message == "Syntax Error");
    }

    TEST_CASE("GraphQL HTTP statuses map to their errc") {
        CHECK(fails_with(graphql_response(401, ""), errc::unauthorized));
        CHECK(
            fails_with(graphql_response(403, R"({"errors":[{"message":"no"}]})"), errc::forbidden));
        CHECK(fails_with(graphql_response(418, "I'm a teapot"), errc::http_error));
        CHECK(fails_with(graphql_response(404, R"({"data":{}})"), errc::http_error));
        CHECK(fails_with(graphql_response(301, ""), errc::http_error));
        for (unsigned status : {500u, 502u, 503u, 504u}) {
            CAPTURE(status);
            const auto r = graphql_response(status, "<html>down</html>");
            CHECK(fails_with(r, errc::server_error));
            CHECK(diag_of(r).http_status == static_cast<int>(status));
        }
        const auto limited = graphql_response(429, "", "7");
        CHECK(fails_with(limited, errc::rate_limited));
        CHECK(diag_of(limited).retry_after == 7s);
        CHECK(diag_of(limited).http_status == 429);
    }

    TEST_CASE("GraphQL responses nest deeper than Boost.JSON's default limit, up to 256") {
        auto nested = [](int depth) {
            std::string s = R"({"data":)";
            for (int i = 0; i < depth; ++i) {
                s += R"({"a":)";
            }
            s += "1";
            s += std::string(static_cast<std::size_t>(depth) + 1, '}');
            return s;
        };
        const auto r = graphql_response(200, nested(100));
        REQUIRE(r.has_value());
        const json::value* v = &r->data;
        int depth = 0;
        while (v->is_object()) {
            v = &v->as_object().at("a");
            ++depth;
        }
        CHECK(depth == 100);
        CHECK(*v == 1);

        CHECK(fails_with(graphql_response(200, nested(300)), errc::bad_response));
    }

    //------------------------------------------------------------------------------
    // may_send_twice

    TEST_CASE("may_send_twice: queries, and sendMessage upserts through a variable") {
        const auto send = [](json::object input, std::string_view doc = {}) {
            return glue::graphql_request(
                doc.empty() ? std::string("mutation S($in: SendMessageInput!) { sendMessage(input: "
                                          "$in) { message { id } } }")
                            : std::string(doc),
                json::object{{"in", std::move(input)}});
        };
        const json::object unique{{"text", "t"}, {"uniqueBy", "k"}};
        const json::object plain{{"text", "t"}};

        CHECK(gd::may_send_twice(glue::graphql_request("{ me { id } }")));
        CHECK(gd::may_send_twice(glue::graphql_request("query Q { groups { nodes { id } } }")));
        CHECK_FALSE(gd::may_send_twice(glue::graphql_request("mutation { other }")));
        CHECK_FALSE(gd::may_send_twice(glue::graphql_request("subscription { s }")));
        // A document that never says `mutation` can't change anything, valid or not.
        CHECK(gd::may_send_twice(glue::graphql_request("{ a } { b }")));
        // One that does is parsed, and an ambiguous one is not retried.
        CHECK_FALSE(gd::may_send_twice(glue::graphql_request("{ a } mutation { b }")));
        CHECK_FALSE(gd::may_send_twice(glue::graphql_request("query { mutation }", {}, "Other")));

        // Into an existing thread: uniqueBy is enough.
        CHECK(gd::may_send_twice(send({{"threadID", "thr_1"}, {"message", unique}})));
        CHECK_FALSE(gd::may_send_twice(send({{"threadID", "thr_1"}, {"message", plain}})));
        CHECK_FALSE(gd::may_send_twice(
            send({{"threadID", "thr_1"}, {"message", {{"text", "t"}, {"uniqueBy", ""}}}})));
        // Creating a thread also needs threadBy.
        const json::object recipients{{"recipients", json::array{"grp_1"}}, {"subject", "s"}};
        json::object by = recipients;
        by["threadBy"] = "b";
        CHECK_FALSE(gd::may_send_twice(send({{"thread", recipients}, {"message", unique}})));
        CHECK(gd::may_send_twice(send({{"thread", by}, {"message", unique}})));
        // An alias, several upserts, or anything else beside them.
        CHECK(gd::may_send_twice(send({{"threadID", "thr_1"}, {"message", unique}},
                                      "mutation($in: SendMessageInput!) { a: sendMessage(input: "
                                      "$in) { message { id } } b: sendMessage(input: $in) { "
                                      "thread { id } } }")));
        CHECK_FALSE(gd::may_send_twice(send({{"threadID", "thr_1"}, {"message", unique}},
                                            "mutation($in: SendMessageInput!) { "
                                            "sendMessage(input: $in) { message { id } } other }")));
        // What the text can't show is not trusted: a literal input, a directive, a fragment.
        CHECK_FALSE(gd::may_send_twice(glue::graphql_request(
            R"(mutation { sendMessage(input: {threadID: "thr_1", message: {text: "t", uniqueBy: "k"}}) { message { id } } })")));
        CHECK_FALSE(gd::may_send_twice(send({{"threadID", "thr_1"}, {"message", unique}},
                                            "mutation($in: SendMessageInput!, $b: Boolean!) { "
                                            "sendMessage(input: $in) @include(if: $b) { "
                                            "message { id } } }")));
        CHECK_FALSE(gd::may_send_twice(send({{"threadID", "thr_1"}, {"message", unique}},
                                            "mutation($in: SendMessageInput!) { ...F } fragment F "
                                            "on Mutation { sendMessage(input: $in) { message { "
                                            "id } } }")));
        // A variable that isn't there.
        CHECK_FALSE(gd::may_send_twice(glue::graphql_request(
            "mutation($in: SendMessageInput!) { sendMessage(input: $in) { message { id } } }")));
        // The operation the request names.
        auto two = send({{"threadID", "thr_1"}, {"message", unique}},
                        "mutation Safe($in: SendMessageInput!) { sendMessage(input: $in) { "
                        "message { id } } } mutation Unsafe { other }");
        two.operation_name = "Safe";
        CHECK(gd::may_send_twice(two));
        two.operation_name = "Unsafe";
        CHECK_FALSE(gd::may_send_twice(two));
    }

    //------------------------------------------------------------------------------
    // graphql_operation_kind

    TEST_CASE("graphql_operation_kind tells the kind of a single operation") {
        CHECK(kind_of("{ me { id } }") == operation_kind::query);
        CHECK(kind_of("query Q { a }") == operation_kind::query);
        CHECK(kind_of("query { a }") == operation_kind::query);
        CHECK(kind_of("mutation M($x: Int = 1) @dir { a }") == operation_kind::mutation);
        CHECK(kind_of("mutation { a }") == operation_kind::mutation);
        CHECK(kind_of("subscription S { a }") == operation_kind::subscription);
        CHECK(kind_of("query Q { a }", "Q") == operation_kind::query);
        CHECK(kind_of("mutation M($x: Int = 1) @dir { a }", "M") == operation_kind::mutation);
    }

    TEST_CASE("graphql_operation_kind picks the named operation among several") {
        const auto doc = "query A { a } mutation B { b } subscription C { c }";
        CHECK(kind_of(doc, "A") == operation_kind::query);
        CHECK(kind_of(doc, "B") == operation_kind::mutation);
        CHECK(kind_of(doc, "C") == operation_kind::subscription);
        CHECK(kind_of(doc) == operation_kind::unknown);
        CHECK(kind_of(doc, "D") == operation_kind::unknown);
        CHECK(kind_of("query Q { a }", "Other") == operation_kind::unknown);
        CHECK(kind_of("query AB { a } mutation A { b }", "A") == operation_kind::mutation);
        CHECK(kind_of("{ a }", "Q") ==
              operation_kind::unknown); // an anonymous operation has no name
        CHECK(kind_of("{ a } { b }") == operation_kind::unknown);
    }

    TEST_CASE("an operation keyword may serve as an operation's name") {
        CHECK(kind_of("query mutation { a }") == operation_kind::query);
        CHECK(kind_of("mutation query { a }", "query") == operation_kind::mutation);
        CHECK(kind_of("query mutation { a } mutation query { b }", "mutation") ==
              operation_kind::query);
    }

    TEST_CASE("graphql_operation_kind ignores keywords in strings, comments and field names") {
        CHECK(kind_of(R"(query Q { a(s: "mutation { x }") })") == operation_kind::query);
        CHECK(kind_of(R"(query Q { a(s: "\"mutation") })") == operation_kind::query);
        CHECK(kind_of(R"(query Q { a(s: """ mutation M { x } "quoted" \""" """) })") ==
              operation_kind::query);
        CHECK(kind_of("# mutation M { x }\nquery Q { a }") == operation_kind::query);
        CHECK(kind_of("query Q { a } # mutation M { x }") == operation_kind::query);
        CHECK(kind_of("{ mutation subscription { query } }") == operation_kind::query);
        CHECK(kind_of("query Q { mutation: a }") == operation_kind::query);
    }

    TEST_CASE("graphql_operation_kind skips fragments, a BOM and commas") {
        CHECK(kind_of("fragment F on Query { a } query Q { ...F }") == operation_kind::query);
        CHECK(kind_of("fragment F on Mutation { a } mutation { ...F }") ==
              operation_kind::mutation);
        CHECK(kind_of("fragment F on Query { a } query Q { ...F }", "F") ==
              operation_kind::unknown);
        CHECK(kind_of("\xEF\xBB\xBFmutation M { a }") == operation_kind::mutation);
        CHECK(kind_of(",, ,mutation, M, { a, b }") == operation_kind::mutation);
        CHECK(kind_of("\r\n\tmutation\r\nM\n{ a }", "M") == operation_kind::mutation);
    }

    TEST_CASE("graphql_operation_kind is unknown for documents it can't read") {
        for (std::string_view doc :
             {"", "   ", "{ a", "{ a }}", "xyz", "xyz { a }", "query Q { a(s: \"open) }",
              "query Q { a(s: \"\"\"open) }", "Query Q { a }", "query Q { a ) }", "}{"}) {
            CAPTURE(doc);
            CHECK(kind_of(doc) == operation_kind::unknown);
        }
    }

    TEST_CASE("a directive or variable name does not become the operation's name") {
        CHECK(kind_of("query @mutation { a }") == operation_kind::query);
        CHECK(kind_of("query @mutation { a }", "mutation") == operation_kind::unknown);
        CHECK(kind_of("mutation M @query { a }", "M") == operation_kind::mutation);
        CHECK(kind_of("mutation M @query { a }", "query") == operation_kind::unknown);
        CHECK(kind_of("query ($x: Int) { a }", "x") == operation_kind::unknown);
    }

    //------------------------------------------------------------------------------
    // parse_retry_after

    TEST_CASE("parse_retry_after reads delta-seconds") {
        CHECK(gd::parse_retry_after("7") == 7s);
        CHECK(gd::parse_retry_after(" 7 ") == 7s);
        CHECK(gd::parse_retry_after("\t120\t") == 120s);
        CHECK(gd::parse_retry_after("0") == 0s);
    }

    TEST_CASE("parse_retry_after is negative for an absent or unparseable value") {
        for (std::string_view v :
             {"-1", "", "   ", "abc", "7s", "7 s", "1.5", "+7", "0x10", "Sun, 06 Nov 1994 08:49:37",
              "Sun, 06 Nov 1994 08:49:37 GMT x"}) {
            CAPTURE(v);
            CHECK(gd::parse_retry_after(v) < 0s);
        }
    }

    TEST_CASE("parse_retry_after: a negative number is no delay, however long") {
        // Found by fuzz/graphql_response: "-0" was 0 s, and a negative number too long for an
        // int64 was a year.
        for (std::string_view v :
             {"-0", "-00", " -0 ", "-99999999999999999999", "-9223372036854775809"}) {
            CAPTURE(v);
            CHECK(gd::parse_retry_after(v) == -1s);
        }
        CHECK(gd::parse_retry_after("0") == 0s);
        CHECK(gd::parse_retry_after("99999999999999999999") == gd::max_retry_after);
    }

    TEST_CASE("parse_retry_after reads an HTTP-date relative to now") {
        const auto now = std::time(nullptr);
        const auto in_an_hour = gd::parse_retry_after(http_date(now + 3600));
        CHECK(in_an_hour >= 3590s);
        CHECK(in_an_hour <= 3600s);
        CHECK(gd::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT") == 0s);
        CHECK(gd::parse_retry_after(http_date(now - 60)) == 0s);
    }

    TEST_CASE("parse_retry_after reads the two obsolete HTTP-date forms too") {
        // RFC 9110 §5.6.7: recipients accept RFC 850 and asctime dates as well.
        CHECK(gd::parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT") == 0s);
        CHECK(gd::parse_retry_after("Sun Nov  6 08:49:37 1994") == 0s);
        CHECK(gd::parse_retry_after("sun, 06 nov 2094 08:49:37 gmt") > 24h);  // any case
        CHECK(gd::parse_retry_after("Friday, 31-Dec-99 23:59:59 GMT") == 0s); // 1999
        CHECK(gd::parse_retry_after("Sat Jan  1 00:00:00 2095") > 24h);
        for (std::string_view bad :
             {"Sun, 31 Feb 2094 08:49:37 GMT", "Sun, 06 Nov 2094 25:00:00 GMT",
              "Sun, 06 Foo 2094 08:49:37 GMT", "Sun Nov 6 8:49:37 2094"}) {
            CAPTURE(bad);
            CHECK(gd::parse_retry_after(bad) < 0s);
        }
    }

    TEST_CASE("parse_retry_after caps values at a year, so clock arithmetic can't overflow") {
        for (std::string_view v :
             {"99999999999", "9223372036854775807", "9223372036854775808",
              "99999999999999999999999999999999", "Sun, 06 Nov 2094 08:49:37 GMT"}) {
            CAPTURE(v);
            CHECK(gd::parse_retry_after(v) == gd::max_retry_after);
        }
        CHECK(gd::max_retry_after == 365 * 24h);
        CHECK(gd::parse_retry_after("31535999") == 31535999s);
    }

    //------------------------------------------------------------------------------
    // parse_origin

    TEST_CASE("parse_origin reads an https URL with the default port") {
        const auto o = origin_of("https://api.gluegroups.com");
        CHECK(o.tls);
        CHECK(o.host == "api.gluegroups.com");
        CHECK(o.port == 443);
        CHECK(o.host_header == "api.gluegroups.com");
        CHECK(o.base_path == "");
        CHECK_FALSE(o.host_is_ip);
        CHECK_FALSE(o.loopback);

        const auto with_port = origin_of("https://api.gluegroups.com:8443");
        CHECK(with_port.port == 8443);
        CHECK(with_port.host_header == "api.gluegroups.com:8443");
        CHECK(origin_of("https://api.gluegroups.com:443").host_header == "api.gluegroups.com");
    }

    TEST_CASE("parse_origin keeps the path prefix without a trailing slash") {
        CHECK(origin_of("https://api.gluegroups.com/").base_path == "");
        CHECK(origin_of("https://api.gluegroups.com/base/").base_path == "/base");
        CHECK(origin_of("https://api.gluegroups.com/base").base_path == "/base");
        CHECK(origin_of("https://api.gluegroups.com/a/b//").base_path == "/a/b");
    }

    TEST_CASE("parse_origin accepts http to loopback hosts") {
        const auto v4 = origin_of("http://127.0.0.1:8080");
        CHECK_FALSE(v4.tls);
        CHECK(v4.host == "127.0.0.1");
        CHECK(v4.port == 8080);
        CHECK(v4.host_header == "127.0.0.1:8080");
        CHECK(v4.host_is_ip);
        CHECK(v4.loopback);

        const auto v6 = origin_of("http://[::1]:9");
        CHECK(v6.host == "::1");
        CHECK(v6.port == 9);
        CHECK(v6.host_header == "[::1]:9");
        CHECK(v6.host_is_ip);
        CHECK(v6.loopback);

        const auto name = origin_of("http://localhost:1");
        CHECK(name.host == "localhost");
        CHECK(name.port == 1);
        CHECK(name.loopback);
        CHECK_FALSE(name.host_is_ip);

        CHECK(origin_of("http://127.1.2.3").loopback);
        CHECK(origin_of("http://127.0.0.1").port == 80);
        CHECK(origin_of("http://127.0.0.1").host_header == "127.0.0.1");
    }

    TEST_CASE("parse_origin refuses http to other hosts unless allow_insecure_http") {
        for (std::string_view url :
             {"http://example.com", "http://10.0.0.1", "http://[2001:db8::1]",
              "http://[::ffff:127.0.0.1]", "http://localhost.evil.com"}) {
            CAPTURE(url);
            const auto r = gd::parse_origin(url, false);
            CHECK(fails_with(r, errc::invalid_argument));
            CHECK_FALSE(failure_of(r).message.empty());
            const auto o = origin_of(url, true);
            CHECK_FALSE(o.tls);
            CHECK_FALSE(o.loopback);
        }
    }

    TEST_CASE("parse_origin: only loopback addresses and the name localhost count as loopback") {
        for (std::string_view url : {"HTTP://LOCALHOST:1", "http://LocalHost",
                                     "http://127.255.255.254", "http://[0:0:0:0:0:0:0:1]:8080"}) {
            CAPTURE(url);
            CHECK(origin_of(url).loopback);
        }
        // What merely looks local, or resolves to a loopback address only through a resolver's
        // leniency (numeric and hex host forms are names to a URL parser), is not.
        for (std::string_view url : {"HTTP://GLUE.EXAMPLE.COM", "http://0.0.0.0", "http://[::]",
                                     "http://localhost.glue.example.com", "http://localhost-glue",
                                     "http://2130706433", "http://0x7f.1", "http://127.1"}) {
            CAPTURE(url);
            CHECK(fails_with(gd::parse_origin(url, false), errc::invalid_argument));
            CHECK_FALSE(origin_of(url, true).loopback);
        }
    }

    TEST_CASE(
        "parse_origin refuses a host name that starts with an IPv4 address, not misreads it") {
        // Boost.URL 1.81 parses these as the address followed by a path (boostorg/url#755):
        // "http://127.0.0.1.glue.example.com" came out as plain HTTP to loopback, port 80.
        for (std::string_view url :
             {"http://127.0.0.1.glue.example.com", "http://127.0.0.1.nip.io:8080/base",
              "https://10.0.0.1.glue.example.com", "https://1.2.3.4x", "https://[::1]x"}) {
            for (bool insecure : {false, true}) {
                CAPTURE(url);
                CAPTURE(insecure);
                CHECK(fails_with(gd::parse_origin(url, insecure), errc::invalid_argument));
            }
        }
        // A name with an address further in is an ordinary name.
        const auto o = origin_of("https://glue.10.0.0.1.example.com/v1");
        CHECK(o.host == "glue.10.0.0.1.example.com");
        CHECK_FALSE(o.host_is_ip);
        CHECK(o.base_path == "/v1");
    }

    TEST_CASE("parse_origin refuses URLs it can't use safely") {
        for (std::string_view url :
             {"ftp://x", "not a url", "", "api.gluegroups.com", "//api.gluegroups.com", "https://",
              "https://h?x=1", "https://h?", "https://h#f", "https://u:p@h", "https://u@h",
              "https://h:0", "https://h:65536", "https://h:65979", "https://h:4294967739",
              "http://[v1.x]", "https://a%0d%0ab", "https://a%00b", "https://a b"}) {
            for (bool insecure : {false, true}) {
                CAPTURE(url);
                CAPTURE(insecure);
                CHECK(fails_with(gd::parse_origin(url, insecure), errc::invalid_argument));
            }
        }
    }

} // TEST_SUITE
