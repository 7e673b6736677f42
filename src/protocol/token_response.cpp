// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "protocol/token_response.hpp"

#include <glue/oauth.hpp>

#include "protocol/ascii.hpp"
#include "protocol/json.hpp"
#include "protocol/status.hpp"

#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace glue::detail {

namespace json = boost::json;

std::chrono::seconds token_lifetime(const json::value* expires_in,
                                    std::chrono::seconds fallback) noexcept {
    if (!expires_in) {
        return fallback;
    }
    double seconds = 0;
    switch (expires_in->kind()) {
    case json::kind::int64:
        seconds = static_cast<double>(expires_in->get_int64());
        break;
    case json::kind::uint64:
        seconds = static_cast<double>(expires_in->get_uint64());
        break;
    case json::kind::double_:
        seconds = expires_in->get_double();
        break;
    case json::kind::string: {
        // Some servers send "3600"; accept a number and nothing else.
        const auto& s = expires_in->get_string();
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), seconds);
        if (ec != std::errc() || end != s.data() + s.size()) {
            return fallback;
        }
        break;
    }
    default:
        return fallback;
    }
    if (!(seconds >= 1)) { // also NaN
        return fallback;
    }
    if (seconds >= static_cast<double>(max_token_lifetime.count())) {
        return max_token_lifetime;
    }
    return std::chrono::seconds(static_cast<std::int64_t>(seconds));
}

namespace {

// The JSON object of a successful token response (RFC 6749 §5.1) with a usable Bearer
// access_token, or the failure the response describes (§5.2 errors become oauth_error).
result<json::object> token_object(const http_response& r) {
    json::error_code jec;
    json::value v = parse_json(r.body, jec);
    json::object* obj = !jec ? v.if_object() : nullptr;

    if (!is_success(r.status)) {
        diagnostics d = response_diagnostics(r);
        if (obj) {
            d.oauth_error = string_member(*obj, "error");
            d.oauth_error_description = string_member(*obj, "error_description");
        }
        errc e = status_errc(r.status);
        // RFC 6749 §5.2: 400, or 401 for invalid_client; any 4xx naming an error counts.
        if (r.status >= 400 && r.status < 500 && r.status != 429 && !d.oauth_error.empty()) {
            e = errc::oauth_error;
        }
        if (e == errc::unauthorized) {
            e = errc::oauth_error; // the client's credentials, not a token, were refused
        }
        return make_failure(make_error_code(e), "the token request failed", std::move(d));
    }
    if (!obj) {
        return make_failure(make_error_code(errc::bad_response),
                            "the token response is not a JSON object", response_diagnostics(r));
    }
    const std::string value = string_member(*obj, "access_token");
    // The token goes into an Authorization header: visible ASCII only (RFC 6750 §2.1).
    const bool ok = !value.empty() && std::all_of(value.begin(), value.end(),
                                                  [](char c) { return c > 0x20 && c < 0x7f; });
    if (!ok) {
        return make_failure(make_error_code(errc::bad_response),
                            "the token response has no usable access_token",
                            response_diagnostics(r));
    }
    if (obj->contains("token_type") && !iequals(string_member(*obj, "token_type"), "bearer")) {
        return make_failure(make_error_code(errc::bad_response),
                            "the token response's token_type is not Bearer",
                            response_diagnostics(r));
    }
    return std::move(*obj);
}

std::string token_type_of(const json::object& o) {
    return o.contains("token_type") ? string_member(o, "token_type") : "Bearer";
}

} // namespace

result<token_grant> parse_token_response(const http_response& r,
                                         std::chrono::seconds default_lifetime,
                                         steady_time sent_at) {
    auto obj = token_object(r);
    if (!obj) {
        return obj.error();
    }
    token_grant g;
    g.value = string_member(*obj, "access_token");
    g.token_type = token_type_of(*obj);
    g.user_id = string_member(*obj, "user_id");
    g.lifetime = token_lifetime(obj->if_contains("expires_in"), default_lifetime);
    g.sent_at = sent_at;
    return g;
}

result<oauth::token_set> parse_token_set(const http_response& r,
                                         std::chrono::seconds default_lifetime,
                                         std::chrono::system_clock::time_point sent_at) {
    auto obj = token_object(r);
    if (!obj) {
        return obj.error();
    }
    oauth::token_set t;
    t.access_token = string_member(*obj, "access_token");
    t.token_type = token_type_of(*obj);
    t.refresh_token = string_member(*obj, "refresh_token");
    t.user_id = string_member(*obj, "user_id");
    t.expires_at = sent_at + token_lifetime(obj->if_contains("expires_in"), default_lifetime);
    // RFC 6749 says space-separated; Glue joins scopes with commas elsewhere, and Linear's
    // docs once showed an array. Each form is read; anything else is ignored.
    if (const json::value* scope = obj->if_contains("scope")) {
        auto add = [&t](std::string_view s) {
            while (!s.empty()) {
                const std::size_t end = std::min(s.find_first_of(" ,"), s.size());
                if (end > 0) {
                    t.scopes.emplace_back(s.substr(0, end));
                }
                s.remove_prefix(std::min(end + 1, s.size()));
            }
        };
        if (scope->is_string()) {
            add(scope->get_string());
        } else if (scope->is_array()) {
            for (const auto& s : scope->get_array()) {
                if (s.is_string()) {
                    add(s.get_string());
                }
            }
        }
    }
    return t;
}

} // namespace glue::detail
