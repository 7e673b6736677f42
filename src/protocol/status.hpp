// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROTOCOL_STATUS_HPP
#define GLUE_PROTOCOL_STATUS_HPP

// What an HTTP response's status and headers say, whichever endpoint sent it.

#include <glue/error.hpp>

#include "protocol/http_message.hpp"

#include <span>
#include <string_view>

namespace glue::detail {

constexpr bool is_success(unsigned status) noexcept {
    return status >= 200 && status < 300;
}

/// The failure an unexpected status stands for, when nothing more specific applies:
/// unauthorized, forbidden, rate_limited, server_error, or http_error.
errc status_errc(unsigned status) noexcept;

/// The server's id for a request among the headers captured from its response: the first value
/// of x-request-id, x-amzn-requestid or cf-ray (in that order of preference) that is 1 to 128
/// visible ASCII characters; empty when none is.
std::string_view request_id_of(std::span<const http_header> captured) noexcept;

/// The diagnostics every failed response carries: its status and Retry-After.
diagnostics response_diagnostics(const http_response& r);

} // namespace glue::detail

#endif
