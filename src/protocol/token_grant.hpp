// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROTOCOL_TOKEN_GRANT_HPP
#define GLUE_PROTOCOL_TOKEN_GRANT_HPP

// A token as the token endpoint grants it, before the cache applies its lifetime rules.

#include "support/clock.hpp"

#include <algorithm>
#include <chrono>
#include <string>

namespace glue::detail {

/// Longest lifetime believed. `expires_in` values beyond it (10-year tokens, 1e30) are clamped
/// here, so expiry arithmetic on steady_clock can never overflow.
inline constexpr std::chrono::seconds max_token_lifetime{20LL * 365 * 24 * 3600};

/// What one token request produced, before the cache applies its lifetime rules.
struct token_grant {
    std::string value, token_type, user_id;
    std::chrono::seconds lifetime{0}; ///< in [1 s, max_token_lifetime]
    steady_time sent_at;              ///< when the request was written: the expiry's anchor
    std::string stamp{}; ///< identifies the copy in the shared cache (empty: not stored there)
};

/// The part of a grant's lifetime in which nobody hands it out, so that a token is never sent
/// so close to its expiry that it expires on the way: every holder of a grant (the cache, the
/// shared cache) applies it.
/// hard margin = min(60 s, lifetime / 10).
inline std::chrono::nanoseconds hard_margin(std::chrono::nanoseconds lifetime) {
    return std::min<std::chrono::nanoseconds>(std::chrono::seconds(60), lifetime / 10);
}

} // namespace glue::detail

#endif
