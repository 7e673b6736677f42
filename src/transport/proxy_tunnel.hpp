// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TRANSPORT_PROXY_TUNNEL_HPP
#define GLUE_TRANSPORT_PROXY_TUNNEL_HPP

// The CONNECT step through an HTTP proxy (docs/design.md, "Proxies"): the request, the proxy's
// answer read with Beast's parser within the pool's header limit, and what a refusal means to
// a caller. proxy_tunnel.cpp instantiates Beast's header read for this one exchange; the rest
// of Beast's HTTP code is in exchange.cpp.

#include "protocol/origin.hpp"
#include "support/outcome.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <optional>
#include <string>

namespace glue::detail {

struct connection;

/// What every CONNECT of a pool carries.
struct tunnel_request {
    std::string authorization; ///< Proxy-Authorization's value; empty: none (a secret)
    std::string user_agent;
    std::size_t header_limit = 64 * 1024; ///< the answer's header, as any response's
};

/// Asks the proxy `c` is connected to for a tunnel to `org` (CONNECT host:port), and reads its
/// answer's header, nothing past it: the bytes after it belong to TLS, so a 2xx with a body or
/// with bytes after its header fails. The request's bytes are wiped once written. Cancellation
/// (the connect task's deadline) ends it. An error of the proxy's own category (proxy_failure)
/// when the proxy refuses or answers badly.
boost::asio::awaitable<error_code> open_tunnel(connection& c, const origin& org,
                                               const tunnel_request& t);

/// The failure an error of open_tunnel stands for: a 407 (or a 401) is errc::forbidden; a 502, 503
/// or 504 errc::server_error, retried as a transport failure is; another status errc::http_error;
/// an answer that is malformed, too large or followed by bytes errc::bad_response. The proxy's
/// status is in diagnostics::http_status and proxy_status. Empty for any other error.
std::optional<failure> proxy_failure(error_code ec);

} // namespace glue::detail

#endif
