// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTS_UNIT_SHARED_CACHE_SAMPLES_HPP
#define GLUE_TESTS_UNIT_SHARED_CACHE_SAMPLES_HPP

// A key and a token the shared cache's unit tests seal, configure and hand around.

#include "shared_cache/sealing.hpp"

#include <chrono>
#include <string_view>

namespace glue::test::shared_samples {

inline constexpr std::string_view key_hex =
    "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";

inline detail::shared_cache_key test_key() {
    return *detail::parse_shared_cache_key(key_hex);
}

inline detail::token_grant sample_grant() {
    detail::token_grant g;
    g.value = "gat_SecretAccessTokenValue0123456789";
    g.token_type = "Bearer";
    g.user_id = "usr_App";
    g.lifetime = std::chrono::seconds(3600);
    return g;
}

} // namespace glue::test::shared_samples

#endif
