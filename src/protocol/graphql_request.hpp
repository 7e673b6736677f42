// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROTOCOL_GRAPHQL_REQUEST_HPP
#define GLUE_PROTOCOL_GRAPHQL_REQUEST_HPP

// The body of a GraphQL request (GraphQL over HTTP, application/json).

#include <glue/types.hpp>

#include <boost/json/fwd.hpp>

#include <string>

namespace glue::detail {

/// No number in `v` is infinite or NaN. Boost.JSON 1.81 reads a number too large for a double
/// (1e400) as infinity and writes it back as `Infinity`, which is not JSON: a request body with
/// one would be malformed.
bool all_finite(const boost::json::value& v) noexcept;

/// {"query":…, "variables":…, "operationName":…}, leaving out empty variables and name.
std::string graphql_body(const graphql_request& req);

} // namespace glue::detail

#endif
