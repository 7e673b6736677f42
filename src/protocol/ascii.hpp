// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROTOCOL_ASCII_HPP
#define GLUE_PROTOCOL_ASCII_HPP

// ASCII case folding for the protocol's case-insensitive tokens (a host name, a token type, a
// month name): std::tolower would depend on the C locale.

#include <cstddef>
#include <string_view>

namespace glue::detail {

constexpr char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
}

/// A character of a host name as the client accepts it: letters, digits, '-', '.', '_'.
constexpr bool is_host_name_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) {
            return false;
        }
    }
    return true;
}

} // namespace glue::detail

#endif
