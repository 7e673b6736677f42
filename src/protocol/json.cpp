// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "protocol/json.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

namespace glue::detail {

namespace json = boost::json;

json::value parse_json(std::string_view body, json::error_code& ec) {
    json::parse_options opts;
    opts.max_depth = 256;
    return json::parse(body, ec, {}, opts);
}

std::string string_member(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

} // namespace glue::detail
