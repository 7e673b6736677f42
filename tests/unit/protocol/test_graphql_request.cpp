// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The GraphQL request body, and the numbers it can't carry.

#include <glue/error.hpp>
#include <glue/types.hpp>

#include "protocol/graphql_request.hpp"

#include <boost/json.hpp>

#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace {

namespace json = boost::json;
namespace gd = glue::detail;

json::object body_object(const glue::graphql_request& req) {
    const auto v = json::parse(gd::graphql_body(req));
    REQUIRE(v.is_object());
    return v.get_object();
}

} // namespace

TEST_SUITE("protocol") {

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

} // TEST_SUITE
