// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Checks on the caller's input, made before any I/O: workspace ids and header values.

#include "protocol/checks.hpp"
#include "protocol_test.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace {

using namespace protocol_test;
using namespace std::string_view_literals;

} // namespace

TEST_SUITE("protocol") {

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

} // TEST_SUITE
