// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The GraphQL response: data, the errors envelope, and what each HTTP status means.

#include <glue/error.hpp>
#include <glue/types.hpp>

#include "protocol/graphql_response.hpp"
#include "protocol_test.hpp"

#include <boost/json.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace {

namespace json = boost::json;
using namespace protocol_test;
using namespace std::chrono_literals;

gd::result<glue::graphql_response> graphql_response(unsigned status, std::string body,
                                                    std::string retry_after = {}) {
    return gd::parse_graphql_response(response(status, std::move(body), std::move(retry_after)));
}

} // namespace

TEST_SUITE("protocol") {

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
        CHECK(r.error().message.empty()); // errc::graphql_error's own message says it, once
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

} // TEST_SUITE
