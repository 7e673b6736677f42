// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROTOCOL_PROXY_HPP
#define GLUE_PROTOCOL_PROXY_HPP

// HTTP proxies, decided without I/O: the proxy URL, which proxy (if any) an origin goes
// through given the configuration and the environment, and NO_PROXY's matching
// (docs/design.md, "Proxies").

#include "protocol/origin.hpp"
#include "support/function_ref.hpp"
#include "support/outcome.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace glue::detail {

/// A parsed `http://[user:pass@]host[:port]`.
struct proxy_url {
    std::string host; ///< without IPv6 brackets
    std::uint16_t port = 1080;
    bool host_is_ip = false;
    bool loopback = false;                ///< 127.0.0.0/8, ::1, or the name localhost
    bool loopback_addresses_only = false; ///< connect only if every address is loopback
    std::string user, password;           ///< percent-decoded; both empty: no credentials

    bool has_credentials() const noexcept { return !user.empty() || !password.empty(); }
    /// host:port, an IPv6 host in brackets: CONNECT's target form, for the proxy itself.
    std::string authority() const;
};

/// "host:port", an IPv6 host in brackets: the authority form of a CONNECT target.
std::string authority_form(std::string_view host, std::uint16_t port);

/// Parses a proxy URL: http:// only (https://, socks*:// and other schemes are refused), a
/// host, an optional port (default 1080, as curl), an optional path "/" and nothing else. A
/// bare `host[:port]` is taken as http://. Failures are errc::invalid_argument, and their
/// message never includes the URL (it may hold a password).
result<proxy_url> parse_proxy_url(std::string_view url);

/// `Basic base64(user:password)`, the Proxy-Authorization value; empty without credentials.
std::string proxy_authorization(const proxy_url& p);

/// Whether `host` (no brackets) and `port` match a NO_PROXY list: comma-separated entries,
/// whitespace trimmed, case-insensitive; `*` alone matches everything; a name matches itself
/// and its subdomains, with or without a leading dot (curl >= 7.86); an IP literal (IPv6 with
/// or without brackets) matches that address; `addr/bits` is a CIDR range (IPv4 or IPv6); an
/// entry with `:port` matches that port only. Entries that don't parse are ignored.
bool no_proxy_matches(std::string_view list, std::string_view host, std::uint16_t port);

/// An environment variable's value, or null when unset.
using env_lookup = function_ref<const char*(const char*)>;

struct proxy_settings {
    std::string_view proxy;    ///< empty: from the environment (if from_env)
    std::string_view no_proxy; ///< empty: from the environment (if from_env)
    bool from_env = true;
    bool allow_insecure_http = false;
};

/// The proxy `org` goes through, or none. An explicit proxy applies to every origin NO_PROXY
/// doesn't match. Else, with from_env: https_proxy, HTTPS_PROXY (https origins) or
/// http_proxy, HTTP_PROXY (http origins), then all_proxy, ALL_PROXY, the first set and
/// non-empty; never for a loopback origin; NO_PROXY from no_proxy, then NO_PROXY. An http://
/// origin sends plaintext to its proxy, so the proxy must be loopback, unless
/// allow_insecure_http. errc::invalid_argument for a proxy URL that doesn't parse.
result<std::optional<proxy_url>> choose_proxy(const origin& org, const proxy_settings& s,
                                              env_lookup env);

} // namespace glue::detail

#endif
