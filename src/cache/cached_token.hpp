// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_CACHE_CACHED_TOKEN_HPP
#define GLUE_CACHE_CACHED_TOKEN_HPP

// A token as the cache holds it, with the lifetime rules that turn a grant into one
// (docs/design.md, "Token cache"): the hard margin, in which a token is never handed out, and the
// soft window before it, in which it is refreshed ahead.

#include <glue/types.hpp>

#include "protocol/token_grant.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

namespace glue::detail {

/// A token as the cache holds it: immutable and shared by every caller that uses it.
struct cached_token {
    access_token token;
    steady_time refresh_from;  ///< start of the soft window: refreshed ahead from here
    steady_time usable_until;  ///< expires_at minus the hard margin: never handed out after
    std::string authorization; ///< "Bearer <value>", made once rather than on every request
    std::string stamp{};       ///< as in the grant: which shared-cache copy this is
};
using token_ptr = std::shared_ptr<const cached_token>;

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
