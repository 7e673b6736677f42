// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// What a failed response's headers tell: the captured headers and the request id among them.

#include "protocol/status.hpp"
#include "protocol_test.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

using namespace protocol_test;
using headers = std::vector<glue::http_header>;

} // namespace

TEST_SUITE("protocol") {

    TEST_CASE("request_id_of takes x-request-id, then x-amzn-requestid, then cf-ray") {
        CHECK(gd::request_id_of(headers{}).empty());
        CHECK(gd::request_id_of(headers{{"retry-after", "3"}}).empty());
        CHECK(gd::request_id_of(headers{{"x-request-id", "req_1"}}) == "req_1");
        CHECK(gd::request_id_of(headers{{"x-amzn-requestid", "aws-1"}}) == "aws-1");
        CHECK(gd::request_id_of(headers{{"cf-ray", "8f1e2d3c4b5a6978-AMS"}}) ==
              "8f1e2d3c4b5a6978-AMS");
        // By preference, not by the order received.
        CHECK(gd::request_id_of(headers{{"cf-ray", "ray"},
                                        {"x-amzn-requestid", "aws"},
                                        {"x-request-id", "req"}}) == "req");
        CHECK(gd::request_id_of(headers{{"cf-ray", "ray"}, {"x-amzn-requestid", "aws"}}) == "aws");
        // Of repeated ones, the first usable.
        CHECK(gd::request_id_of(headers{{"x-request-id", "first"}, {"x-request-id", "second"}}) ==
              "first");
        CHECK(gd::request_id_of(headers{{"x-request-id", "a b"}, {"x-request-id", "second"}}) ==
              "second");
    }

    TEST_CASE("request_id_of keeps only 1 to 128 visible ASCII characters") {
        const std::string longest(gd::max_request_id_size, 'r');
        CHECK(gd::request_id_of(headers{{"x-request-id", longest}}) == longest);
        CHECK(gd::request_id_of(headers{{"x-request-id", "!~{}[]=:;,/\"'"}}) == "!~{}[]=:;,/\"'");
        const std::string unusable[] = {
            "",
            longest + "r",
            "req 1",
            "req\t1",
            std::string("req\0"
                        "1",
                        5),
            "req\x7f",
            "req\x01",
            "caf\xc3\xa9",
        };
        for (const auto& v : unusable) {
            CAPTURE(v);
            CHECK(gd::request_id_of(headers{{"x-request-id", v}}).empty());
            // The next name is used instead.
            CHECK(gd::request_id_of(headers{{"x-request-id", v}, {"cf-ray", "ray-1"}}) == "ray-1");
        }
    }

    TEST_CASE("response_diagnostics carries the captured headers and the request id") {
        auto r = response(503, "{}", "7");
        r.captured = {{"x-request-id", "req_42"}, {"retry-after", "7"}, {"cf-ray", "ray"}};
        const auto d = gd::response_diagnostics(r);
        CHECK(d.http_status == 503);
        CHECK(d.retry_after == std::chrono::seconds(7));
        CHECK(d.response_headers == r.captured);
        CHECK(d.request_id == "req_42");

        r.captured = {{"x-request-id", std::string(200, 'r')}};
        const auto long_id = gd::response_diagnostics(r);
        CHECK(long_id.response_headers == r.captured); // kept as captured, but not as the id
        CHECK(long_id.request_id.empty());

        CHECK(gd::response_diagnostics(response(500, "{}")).response_headers.empty());
    }

} // TEST_SUITE
