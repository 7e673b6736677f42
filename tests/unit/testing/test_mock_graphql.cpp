// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The mock server's GraphQL executor on its own: parsing, validation, execution. Over 500 lines:
// one suite of many small cases, one or two per rule of the GraphQL spec it keeps.

#include "testing/graphql_executor.hpp"

#include <boost/json.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <initializer_list>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace json = boost::json;

using glue::testing::detail::execute_graphql;
using glue::testing::detail::operation_type;
using glue::testing::detail::resolved;

json::value parse(std::string_view text) {
    return json::parse(text);
}

// A deeply nested chain {"__typename":"Node","id":0,"next":{... "next":null}}.
json::value chain(int length) {
    json::value node = nullptr;
    for (int i = length; i-- > 0;) {
        node = json::object{{"__typename", "Node"}, {"id", i}, {"next", std::move(node)}};
    }
    return node;
}

struct call {
    operation_type type;
    std::string field;
    json::object args;
};

// Root fields of a miniature Glue API; every call is recorded so tests can inspect arguments.
class fake_api {
public:
    json::object run(std::string_view query, const json::object& variables = {},
                     std::string_view operation_name = {}) {
        return execute_graphql(
            query, variables, operation_name,
            [this](operation_type type, std::string_view field, const json::object& args) {
                calls.push_back({type, std::string(field), args});
                return resolve(field, args);
            });
    }

    std::vector<call> calls;

private:
    static resolved resolve(std::string_view field, const json::object& args) {
        if (field == "me") {
            return {parse(R"({"__typename": "User", "id": "u1", "name": "Ann",
                "email": "ann@example.com", "manager": null,
                "groups": {"__typename": "GroupConnection",
                    "nodes": [{"__typename": "Group", "id": "g1", "name": "One"},
                              {"__typename": "Group", "id": "g2", "name": "Two"}],
                    "pageInfo": {"__typename": "PageInfo", "hasNextPage": false}}})"),
                    {}};
        }
        if (field == "feed") {
            return {parse(R"([{"__typename": "Message", "id": "m1", "body": "hi"},
                              {"__typename": "Thread", "id": "t1", "title": "News"},
                              {"id": "x1"}])"),
                    {}};
        }
        if (field == "numbers") {
            return {parse("[1, 2.5, true, \"four\", null]"), {}};
        }
        if (field == "chain") {
            return {chain(static_cast<int>(args.at("length").as_int64())), {}};
        }
        if (field == "sendMessage") {
            return {json::object{{"__typename", "Message"},
                                 {"id", "m9"},
                                 {"body", args.at("input").at("body")}},
                    {}};
        }
        if (field == "broken") {
            return {nullptr, "group not found"};
        }
        if (field == "throws") {
            throw std::runtime_error("kaboom");
        }
        return {"ok", {}}; // "echo" and anything else: callers look at the recorded arguments
    }
};

const json::array& errors_of(const json::object& response) {
    return response.at("errors").as_array();
}

std::string first_message(const json::object& response) {
    return std::string(errors_of(response).at(0).at("message").as_string());
}

json::value first_location(const json::object& response) {
    return errors_of(response).at(0).at("locations").at(0);
}

// The response is well-formed: an object with a non-empty errors array of messages, or data.
void check_well_formed(const json::object& response) {
    REQUIRE((response.contains("data") || response.contains("errors")));
    if (const json::value* errors = response.if_contains("errors")) {
        REQUIRE(errors->is_array());
        REQUIRE(!errors->as_array().empty());
        for (const json::value& error : errors->as_array()) {
            REQUIRE(error.at("message").is_string());
        }
    }
    (void)json::serialize(response);
}

// A request that fails before execution: errors, and no "data" key at all.
std::string request_error(const json::object& response) {
    CHECK(!response.contains("data"));
    REQUIRE(response.contains("errors"));
    return first_message(response);
}

} // namespace

