// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The shared cache's Redis URL: parsed, refused without repeating a password, redacted.

#include "shared_cache/redis_url.hpp"

#include <doctest/doctest.h>

#include <string>

namespace gd = glue::detail;

TEST_SUITE("shared cache") {
    TEST_CASE("redis URLs") {
        auto a = gd::parse_redis_url("redis://127.0.0.1:6380/3");
        REQUIRE(a.has_value());
        CHECK(a->host == "127.0.0.1");
        CHECK(a->port == 6380);
        CHECK(a->db == 3);
        CHECK(a->password.empty());

        a = gd::parse_redis_url("redis://cache.internal");
        REQUIRE(a.has_value());
        CHECK(a->host == "cache.internal");
        CHECK(a->port == 6379);
        CHECK(a->db == 0);

        a = gd::parse_redis_url("redis://:s3cret@[::1]:7000/");
        REQUIRE(a.has_value());
        CHECK(a->host == "::1");
        CHECK(a->port == 7000);
        CHECK(a->user.empty());
        CHECK(a->password == "s3cret");

        a = gd::parse_redis_url("redis://worker:p%40ss@localhost/1");
        REQUIRE(a.has_value());
        CHECK(a->user == "worker");
        CHECK(a->password == "p@ss");

        for (const char* bad :
             {"", "127.0.0.1:6379", "http://127.0.0.1:6379", "rediss://127.0.0.1:6379",
              "redis://127.0.0.1:0", "redis://127.0.0.1:6379/x", "redis://127.0.0.1:6379/1/2",
              "redis://127.0.0.1:6379?db=1", "redis://user@127.0.0.1", "redis://:secretpw@/0"}) {
            CAPTURE(bad);
            auto r = gd::parse_redis_url(bad);
            REQUIRE(r.has_error());
            CHECK(r.error().ec == glue::errc::invalid_argument);
            CHECK(std::string(r.error().message).find("secretpw") == std::string::npos);
        }
    }
}
