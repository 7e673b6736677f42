// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/mock_webhooks.hpp"

#include "testing/mock_workspaces.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <stdexcept>

namespace glue::testing::detail {

namespace json = boost::json;

namespace {

// Webhook payloads mirror the GraphQL entities, without GraphQL's __typename.
json::value without_typename(json::value v) {
    if (auto* o = v.if_object()) {
        o->erase("__typename");
        for (auto& member : *o) {
            member.value() = without_typename(std::move(member.value()));
        }
    }
    return v;
}

} // namespace

std::optional<webhook_target> parse_webhook_url(const std::string& url) {
    if (url.empty()) {
        return std::nullopt;
    }
    const auto u = boost::urls::parse_uri(url); // a std::string: NUL-terminated, as 1.81 wants
    if (!u || u->scheme_id() != boost::urls::scheme::http ||
        u->host_type() != boost::urls::host_type::ipv4 || u->host_address() != "127.0.0.1" ||
        u->port_number() == 0 || u->has_userinfo() || u->has_fragment()) {
        throw std::invalid_argument("mock_server: the webhook URL must be "
                                    "http://127.0.0.1:<port>/<path>, not " +
                                    url);
    }
    webhook_target t;
    t.port = u->port_number();
    t.host = "127.0.0.1:" + std::to_string(u->port_number());
    t.target = u->encoded_target();
    if (!t.target.starts_with('/')) {
        t.target.insert(0, "/");
    }
    return t;
}

void emit_locked(mock_state& state, std::string_view type, const std::string& ws,
                 const thread_record& t, const message_record& m) {
    if (!state.hook || state.stopped) {
        return;
    }
    const json::object event{{"message", without_typename(message_json(ws, m))},
                             {"thread", without_typename(thread_json(t))}};
    const std::string body =
        json::serialize(json::object{{"type", type}, {"workspaceID", ws}, {"event", event}});
    for (unsigned copy = 0; copy < state.webhook_copies; ++copy) {
        ++state.pending_webhooks;
        state.start_delivery(webhook_job{*state.hook, std::string(type), ws, body, copy});
    }
}

} // namespace glue::testing::detail
