// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "protocol/status.hpp"

#include "protocol/retry_after.hpp"

#include <algorithm>
#include <array>

namespace glue::detail {

errc status_errc(unsigned status) noexcept {
    if (status == 401) {
        return errc::unauthorized;
    }
    if (status == 403) {
        return errc::forbidden;
    }
    if (status == 429) {
        return errc::rate_limited;
    }
    if (status >= 500 && status < 600) {
        return errc::server_error;
    }
    return errc::http_error;
}

std::string_view request_id_of(std::span<const http_header> captured) noexcept {
    // In order of preference: the de facto standard, AWS's, Cloudflare's.
    constexpr std::array<std::string_view, 3> names = {"x-request-id", "x-amzn-requestid",
                                                       "cf-ray"};
    auto usable = [](std::string_view v) {
        return !v.empty() && v.size() <= max_request_id_size &&
               std::all_of(v.begin(), v.end(), [](char c) { return c > ' ' && c < 0x7f; });
    };
    for (std::string_view name : names) {
        for (const auto& h : captured) {
            if (h.name == name && usable(h.value)) {
                return h.value;
            }
        }
    }
    return {};
}

diagnostics response_diagnostics(const http_response& r) {
    diagnostics d;
    d.http_status = static_cast<int>(r.status);
    d.retry_after = parse_retry_after(r.retry_after);
    d.response_headers = r.captured;
    d.request_id = request_id_of(r.captured);
    return d;
}

} // namespace glue::detail
