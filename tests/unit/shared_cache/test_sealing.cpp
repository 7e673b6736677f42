// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The shared cache's key, and the tokens sealed under it: they open only under that key and
// their Redis key, and only with a usable expiry.

#include "shared_cache/sealing.hpp"
#include "unit/shared_cache/samples.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

using namespace glue::test::shared_samples;
namespace gd = glue::detail;

TEST_SUITE("shared cache") {
    TEST_CASE("the key is 64 hex digits") {
        CHECK(gd::parse_shared_cache_key(key_hex).has_value());
        const auto k = test_key();
        CHECK(k[0] == 0x00);
        CHECK(k[15] == 0xff);
        CHECK(k[31] == 0xff);
        for (std::string bad : {std::string(), std::string(key_hex.substr(1)),
                                std::string(key_hex) + "0", std::string(64, 'g')}) {
            auto r = gd::parse_shared_cache_key(bad);
            REQUIRE(r.has_error());
            CHECK(r.error().ec == glue::errc::invalid_argument);
        }
    }

    TEST_CASE("a sealed token opens only under its key and its Redis key") {
        const std::string where = "glue:app:tok:wks_A";
        const auto g = sample_grant();
        constexpr std::int64_t expiry = 1'796'270'020'666; // Redis's clock, in ms
        const std::string sealed = gd::seal_token(test_key(), where, g, expiry);
        CHECK(sealed.find(g.value) == std::string::npos);
        CHECK(sealed.find("Bearer") == std::string::npos);
        CHECK(sealed.find("usr_App") == std::string::npos);

        auto opened = gd::open_token(test_key(), where, sealed);
        REQUIRE(opened.has_value());
        CHECK(opened->grant.value == g.value);
        CHECK(opened->grant.token_type == "Bearer");
        CHECK(opened->grant.user_id == "usr_App");
        CHECK(opened->grant.lifetime == std::chrono::seconds(3600));
        CHECK(opened->grant.stamp == sealed.substr(0, gd::stamp_size));
        CHECK(opened->expires_at_ms == expiry);

        // Every value has its own IV, so its own stamp.
        const std::string again = gd::seal_token(test_key(), where, g, expiry);
        CHECK(again != sealed);
        CHECK(again.substr(0, gd::stamp_size) != sealed.substr(0, gd::stamp_size));

        auto other_key = test_key();
        other_key[31] ^= 0x80;
        CHECK(gd::open_token(other_key, where, sealed).has_error());
        CHECK(gd::open_token(test_key(), "glue:app:tok:wks_B", sealed).has_error());
        CHECK(gd::open_token(test_key(), where, sealed.substr(0, sealed.size() - 1)).has_error());
        CHECK(gd::open_token(test_key(), where, "").has_error());
        for (std::size_t i = 0; i < sealed.size(); ++i) {
            std::string tampered = sealed;
            tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
            CAPTURE(i);
            CHECK(gd::open_token(test_key(), where, tampered).has_error());
        }
    }

    TEST_CASE("a value sealed without a usable expiry (as an earlier version sealed) is refused") {
        const std::string where = "glue:app:tok:wks_A";
        const std::string fields =
            R"({"a":"gat_Old0123456789","t":"Bearer","u":"usr_App","l":3600)";
        CHECK(gd::open_token(test_key(), where, gd::seal(test_key(), where, fields + "}"))
                  .has_error());
        for (const std::string x : {"0", "-5", "\"soon\"", "1.5e12", "18446744073709551615"}) {
            CAPTURE(x);
            const std::string with_x = fields + ",\"x\":" + x + "}";
            CHECK(
                gd::open_token(test_key(), where, gd::seal(test_key(), where, with_x)).has_error());
        }
        const std::string good = fields + ",\"x\":1796270020666}";
        CHECK(gd::open_token(test_key(), where, gd::seal(test_key(), where, good)).has_value());
    }
}
