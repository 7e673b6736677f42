// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/mock_state.hpp"

#include "testing/mock_webhooks.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace glue::testing::detail {

namespace json = boost::json;

namespace {

constexpr std::string_view base62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool same_name(std::string_view a, std::string_view b) {
    const auto lower = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; };
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) {
               return lower(static_cast<unsigned char>(x)) == lower(static_cast<unsigned char>(y));
           });
}

} // namespace

std::string_view http_request::field(std::string_view name) const {
    const auto it =
        std::ranges::find_if(fields, [&](const auto& f) { return same_name(f.first, name); });
    return it == fields.end() ? std::string_view() : std::string_view(it->second);
}

void http_response::set(std::string_view name, std::string value) {
    std::erase_if(fields, [&](const auto& f) { return same_name(f.first, name); });
    fields.emplace_back(std::string(name), std::move(value));
}

http_response json_response(unsigned status, std::string body) {
    http_response res{status, {}, std::move(body)};
    res.set("Content-Type", "application/json");
    return res;
}

http_response text_response(unsigned status, std::string body) {
    http_response res{status, {}, std::move(body)};
    res.set("Content-Type", "text/plain; charset=utf-8");
    return res;
}

std::string oauth_error_body(std::string_view error, std::string_view description) {
    json::object o;
    o["error"] = error;
    o["error_description"] = description;
    return json::serialize(o);
}

std::string graphql_error_body(std::string_view message) {
    json::object e;
    e["message"] = message;
    json::object o;
    o["errors"] = json::array{std::move(e)};
    return json::serialize(o);
}

mock_state::mock_state(mock_server_options o)
    : opts(std::move(o))
    , limiter(opts.graphql_rate_limit, opts.graphql_rate_limit_per_workspace, opts.rate_limit_burst,
              opts.rate_limit_retry_after)
    , rng(std::random_device{}())
    , hook(parse_webhook_url(opts.webhook_url)) {
    token_lifetime = opts.token_lifetime;
    installed.insert(opts.workspaces.begin(), opts.workspaces.end());
    if (opts.tls) {
        test_pki_options p;
        p.hosts = opts.tls_hosts;
        p.expired = opts.tls_expired;
        pki = make_test_pki(p);
    }
}

std::string mock_state::random_id_locked(std::size_t n) {
    std::uniform_int_distribution<std::size_t> pick(0, base62.size() - 1);
    std::string id(n, '0');
    for (char& c : id) {
        c = base62[pick(rng)];
    }
    return id;
}

rate_time mock_state::rate_now() const {
    return opts.rate_limit_clock ? opts.rate_limit_clock() : std::chrono::steady_clock::now();
}

std::size_t mock_state::counter(std::size_t mock_state::*which) const {
    std::lock_guard lock(mtx);
    return this->*which;
}

std::string stable_id(std::string_view prefix, std::string_view ws, std::size_t n) {
    std::uint64_t h = std::hash<std::string_view>{}(ws) ^ (n * 0x9e3779b97f4a7c15ULL);
    std::string id(prefix);
    for (int i = 0; i < 27; ++i) {
        id += base62[h % base62.size()];
        h = h / base62.size() + (h % 7 + 1) * 0x2545F4914F6CDD1DULL;
    }
    return id;
}

std::string app_user_id(std::string_view ws) {
    return stable_id("usr_", ws, 0);
}

std::string iso8601(std::chrono::system_clock::time_point t) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
    const std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char text[40];
    const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(ms.count() % 1000));
    return text;
}

} // namespace glue::testing::detail
