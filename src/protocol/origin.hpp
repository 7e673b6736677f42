// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROTOCOL_ORIGIN_HPP
#define GLUE_PROTOCOL_ORIGIN_HPP

#include "support/outcome.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace glue::detail {

/// Where requests go: the scheme, host and port of api_url, and its path prefix.
struct origin {
    bool tls = false;
    std::string host; ///< without IPv6 brackets
    std::uint16_t port = 0;
    std::string host_header; ///< the Host header's value
    std::string base_path;   ///< api_url's path, without a trailing '/'
    bool host_is_ip = false;
    bool loopback = false; ///< 127.0.0.0/8, ::1, or the name localhost
    /// http:// to a name (localhost): connect only if every address it resolves to is loopback.
    bool loopback_addresses_only = false;
};

/// Parses api_url: http or https, a host, an optional port and path; no query, fragment or
/// user info. `http://` is accepted only for a loopback address or the name localhost (whose
/// addresses the transport checks before connecting) unless allow_insecure_http.
result<origin> parse_origin(std::string_view api_url, bool allow_insecure_http);

/// Whether a host name starts with an IPv4 address ("127.0.0.1.example.com", "1.2.3.4x"). Such
/// URLs are refused: Boost.URL 1.81 reads them as the address followed by a path
/// (boostorg/url#755), later versions as a name, and the same URL must not mean either.
bool starts_with_ipv4_address(std::string_view host_name);

} // namespace glue::detail

#endif
