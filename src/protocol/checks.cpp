// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "protocol/checks.hpp"

#include <algorithm>

namespace glue::detail {

namespace {

bool is_control(unsigned char c) {
    return c < 0x20 || c == 0x7f;
}

bool is_base62(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

} // namespace

bool is_plain_id(std::string_view id) noexcept {
    return std::all_of(id.begin(), id.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return !is_control(u) && c != ' ' && u < 0x80;
    });
}

result<void> check_workspace_id(std::string_view id, bool strict) {
    if (id.empty()) {
        return make_failure(errc::invalid_argument, "workspace id is empty");
    }
    if (id.size() > max_workspace_id_size) {
        return make_failure(errc::invalid_argument, "workspace id is too long");
    }
    if (!is_plain_id(id)) {
        return make_failure(errc::invalid_argument,
                            "workspace id contains a space, a control or a non-ASCII character");
    }
    if (strict) {
        constexpr std::string_view prefix = "wks_";
        bool ok = id.size() > prefix.size() && id.starts_with(prefix);
        for (std::size_t i = prefix.size(); ok && i < id.size(); ++i) {
            ok = is_base62(id[i]);
        }
        if (!ok) {
            return make_failure(errc::invalid_argument, "workspace id is not of the form wks_…");
        }
    }
    return {};
}

bool is_header_safe(std::string_view s) noexcept {
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (is_control(u) && c != '\t') {
            return false;
        }
    }
    return true;
}

result<void> check_grant_value(std::string_view value) {
    if (value.empty() || value.size() > max_grant_value_size || !is_plain_id(value)) {
        return make_failure(errc::invalid_argument,
                            "an authorization code or refresh token is empty, longer than 4096, "
                            "or has a space, control or non-ASCII character");
    }
    return {};
}

bool is_code_verifier(std::string_view verifier) noexcept {
    return verifier.size() >= 43 && verifier.size() <= 128 &&
           std::all_of(verifier.begin(), verifier.end(), [](char c) {
               return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
           });
}

int hex_digit_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = static_cast<char>(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

} // namespace glue::detail
