// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "protocol/proxy.hpp"

#include "protocol/ascii.hpp"
#include "protocol/checks.hpp"
#include "protocol/origin.hpp"

#include <boost/url/ipv4_address.hpp>
#include <boost/url/ipv6_address.hpp>
#include <boost/url/parse.hpp>

#include <array>
#include <charconv>
#include <cstddef>

namespace glue::detail {

namespace {

namespace urls = boost::urls;

std::optional<unsigned> number(std::string_view s, unsigned max) {
    unsigned v = 0;
    if (s.empty() || s.size() > 5) {
        return std::nullopt;
    }
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v > max) {
        return std::nullopt;
    }
    return v;
}

/// An IP address as 16 bytes (IPv4 in its first 4) and its family's bit count.
struct ip_bytes {
    std::array<unsigned char, 16> bytes{};
    unsigned bits = 0; ///< 32 or 128
};

std::optional<ip_bytes> parse_ip(std::string_view s) {
    if (s.size() >= 2 && s.front() == '[' && s.back() == ']') {
        s = s.substr(1, s.size() - 2);
    }
    ip_bytes ip;
    if (auto v4 = urls::parse_ipv4_address(s)) {
        const auto b = v4->to_bytes();
        std::copy(b.begin(), b.end(), ip.bytes.begin());
        ip.bits = 32;
        return ip;
    }
    if (auto v6 = urls::parse_ipv6_address(s)) {
        ip.bytes = v6->to_bytes();
        ip.bits = 128;
        return ip;
    }
    return std::nullopt;
}

bool same_prefix(const ip_bytes& a, const ip_bytes& b, unsigned prefix) {
    if (a.bits != b.bits) {
        return false;
    }
    for (unsigned i = 0; i < prefix; ++i) {
        const unsigned mask = 0x80u >> (i % 8);
        if ((a.bytes[i / 8] & mask) != (b.bytes[i / 8] & mask)) {
            return false;
        }
    }
    return true;
}

std::string_view without_trailing_dot(std::string_view s) {
    if (!s.empty() && s.back() == '.') {
        s.remove_suffix(1);
    }
    return s;
}

/// `name` is `domain` or a subdomain of it (case-insensitive).
bool in_domain(std::string_view name, std::string_view domain) {
    name = without_trailing_dot(name);
    domain = without_trailing_dot(domain);
    if (domain.empty()) {
        return false;
    }
    if (iequals(name, domain)) {
        return true;
    }
    return name.size() > domain.size() && name[name.size() - domain.size() - 1] == '.' &&
           iequals(name.substr(name.size() - domain.size()), domain);
}

// One NO_PROXY entry, trimmed and non-empty.
bool entry_matches(std::string_view entry, std::string_view host, std::uint16_t port) {
    if (entry == "*") {
        return true;
    }
    // The port: after a bracketed IPv6 address, or after the one colon of a name or IPv4.
    std::string_view address = entry;
    std::string unbracketed; // [addr]/bits as addr/bits
    std::optional<unsigned> entry_port;
    if (entry.front() == '[') {
        const auto close = entry.find(']');
        if (close == std::string_view::npos) {
            return false;
        }
        auto rest = entry.substr(close + 1);
        unbracketed = entry.substr(1, close - 1);
        if (!rest.empty() && rest.front() == '/') {
            const auto colon = rest.find(':');
            unbracketed.append(rest.substr(0, colon));
            rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon);
        }
        if (!rest.empty() &&
            (rest.front() != ':' || !(entry_port = number(rest.substr(1), 65535)))) {
            return false;
        }
        address = unbracketed;
    } else if (const auto colon = entry.find(':');
               colon != std::string_view::npos && entry.find(':', colon + 1) == entry.npos) {
        address = entry.substr(0, colon);
        if (!(entry_port = number(entry.substr(colon + 1), 65535))) {
            return false;
        }
    }
    if (entry_port && *entry_port != port) {
        return false;
    }
    const auto host_ip = parse_ip(host);
    if (const auto slash = address.find('/'); slash != std::string_view::npos) {
        const auto net = parse_ip(address.substr(0, slash));
        if (!net) {
            return false;
        }
        const auto bits = number(address.substr(slash + 1), net->bits);
        return bits && host_ip && same_prefix(*host_ip, *net, *bits);
    }
    if (const auto ip = parse_ip(address)) {
        return host_ip && same_prefix(*host_ip, *ip, ip->bits);
    }
    if (address.front() == '.') {
        address.remove_prefix(1);
    }
    for (char c : address) {
        if (!is_host_name_char(c)) {
            return false;
        }
    }
    return !host_ip && in_domain(host, address);
}

const char* first_set(env_lookup env, std::initializer_list<const char*> names) {
    for (const char* name : names) {
        if (const char* v = env(name); v && *v) {
            return v;
        }
    }
    return nullptr;
}

constexpr char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(std::string_view in) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        const unsigned v =
            (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
        for (int shift : {18, 12, 6, 0}) {
            out += base64_alphabet[(v >> shift) & 63];
        }
    }
    if (const auto left = in.size() - i; left != 0) {
        unsigned v = (unsigned char)in[i] << 16;
        if (left == 2) {
            v |= (unsigned char)in[i + 1] << 8;
        }
        out += base64_alphabet[(v >> 18) & 63];
        out += base64_alphabet[(v >> 12) & 63];
        out += left == 2 ? base64_alphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

} // namespace

