// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROTOCOL_HTTP_MESSAGE_HPP
#define GLUE_PROTOCOL_HTTP_MESSAGE_HPP

// A request and its response as the protocol layer builds and reads them; the transport carries
// them without knowing what they mean.

#include <glue/types.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace glue::detail {

struct http_request {
    std::string_view target; ///< path and query
    std::string_view content_type;
    std::string_view body;
    /// Authorization header; empty: none. Must stay valid until send() completes.
    std::string_view authorization;
    std::size_t body_limit = 0; ///< largest response body accepted
    /// Whether the request may be sent again after a failure that left its fate unknown
    /// (a stale keep-alive connection that failed before any response byte).
    bool idempotent = true;
    /// Header lines of this request beyond the pool's own, each "Name: value\r\n", checked
    /// before they got here (protocol/checks.hpp).
    std::string_view extra_headers;
};

struct http_response {
    unsigned status = 0;
    std::string body;
    std::string retry_after; ///< the Retry-After header's value, if any
    /// The headers the pool was told to capture (transport_options::capture_headers), names
    /// in lower case, in the order received.
    std::vector<http_header> captured;
};

} // namespace glue::detail

#endif
