// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROTOCOL_PROTOCOL_HPP
#define GLUE_PROTOCOL_PROTOCOL_HPP

// What goes over the wire and what comes back, as pure functions with no I/O: input checks,
// the token request's form body and response (RFC 6749 §4.4, §5), the GraphQL request body and
// response (GraphQL over HTTP). Unit tests and fuzzers call these directly.

#include <glue/oauth.hpp>
#include <glue/types.hpp>

#include "protocol/http_message.hpp"
#include "protocol/origin.hpp"
#include "protocol/token_grant.hpp"
#include "support/outcome.hpp"

#include <boost/json/fwd.hpp>

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace glue::detail {

//------------------------------------------------------------------------------
// Input checks (before any I/O)

inline constexpr std::size_t max_workspace_id_size = 128;

/// Printable ASCII without spaces: what any Glue id (usr_…, thr_…) is made of.
bool is_plain_id(std::string_view id) noexcept;

/// Non-empty, at most max_workspace_id_size, printable ASCII without spaces; with `strict`,
/// also of the form wks_<base62>.
result<void> check_workspace_id(std::string_view id, bool strict);

/// True when `s` can be sent as an HTTP header value: no control characters (CR, LF, NUL…).
bool is_header_safe(std::string_view s) noexcept;

/// The value of one hex digit, either case; -1 for anything else.
int hex_digit_value(char c) noexcept;

inline constexpr std::size_t max_grant_value_size = 4096;

/// An authorization code or refresh token the client will send: non-empty, at most
/// max_grant_value_size, printable ASCII without spaces (RFC 6749 allows no more).
result<void> check_grant_value(std::string_view value);

/// RFC 7636 §4.1: 43 to 128 characters of [A-Za-z0-9-._~].
bool is_code_verifier(std::string_view verifier) noexcept;

//------------------------------------------------------------------------------
// OAuth token endpoint

using form_field = std::pair<std::string_view, std::string_view>;

/// application/x-www-form-urlencoded (WHATWG URL §5.2): every byte but ALPHA / DIGIT / "-" /
/// "." / "_" / "~" is percent-encoded, and space becomes '+'.
std::string form_encode(std::span<const form_field> fields);

/// The fields of an application/x-www-form-urlencoded body, decoded ('+' is a space);
/// errc::invalid_argument for malformed percent-encoding.
result<std::vector<std::pair<std::string, std::string>>> form_decode(std::string_view body);

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

//------------------------------------------------------------------------------
// GraphQL endpoint

/// A GraphQL Name (spec §2.1.9): [_A-Za-z][_0-9A-Za-z]*.
bool is_graphql_name(std::string_view s) noexcept;

/// No number in `v` is infinite or NaN. Boost.JSON 1.81 reads a number too large for a double
/// (1e400) as infinity and writes it back as `Infinity`, which is not JSON: a request body with
/// one would be malformed.
bool all_finite(const boost::json::value& v) noexcept;

enum class operation_kind { query, mutation, subscription, unknown };

/// The kind of operation a request will run: the one named `operation_name`, or the only
/// one in the document. `unknown` when that can't be told (no such name, several operations).
operation_kind graphql_operation_kind(std::string_view document,
                                      std::string_view operation_name) noexcept;

/// Whether sending the request twice can't do twice what it does: a query, or a mutation
/// whose every top-level field is a Glue `sendMessage(input: $var)` upsert (message.uniqueBy,
/// and thread.threadBy when it creates a thread). The input must come as a variable, as Glue
/// asks; a literal input, a fragment or a directive at the top level counts as unsafe.
/// The caller's graphql_request::idempotent is not considered here.
bool may_send_twice(const graphql_request& req) noexcept;

/// {"query":…, "variables":…, "operationName":…}, leaving out empty variables and name.
std::string graphql_body(const graphql_request& req);

/// A GraphQL response as a complete answer, or the failure it describes: `errors` →
/// errc::graphql_error; non-2xx → unauthorized / forbidden / rate_limited / server_error /
/// graphql_error (4xx with an errors envelope) / http_error; a malformed 2xx → bad_response.
result<graphql_response> parse_graphql_response(http_response&& r);

/// Longest Retry-After believed: later values are clamped, so adding one to a clock can't
/// overflow.
inline constexpr std::chrono::seconds max_retry_after{365LL * 24 * 3600};

/// Seconds from a Retry-After value (delta-seconds, or an HTTP-date in any of its three forms,
/// read without the C locale); at most max_retry_after; negative when absent or unparseable.
std::chrono::seconds parse_retry_after(std::string_view value) noexcept;

} // namespace glue::detail

#endif
