// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.

#include "shared_cache/redis_url.hpp"

#include "protocol/checks.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <charconv>

namespace glue::detail {

result<redis_address> parse_redis_url(std::string_view url) {
    auto bad = [](std::string_view why) { return make_failure(errc::invalid_argument, why); };
    auto parsed = boost::urls::parse_uri(url);
    if (!parsed) {
        return bad("shared_cache_url is not a URL (redis://host:port/db)");
    }
    const auto& u = *parsed;
    if (u.scheme() == "rediss") {
        return bad("shared_cache_url: rediss:// (TLS) is not supported by the hiredis this "
                   "build uses; tokens are sealed before they are stored, but use a private "
                   "network or a tunnel");
    }
    if (u.scheme() != "redis") {
        return bad("shared_cache_url must be a redis:// URL");
    }
    if (u.has_query() || u.has_fragment()) {
        return bad("shared_cache_url must not have a query or a fragment");
    }
    redis_address a;
    switch (u.host_type()) {
    case boost::urls::host_type::name:
    case boost::urls::host_type::ipv4:
        a.host = u.host();
        break;
    case boost::urls::host_type::ipv6:
        a.host = u.host_ipv6_address().to_string();
        break;
    default:
        break;
    }
    if (a.host.empty() || !is_header_safe(a.host)) {
        return bad("shared_cache_url has no usable host");
    }
    if (u.has_port()) {
        const auto port = u.port_number();
        if (port == 0) {
            return bad("shared_cache_url has an invalid port");
        }
        a.port = port;
    }
    if (u.has_userinfo()) {
        a.user = u.user();
        a.password = u.password();
        if (a.password.empty() || !is_header_safe(a.user) || !is_header_safe(a.password)) {
            return bad("shared_cache_url: user info must be [user]:password");
        }
    }
    std::string_view path = u.encoded_path();
    if (!path.empty() && path != "/") {
        path.remove_prefix(1);
        const auto [end, ec] = std::from_chars(path.data(), path.data() + path.size(), a.db);
        if (ec != std::errc() || end != path.data() + path.size() || a.db > 1'000'000) {
            return bad("shared_cache_url: the path must be a database number (/0)");
        }
    }
    return a;
}

} // namespace glue::detail
