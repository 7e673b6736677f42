// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/form_decoder.hpp"

#include <algorithm>
#include <cstddef>

namespace glue::testing::detail {

namespace {

int hex_value(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                  : -1;
}

// RFC 3986 query characters that stand for themselves: unreserved, sub-delims, ':', '@', '/'
// and '?' ('%' starts an escape).
bool is_query_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           std::string_view("-._~!$&'()*+,;=:@/?").find(c) != std::string_view::npos;
}

// One name or value; nullopt for a malformed escape.
std::optional<std::string> decode_part(std::string_view part) {
    std::string out;
    out.reserve(part.size());
    for (std::size_t i = 0; i < part.size(); ++i) {
        const char c = part[i];
        if (c == '%') {
            const int hi = part.size() - i >= 3 ? hex_value(part[i + 1]) : -1;
            const int lo = part.size() - i >= 3 ? hex_value(part[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                return std::nullopt;
            }
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (c == '+') {
            out += ' ';
        } else if (is_query_char(c)) {
            out += c;
        } else {
            return std::nullopt;
        }
    }
    return out;
}

} // namespace

std::optional<form_fields> decode_form(std::string_view text) {
    form_fields fields;
    if (text.empty()) {
        return fields;
    }
    for (std::size_t start = 0;;) {
        const std::size_t end = std::min(text.find('&', start), text.size());
        const std::string_view field = text.substr(start, end - start);
        const std::size_t eq = std::min(field.find('='), field.size());
        auto name = decode_part(field.substr(0, eq));
        auto value = decode_part(field.substr(std::min(eq + 1, field.size())));
        if (!name || !value) {
            return std::nullopt;
        }
        fields.emplace_back(std::move(*name), std::move(*value));
        if (end == text.size()) {
            return fields;
        }
        start = end + 1;
    }
}

} // namespace glue::testing::detail
