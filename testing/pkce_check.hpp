// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_INTERNAL_PKCE_CHECK_HPP
#define GLUE_TESTING_INTERNAL_PKCE_CHECK_HPP

// The mock's own PKCE checks (RFC 7636), written apart from the client's so that they can catch
// its mistakes rather than share them.

#include <string>
#include <string_view>

namespace glue::testing::detail {

/// §4.1: 43 to 128 characters of [A-Za-z0-9-._~].
bool is_code_verifier(std::string_view s);

/// An S256 code challenge (§4.2): 43 base64url characters ([A-Za-z0-9-_]).
bool is_s256_challenge(std::string_view s);

/// §4.2: BASE64URL(SHA256(verifier)), without padding.
std::string s256_challenge(std::string_view verifier);

/// §4.6: `verifier` is a code verifier and its S256 challenge is `challenge`.
bool verifier_matches(std::string_view verifier, std::string_view challenge);

} // namespace glue::testing::detail

#endif
