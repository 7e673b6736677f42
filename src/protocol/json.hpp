// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROTOCOL_JSON_HPP
#define GLUE_PROTOCOL_JSON_HPP

// Reading the JSON bodies the token and GraphQL endpoints answer with.

#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace glue::detail {

/// The body as JSON, nested up to 256 levels: GraphQL responses nest deeper than Boost.JSON's
/// default limit of 32 allows.
boost::json::value parse_json(std::string_view body, boost::json::error_code& ec);

/// The string member `key` of `o`; empty when it is missing or not a string.
std::string string_member(const boost::json::object& o, std::string_view key);

} // namespace glue::detail

#endif
