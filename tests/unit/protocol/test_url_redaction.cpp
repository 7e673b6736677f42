// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// A URL made fit to print: the password in its user info hidden, the rest kept.

#include "protocol/url_redaction.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace {

namespace gd = glue::detail;

} // namespace

TEST_SUITE("protocol") {

    TEST_CASE("redact_url_password hides the password and keeps the rest") {
        CHECK(gd::redact_url_password("redis://:hunter2@127.0.0.1:6379/0") ==
              "redis://:(redacted)@127.0.0.1:6379/0");
        CHECK(gd::redact_url_password("rediss://app:hunter2@cache.example.com:6380/3") ==
              "rediss://app:(redacted)@cache.example.com:6380/3");
        // Percent-encoded, the password is still found whole.
        CHECK(gd::redact_url_password("redis://u:p%40ss%3Aw0rd@h/0") == "redis://u:(redacted)@h/0");
        const auto printed = gd::redact_url_password("redis://u:s3cr3t-value@h:1/2?x=1#f");
        CHECK(printed.find("s3cr3t") == std::string::npos);
        CHECK(printed == "redis://u:(redacted)@h:1/2?x=1#f");
    }

    TEST_CASE("redact_url_password leaves a URL without a password as it is") {
        for (std::string_view url : {"redis://127.0.0.1:6379/0", "redis://user@h/0",
                                     "https://api.gluegroups.com/graphql", "unix:/tmp/r.sock"}) {
            CAPTURE(url);
            CHECK(gd::redact_url_password(url) == url);
        }
    }

    TEST_CASE("redact_url_password shows nothing of what it can't parse") {
        CHECK(gd::redact_url_password("").empty());
        for (std::string_view url : {"not a url", "redis://:pass word@h", "://:secret@h",
                                     "127.0.0.1:6379", ":hunter2@h"}) {
            CAPTURE(url);
            CHECK(gd::redact_url_password(url) == "(unparsable, not shown)");
        }
    }

} // TEST_SUITE
