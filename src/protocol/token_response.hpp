// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROTOCOL_TOKEN_RESPONSE_HPP
#define GLUE_PROTOCOL_TOKEN_RESPONSE_HPP

// What the token endpoint answers (RFC 6749 §5): a grant, a token set, or the failure it
// describes.

#include "protocol/http_message.hpp"
#include "protocol/token_grant.hpp"
#include "support/clock.hpp"
#include "support/outcome.hpp"

#include <boost/json/fwd.hpp>

#include <chrono>

namespace glue::oauth {
struct token_set; // <glue/oauth.hpp>, which also brings the install flow's Asio declarations
} // namespace glue::oauth

namespace glue::detail {

/// The lifetime `expires_in` gives: integer, float or numeric string seconds. Missing, zero,
/// negative, non-numeric or NaN → `fallback`; more than max_token_lifetime → clamped.
std::chrono::seconds token_lifetime(const boost::json::value* expires_in,
                                    std::chrono::seconds fallback) noexcept;

/// A token endpoint response as a grant, or the failure it describes (RFC 6749 §5.2 errors
/// become errc::oauth_error with oauth_error() and its description).
result<token_grant> parse_token_response(const http_response& r,
                                         std::chrono::seconds default_lifetime,
                                         steady_time sent_at);

/// An authorization_code or refresh_token grant's response (RFC 6749 §5.1) as a token set, or
/// the failure it describes, as parse_token_response. `scope` may be a space- or
/// comma-separated string or an array of them.
result<oauth::token_set> parse_token_set(const http_response& r,
                                         std::chrono::seconds default_lifetime,
                                         std::chrono::system_clock::time_point sent_at);

} // namespace glue::detail

#endif
