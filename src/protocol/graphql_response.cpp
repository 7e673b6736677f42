// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "protocol/graphql_response.hpp"

#include "protocol/json.hpp"
#include "protocol/status.hpp"

#include <boost/json/value.hpp>

#include <utility>
#include <vector>

namespace glue::detail {

namespace json = boost::json;

namespace {

std::vector<graphql_error> parse_errors(const json::array& errors) {
    std::vector<graphql_error> out;
    out.reserve(errors.size());
    for (const auto& e : errors) {
        graphql_error g;
        if (const auto* o = e.if_object()) {
            g.message = string_member(*o, "message");
            if (const auto* p = o->if_contains("path"); p && p->is_array()) {
                g.path = p->get_array();
            }
            if (const auto* l = o->if_contains("locations"); l && l->is_array()) {
                g.locations = l->get_array();
            }
            if (const auto* x = o->if_contains("extensions"); x && x->is_object()) {
                g.extensions = x->get_object();
            }
        }
        out.push_back(std::move(g));
    }
    return out;
}

} // namespace

result<graphql_response> parse_graphql_response(http_response&& r) {
    json::error_code jec;
    json::value v = r.body.empty() ? json::value() : parse_json(r.body, jec);
    json::object* obj = !jec ? v.if_object() : nullptr;

    // The GraphQL errors envelope: a non-empty `errors` array (GraphQL spec §7.1.2).
    const json::array* errors = nullptr;
    if (obj) {
        if (const auto* e = obj->if_contains("errors")) {
            if (const auto* a = e->if_array(); a && !a->empty()) {
                errors = a;
            } else if (!e->is_null() && !(a && a->empty()) && is_success(r.status)) {
                return make_failure(make_error_code(errc::bad_response),
                                    "the GraphQL response's errors member is not a list",
                                    response_diagnostics(r));
            }
        }
    }
    if (is_success(r.status) && obj && !errors) {
        // The common case first, without building diagnostics it won't need.
        if (auto* data = obj->if_contains("data")) {
            graphql_response out;
            out.data = std::move(*data);
            if (auto* x = obj->if_contains("extensions"); x && x->is_object()) {
                out.extensions = std::move(x->get_object());
            }
            return out;
        }
        return make_failure(make_error_code(errc::bad_response),
                            "the GraphQL response has neither data nor errors",
                            response_diagnostics(r));
    }
    diagnostics d = response_diagnostics(r);
    if (errors) {
        d.graphql_errors = parse_errors(*errors);
        if (auto* data = obj->if_contains("data")) {
            d.partial_data = std::move(*data);
        }
    }
    if (!is_success(r.status)) {
        errc e = status_errc(r.status);
        if (e == errc::http_error && errors && r.status >= 400 && r.status < 500) {
            e = errc::graphql_error;
        }
        return make_failure(make_error_code(e), "the GraphQL request failed", std::move(d));
    }
    if (!obj) {
        return make_failure(make_error_code(errc::bad_response),
                            "the GraphQL response is not a JSON object", std::move(d));
    }
    // errc::graphql_error's message says it; the errors themselves are server text.
    return make_failure(make_error_code(errc::graphql_error), {}, std::move(d));
}

} // namespace glue::detail