std::string authority_form(std::string_view host, std::uint16_t port) {
    const bool v6 = host.find(':') != std::string_view::npos;
    std::string s;
    s.append(v6 ? "[" : "").append(host).append(v6 ? "]:" : ":").append(std::to_string(port));
    return s;
}

std::string proxy_url::authority() const {
    return authority_form(host, port);
}

result<proxy_url> parse_proxy_url(std::string_view url) {
    std::string with_scheme;
    if (url.find("://") == std::string_view::npos) {
        with_scheme = "http://";
        with_scheme.append(url);
        url = with_scheme; // a bare host[:port], as curl takes it
    }
    auto parsed = urls::parse_uri(url);
    if (!parsed) {
        return make_failure(errc::invalid_argument, "the proxy URL is not a URL");
    }
    const auto& u = *parsed;
    if (u.scheme_id() == urls::scheme::https) {
        return make_failure(errc::invalid_argument,
                            "https:// proxies (TLS to the proxy) are not supported: use http://");
    }
    if (u.scheme_id() != urls::scheme::http) {
        return make_failure(errc::invalid_argument,
                            "the proxy URL must be http://[user:password@]host[:port] (SOCKS and "
                            "other schemes are not supported)");
    }
    if (u.has_query() || u.has_fragment() || !(u.path().empty() || u.path() == "/")) {
        return make_failure(errc::invalid_argument,
                            "the proxy URL must not have a path, a query or a fragment");
    }
    proxy_url p;
    switch (u.host_type()) {
    case urls::host_type::name:
        p.host = u.host_name();
        if (p.host.empty()) {
            return make_failure(errc::invalid_argument, "the proxy URL has no host");
        }
        for (char c : p.host) {
            if (!is_host_name_char(c)) {
                return make_failure(errc::invalid_argument, "the proxy URL has an invalid host");
            }
        }
        if (starts_with_ipv4_address(p.host)) {
            return make_failure(errc::invalid_argument, "the proxy URL has an invalid host");
        }
        p.loopback = iequals(p.host, "localhost");
        break;
    case urls::host_type::ipv4:
        p.host = u.host_ipv4_address().to_string();
        p.host_is_ip = true;
        p.loopback = u.host_ipv4_address().is_loopback();
        break;
    case urls::host_type::ipv6:
        p.host = u.host_ipv6_address().to_string();
        p.host_is_ip = true;
        p.loopback = u.host_ipv6_address().is_loopback();
        break;
    default:
        return make_failure(errc::invalid_argument, "the proxy URL has no usable host");
    }
    if (u.has_port()) {
        const auto port = number(u.port(), 65535);
        if (!port || *port == 0) {
            return make_failure(errc::invalid_argument, "the proxy URL has an invalid port");
        }
        p.port = static_cast<std::uint16_t>(*port);
    }
    if (u.has_userinfo()) {
        p.user = u.user();
        p.password = u.password();
        // RFC 7617: the user-id can't hold a colon; neither can go into a header with a
        // control character.
        if (p.user.find(':') != std::string::npos || !is_header_safe(p.user) ||
            !is_header_safe(p.password)) {
            return make_failure(errc::invalid_argument,
                                "the proxy URL's credentials contain a control character, or a "
                                "colon in the user name");
        }
    }
    return p;
}

std::string proxy_authorization(const proxy_url& p) {
    if (!p.has_credentials()) {
        return {};
    }
    std::string joined = p.user + ":" + p.password;
    auto value = "Basic " + base64(joined);
    std::fill(joined.begin(), joined.end(), '\0');
    return value;
}

bool no_proxy_matches(std::string_view list, std::string_view host, std::uint16_t port) {
    while (!list.empty()) {
        const auto comma = list.find(',');
        const auto entry = trim_ows(list.substr(0, comma));
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        if (!entry.empty() && entry_matches(entry, host, port)) {
            return true;
        }
    }
    return false;
}

result<std::optional<proxy_url>> choose_proxy(const origin& org, const proxy_settings& s,
                                              env_lookup env) {
    std::string_view url = s.proxy;
    if (url.empty() && s.from_env && !org.loopback) {
        // Loopback origins never take the environment's proxy (as Go's net/http): a machine
        // with HTTPS_PROXY set still reaches its local servers.
        const char* v = org.tls ? first_set(env, {"https_proxy", "HTTPS_PROXY"})
                                : first_set(env, {"http_proxy", "HTTP_PROXY"});
        if (!v) {
            v = first_set(env, {"all_proxy", "ALL_PROXY"});
        }
        url = v ? std::string_view(v) : std::string_view();
    }
    if (url.empty()) {
        return std::optional<proxy_url>();
    }
    std::string_view no_proxy = s.no_proxy;
    if (no_proxy.empty() && s.from_env) {
        const char* v = first_set(env, {"no_proxy", "NO_PROXY"});
        no_proxy = v ? std::string_view(v) : std::string_view();
    }
    if (no_proxy_matches(no_proxy, org.host, org.port)) {
        return std::optional<proxy_url>();
    }
    auto p = parse_proxy_url(url);
    if (!p) {
        return p.error();
    }
    if (!org.tls && !s.allow_insecure_http) {
        if (!p->loopback) {
            return make_failure(errc::invalid_argument,
                                "an http:// api_url through a proxy sends plaintext to it: the "
                                "proxy must be loopback too (see allow_insecure_http)");
        }
        p->loopback_addresses_only = !p->host_is_ip;
    }
    return std::optional<proxy_url>(std::move(*p));
}

} // namespace glue::detail
