// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_INTERNAL_MOCK_ROUTES_HPP
#define GLUE_TESTING_INTERNAL_MOCK_ROUTES_HPP

// Which endpoint a request goes to, with what every request goes through on the way: the
// counters, the record of the last request, the fault set on the endpoint, and the answer's
// request id.

#include "testing/mock_state.hpp"

#include <optional>
#include <utility>

namespace glue::testing::detail {

/// The answer to `req`, with its X-Request-Id (mock_server_options::request_ids), and the fault
/// the server must act out instead of sending it as is (nullopt: send it, after no delay).
std::pair<http_response, std::optional<fault>> route(mock_state& state, const http_request& req);

} // namespace glue::testing::detail

#endif
