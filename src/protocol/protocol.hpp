// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROTOCOL_PROTOCOL_HPP
#define GLUE_PROTOCOL_PROTOCOL_HPP

// The whole protocol layer, for files not yet including only the headers they use.

#include <glue/oauth.hpp>
#include <glue/types.hpp>

#include "protocol/checks.hpp"
#include "protocol/form.hpp"
#include "protocol/graphql_document.hpp"
#include "protocol/graphql_request.hpp"
#include "protocol/graphql_response.hpp"
#include "protocol/http_message.hpp"
#include "protocol/origin.hpp"
#include "protocol/retry_after.hpp"
#include "protocol/token_grant.hpp"
#include "protocol/token_response.hpp"
#include "protocol/url_redaction.hpp"

#endif
