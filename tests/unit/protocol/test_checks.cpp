// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Checks on the caller's input, made before any I/O: workspace ids, header values and extra
// request headers.

#include "protocol/ascii.hpp"
#include "protocol/checks.hpp"
#include "protocol_test.hpp"

#include <doctest/doctest.h>

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace protocol_test;
using namespace std::string_view_literals;

std::vector<glue::http_header> one_header(std::string name, std::string value) {
    return {glue::http_header{std::move(name), std::move(value)}};
}

/// `n` distinct, valid headers.
std::vector<glue::http_header> many_headers(std::size_t n) {
    std::vector<glue::http_header> out;
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back({"X-H" + std::to_string(i), "v"});
    }
    return out;
}

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

    TEST_CASE("is_http_token accepts RFC 9110 tchar runs only") {
        for (std::string_view t :
             {"traceparent"sv, "X-Api-Key"sv, "a"sv, "!#$%&'*+-.^_`|~09AZaz"sv}) {
            CAPTURE(t);
            CHECK(gd::is_http_token(t));
        }
        for (std::string_view t :
             {""sv,    "a b"sv, "a:b"sv,  "a\tb"sv, "a\rb"sv,  "a\nb"sv,       "a\0b"sv,
              "(a)"sv, "a@b"sv, "a,b"sv,  "a;b"sv,  "a/b"sv,   "a\"b"sv,       "a{b}"sv,
              "a=b"sv, "a?b"sv, "a[b]"sv, "a\\b"sv, "a\x7f"sv, "caf\xc3\xa9"sv}) {
            CAPTURE(t);
            CHECK_FALSE(gd::is_http_token(t));
        }
    }

    TEST_CASE("extra headers: valid names and values pass, up to every limit") {
        CHECK_FALSE(gd::find_header_fault({}).has_value());
        CHECK_FALSE(gd::find_header_fault(
                        one_header("traceparent",
                                   "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
                        .has_value());
        CHECK_FALSE(gd::find_header_fault(one_header("X-Empty", "")).has_value());
        CHECK_FALSE(gd::find_header_fault(one_header("X-Inner", "a b\tc")).has_value());
        CHECK_FALSE(gd::find_header_fault(one_header("X-Utf8", "caf\xc3\xa9")).has_value());
        CHECK_FALSE(
            gd::find_header_fault(one_header(std::string(gd::max_header_name_size, 'n'), "v"))
                .has_value());
        CHECK_FALSE(
            gd::find_header_fault(one_header("X-Big", std::string(gd::max_header_value_size, 'v')))
                .has_value());
        CHECK_FALSE(gd::find_header_fault(many_headers(gd::max_extra_headers)).has_value());
        // The same name twice is two fields, as HTTP allows.
        auto twice = one_header("X-Tag", "a");
        twice.push_back({"x-tag", "b"});
        CHECK_FALSE(gd::find_header_fault(twice).has_value());
        CHECK(gd::check_extra_headers(twice).has_value());
    }

    TEST_CASE("extra headers: injection, bad names and sizes are refused, naming the header") {
        struct bad_case {
            std::string_view what;
            glue::http_header header;
        };
        const bad_case cases[] = {
            {"CR in the value", {"X-A", "a\rX-Injected: 1"}},
            {"LF in the value", {"X-A", "a\nX-Injected: 1"}},
            {"CRLF in the value", {"X-A", "a\r\nX-Injected: 1"}},
            {"NUL in the value", {"X-A", std::string("a\0b", 3)}},
            {"another control character", {"X-A", "a\x01"}},
            {"DEL", {"X-A", "a\x7f"}},
            {"a leading space", {"X-A", " a"}},
            {"a trailing space", {"X-A", "a "}},
            {"a leading tab", {"X-A", "\ta"}},
            {"a trailing tab", {"X-A", "a\t"}},
            {"only a space", {"X-A", " "}},
            {"a value over 8 KiB", {"X-A", std::string(gd::max_header_value_size + 1, 'v')}},
            {"an empty name", {"", "v"}},
            {"a space in the name", {"X A", "v"}},
            {"a colon in the name", {"X-A:", "v"}},
            {"CRLF in the name", {"X-A\r\nX-Injected", "v"}},
            {"LF in the name", {"X\nA", "v"}},
            {"NUL in the name", {std::string("X\0A", 3), "v"}},
            {"a non-ASCII name", {"X-Caf\xc3\xa9", "v"}},
            {"a name over 256 characters", {std::string(gd::max_header_name_size + 1, 'n'), "v"}},
        };
        for (const auto& c : cases) {
            CAPTURE(c.what);
            auto headers = many_headers(3);
            headers.insert(headers.begin() + 1, c.header);
            const auto fault = gd::find_header_fault(headers);
            REQUIRE(fault.has_value());
            CHECK(fault->index == 1);
            CHECK_FALSE(fault->why.empty());
            const auto r = gd::check_extra_headers(headers);
            CHECK(fails_with(r, errc::invalid_argument));
            CHECK(failure_of(r).message == fault->why);
        }
    }

    TEST_CASE("extra headers: the names the client sets itself are refused in any case") {
        for (std::string_view name :
             {"Host", "Authorization", "Proxy-Authorization", "Content-Length", "Content-Type",
              "Content-Encoding", "Transfer-Encoding", "Connection", "Keep-Alive", "TE", "Trailer",
              "Upgrade", "Expect", "Accept", "Accept-Encoding", "User-Agent"}) {
            std::string lower(name), mixed(name); // mixed: HoSt, AuThOrIzAtIoN, ...
            for (std::size_t i = 0; i < name.size(); ++i) {
                lower[i] = gd::ascii_lower(name[i]);
                mixed[i] = i % 2 ? lower[i] : static_cast<char>(std::toupper(lower[i]));
            }
            for (const std::string& spelling : {std::string(name), lower, mixed}) {
                CAPTURE(spelling);
                const auto fault = gd::find_header_fault(one_header(spelling, "v"));
                REQUIRE(fault.has_value());
                CHECK(fault->index == 0);
                CHECK(fails_with(gd::check_extra_headers(one_header(spelling, "v")),
                                 errc::invalid_argument));
            }
        }
        // Near misses are other headers.
        for (std::string_view name : {"X-Host", "Hosts", "Accept-Language", "TE2", "Content-MD5"}) {
            CAPTURE(name);
            CHECK_FALSE(gd::find_header_fault(one_header(std::string(name), "v")).has_value());
        }
    }

    TEST_CASE("extra headers: more than 64 are refused, the fault at the list's end") {
        const auto headers = many_headers(gd::max_extra_headers + 1);
        const auto fault = gd::find_header_fault(headers);
        REQUIRE(fault.has_value());
        CHECK(fault->index == headers.size());
        CHECK(fails_with(gd::check_extra_headers(headers), errc::invalid_argument));
    }

    TEST_CASE("header_lines writes each header as it was given, in order") {
        CHECK(gd::header_lines({}).empty());
        std::vector<glue::http_header> headers = {
            {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
            {"X-Empty", ""},
            {"x-tag", "a\tb"}};
        const std::string lines = gd::header_lines(headers);
        CHECK(lines == "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
                       "X-Empty: \r\n"
                       "x-tag: a\tb\r\n");
    }

} // TEST_SUITE
