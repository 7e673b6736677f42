// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/form_decoder.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace {

using glue::testing::detail::decode_form;
using glue::testing::detail::form_fields;

form_fields decoded(std::string_view text) {
    const auto fields = decode_form(text);
    REQUIRE(fields);
    return *fields;
}

} // namespace

TEST_SUITE("form_decoder") {
    TEST_CASE("fields in order, each name=value") {
        CHECK(decoded("").empty());
        CHECK(decoded("a=1") == form_fields{{"a", "1"}});
        CHECK(decoded("grant_type=client_credentials&subject=wks_1") ==
              form_fields{{"grant_type", "client_credentials"}, {"subject", "wks_1"}});
    }

    TEST_CASE("percent-decoding, and '+' is a space, in names and values") {
        CHECK(decoded("redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Foauth%2Fcallback") ==
              form_fields{{"redirect_uri", "http://localhost:8080/oauth/callback"}});
        CHECK(decoded("a+b=c+d") == form_fields{{"a b", "c d"}});
        CHECK(decoded("%2B=%2b") == form_fields{{"+", "+"}});
        CHECK(decoded("x=%20%41z") == form_fields{{"x", " Az"}});
        CHECK(decoded("x=%C3%A9") == form_fields{{"x", "\xC3\xA9"}});
        CHECK(decoded("x=%00") == form_fields{{"x", std::string(1, '\0')}});
        CHECK(decoded("x=%26%3D") == form_fields{{"x", "&="}}); // escaped: no separators
    }

    TEST_CASE("a value may hold '=', a field without '=' has an empty value") {
        CHECK(decoded("a=b=c") == form_fields{{"a", "b=c"}});
        CHECK(decoded("a") == form_fields{{"a", ""}});
        CHECK(decoded("a=") == form_fields{{"a", ""}});
        CHECK(decoded("=v") == form_fields{{"", "v"}});
    }

    TEST_CASE("empty fields between separators are fields with an empty name") {
        CHECK(decoded("a=1&&b=2") == form_fields{{"a", "1"}, {"", ""}, {"b", "2"}});
        CHECK(decoded("&") == form_fields{{"", ""}, {"", ""}});
        CHECK(decoded("a=1&") == form_fields{{"a", "1"}, {"", ""}});
    }

    TEST_CASE("repeated names are all kept, in order") {
        CHECK(decoded("a=1&b=2&a=3") == form_fields{{"a", "1"}, {"b", "2"}, {"a", "3"}});
    }

    TEST_CASE("the characters a URL query allows stand for themselves") {
        CHECK(decoded("k=-._~!$'()*,;:@/?") == form_fields{{"k", "-._~!$'()*,;:@/?"}});
    }

    TEST_CASE("malformed percent-encoding is refused") {
        for (const std::string_view text :
             {"%", "a=%", "a=%4", "a=%4g", "a=%G1", "a=%zz", "a=1%", "%%41", "a%2=1", "a=%-1"}) {
            CAPTURE(text);
            CHECK_FALSE(decode_form(text));
        }
    }

    TEST_CASE("bytes a URL query doesn't allow are refused") {
        for (const std::string_view text :
             {"a=b c", "a=\"", "a=#", "a=<", "a=>", "a=[", "a=]", "a=\\", "a=^", "a=`", "a={",
              "a=|", "a=}", "a=\xC3\xA9", "a=\n", "a=\t", "a=\x7F"}) {
            CAPTURE(text);
            CHECK_FALSE(decode_form(text));
        }
        CHECK_FALSE(decode_form(std::string_view("a=\0b", 4)));
        CHECK_FALSE(decode_form("a=1&b c=2")); // in a later field too
    }
}
