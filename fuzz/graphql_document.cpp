// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The GraphQL document scanner behind may_send_twice and graphql_operation_kind (hand-written,
// over the caller's text), parse_variables, and graphql_body: any document, variables and
// operation name. Input: "<document>" or "<document>\n%%\n<variables JSON>\n%%\n<name>".

#include "protocol/graphql_document.hpp"

#include <glue/error.hpp>
#include <glue/types.hpp>

#include "fuzz_support.hpp"
#include "protocol/graphql_request.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace gd = glue::detail;
namespace json = boost::json;

namespace {

// Splits off the text before the next "\n%%\n" separator.
std::string_view take_part(std::string_view& in) {
    constexpr std::string_view sep = "\n%%\n";
    const auto at = in.find(sep);
    const auto part = in.substr(0, at);
    in.remove_prefix(at == in.npos ? in.size() : at + sep.size());
    return part;
}

// RFC 3629 UTF-8: what a JSON text may hold (no overlong forms, surrogates or values past
// U+10FFFF).
bool is_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        std::uint32_t cp = 0, min = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (s.size() - i <= n) {
            return false;
        }
        for (std::size_t k = 1; k <= n; ++k) {
            const auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (d & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += n + 1;
    }
    return true;
}

// Equal JSON, numbers that are no integer within a few ulps: Boost.JSON 1.81 reads a decimal
// to the nearest double or next to it, so a number read back from the exact text written for
// it may differ in its last bit.
bool same_json(const json::value& a, const json::value& b) {
    if (a.is_double() && b.is_double()) {
        const double x = a.get_double(), y = b.get_double();
        return x == y || std::fabs(x - y) <= 4 * std::numeric_limits<double>::epsilon() *
                                                 std::max(std::fabs(x), std::fabs(y));
    }
    if (a.kind() != b.kind()) {
        return false;
    }
    if (a.is_array()) {
        const auto &x = a.get_array(), &y = b.get_array();
        return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(), same_json);
    }
    if (a.is_object()) {
        const auto &x = a.get_object(), &y = b.get_object();
        if (x.size() != y.size()) {
            return false;
        }
        return std::all_of(x.begin(), x.end(), [&](const auto& kv) {
            const auto* other = y.if_contains(kv.key());
            return other && same_json(kv.value(), *other);
        });
    }
    return a == b;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    glue::graphql_request req;
    req.query = std::string(take_part(in));
    const auto variables = take_part(in);
    req.operation_name = std::string(in);
    try {
        req.variables = glue::parse_variables(variables);
    } catch (const glue::error& e) {
        FUZZ_CHECK(e.code() == glue::errc::invalid_argument);
    }

    const auto kind = gd::graphql_operation_kind(req.query, req.operation_name);
    const bool twice = gd::may_send_twice(req);
    // The two read the document alike: a query may go twice; an operation that can't be told
    // apart may not, once the document mentions anything but queries.
    const std::string_view q = req.query;
    const bool only_queries = q.find("mutation") == q.npos && q.find("subscription") == q.npos;
    if (kind == gd::operation_kind::query) {
        FUZZ_CHECK(twice);
    }
    if (kind == gd::operation_kind::subscription) {
        FUZZ_CHECK(!twice);
    }
    if (kind == gd::operation_kind::unknown && !only_queries) {
        FUZZ_CHECK(!twice);
    }
    if (kind == gd::operation_kind::mutation && twice) {
        FUZZ_CHECK(q.find("sendMessage") != q.npos);
    }
    // Asking again gives the same answer (the scanner keeps no state between calls).
    FUZZ_CHECK(gd::graphql_operation_kind(req.query, req.operation_name) == kind);

    // The request body is JSON that gives the document and the name back, whenever they are
    // text JSON can hold.
    const auto body = gd::graphql_body(req);
    if (is_utf8(req.query) && is_utf8(req.operation_name)) {
        json::error_code ec;
        const auto v = json::parse(body, ec);
        FUZZ_CHECK(!ec);
        const auto& o = v.as_object();
        FUZZ_CHECK(o.at("query").as_string() == req.query);
        if (req.operation_name.empty()) {
            FUZZ_CHECK(!o.contains("operationName"));
        } else {
            FUZZ_CHECK(o.at("operationName").as_string() == req.operation_name);
        }
        if (req.variables.empty()) {
            FUZZ_CHECK(!o.contains("variables"));
        } else {
            FUZZ_CHECK(same_json(o.at("variables"), json::value(req.variables)));
        }
    }
    return 0;
}
