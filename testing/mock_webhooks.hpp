// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_INTERNAL_MOCK_WEBHOOKS_HPP
#define GLUE_TESTING_INTERNAL_MOCK_WEBHOOKS_HPP

// The events the mock sends to the webhook URL: where they go and what they say. The server
// (mock_http_server) carries out the deliveries and their retries.

#include "testing/mock_state.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace glue::testing::detail {

/// The target of http://127.0.0.1:<port>/<path>; nullopt for the empty URL. Throws
/// std::invalid_argument for any other form.
std::optional<webhook_target> parse_webhook_url(const std::string& url);

/// Sends the event `type` about message `m` in thread `t`, if webhooks are on: one delivery per
/// copy (state.webhook_copies), started on the server's threads; the caller doesn't wait.
void emit_locked(mock_state& state, std::string_view type, const std::string& ws,
                 const thread_record& t, const message_record& m);

} // namespace glue::testing::detail

#endif
