// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_SHARED_CACHE_REDIS_URL_HPP
#define GLUE_SHARED_CACHE_REDIS_URL_HPP

// Where the shared cache's Redis is: its URL, parsed and redacted. No I/O (the fuzz build
// compiles this file).

#include "support/outcome.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace glue::detail {

/// redis://[[user]:password@]host[:port][/db]
struct redis_address {
    std::string host; ///< a name, an IPv4 address, or an IPv6 address without brackets
    std::uint16_t port = 6379;
    unsigned db = 0;
    std::string user, password; ///< both empty: no AUTH
};

/// The URL, or invalid_argument saying what is wrong with it (never repeating a password).
result<redis_address> parse_redis_url(std::string_view url);

} // namespace glue::detail

#endif
