// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// application/x-www-form-urlencoded: the token request's body and the callback's query.

#include "protocol/form.hpp"
#include "protocol_test.hpp"

#include <doctest/doctest.h>

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using namespace protocol_test;
using namespace std::string_view_literals;

std::string encode(std::initializer_list<gd::form_field> fields) {
    return gd::form_encode(std::span<const gd::form_field>(fields.begin(), fields.size()));
}

using decoded_fields = std::vector<std::pair<std::string, std::string>>;

decoded_fields decode(std::string_view body) {
    auto r = gd::form_decode(body);
    REQUIRE(r.has_value());
    return *r;
}

} // namespace

TEST_SUITE("protocol") {

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

} // TEST_SUITE