TEST_SUITE("mock_graphql") {

    TEST_CASE("projects nested objects and arrays onto the selection") {
        fake_api api;
        const json::object response = api.run(R"({
        me {
            id
            groups { nodes { id name } pageInfo { hasNextPage } }
            manager { id }
        }
    })");
        CHECK(response == parse(R"({"data": {"me": {"id": "u1",
        "groups": {"nodes": [{"id": "g1", "name": "One"}, {"id": "g2", "name": "Two"}],
                   "pageInfo": {"hasNextPage": false}},
        "manager": null}}})"));
        REQUIRE(api.calls.size() == 1);
        CHECK(api.calls[0].type == operation_type::query);
        CHECK(api.calls[0].field == "me");
        CHECK(api.calls[0].args.empty());
    }

    TEST_CASE("keeps selection order and leaves out unselected members") {
        fake_api api;
        const json::object response = api.run("{ me { name id } }");
        const json::object& me = response.at("data").at("me").as_object();
        REQUIRE(me.size() == 2);
        CHECK(me.begin()->key() == "name");
        CHECK((me.begin() + 1)->key() == "id");
    }

    TEST_CASE("arrays of scalars pass through; scalars with subselections are errors") {
        fake_api api;
        CHECK(api.run("{ numbers }") ==
              parse(R"({"data": {"numbers": [1, 2.5, true, "four", null]}})"));

        const json::object response = api.run("{ me { name { first } } }");
        CHECK(response.at("data") == parse(R"({"me": {"name": null}})"));
        CHECK(first_message(response) ==
              R"(Field "name" must not have a selection since type "String" has no subfields.)");
        CHECK(errors_of(response)[0].at("path") == parse(R"(["me", "name"])"));
    }

    TEST_CASE("an object without a subselection is an error") {
        fake_api api;
        const json::object response = api.run("{ me }");
        CHECK(response.at("data") == parse(R"({"me": null})"));
        CHECK(first_message(response) ==
              R"(Field "me" of type "User" must have a selection of subfields.)");
    }

    TEST_CASE("aliases rename response keys, and the same field can be asked twice") {
        fake_api api;
        const json::object response =
            api.run(R"({ a: echo(n: 1) b: echo(n: 2) who: me { ident: id id } })");
        CHECK(response == parse(R"({"data": {"a": "ok", "b": "ok",
        "who": {"ident": "u1", "id": "u1"}}})"));
        REQUIRE(api.calls.size() == 3);
        CHECK(api.calls[0].args == parse(R"({"n": 1})"));
        CHECK(api.calls[1].args == parse(R"({"n": 2})"));
    }

    TEST_CASE("fields with the same response key are merged") {
        fake_api api;
        const json::object response =
            api.run("{ me { id } me { name groups { pageInfo { hasNextPage } } } }");
        CHECK(response == parse(R"({"data": {"me": {"id": "u1", "name": "Ann",
        "groups": {"pageInfo": {"hasNextPage": false}}}}})"));
        CHECK(api.calls.size() == 1);
    }

    TEST_CASE("__typename at the root and on objects") {
        fake_api api;
        CHECK(api.run("{ __typename me { __typename t: __typename } }") ==
              parse(R"({"data": {"__typename": "Query",
                             "me": {"__typename": "User", "t": "User"}}})"));
        CHECK(api.run("mutation { __typename }") ==
              parse(R"({"data": {"__typename": "Mutation"}})"));
        CHECK(api.calls.size() == 1); // __typename at the root never reaches the resolver

        const json::object response = api.run("{ feed { __typename } }");
        CHECK(response.at("data") ==
              parse(R"({"feed": [{"__typename": "Message"}, {"__typename": "Thread"},
                         {"__typename": null}]})"));
        CHECK(first_message(response) == R"(Cannot query field "__typename" on type "Object".)");
        CHECK(errors_of(response)[0].at("path") == parse(R"(["feed", 2, "__typename"])"));
    }

    TEST_CASE("literal arguments") {
        fake_api api;
        const json::object response = api.run(R"({
        echo(i: -42, f: 1.5e3, g: -0.25, s: "text", t: true, u: false, n: null,
             e: NEWEST_FIRST, l: [1, [2, []], "x"], o: {a: {b: [{c: ENUM}]}, empty: {}})
    })");
        CHECK(response == parse(R"({"data": {"echo": "ok"}})"));
        REQUIRE(api.calls.size() == 1);
        CHECK(api.calls[0].args == parse(R"({"i": -42, "f": 1500.0, "g": -0.25, "s": "text",
        "t": true, "u": false, "n": null, "e": "NEWEST_FIRST", "l": [1, [2, []], "x"],
        "o": {"a": {"b": [{"c": "ENUM"}]}, "empty": {}}})"));
        CHECK(api.calls[0].args.at("i").is_int64());
        CHECK(api.calls[0].args.at("f").is_double());
    }

    TEST_CASE("numbers that don't fit are refused") {
        fake_api api;
        CHECK(request_error(api.run("{ echo(n: 9223372036854775808) }")) ==
              "Number 9223372036854775808 is out of range.");
        CHECK(request_error(api.run("{ echo(n: 1e999) }")) == "Number 1e999 is out of range.");
        CHECK(api.run("{ echo(n: -9223372036854775808) }").contains("data"));
    }

    TEST_CASE("variables are substituted, with defaults when absent") {
        fake_api api;
        const std::string_view query = R"(
        query Q($id: ID!, $first: Int = 10, $order: Order = NEWEST_FIRST, $after: String,
                $filter: Filter = {tags: ["a"]}, $list: [[Int!]!] = [[1]]) {
            echo(id: $id, first: $first, order: $order, after: $after, filter: $filter,
                 list: $list, nested: {after: $after, id: $id}, items: [$after, $id])
        })";
        auto response = api.run(query, json::object{{"id", "g1"}});
        CHECK(response == parse(R"({"data": {"echo": "ok"}})"));
        // $after has neither a value nor a default: the argument and the object field are left out,
        // a list element becomes null.
        CHECK(api.calls.back().args == parse(R"({"id": "g1", "first": 10, "order": "NEWEST_FIRST",
        "filter": {"tags": ["a"]}, "list": [[1]], "nested": {"id": "g1"},
        "items": [null, "g1"]})"));

        api.run(query,
                parse(R"({"id": "g2", "first": null, "after": "c1", "unused": 1})").as_object());
        CHECK(api.calls.back().args == parse(R"({"id": "g2", "first": null, "order": "NEWEST_FIRST",
        "after": "c1", "filter": {"tags": ["a"]}, "list": [[1]],
        "nested": {"after": "c1", "id": "g2"}, "items": ["c1", "g2"]})"));
    }

    TEST_CASE("variable errors are request errors") {
        fake_api api;
        SUBCASE("undeclared") {
            const json::object response = api.run("query Q { echo(id: $id) }", {{"id", 1}});
            CHECK(request_error(response) == R"(Variable "$id" is not defined by operation "Q".)");
            CHECK(first_location(response) == parse(R"({"line": 1, "column": 20})"));
            CHECK(request_error(api.run("{ me { ...F } } fragment F on User { id(x: [$v]) }")) ==
                  R"(Variable "$v" is not defined.)");
        }
        SUBCASE("required but missing, or null") {
            CHECK(request_error(api.run("query ($id: ID!) { echo(id: $id) }")) ==
                  R"(Variable "$id" of required type "ID!" was not provided.)");
            CHECK(request_error(
                      api.run("query ($id: [ID!]!) { echo(id: $id) }", {{"id", nullptr}})) ==
                  R"(Variable "$id" of non-null type "[ID!]!" must not be null.)");
        }
        SUBCASE("variables in default values") {
            CHECK(request_error(api.run("query ($a: Int, $b: Int = $a) { echo(b: $b) }")) ==
                  R"(Syntax Error: Unexpected "$".)");
        }
        CHECK(api.calls.empty());
    }

    TEST_CASE("inline fragments apply by __typename") {
        fake_api api;
        const json::object response = api.run(R"({
        feed {
            id
            ... on Message { body }
            ... on Thread { title }
            ... { kind: __typename }
        }
    })");
        // The last item has no __typename: conditional fragments don't apply, the unconditional one
        // does and fails on the missing member.
        CHECK(response.at("data") == parse(R"({"feed": [
        {"id": "m1", "body": "hi", "kind": "Message"},
        {"id": "t1", "title": "News", "kind": "Thread"},
        {"id": "x1", "kind": null}]})"));
        REQUIRE(errors_of(response).size() == 1);
        CHECK(errors_of(response)[0].at("path") == parse(R"(["feed", 2, "kind"])"));
    }

    TEST_CASE("inline fragments on the root type") {
        fake_api api;
        CHECK(api.run("{ ... on Query { a: echo } ... on Mutation { b: echo } }") ==
              parse(R"({"data": {"a": "ok"}})"));
        CHECK(api.calls.size() == 1);
    }

    TEST_CASE("named fragments") {
        fake_api api;
        const json::object response = api.run(R"(
        query { me { ...UserFields groups { nodes { ...GroupFields ...UserFields } } } }
        fragment UserFields on User { id name }
        fragment GroupFields on Group { ...Ids name }
        fragment Ids on Group { id }
    )");
        CHECK(response == parse(R"({"data": {"me": {"id": "u1", "name": "Ann",
        "groups": {"nodes": [{"id": "g1", "name": "One"}, {"id": "g2", "name": "Two"}]}}}})"));

        SUBCASE("a fragment spreads once per object, even when it spreads itself") {
            CHECK(api.run("{ me { ...F ...F } } fragment F on User { id ...F }") ==
                  parse(R"({"data": {"me": {"id": "u1"}}})"));
        }
        SUBCASE("unknown and duplicate fragments") {
            const json::object unknown = api.run("{ me { id ...Missing } }");
            CHECK(request_error(unknown) == R"(Unknown fragment "Missing".)");
            CHECK(first_location(unknown) == parse(R"({"line": 1, "column": 11})"));
            CHECK(request_error(api.run("{ me { ...F } } fragment F on User { id } "
                                        "fragment F on User { name }")) ==
                  R"(There can be only one fragment named "F".)");
            CHECK(request_error(api.run("fragment on on User { id }")) ==
                  R"(Syntax Error: Unexpected Name "on".)");
        }
    }

    TEST_CASE("operation selection") {
        fake_api api;
        const std::string_view two = "query A { a: echo } mutation B { b: echo }";
        CHECK(api.run(two, {}, "A") == parse(R"({"data": {"a": "ok"}})"));
        CHECK(api.calls.back().type == operation_type::query);
        CHECK(api.run(two, {}, "B") == parse(R"({"data": {"b": "ok"}})"));
        CHECK(api.calls.back().type == operation_type::mutation);

        CHECK(request_error(api.run(two)) ==
              "Must provide operation name if query contains multiple operations.");
        CHECK(request_error(api.run("{ a: echo } { b: echo }")) ==
              "Must provide operation name if query contains multiple operations.");
        CHECK(request_error(api.run(two, {}, "C")) == R"(Unknown operation named "C".)");
        CHECK(request_error(api.run("{ echo }", {}, "A")) == R"(Unknown operation named "A".)");
        CHECK(request_error(api.run("fragment F on User { id }")) == "Must provide an operation.");
        CHECK(request_error(api.run("subscription S { messages { id } }")) ==
              "subscriptions are not supported");
        CHECK(api.run("subscription S { x } query Q { echo }", {}, "Q").contains("data"));
    }

    TEST_CASE("mutations pass their arguments and project the result") {
        fake_api api;
        const json::object response = api.run(
            R"(mutation Send($body: String!) @client {
                sendMessage(input: {body: $body}) @log { id }
            })",
            {{"body", "hello"}});
        CHECK(response == parse(R"({"data": {"sendMessage": {"id": "m9"}}})"));
        CHECK(api.calls.back().type == operation_type::mutation);
        CHECK(api.calls.back().args == parse(R"({"input": {"body": "hello"}})"));
    }

    TEST_CASE("a resolver error nulls its field and reports message, location and path") {
        fake_api api;
        const json::object response = api.run("{\n  me { id }\n  g: broken(id: 1) { id }\n}");
        CHECK(response.at("data") == parse(R"({"me": {"id": "u1"}, "g": null})"));
        CHECK(response.at("errors") == parse(R"([{"message": "group not found",
        "locations": [{"line": 3, "column": 3}], "path": ["g"]}])"));
        CHECK(response.begin()->key() == "errors"); // errors first, as spec §7.1 recommends

        const json::object thrown = api.run("{ throws }");
        CHECK(thrown.at("data") == parse(R"({"throws": null})"));
        CHECK(first_message(thrown) == "Resolver failed: kaboom");
    }

    TEST_CASE("selecting a member the object lacks is an error at its path") {
        fake_api api;
        const json::object response = api.run("{ me { id groups { nodes { id color } } } }");
        CHECK(response.at("data") == parse(R"({"me": {"id": "u1", "groups": {"nodes": [
        {"id": "g1", "color": null}, {"id": "g2", "color": null}]}}})"));
        REQUIRE(errors_of(response).size() == 2);
        CHECK(errors_of(response)[0] ==
              parse(R"({"message": "Cannot query field \"color\" on type \"Group\".",
        "locations": [{"line": 1, "column": 31}],
        "path": ["me", "groups", "nodes", 0, "color"]})"));
        CHECK(errors_of(response)[1].at("path") ==
              parse(R"(["me", "groups", "nodes", 1, "color"])"));
    }

    TEST_CASE("syntax errors carry a location and no data") {
        fake_api api;
        const auto check_error = [&](std::string_view query, std::string_view message, int line,
                                     int column) {
            CAPTURE(query);
            const json::object response = api.run(query);
            CHECK(request_error(response) == message);
            CHECK(first_location(response) == json::object{{"line", line}, {"column", column}});
        };
        check_error("{ me { id }", "Syntax Error: Expected Name, found <EOF>.", 1, 12);
        check_error("{\n  me {\n    id\n  }\n  a: \n}",
                    R"(Syntax Error: Expected Name, found "}".)", 6, 1);
        check_error("{ me(id: ) }", R"x(Syntax Error: Unexpected ")".)x", 1, 10);
        check_error("query Q($x Int) { me }", R"(Syntax Error: Expected ":", found Name "Int".)", 1,
                    12);
        check_error("{ me { } }", R"(Syntax Error: Expected Name, found "}".)", 1, 8);
        check_error("{ echo(x: 01) }",
                    R"(Syntax Error: Invalid number, unexpected digit after 0: "1".)", 1, 12);
        check_error("{ echo(x: 1.) }",
                    R"x(Syntax Error: Invalid number, expected digit but got: ")".)x", 1, 13);
        check_error("{ echo(x: 12ab) }",
                    R"(Syntax Error: Invalid number, expected digit but got: "a".)", 1, 13);
        check_error("{ echo(x: - 1) }",
                    R"(Syntax Error: Invalid number, expected digit but got: " ".)", 1, 12);
        check_error("{ a. }", R"(Syntax Error: Unexpected character: ".".)", 1, 4);
        check_error("{ a ? }", R"(Syntax Error: Unexpected character: "?".)", 1, 5);
        check_error("type Query { a: Int }", R"(Syntax Error: Unexpected Name "type".)", 1, 1);
        check_error("{ echo(x: \"abc) }", "Syntax Error: Unterminated string.", 1, 18);
        check_error("{ echo(x: \"ab\nc\") }", "Syntax Error: Unterminated string.", 1, 14);
        check_error("{ echo(x: \"\"\"abc) }", "Syntax Error: Unterminated string.", 1, 20);
        // Columns count code points, not bytes.
        check_error("{ echo(x: \"\xC3\xA9\xC3\xA9\") ? }",
                    R"(Syntax Error: Unexpected character: "?".)", 1, 17);
        check_error("\xEF\xBB\xBF{ \xC3\xA9 }", "Syntax Error: Unexpected character: U+00E9.", 1,
                    4);
    }

    TEST_CASE("string escapes") {
        fake_api api;
        api.run(R"({ echo(s: "q\" b\\ s\/ \b\f\n\r\t \u00e9 \u20AC \uD83D\uDE00 tab	end") })");
        CHECK(api.calls.back().args.at("s") ==
              "q\" b\\ s/ \b\f\n\r\t \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 tab\tend");

        CHECK(request_error(api.run(R"({ echo(s: "\x") })")) ==
              R"(Syntax Error: Invalid character escape sequence: "x".)");
        CHECK(request_error(api.run(R"({ echo(s: "\u12G4") })")) ==
              "Syntax Error: Invalid Unicode escape sequence.");
        CHECK(request_error(api.run(R"({ echo(s: "\uD83D") })")) ==
              "Syntax Error: Invalid Unicode escape sequence.");
        CHECK(request_error(api.run(R"({ echo(s: "\uDE00\uD83D") })")) ==
              "Syntax Error: Invalid Unicode escape sequence.");
        CHECK(request_error(api.run("{ echo(s: \"a\x01\") }")) ==
              "Syntax Error: Invalid character within String: U+0001.");
        CHECK(request_error(api.run("{ echo(s: \"a\xC0\xAF\") }")) ==
              "Syntax Error: Invalid character within String: byte 0xC0.");
        api.run("{ echo(s: \"\xF0\x9F\x98\x80 \xEF\xBF\xBF\x7F\") }"); // passes through as is
        CHECK(api.calls.back().args.at("s") == "\xF0\x9F\x98\x80 \xEF\xBF\xBF\x7F");
        CHECK(request_error(api.run("{ echo(s: \"a\xF8\x88\x80\x80\") }")) ==
              "Syntax Error: Invalid character within String: byte 0xF8.");
        CHECK(request_error(api.run("{ echo(s: \"a\xF0\x9F\x98\") }")) ==
              "Syntax Error: Invalid character within String: byte 0xF0.");
        CHECK(request_error(api.run("{ echo(s: \"a\xED\xA0\x80\") }")) ==
              "Syntax Error: Invalid character within String: byte 0xED.");
    }

    TEST_CASE("block strings") {
        fake_api api;
        api.run("{ echo(s: \"\"\"\n\n    Hello,\r\n      World!\r\n\n    Yours, \\\"\"\" \\n\n  \n "
                " \"\"\"\n"
                "t: \"\"\"  one line  \"\"\", e: \"\"\"\"\"\") }");
        const json::object& args = api.calls.back().args;
        CHECK(args.at("s") == "Hello,\n  World!\n\nYours, \"\"\" \\n");
        CHECK(args.at("t") == "  one line  ");
        CHECK(args.at("e") == "");

        // Lines inside a block string count for the locations that follow.
        const json::object response = api.run("{ echo(s: \"\"\"a\nb\r\nc\rd\"\"\") ? }");
        CHECK(first_location(response) == parse(R"({"line": 4, "column": 7})"));
    }

    TEST_CASE("comments, commas and a byte order mark are ignored") {
        fake_api api;
        CHECK(api.run(
                  "\xEF\xBB\xBF# leading comment\n{,me,{ # trailing comment\r\nid,,,name}}# end") ==
              parse(R"({"data": {"me": {"id": "u1", "name": "Ann"}}})"));
    }

    TEST_CASE("documents nested too deeply are refused") {
        fake_api api;
        const auto nested = [](int depth, std::string_view open, std::string_view inner,
                               std::string_view close) {
            std::string text;
            for (int i = 0; i < depth; ++i) {
                text += open;
            }
            text += inner;
            for (int i = 0; i < depth; ++i) {
                text += close;
            }
            return text;
        };
        CHECK(request_error(api.run(nested(100, "{ a ", "b", "}"))) ==
              "Nesting exceeds the limit of 64 levels.");
        CHECK(request_error(api.run("{ echo(x: " + nested(100, "[", "1", "]") + ") }")) ==
              "Nesting exceeds the limit of 64 levels.");
        CHECK(request_error(api.run("{ echo(x: " + nested(100, "{a: ", "1", "}") + ") }")) ==
              "Nesting exceeds the limit of 64 levels.");
        CHECK(request_error(api.run("query ($x: " + nested(100, "[", "Int", "]") + ") { echo }")) ==
              "Nesting exceeds the limit of 64 levels.");
        // A million unclosed brackets fail just as quickly, without exhausting the stack.
        CHECK(request_error(api.run(std::string(1'000'000, '{'))).starts_with("Syntax Error"));
        CHECK(request_error(api.run("{ echo(x: " + std::string(1'000'000, '['))) ==
              "Nesting exceeds the limit of 64 levels.");

        // Within the limit, deep selections work.
        const json::object deep =
            api.run("{ chain(length: 70) " + nested(60, "{ next ", "{ id }", "}") + " }");
        json::value expected = json::object{{"id", 60}};
        for (int i = 0; i < 60; ++i) {
            expected = json::object{{"next", std::move(expected)}};
        }
        CHECK(deep == json::object{{"data", json::object{{"chain", expected}}}});
    }

    TEST_CASE("fragments recursing through fields stop at the execution depth limit") {
        fake_api api;
        const json::object response =
            api.run("{ chain(length: 1000) { ...F } } fragment F on Node { id next { ...F } }");
        CHECK(response.at("data").is_null());
        CHECK(first_message(response) == "Nesting exceeds the limit of 128 levels.");

        // Short data ends the recursion first.
        CHECK(api.run("{ chain(length: 2) { ...F } } fragment F on Node { id next { ...F } }") ==
              parse(R"({"data": {"chain": {"id": 0, "next": {"id": 1, "next": null}}}})"));
    }

    TEST_CASE("responses that explode through aliases and fragments are cut off") {
        fake_api api;
        // Each level doubles the work: 2^40 fields if nothing stopped it.
        std::string query = "{ chain(length: 45) { ...L0 } }";
        for (int i = 0; i < 40; ++i) {
            const std::string next = "L" + std::to_string(i + 1);
            query += " fragment L" + std::to_string(i) + " on Node { a: next { ..." + next +
                     " } b: next { ..." + next + " } }";
        }
        query += " fragment L40 on Node { id }";
        const json::object response = api.run(query);
        CHECK(response.at("data").is_null());
        CHECK(first_message(response).starts_with("The operation is too expensive"));
    }

    TEST_CASE("garbage input yields errors, never a crash") {
        fake_api api;
        for (const std::string_view garbage :
             std::initializer_list<std::string_view>{"",
                                                     " ",
                                                     "{",
                                                     "}",
                                                     "}{",
                                                     "{{{{",
                                                     "{}",
                                                     "((",
                                                     "[",
                                                     "\"",
                                                     "\"\"\"",
                                                     "\"\\",
                                                     "\"\\u",
                                                     "\"\\uD800\\u",
                                                     "query",
                                                     "query Q(",
                                                     "query Q($",
                                                     "query Q($a:",
                                                     "query Q($a: [Int",
                                                     "fragment",
                                                     "fragment F",
                                                     "fragment F on",
                                                     "{ a(",
                                                     "{ a(b:",
                                                     "{ a(b: {",
                                                     "{ ...",
                                                     "{ ... on",
                                                     "{ a: }",
                                                     "{ a @",
                                                     "{ a @d(",
                                                     "$",
                                                     "...",
                                                     "..",
                                                     "-",
                                                     "1",
                                                     "#",
                                                     "\xEF\xBB",
                                                     "\xFF\xFE",
                                                     std::string_view("\0{ a }", 6),
                                                     std::string_view("{ a\0 }", 6)}) {
            CAPTURE(garbage);
            const json::object response = api.run(garbage);
            check_well_formed(response);
            CHECK(response.contains("errors"));
        }
    }

    TEST_CASE("random bytes and truncated documents never crash") {
        fake_api api;
        std::mt19937 random(12345); // fixed seed: failures must reproduce
        const std::string alphabet = "{}()[]:$!@.=|&\"\\# ,\n\tabqon0123-eE+\xC3\xA9\x80\xFF";
        for (int round = 0; round < 3000; ++round) {
            std::string input(std::uniform_int_distribution<std::size_t>(0, 40)(random), '\0');
            for (char& c : input) {
                c = round % 2 == 0
                        ? static_cast<char>(std::uniform_int_distribution<int>(0, 255)(random))
                        : alphabet[std::uniform_int_distribution<std::size_t>(0, alphabet.size() -
                                                                                     1)(random)];
            }
            CAPTURE(input);
            check_well_formed(api.run(input, {{"v", 1}}));
        }

        const std::string valid = R"(
        query Q($id: ID! = "x", $n: [Int!] = [1, 2]) @d(a: 1) {
            a: me { id ...F ... on User { name } groups { nodes { id } } }
            b: echo(id: $id, n: $n, o: {k: [ENUM, 1.5e-3, "s\u00e9", """block"""]}) # c
        }
        fragment F on User { __typename email })";
        for (std::size_t length = 0; length <= valid.size(); ++length) {
            CAPTURE(length);
            check_well_formed(api.run(std::string_view(valid).substr(0, length)));
        }
        const json::object full = api.run(valid);
        CHECK(full == parse(R"({"data": {"a": {"id": "u1", "__typename": "User",
        "email": "ann@example.com", "name": "Ann",
        "groups": {"nodes": [{"id": "g1"}, {"id": "g2"}]}}, "b": "ok"}})"));
    }

} // TEST_SUITE
