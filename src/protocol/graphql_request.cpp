// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "protocol/graphql_request.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <string_view>

namespace glue::detail {

namespace json = boost::json;

namespace {

// Appends `s` as a JSON string, escaped as RFC 8259 §7 requires (and no more).
void append_json_string(std::string& out, std::string_view s) {
    constexpr char hex[] = "0123456789abcdef";
    out += '"';
    std::size_t plain = 0; // start of the run not yet copied
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        out.append(s.substr(plain, i - plain));
        plain = i + 1;
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        }
    }
    out.append(s.substr(plain));
    out += '"';
}

} // namespace

bool all_finite(const json::value& v) noexcept {
    if (const auto* d = v.if_double()) {
        return std::isfinite(*d);
    }
    if (const auto* a = v.if_array()) {
        return std::all_of(a->begin(), a->end(), [](const auto& x) { return all_finite(x); });
    }
    if (const auto* o = v.if_object()) {
        return std::all_of(o->begin(), o->end(),
                           [](const auto& kv) { return all_finite(kv.value()); });
    }
    return true;
}

std::string graphql_body(const graphql_request& req) {
    std::string body;
    body.reserve(req.query.size() + req.operation_name.size() + 48);
    body += R"({"query":)";
    append_json_string(body, req.query);
    if (!req.variables.empty()) {
        body += R"(,"variables":)";
        body += json::serialize(req.variables);
    }
    if (!req.operation_name.empty()) {
        body += R"(,"operationName":)";
        append_json_string(body, req.operation_name);
    }
    body += '}';
    return body;
}

} // namespace glue::detail
