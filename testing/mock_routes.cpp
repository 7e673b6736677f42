// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/mock_routes.hpp"

#include "testing/mock_graphql_endpoint.hpp"
#include "testing/mock_oauth.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <string>
#include <string_view>

namespace glue::testing::detail {

namespace {

// Counts and records the request, and takes the endpoint's fault if one applies.
std::optional<fault> take_fault(mock_state& state, endpoint e, const http_request& req) {
    std::lock_guard lock(state.mtx);
    ++(e == endpoint::token ? state.token_requests_total : state.graphql_requests_total);
    auto& last = state.last_requests[static_cast<int>(e)];
    last.method = req.method;
    last.target = req.target;
    last.headers.clear();
    for (const auto& [field, value] : req.fields) {
        std::string name = field;
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        last.headers[name] = value;
    }
    last.body = req.body;
    auto& slot = state.faults[static_cast<int>(e)];
    if (!slot || slot->times == 0) {
        return std::nullopt;
    }
    fault f = *slot;
    if (slot->times > 0) {
        --slot->times;
    }
    return f;
}

// The answer a status fault stands for (a normal answer otherwise).
std::optional<http_response> faulty(const std::optional<fault>& f, endpoint e) {
    if (!f || f->what != fault::kind::none || f->status == 0) {
        return std::nullopt;
    }
    std::string body = f->body;
    if (body.empty()) {
        body = e == endpoint::token ? oauth_error_body("temporarily_unavailable", "fault")
                                    : graphql_error_body("fault");
    }
    http_response res = json_response(static_cast<unsigned>(f->status), std::move(body));
    if (!f->retry_after.empty()) {
        res.set("Retry-After", f->retry_after);
    }
    return res;
}

// The answer and its fault, before the request id.
std::pair<http_response, std::optional<fault>> routed(mock_state& state, const http_request& req) {
    const std::string_view target = req.target;
    {
        std::lock_guard lock(state.mtx);
        ++state.requests_total;
    }
    for (auto e : {endpoint::token, endpoint::graphql}) {
        if (req.method == "POST" &&
            target == (e == endpoint::token ? "/oauth/token" : "/public/graphql")) {
            auto f = take_fault(state, e, req);
            auto res = faulty(f, e);
            if (!res && f && f->what == fault::kind::close_without_response) {
                // Never sent: the request must leave no trace beyond being counted.
                res = json_response(500, {});
            }
            if (!res) {
                res = e == endpoint::token ? handle_token(state, req) : handle_graphql(state, req);
            }
            if (e == endpoint::graphql && res->status == 401) {
                std::lock_guard lock(state.mtx);
                ++state.unauthorized_total;
            }
            return {std::move(*res), f};
        }
    }
    if (req.method == "GET" && target.substr(0, target.find('?')) == "/oauth/authorize") {
        return {handle_authorize(state, target), std::nullopt};
    }
    return {json_response(404, graphql_error_body("not found")), std::nullopt};
}

} // namespace

std::pair<http_response, std::optional<fault>> route(mock_state& state, const http_request& req) {
    auto out = routed(state, req);
    if (state.opts.request_ids) {
        out.first.set(
            "X-Request-Id",
            "req_" + std::to_string(state.answers.fetch_add(1, std::memory_order_relaxed) + 1));
    }
    return out;
}

} // namespace glue::testing::detail
