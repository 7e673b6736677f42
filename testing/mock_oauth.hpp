// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_INTERNAL_MOCK_OAUTH_HPP
#define GLUE_TESTING_INTERNAL_MOCK_OAUTH_HPP

// The OAuth endpoints: POST /oauth/token (client credentials, authorization code with PKCE,
// refresh token with rotation) and GET /oauth/authorize, which installs the app where the
// options say and redirects back with a code.

#include "testing/mock_state.hpp"

#include <string_view>

namespace glue::testing::detail {

/// The token endpoint's answer (RFC 6749 §5.1, §5.2).
http_response handle_token(mock_state& state, const http_request& req);

/// The authorization endpoint's answer to GET `target` (RFC 6749 §4.1.1, §4.1.2): a redirect
/// with a code or an error, or a plain-text page when there is nowhere safe to redirect to.
http_response handle_authorize(mock_state& state, std::string_view target);

} // namespace glue::testing::detail

#endif
