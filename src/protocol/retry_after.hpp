// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROTOCOL_RETRY_AFTER_HPP
#define GLUE_PROTOCOL_RETRY_AFTER_HPP

// The Retry-After header (RFC 9110 §10.2.3): how long a 429 or 503 asks the client to wait.

#include <chrono>
#include <string_view>

namespace glue::detail {

/// Longest Retry-After believed: later values are clamped, so adding one to a clock can't
/// overflow.
inline constexpr std::chrono::seconds max_retry_after{365LL * 24 * 3600};

/// Seconds from a Retry-After value (delta-seconds, or an HTTP-date in any of its three forms,
/// read without the C locale); at most max_retry_after; negative when absent or unparseable.
std::chrono::seconds parse_retry_after(std::string_view value) noexcept;

} // namespace glue::detail

#endif
