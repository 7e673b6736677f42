// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// Retry-After: delta-seconds and the three HTTP-date forms, capped.

#include "protocol/retry_after.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <ctime>
#include <string>
#include <string_view>

namespace {

namespace gd = glue::detail;
using namespace std::chrono_literals;

std::string http_date(std::time_t t) {
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[64];
    const auto n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return std::string(buf, n);
}

} // namespace

TEST_SUITE("protocol") {

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

} // TEST_SUITE
