// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_INTERNAL_MOCK_GRAPHQL_ENDPOINT_HPP
#define GLUE_TESTING_INTERNAL_MOCK_GRAPHQL_ENDPOINT_HPP

// POST /public/graphql: the bearer token checked, then the rate limits, then the operations Glue
// documents (me, groups, threads, node, sendMessage) run on the workspace the token is for.

#include "testing/mock_state.hpp"

namespace glue::testing::detail {

/// The answer to a GraphQL request: 401 without a valid token, 429 beyond the rate limits, 400
/// for a body that isn't a GraphQL request, otherwise 200 with the GraphQL response.
http_response handle_graphql(mock_state& state, const http_request& req);

} // namespace glue::testing::detail

#endif
