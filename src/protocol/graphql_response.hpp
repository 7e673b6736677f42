// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROTOCOL_GRAPHQL_RESPONSE_HPP
#define GLUE_PROTOCOL_GRAPHQL_RESPONSE_HPP

// What the GraphQL endpoint answers (GraphQL over HTTP): data, or the failure it describes.

#include <glue/types.hpp>

#include "protocol/http_message.hpp"
#include "support/outcome.hpp"

namespace glue::detail {

/// A GraphQL response as a complete answer, or the failure it describes: `errors` →
/// errc::graphql_error; non-2xx → unauthorized / forbidden / rate_limited / server_error /
/// graphql_error (4xx with an errors envelope) / http_error; a malformed 2xx → bad_response.
result<graphql_response> parse_graphql_response(http_response&& r);

} // namespace glue::detail

#endif
