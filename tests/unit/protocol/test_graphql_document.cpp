// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// What a GraphQL document runs, read from its text: the operation's kind, and whether the
// request may be sent twice.

#include <glue/types.hpp>

#include "protocol/graphql_document.hpp"

#include <boost/json.hpp>

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <utility>

namespace {

namespace json = boost::json;
namespace gd = glue::detail;
using gd::operation_kind;

operation_kind kind_of(std::string_view document, std::string_view name = {}) {
    return gd::graphql_operation_kind(document, name);
}

} // namespace

TEST_SUITE("protocol") {

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

} // TEST_SUITE
