// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTS_SHARED_CACHE_TEST_FIXTURE_HPP
#define GLUE_TESTS_SHARED_CACHE_TEST_FIXTURE_HPP

// What the shared cache's tests with a real Redis share: the key every process seals with, and
// Redis's clock.

#include "shared_cache/sealing.hpp"
#include "support/redis_server.hpp"

#include <string>
#include <string_view>

namespace glue::test {

inline constexpr std::string_view key_hex =
    "8f1c2a3b4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";

inline detail::shared_cache_key test_key() {
    return *detail::parse_shared_cache_key(key_hex);
}

/// Redis's clock (TIME), in milliseconds since the epoch: what sealed expiries are dated by.
inline long long redis_now_ms(const redis_server& redis) {
    const auto t = redis.command({"TIME"});
    return std::stoll(t.elements.at(0).str) * 1000 + std::stoll(t.elements.at(1).str) / 1000;
}

} // namespace glue::test

#endif
