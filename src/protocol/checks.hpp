// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROTOCOL_CHECKS_HPP
#define GLUE_PROTOCOL_CHECKS_HPP

// Checks on what the caller gives, made before any I/O: ids, header values, grant values.

#include "support/outcome.hpp"

#include <cstddef>
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
