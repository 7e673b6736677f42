// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROTOCOL_ASCII_HPP
#define GLUE_PROTOCOL_ASCII_HPP

// ASCII helpers for the protocol's tokens: case folding for the case-insensitive ones (a host
// name, a token type, a month name; std::tolower would depend on the C locale), and trimming.

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

/// `s` without the spaces and tabs around it (HTTP's optional whitespace, and the space around
/// a list's commas).
constexpr std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
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
