// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_SHARED_CACHE_SEALING_HPP
#define GLUE_SHARED_CACHE_SEALING_HPP

// What the shared cache stores is sealed: AES-256-GCM under the configured key, bound to its
// Redis key, so that Redis (or whoever reads it) never holds a token in plaintext. No I/O (the
// fuzz build compiles this file).

#include "protocol/token_grant.hpp"
#include "support/outcome.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace glue::detail {

using shared_cache_key = std::array<unsigned char, 32>;

/// 64 hex digits, or invalid_argument.
result<shared_cache_key> parse_shared_cache_key(std::string_view hex);

/// A stored value: version byte, 12-byte IV, AES-256-GCM ciphertext of the token's fields and
/// expiry, 16-byte tag. The Redis key is the associated data, so a value copied under another
/// workspace's key does not open. Its first stamp_size bytes are its stamp: unique per value.
inline constexpr std::size_t stamp_size = 13;

/// `expires_at_ms`: when the token expires, on Redis's clock (TIME, in milliseconds since the
/// epoch). Sealed with it, so that however long Redis keeps the value (a TTL set again, an old
/// value written back), no process uses it past that expiry's hard margin.
std::string seal_token(const shared_cache_key& key, std::string_view redis_key,
                       const token_grant& grant, std::int64_t expires_at_ms);

/// The envelope alone, around any plaintext: what seal_token() puts the token's fields in.
std::string seal(const shared_cache_key& key, std::string_view redis_key, std::string_view plain);

struct opened_token {
    token_grant grant; ///< its value, type, user and lifetime (not its times), and its stamp
    std::int64_t expires_at_ms = 0; ///< as sealed
};

/// What a stored value holds, or bad_response for a value that is not one we sealed under this
/// key and Redis key, or one sealed without an expiry (by an earlier version: refused, so the
/// process that reads it replaces it).
result<opened_token> open_token(const shared_cache_key& key, std::string_view redis_key,
                                std::string_view sealed);

} // namespace glue::detail

#endif
