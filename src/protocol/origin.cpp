// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "protocol/origin.hpp"

#include "protocol/ascii.hpp"

#include <boost/url/ipv4_address.hpp>
#include <boost/url/parse.hpp>

namespace glue::detail {

namespace {

template <class Address>
void set_ip(origin& o, const Address& a) {
    o.host = a.to_string();
    o.host_is_ip = true;
    o.loopback = a.is_loopback();
}

} // namespace

bool starts_with_ipv4_address(std::string_view host_name) {
    // "0.0.0.0" to "255.255.255.255": 7 to 15 characters.
    for (std::size_t n = 7; n <= 15 && n < host_name.size(); ++n) {
        if (boost::urls::parse_ipv4_address(host_name.substr(0, n))) {
            return true;
        }
    }
    return false;
}

result<origin> parse_origin(std::string_view api_url, bool allow_insecure_http) {
    auto parsed = boost::urls::parse_uri(api_url);
    if (!parsed) {
        return make_failure(errc::invalid_argument, "api_url is not an absolute URL");
    }
    const auto& u = *parsed;
    origin o;
    if (u.scheme_id() == boost::urls::scheme::https) {
        o.tls = true;
    } else if (u.scheme_id() != boost::urls::scheme::http) {
        return make_failure(errc::invalid_argument, "api_url must be an http:// or https:// URL");
    }
    if (u.has_userinfo() || u.has_query() || u.has_fragment()) {
        return make_failure(errc::invalid_argument,
                            "api_url must not have user info, a query or a fragment");
    }
    switch (u.host_type()) {
    case boost::urls::host_type::name:
        o.host = u.host_name();
        for (char c : o.host) {
            if (!is_host_name_char(c)) {
                return make_failure(errc::invalid_argument, "api_url has an invalid host name");
            }
        }
        if (starts_with_ipv4_address(o.host)) {
            return make_failure(
                errc::invalid_argument,
                "api_url's host can't be read (a name starting with an IPv4 address)");
        }
        o.loopback = iequals(o.host, "localhost");
        break;
    case boost::urls::host_type::ipv4:
        set_ip(o, u.host_ipv4_address());
        break;
    case boost::urls::host_type::ipv6:
        set_ip(o, u.host_ipv6_address());
        break;
    default:
        return make_failure(errc::invalid_argument, "api_url has no usable host");
    }
    if (o.host.empty()) {
        return make_failure(errc::invalid_argument, "api_url has no host");
    }
    // After a host the path is empty or starts with '/' (RFC 3986 §3.3). Boost.URL 1.81 reads a
    // name that starts with an IPv4 address ("127.0.0.1.example.com") as that address followed
    // by a path (boostorg/url#755): we would connect to the wrong host, loopback even.
    if (!u.encoded_path().empty() && !u.encoded_path().starts_with('/')) {
        return make_failure(errc::invalid_argument,
                            "api_url's host can't be read (a name starting with an IPv4 address?)");
    }
    const std::uint16_t default_port = o.tls ? 443 : 80;
    o.port = default_port;
    if (u.has_port() && !u.port().empty()) {
        o.port = u.port_number();
        if (o.port == 0) {
            return make_failure(errc::invalid_argument, "api_url has an invalid port");
        }
    }
    o.host_header = u.host_type() == boost::urls::host_type::ipv6 ? "[" + o.host + "]" : o.host;
    if (o.port != default_port) {
        o.host_header += ":" + std::to_string(o.port);
    }
    o.base_path = u.encoded_path();
    while (!o.base_path.empty() && o.base_path.back() == '/') {
        o.base_path.pop_back();
    }
    if (!o.tls && !o.loopback && !allow_insecure_http) {
        // The token request carries the client secret: never in clear text over a network.
        return make_failure(errc::invalid_argument,
                            "http:// is only allowed for loopback hosts (see allow_insecure_http)");
    }
    // A name is only what DNS or /etc/hosts make of it: its addresses are checked too.
    o.loopback_addresses_only = !o.tls && !o.host_is_ip && !allow_insecure_http;
    return o;
}

} // namespace glue::detail
