// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_DETAIL_TOKEN_HPP
#define GLUE_DETAIL_TOKEN_HPP

// A token as the token endpoint grants it and as the cache holds it, with the lifetime rules
// that turn one into the other (DESIGN.md, "Lifetime"): the hard margin, in which a token is
// never handed out, and the soft window before it, in which it is refreshed ahead.

#include <glue/types.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

namespace glue::detail {

using steady_time = std::chrono::steady_clock::time_point;

/// Longest lifetime believed. `expires_in` values beyond it (10-year tokens, 1e30) are clamped
/// here, so expiry arithmetic on steady_clock can never overflow.
inline constexpr std::chrono::seconds max_token_lifetime{20LL * 365 * 24 * 3600};

/// What one token request produced, before the cache applies its lifetime rules.
struct token_grant {
    std::string value, token_type, user_id;
    std::chrono::seconds lifetime{0}; ///< in [1 s, max_token_lifetime]
    steady_time sent_at;              ///< when the request was written: the expiry's anchor
    std::string stamp{}; ///< identifies the copy in the shared level (empty: not stored there)
};

/// A token as the cache holds it: immutable and shared by every caller that uses it.
struct cached_token {
    access_token token;
    steady_time refresh_from;  ///< start of the soft window: refreshed ahead from here
    steady_time usable_until;  ///< expires_at minus the hard margin: never handed out after
    std::string authorization; ///< "Bearer <value>", made once rather than on every request
    std::string stamp{};       ///< as in the grant: which shared-level copy this is
};
using token_ptr = std::shared_ptr<const cached_token>;

/// hard margin = min(60 s, lifetime / 10).
inline std::chrono::nanoseconds hard_margin(std::chrono::nanoseconds lifetime) {
    return std::min<std::chrono::nanoseconds>(std::chrono::seconds(60), lifetime / 10);
}

/// soft window = max(2 × hard margin, 20% of lifetime), at most `cap`.
inline std::chrono::nanoseconds soft_window(std::chrono::nanoseconds lifetime,
                                            std::chrono::nanoseconds cap) {
    return std::min(std::max(2 * hard_margin(lifetime), lifetime / 5), cap);
}

/// `jitter` in [0, 1) takes that share of the soft window off, so keys fetched together don't
/// all refresh together; the window still starts before the hard margin.
inline token_ptr make_cached_token(token_grant g, std::chrono::nanoseconds soft_cap,
                                   double jitter) {
    auto t = std::make_shared<cached_token>();
    t->token.value = std::move(g.value);
    t->token.token_type = std::move(g.token_type);
    t->token.user_id = std::move(g.user_id);
    t->token.expires_at = g.sent_at + g.lifetime;
    const auto soft = soft_window(g.lifetime, soft_cap);
    const auto shortened = std::chrono::duration_cast<std::chrono::nanoseconds>(soft * jitter);
    t->refresh_from = t->token.expires_at - std::max(soft - shortened, hard_margin(g.lifetime));
    t->usable_until = t->token.expires_at - hard_margin(g.lifetime);
    t->authorization = "Bearer " + t->token.value;
    t->stamp = std::move(g.stamp);
    return t;
}

} // namespace glue::detail

#endif
