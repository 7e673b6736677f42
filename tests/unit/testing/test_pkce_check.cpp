// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/pkce_check.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace {

using namespace glue::testing::detail;

// RFC 7636 Appendix B.
constexpr std::string_view rfc_verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr std::string_view rfc_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

} // namespace

TEST_SUITE("pkce_check") {
    TEST_CASE("s256_challenge: BASE64URL(SHA256(verifier)) without padding") {
        CHECK(s256_challenge(rfc_verifier) == rfc_challenge);
        // SHA-256 of the empty string, e3b0c442…b855.
        CHECK(s256_challenge("") == "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
        CHECK(s256_challenge("abc") == "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    }

    TEST_CASE("is_code_verifier: 43 to 128 characters of [A-Za-z0-9-._~]") {
        CHECK(is_code_verifier(rfc_verifier));
        CHECK(is_code_verifier(std::string(43, 'a')));
        CHECK(is_code_verifier(std::string(128, '~')));
        CHECK_FALSE(is_code_verifier(std::string(42, 'a')));
        CHECK_FALSE(is_code_verifier(std::string(129, 'a')));
        CHECK(is_code_verifier("AZaz09-._~" + std::string(33, 'x')));
        for (const char c : std::string_view("+/= %\"\n\x80")) {
            CAPTURE(c);
            CHECK_FALSE(is_code_verifier(std::string(42, 'a') + c));
        }
    }

    TEST_CASE("is_s256_challenge: 43 base64url characters") {
        CHECK(is_s256_challenge(rfc_challenge));
        CHECK(is_s256_challenge("AZaz09-_" + std::string(35, 'x')));
        CHECK_FALSE(is_s256_challenge(std::string(42, 'a')));
        CHECK_FALSE(is_s256_challenge(std::string(44, 'a')));
        for (const char c : std::string_view(".~+/= ")) {
            CAPTURE(c);
            CHECK_FALSE(is_s256_challenge(std::string(42, 'a') + c));
        }
    }

    TEST_CASE("verifier_matches: a code verifier whose challenge is the one given") {
        CHECK(verifier_matches(rfc_verifier, rfc_challenge));
        CHECK_FALSE(verifier_matches(rfc_verifier, s256_challenge("another")));
        std::string longer(rfc_verifier);
        longer += 'x';
        CHECK_FALSE(verifier_matches(longer, rfc_challenge));
        // Too short to be a verifier, though its challenge is the one given.
        CHECK_FALSE(verifier_matches("short", s256_challenge("short")));
    }
}
