// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROTOCOL_STATUS_HPP
#define GLUE_PROTOCOL_STATUS_HPP

// What an HTTP response's status and headers say, whichever endpoint sent it.

#include <glue/error.hpp>

#include "protocol/http_message.hpp"

#include <cstddef>
#include <span>
#include <string_view>

namespace glue::detail {

constexpr bool is_success(unsigned status) noexcept {
    return status >= 200 && status < 300;
}

/// The failure an unexpected status stands for, when nothing more specific applies:
/// unauthorized, forbidden, rate_limited, server_error, or http_error.
errc status_errc(unsigned status) noexcept;

/// The longest request id kept (diagnostics::request_id).
inline constexpr std::size_t max_request_id_size = 128;

/// The server's id for a request among its captured response headers (names in lower case):
/// the first x-request-id, then x-amzn-requestid, then cf-ray, that is 1 to max_request_id_size
/// visible ASCII characters (no space, no control). Empty: none. Being plain visible ASCII of a
/// bounded size, it may go into what() and logs.
std::string_view request_id_of(std::span<const http_header> captured) noexcept;

/// The diagnostics every failed response carries: its status, Retry-After, the captured
/// headers and the request id among them.
diagnostics response_diagnostics(const http_response& r);

} // namespace glue::detail

#endif
