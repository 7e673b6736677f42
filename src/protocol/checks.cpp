// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "protocol/checks.hpp"

#include "protocol/ascii.hpp"

#include <algorithm>
#include <array>

namespace glue::detail {

namespace {

bool is_control(unsigned char c) {
    return c < 0x20 || c == 0x7f;
}

bool is_base62(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// RFC 9110 §5.6.2.
bool is_tchar(char c) {
    constexpr std::string_view others = "!#$%&'*+-.^_`|~";
    return is_base62(c) || others.find(c) != std::string_view::npos;
}

// The headers the client writes itself, or that would change how the message is framed or the
// connection used: a second copy would be ambiguous at best, request smuggling at worst.
// User-Agent has its own setting (client_config::user_agent).
constexpr std::array<std::string_view, 16> reserved_header_names = {"host",
                                                                    "authorization",
                                                                    "proxy-authorization",
                                                                    "content-length",
                                                                    "content-type",
                                                                    "content-encoding",
                                                                    "transfer-encoding",
                                                                    "connection",
                                                                    "keep-alive",
                                                                    "te",
                                                                    "trailer",
                                                                    "upgrade",
                                                                    "expect",
                                                                    "accept",
                                                                    "accept-encoding",
                                                                    "user-agent"};

bool is_reserved_header(std::string_view name) {
    return std::any_of(reserved_header_names.begin(), reserved_header_names.end(),
                       [&](std::string_view r) { return iequals(name, r); });
}

// Why one header can't be sent; empty when it can.
std::string_view header_problem(const http_header& h) noexcept {
    if (h.name.empty() || h.name.size() > max_header_name_size || !is_http_token(h.name)) {
        return "a header name is not an HTTP token (RFC 9110) of 1 to 256 characters";
    }
    if (is_reserved_header(h.name)) {
        return "a header name is one the client sets itself (Host, Authorization, "
               "Content-Type, Content-Length, Transfer-Encoding, Connection, Accept, "
               "User-Agent, ...)";
    }
    if (h.value.size() > max_header_value_size) {
        return "a header value is longer than 8 KiB";
    }
    if (!is_header_safe(h.value)) {
        return "a header value has a control character (CR, LF, NUL, ...)";
    }
    if (h.value != trim_ows(h.value)) {
        return "a header value starts or ends with a space or tab";
    }
    return {};
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

bool is_http_token(std::string_view s) noexcept {
    return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

std::optional<header_fault> find_header_fault(std::span<const http_header> headers) noexcept {
    if (headers.size() > max_extra_headers) {
        return header_fault{headers.size(), "more than 64 extra headers"};
    }
    for (std::size_t i = 0; i < headers.size(); ++i) {
        if (auto why = header_problem(headers[i]); !why.empty()) {
            return header_fault{i, why};
        }
    }
    return std::nullopt;
}

result<void> check_extra_headers(std::span<const http_header> headers) {
    if (auto fault = find_header_fault(headers)) {
        return make_failure(errc::invalid_argument, fault->why);
    }
    return {};
}

std::string header_lines(std::span<const http_header> headers) {
    constexpr std::string_view colon = ": ", crlf = "\r\n";
    std::size_t size = 0;
    for (const auto& h : headers) {
        size += h.name.size() + colon.size() + h.value.size() + crlf.size();
    }
    std::string out;
    out.reserve(size);
    for (const auto& h : headers) {
        out.append(h.name).append(colon).append(h.value).append(crlf);
    }
    return out;
}

int hex_digit_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = static_cast<char>(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

} // namespace glue::detail
