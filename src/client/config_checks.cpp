// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "client/config_checks.hpp"

#include "protocol/ascii.hpp"
#include "protocol/checks.hpp"
#include "protocol/origin.hpp"
#include "protocol/proxy.hpp"
#include "protocol/token_grant.hpp"
#include "shared_cache/redis_url.hpp"
#include "shared_cache/sealing.hpp"
#include "support/saturating.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <string>

namespace glue::detail {

namespace {

// The proxy the API's origin goes through: the configuration, and the process's environment
// unless proxy_from_env is false.
result<std::optional<proxy_url>> proxy_of(const client_config& cfg, const origin& org) {
    proxy_settings s;
    s.proxy = cfg.proxy;
    s.no_proxy = cfg.no_proxy;
    s.from_env = cfg.proxy_from_env;
    s.allow_insecure_http = cfg.allow_insecure_http;
    return choose_proxy(org, s, [](const char* name) { return std::getenv(name); });
}

result<void> check_throttling(const client_config& cfg) {
    for (double rate : {cfg.max_requests_per_second, cfg.max_requests_per_second_per_workspace}) {
        if (!(rate >= 0) || std::isinf(rate)) {
            return make_failure(errc::invalid_argument,
                                "max_requests_per_second and max_requests_per_second_per_workspace "
                                "must be finite and not negative (0: no limit)");
        }
    }
    if (cfg.app_throttle_workspaces == 0 || cfg.throttle_window <= std::chrono::milliseconds(0)) {
        return make_failure(errc::invalid_argument,
                            "app_throttle_workspaces and throttle_window must be positive");
    }
    if (cfg.retry_budget > 0 && (cfg.retry_cost == 0 || cfg.retry_timeout_cost == 0)) {
        return make_failure(errc::invalid_argument,
                            "with a retry_budget, retry_cost and retry_timeout_cost must be at "
                            "least 1");
    }
    if (cfg.fleet_rate_limit &&
        (cfg.shared_cache_url.empty() || cfg.max_requests_per_second == 0 || cfg.fleet_size == 0)) {
        return make_failure(errc::invalid_argument,
                            "fleet_rate_limit needs shared_cache_url, max_requests_per_second "
                            "and a fleet_size of at least 1");
    }
    return {};
}

// At most this many names: each response is scanned for them.
constexpr std::size_t max_captured_names = 32;

result<void> check_capture_names(const client_config& cfg) {
    const auto& names = cfg.capture_response_headers;
    if (names.size() > max_captured_names ||
        !std::all_of(names.begin(), names.end(), [](const std::string& n) {
            return n.size() <= max_header_name_size && is_http_token(n);
        })) {
        return make_failure(errc::invalid_argument,
                            "capture_response_headers holds more than 32 names, or a name that "
                            "is not an HTTP token of 1 to 256 characters");
    }
    return {};
}

// A default header that can't be sent is named by its position, and by its name when that is a
// token: never by its value, which may be a secret (an API key).
void check_default_headers(const client_config& cfg) {
    const auto fault = find_header_fault(cfg.default_headers);
    if (!fault) {
        return;
    }
    std::string where = "default_headers";
    if (fault->index < cfg.default_headers.size()) {
        const std::string& name = cfg.default_headers[fault->index].name;
        where += "[" + std::to_string(fault->index) + "]";
        if (name.size() <= max_header_name_size && is_http_token(name)) {
            where += " (" + name + ")";
        }
    }
    throw error(make_error_code(errc::invalid_argument),
                "glue::client: " + where + ": " + std::string(fault->why));
}

// The shared cache's settings, when it is configured: refused whole by a build without it, else
// checked as the client will use them.
result<void> check_shared_cache(const client_config& cfg) {
    if (cfg.shared_cache_url.empty()) {
        return {};
    }
#ifdef GLUE_HAS_SHARED_CACHE
    if (auto ok = shared_cache_options(cfg); !ok) {
        return ok.error();
    }
    return {};
#else
    return make_failure(errc::invalid_argument,
                        "shared_cache_url is set, but this glue-cpp was built without the shared "
                        "cache (GLUE_WITH_SHARED_CACHE=OFF, or hiredis not found): build it with "
                        "hiredis, or leave shared_cache_url empty");
#endif
}

} // namespace

result<void> check_config(const client_config& cfg) {
    if (cfg.client_id.empty() || cfg.client_secret.empty()) {
        return make_failure(errc::invalid_argument, "client_id and client_secret are required");
    }
    for (const std::string* s :
         {&cfg.client_id, &cfg.client_secret, &cfg.redirect_uri, &cfg.user_agent}) {
        if (!is_header_safe(*s)) {
            return make_failure(errc::invalid_argument,
                                "a credential, redirect_uri or user_agent contains a control "
                                "character");
        }
    }
    if (cfg.max_connections == 0 || cfg.max_concurrent_token_requests == 0 ||
        cfg.max_cached_workspaces == 0 || cfg.token_retry_attempts == 0) {
        return make_failure(errc::invalid_argument,
                            "max_connections, max_concurrent_token_requests, "
                            "max_cached_workspaces and token_retry_attempts must be at least 1");
    }
    if (cfg.max_response_header_bytes == 0 || cfg.max_response_body_bytes == 0 ||
        cfg.max_request_body_bytes == 0) {
        // Zero would make every request or every response fail.
        return make_failure(errc::invalid_argument, "size limits must be at least 1 byte");
    }
    if (!(cfg.soft_window_jitter >= 0 && cfg.soft_window_jitter <= 0.5)) {
        return make_failure(errc::invalid_argument, "soft_window_jitter must be in [0, 0.5]");
    }
    using std::chrono::milliseconds;
    if (cfg.request_timeout <= milliseconds(0) || cfg.token_request_timeout <= milliseconds(0) ||
        cfg.connect_timeout <= milliseconds(0) ||
        cfg.default_token_lifetime <= std::chrono::seconds(0) ||
        cfg.soft_window_cap <= std::chrono::seconds(0) ||
        cfg.refresh_min_interval < milliseconds(0) ||
        cfg.token_retry_base_delay < milliseconds(0) ||
        cfg.failure_backoff_initial <= milliseconds(0) ||
        cfg.failure_backoff_max < cfg.failure_backoff_initial ||
        cfg.permanent_failure_memory < milliseconds(0) ||
        cfg.retry_after_cap < std::chrono::seconds(0) ||
        cfg.forced_refresh_interval < milliseconds(0) ||
        cfg.shared_cache_timeout <= milliseconds(0)) {
        return make_failure(errc::invalid_argument,
                            "timeouts, intervals and lifetimes must be positive");
    }
    if (cfg.connection_idle_timeout < milliseconds(0) ||
        cfg.connection_max_lifetime < milliseconds(0)) {
        return make_failure(errc::invalid_argument,
                            "connection_idle_timeout and connection_max_lifetime must not be "
                            "negative (0: no limit)");
    }
    if (auto ok = check_throttling(cfg); !ok) {
        return ok;
    }
    if (auto ok = check_capture_names(cfg); !ok) {
        return ok;
    }
    if (!cfg.proxy.empty()) {
        if (auto p = parse_proxy_url(cfg.proxy); !p) {
            return p.error(); // its message never shows the URL: it may hold a password
        }
    }
    return {};
}

result<redis_shared_cache_options> shared_cache_options(const client_config& cfg) {
    redis_shared_cache_options o;
    auto address = parse_redis_url(cfg.shared_cache_url);
    if (!address) {
        return address.error();
    }
    auto key = parse_shared_cache_key(cfg.shared_cache_key);
    if (!key) {
        return key.error();
    }
    o.address = std::move(*address);
    o.key = *key;
    o.client_id = cfg.client_id;
    o.timeout = cfg.shared_cache_timeout;
    // A lease lasts one token request; Redis refuses a PX that overflows its clock.
    o.lease_time = std::min<std::chrono::milliseconds>(
        cfg.token_request_timeout,
        std::chrono::duration_cast<std::chrono::milliseconds>(max_token_lifetime));
    return o;
}

origin checked_origin(const client_config& cfg) {
    if (auto ok = check_config(cfg); !ok) {
        throw to_error(ok.error(), "client");
    }
    check_default_headers(cfg);
    if (auto ok = check_shared_cache(cfg); !ok) {
        throw to_error(ok.error(), "client");
    }
    auto o = parse_origin(cfg.api_url, cfg.allow_insecure_http);
    if (!o) {
        throw to_error(o.error(), "client");
    }
    if (cfg.http2 == http2_mode::required && !o->tls) {
        // HTTP/2 is negotiated by ALPN, in the TLS handshake; plain http:// has none.
        throw_error(errc::invalid_argument,
                    "http2 is required, but the API URL is http://: HTTP/2 is negotiated over "
                    "TLS only (https://)",
                    "client");
    }
    return std::move(*o);
}

token_cache_options cache_options_of(const client_config& cfg) {
    token_cache_options o;
    o.flight_timeout = cfg.token_request_timeout;
    o.forced_refresh_interval = cfg.forced_refresh_interval;
    o.soft_window_cap = saturating_cast<std::chrono::nanoseconds>(cfg.soft_window_cap);
    o.soft_window_jitter = cfg.soft_window_jitter;
    o.refresh_min_interval = cfg.refresh_min_interval;
    o.retry_attempts = cfg.token_retry_attempts;
    o.retry_base_delay = cfg.token_retry_base_delay;
    o.backoff_initial = cfg.failure_backoff_initial;
    o.backoff_max = cfg.failure_backoff_max;
    o.permanent_failure_memory = cfg.permanent_failure_memory;
    o.max_concurrent_requests = cfg.max_concurrent_token_requests;
    o.retry_after_cap = cfg.retry_after_cap;
    o.max_entries = cfg.max_cached_workspaces;
    o.on_event = cfg.on_token_event;
    return o;
}

throttle_options throttle_options_of(const client_config& cfg) {
    throttle_options o;
    // With the fleet's limit the app-wide rate is Redis's bucket; the local one only adapts.
    o.app_rate = cfg.fleet_rate_limit ? 0 : cfg.max_requests_per_second;
    o.workspace_rate = cfg.max_requests_per_second_per_workspace;
    o.burst = cfg.rate_limit_burst;
    o.adaptive = cfg.adaptive_rate;
    o.app_workspaces = cfg.app_throttle_workspaces;
    o.window = saturating_cast<std::chrono::nanoseconds>(cfg.throttle_window);
    o.backoff_base = saturating_cast<std::chrono::nanoseconds>(cfg.graphql_retry_base_delay);
    o.backoff_max = saturating_cast<std::chrono::nanoseconds>(cfg.graphql_retry_max_delay);
    o.max_pause = saturating_cast<std::chrono::nanoseconds>(cfg.retry_after_cap);
    return o;
}

fleet_permit_options fleet_options_of(const client_config& cfg, std::shared_ptr<hook_gate> gate) {
    fleet_permit_options o;
    o.address = std::move(shared_cache_options(cfg)->address); // checked by checked_origin()
    o.client_id = cfg.client_id;
    o.rate = cfg.max_requests_per_second;
    o.burst = cfg.rate_limit_burst > 0 ? static_cast<double>(cfg.rate_limit_burst)
                                       : default_burst(o.rate);
    o.fallback_rate = o.rate / cfg.fleet_size;
    o.timeout = cfg.shared_cache_timeout;
    if (cfg.on_token_event) {
        // Through the token cache's gate: no event once the client is shut down.
        o.on_event = [user = cfg.on_token_event, gate = std::move(gate)](const token_event& e) {
            gate->run([&] { user(e); });
        };
    }
    return o;
}

transport_options transport_options_of(const client_config& cfg, const origin& org) {
    transport_options t;
    t.connect_timeout = cfg.connect_timeout;
    t.max_connections = cfg.max_connections;
    t.header_limit = cfg.max_response_header_bytes;
    t.max_response_body = cfg.max_response_body_bytes;
    t.http2 = cfg.http2;
    t.user_agent = cfg.user_agent;
    t.ca_file = cfg.ca_file;
    t.ca_pem = cfg.ca_pem;
    t.accept_compressed = cfg.accept_compressed_responses;
    t.connection_idle_timeout = cfg.connection_idle_timeout;
    t.connection_max_lifetime = cfg.connection_max_lifetime;
    t.default_headers = header_lines(cfg.default_headers); // checked by checked_origin()
    t.capture_headers.reserve(cfg.capture_response_headers.size());
    for (const auto& name : cfg.capture_response_headers) {
        auto& lower = t.capture_headers.emplace_back(name);
        std::transform(lower.begin(), lower.end(), lower.begin(), ascii_lower);
    }
    auto p = proxy_of(cfg, org);
    if (!p) {
        throw to_error(p.error(), "client");
    }
    t.proxy = std::move(*p);
    return t;
}

} // namespace glue::detail
