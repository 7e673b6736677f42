// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// api_url as an origin: scheme, host, port and path, and the URLs refused.

#include "protocol/origin.hpp"
#include "protocol_test.hpp"

#include <doctest/doctest.h>

#include <string_view>

namespace {

using namespace protocol_test;

gd::origin origin_of(std::string_view url, bool allow_insecure_http = false) {
    auto r = gd::parse_origin(url, allow_insecure_http);
    REQUIRE_MESSAGE(r.has_value(), url);
    return *r;
}

} // namespace

TEST_SUITE("protocol") {

    TEST_CASE("parse_origin reads an https URL with the default port") {
        const auto o = origin_of("https://api.gluegroups.com");
        CHECK(o.tls);
        CHECK(o.host == "api.gluegroups.com");
        CHECK(o.port == 443);
        CHECK(o.host_header == "api.gluegroups.com");
        CHECK(o.base_path == "");
        CHECK_FALSE(o.host_is_ip);
        CHECK_FALSE(o.loopback);

        const auto with_port = origin_of("https://api.gluegroups.com:8443");
        CHECK(with_port.port == 8443);
        CHECK(with_port.host_header == "api.gluegroups.com:8443");
        CHECK(origin_of("https://api.gluegroups.com:443").host_header == "api.gluegroups.com");
    }

    TEST_CASE("parse_origin keeps the path prefix without a trailing slash") {
        CHECK(origin_of("https://api.gluegroups.com/").base_path == "");
        CHECK(origin_of("https://api.gluegroups.com/base/").base_path == "/base");
        CHECK(origin_of("https://api.gluegroups.com/base").base_path == "/base");
        CHECK(origin_of("https://api.gluegroups.com/a/b//").base_path == "/a/b");
    }

    TEST_CASE("parse_origin accepts http to loopback hosts") {
        const auto v4 = origin_of("http://127.0.0.1:8080");
        CHECK_FALSE(v4.tls);
        CHECK(v4.host == "127.0.0.1");
        CHECK(v4.port == 8080);
        CHECK(v4.host_header == "127.0.0.1:8080");
        CHECK(v4.host_is_ip);
        CHECK(v4.loopback);

        const auto v6 = origin_of("http://[::1]:9");
        CHECK(v6.host == "::1");
        CHECK(v6.port == 9);
        CHECK(v6.host_header == "[::1]:9");
        CHECK(v6.host_is_ip);
        CHECK(v6.loopback);

        const auto name = origin_of("http://localhost:1");
        CHECK(name.host == "localhost");
        CHECK(name.port == 1);
        CHECK(name.loopback);
        CHECK_FALSE(name.host_is_ip);

        CHECK(origin_of("http://127.1.2.3").loopback);
        CHECK(origin_of("http://127.0.0.1").port == 80);
        CHECK(origin_of("http://127.0.0.1").host_header == "127.0.0.1");
    }

    TEST_CASE("parse_origin refuses http to other hosts unless allow_insecure_http") {
        for (std::string_view url :
             {"http://example.com", "http://10.0.0.1", "http://[2001:db8::1]",
              "http://[::ffff:127.0.0.1]", "http://localhost.evil.com"}) {
            CAPTURE(url);
            const auto r = gd::parse_origin(url, false);
            CHECK(fails_with(r, errc::invalid_argument));
            CHECK_FALSE(failure_of(r).message.empty());
            const auto o = origin_of(url, true);
            CHECK_FALSE(o.tls);
            CHECK_FALSE(o.loopback);
        }
    }

    TEST_CASE("parse_origin: only loopback addresses and the name localhost count as loopback") {
        for (std::string_view url : {"HTTP://LOCALHOST:1", "http://LocalHost",
                                     "http://127.255.255.254", "http://[0:0:0:0:0:0:0:1]:8080"}) {
            CAPTURE(url);
            CHECK(origin_of(url).loopback);
        }
        // What merely looks local, or resolves to a loopback address only through a resolver's
        // leniency (numeric and hex host forms are names to a URL parser), is not.
        for (std::string_view url : {"HTTP://GLUE.EXAMPLE.COM", "http://0.0.0.0", "http://[::]",
                                     "http://localhost.glue.example.com", "http://localhost-glue",
                                     "http://2130706433", "http://0x7f.1", "http://127.1"}) {
            CAPTURE(url);
            CHECK(fails_with(gd::parse_origin(url, false), errc::invalid_argument));
            CHECK_FALSE(origin_of(url, true).loopback);
        }
    }

    TEST_CASE(
        "parse_origin refuses a host name that starts with an IPv4 address, not misreads it") {
        // Boost.URL 1.81 parses these as the address followed by a path (boostorg/url#755):
        // "http://127.0.0.1.glue.example.com" came out as plain HTTP to loopback, port 80.
        for (std::string_view url :
             {"http://127.0.0.1.glue.example.com", "http://127.0.0.1.nip.io:8080/base",
              "https://10.0.0.1.glue.example.com", "https://1.2.3.4x", "https://[::1]x"}) {
            for (bool insecure : {false, true}) {
                CAPTURE(url);
                CAPTURE(insecure);
                CHECK(fails_with(gd::parse_origin(url, insecure), errc::invalid_argument));
            }
        }
        // A name with an address further in is an ordinary name.
        const auto o = origin_of("https://glue.10.0.0.1.example.com/v1");
        CHECK(o.host == "glue.10.0.0.1.example.com");
        CHECK_FALSE(o.host_is_ip);
        CHECK(o.base_path == "/v1");
    }

    TEST_CASE("parse_origin refuses URLs it can't use safely") {
        for (std::string_view url :
             {"ftp://x", "not a url", "", "api.gluegroups.com", "//api.gluegroups.com", "https://",
              "https://h?x=1", "https://h?", "https://h#f", "https://u:p@h", "https://u@h",
              "https://h:0", "https://h:65536", "https://h:65979", "https://h:4294967739",
              "http://[v1.x]", "https://a%0d%0ab", "https://a%00b", "https://a b"}) {
            for (bool insecure : {false, true}) {
                CAPTURE(url);
                CAPTURE(insecure);
                CHECK(fails_with(gd::parse_origin(url, insecure), errc::invalid_argument));
            }
        }
    }

} // TEST_SUITE
