// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/types.hpp>

#include <chrono>
#include <ostream>
#include <string_view>

namespace glue {

std::ostream& operator<<(std::ostream& os, const access_token& token) {
    // At most the last 4 characters, and only of a token long enough that they reveal little.
    constexpr std::size_t shown = 4, min_size_to_show = 16;
    os << "access_token{type=" << token.token_type << ", user_id=" << token.user_id << ", value=";
    if (token.value.size() >= min_size_to_show) {
        os << "..." << std::string_view(token.value).substr(token.value.size() - shown);
    } else {
        os << "(redacted)";
    }
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(
        token.expires_at - std::chrono::steady_clock::now());
    return os << ", expires_in=" << left.count() << "s}";
}

} // namespace glue
