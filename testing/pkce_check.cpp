// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/pkce_check.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cstddef>

namespace glue::testing::detail {

namespace {

constexpr std::string_view base64url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

bool all_of(std::string_view s, std::string_view allowed) {
    return std::ranges::all_of(s, [&](char c) { return allowed.find(c) != allowed.npos; });
}

} // namespace

bool is_code_verifier(std::string_view s) {
    return s.size() >= 43 && s.size() <= 128 &&
           all_of(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~");
}

bool is_s256_challenge(std::string_view s) {
    return s.size() == 43 && all_of(s, base64url_alphabet);
}

std::string s256_challenge(std::string_view verifier) {
    std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
    SHA256(reinterpret_cast<const unsigned char*>(verifier.data()), verifier.size(), digest.data());
    // RFC 4648 §5, 6 bits a character, most significant first; no '=' padding.
    std::string out;
    unsigned bits = 0;
    int count = 0;
    for (const unsigned char byte : digest) {
        bits = (bits << 8) | byte;
        count += 8;
        while (count >= 6) {
            count -= 6;
            out += base64url_alphabet[(bits >> count) & 63];
        }
    }
    if (count > 0) {
        out += base64url_alphabet[(bits << (6 - count)) & 63];
    }
    return out;
}

bool verifier_matches(std::string_view verifier, std::string_view challenge) {
    return is_code_verifier(verifier) && s256_challenge(verifier) == challenge;
}

} // namespace glue::testing::detail
