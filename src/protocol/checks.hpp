// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROTOCOL_CHECKS_HPP
#define GLUE_PROTOCOL_CHECKS_HPP

// Checks on what the caller gives, made before any I/O: ids, header values, extra headers,
// grant values.

#include <glue/types.hpp>

#include "support/outcome.hpp"

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace glue::detail {

inline constexpr std::size_t max_workspace_id_size = 128;

/// Printable ASCII without spaces: what any Glue id (usr_…, thr_…) is made of.
bool is_plain_id(std::string_view id) noexcept;

/// Non-empty, at most max_workspace_id_size, printable ASCII without spaces; with `strict`,
/// also of the form wks_<base62>.
result<void> check_workspace_id(std::string_view id, bool strict);

/// True when `s` can be sent as an HTTP header value: no control characters (CR, LF, NUL…).
bool is_header_safe(std::string_view s) noexcept;

/// An RFC 9110 token (§5.6.2: one or more tchar), what a header name is made of.
bool is_http_token(std::string_view s) noexcept;

inline constexpr std::size_t max_header_name_size = 256;
inline constexpr std::size_t max_header_value_size = 8 * 1024;
/// Extra headers of one request (graphql_request::headers), and default ones, at most.
inline constexpr std::size_t max_extra_headers = 64;

/// Why an extra header list can't be sent (docs/design.md, "Headers").
struct header_fault {
    std::size_t index;    ///< the header at fault; the list's size when there are too many
    std::string_view why; ///< a string literal that never shows the value
};

/// The first fault of an extra header list (graphql_request::headers or
/// client_config::default_headers): more than max_extra_headers; a name that is not a token of
/// 1 to max_header_name_size characters, or that the client sets itself (Host, Authorization,
/// Content-Length, ..., case-insensitive); a value longer than max_header_value_size, with a
/// control character but tab, or with a space or tab at either end (refused, not trimmed: a
/// value is sent as given or not at all). None: every header may be sent.
std::optional<header_fault> find_header_fault(std::span<const http_header> headers) noexcept;

/// find_header_fault as a result: errc::invalid_argument with its `why`.
result<void> check_extra_headers(std::span<const http_header> headers);

/// Checked headers as header lines, "Name: value\r\n" each, in a string allocated once at its
/// final size: a value may be a secret (an API key), and no partial copy is left behind by a
/// reallocation, so wiping the result wipes every copy.
std::string header_lines(std::span<const http_header> headers);

/// The value of one hex digit, either case; -1 for anything else.
int hex_digit_value(char c) noexcept;

inline constexpr std::size_t max_grant_value_size = 4096;

/// An authorization code or refresh token the client will send: non-empty, at most
/// max_grant_value_size, printable ASCII without spaces (RFC 6749 allows no more).
result<void> check_grant_value(std::string_view value);

/// RFC 7636 §4.1: 43 to 128 characters of [A-Za-z0-9-._~].
bool is_code_verifier(std::string_view verifier) noexcept;

} // namespace glue::detail

#endif
