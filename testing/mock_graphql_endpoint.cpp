// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/mock_graphql_endpoint.hpp"

#include "testing/graphql_executor.hpp"
#include "testing/mock_pagination.hpp"
#include "testing/mock_webhooks.hpp"
#include "testing/mock_workspaces.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

namespace glue::testing::detail {

namespace json = boost::json;

namespace {

paging page_rules(const mock_state& state) {
    return {state.opts.max_page_size, state.repeat_cursor.load()};
}

// The recipients as a set: the same ones in any order name the same chat.
std::string recipients_key(const json::value& thread_in) {
    std::vector<std::string> ids;
    if (const auto* r = thread_in.get_object().if_contains("recipients"); r && r->is_array()) {
        for (const auto& id : r->get_array()) {
            if (id.is_string()) {
                ids.emplace_back(id.get_string());
            }
        }
    }
    std::ranges::sort(ids);
    std::string key;
    for (const auto& id : ids) {
        key += id + ",";
    }
    return key;
}

// threads(first, after, last, before, order: createdAt | lastMessage)
resolved thread_list(mock_state& state, const std::string& ws, const json::object& args) {
    bool by_last_message = false;
    if (const json::value* order = args.if_contains("order"); order && !order->is_null()) {
        const json::string* name = order->if_string();
        if (!name || (*name != "createdAt" && *name != "lastMessage")) {
            return {nullptr, "Argument \"order\" has invalid value " + json::serialize(*order) +
                                 ": expected createdAt or lastMessage."};
        }
        by_last_message = *name == "lastMessage";
    }
    json::array items;
    {
        std::lock_guard lock(state.mtx);
        const auto& w = workspace_locked(state, ws);
        std::vector<const thread_record*> order;
        for (const auto& t : w.threads) {
            order.push_back(&t);
        }
        if (by_last_message) {
            std::ranges::sort(order, std::greater{}, &thread_record::last_message);
        }
        for (const auto* t : order) {
            items.push_back(thread_json(*t));
        }
    }
    return connection(items, "Thread", args, page_rules(state));
}

// Relay's node(id:): whatever the workspace holds under that id, or null.
json::value node(mock_state& state, const std::string& ws, std::string_view id) {
    if (id == ws) {
        // Glue: a workspace's id is also the id of its General group.
        return json::object{{"__typename", "Group"}, {"id", ws}, {"name", "General"}};
    }
    if (id == app_user_id(ws)) {
        return me_json(ws);
    }
    if (id.starts_with("grp_")) {
        for (std::size_t i = 0; i < state.opts.groups_per_workspace; ++i) {
            if (stable_id("grp_", ws, i) == id) {
                return group_json(ws, i);
            }
        }
        return nullptr;
    }
    std::lock_guard lock(state.mtx);
    const auto& w = workspace_locked(state, ws);
    if (auto it = w.thread_at.find(std::string(id)); it != w.thread_at.end()) {
        return thread_json(w.threads[it->second]);
    }
    if (auto it = w.messages.find(std::string(id)); it != w.messages.end()) {
        return message_json(ws, it->second);
    }
    return nullptr;
}

// sendMessage(input: {threadID? thread?: {recipients subject threadBy} message: {text
// uniqueBy attachments}}): uniqueBy and threadBy upsert, as Glue describes them; without a
// subject (or threadBy) the message goes to the recipients' chat, one per recipient set.
resolved send_message(mock_state& state, const std::string& ws, const json::object& args) {
    const auto* input = args.if_contains("input");
    const json::object* in = input ? input->if_object() : nullptr;
    const json::value* message = in ? in->if_contains("message") : nullptr;
    const json::value* text =
        message && message->is_object() ? message->get_object().if_contains("text") : nullptr;
    if (!text || !text->is_string()) {
        return {nullptr, "input.message.text is required"};
    }
    auto string_at = [](const json::value* obj, std::string_view key) -> std::string {
        if (!obj || !obj->is_object()) {
            return {};
        }
        const auto* v = obj->get_object().if_contains(key);
        return v && v->is_string() ? std::string(v->get_string()) : std::string();
    };
    const json::value* thread_in = in->if_contains("thread");
    const std::string thread_id = string_at(input, "threadID");
    const auto now = std::chrono::system_clock::now();
    std::lock_guard lock(state.mtx);
    auto& w = workspace_locked(state, ws);
    std::size_t thread = 0;
    if (!thread_id.empty()) {
        thread = thread_at_locked(w, thread_id, now);
    } else {
        if (!thread_in || !thread_in->is_object()) {
            return {nullptr, "either input.threadID or input.thread is required"};
        }
        std::string subject = string_at(thread_in, "subject");
        const std::string thread_by = string_at(thread_in, "threadBy");
        const bool chat = subject.empty() && thread_by.empty();
        // The id a repeat call finds again; none: every call makes a new thread.
        std::string* key = !thread_by.empty() ? &w.thread_by[thread_by]
                           : chat             ? &w.chats[recipients_key(*thread_in)]
                                              : nullptr;
        if (key && !key->empty()) {
            thread = w.thread_at.at(*key);
        } else {
            std::string id = "thr_" + state.random_id_locked(27);
            if (key) {
                *key = id;
            }
            thread = add_thread_locked(w, std::move(id), std::move(subject), chat, now);
        }
    }
    const std::string unique_by = string_at(message, "uniqueBy");
    std::string* existing = unique_by.empty() ? nullptr : &w.unique_by[unique_by];
    const message_record* m = nullptr;
    if (existing && !existing->empty()) {
        auto& updated = w.messages.at(*existing); // an upsert updates the text
        updated.text = text->get_string();
        m = &updated;
    } else {
        m = &add_message_locked(state, w, thread, std::string(text->get_string()), app_user_id(ws),
                                now);
        if (existing) {
            *existing = m->id;
        }
        ++state.messages_created;
        ++state.messages_created_by_workspace[ws];
        // Glue tells bots about their own messages too: they must skip them.
        emit_locked(state, "message.created", ws, w.threads[thread], *m);
    }
    return {json::object{{"__typename", "SendMessagePayload"},
                         {"thread", thread_json(w.threads[thread])},
                         {"message", message_json(ws, *m)}},
            {}};
}

// mutation_repeats(): a mutation is the same as another when its workspace, document, operation
// name and variables are; a 64-bit hash of them stands for it.
void count_execution(mock_state& state, const std::string& ws, const executed_operation& ran,
                     std::string_view query, const json::object& variables) {
    std::uint64_t key = 0;
    if (ran.type == operation_type::mutation) {
        std::string what = ws;
        for (std::string_view part : {std::string_view(query), std::string_view(ran.name)}) {
            what.append(1, '\0').append(part);
        }
        what.append(1, '\0').append(json::serialize(variables));
        key = std::hash<std::string>{}(what);
    }
    std::lock_guard lock(state.mtx);
    ++state.graphql_executions[ran.name];
    if (ran.type == operation_type::mutation) {
        ++state.mutations_executed;
        if (!state.mutations_seen.insert(key).second) {
            ++state.mutation_repeats;
        }
    }
}

resolved resolve(mock_state& state, const std::string& ws, operation_type type,
                 std::string_view field, const json::object& args) {
    if (type == operation_type::query && field == "me") {
        return {me_json(ws), {}};
    }
    if (type == operation_type::query && field == "groups") {
        json::array groups;
        for (std::size_t i = 0; i < state.opts.groups_per_workspace; ++i) {
            groups.push_back(group_json(ws, i));
        }
        return connection(groups, "Group", args, page_rules(state));
    }
    if (type == operation_type::query && field == "threads") {
        return thread_list(state, ws, args);
    }
    if (type == operation_type::query && field == "node") {
        const json::value* id = args.if_contains("id");
        if (!id || !id->is_string()) {
            return {nullptr, "Argument \"id\" of type \"ID!\" is required."};
        }
        return {node(state, ws, id->get_string()), {}};
    }
    if (type == operation_type::mutation && field == "sendMessage") {
        return send_message(state, ws, args);
    }
    return {nullptr, "Cannot query field \"" + std::string(field) + "\" on type \"" +
                         (type == operation_type::query ? "Query" : "Mutation") + "\"."};
}

} // namespace

http_response handle_graphql(mock_state& state, const http_request& req) {
    const std::string_view auth = req.field("Authorization");
    std::optional<std::string> ws;
    if (auth.starts_with("Bearer ")) {
        std::lock_guard lock(state.mtx);
        auto it = state.tokens.find(std::string(auth.substr(7)));
        if (it != state.tokens.end() && std::chrono::steady_clock::now() < it->second.expires_at &&
            it->second.generation == state.generation[it->second.workspace] &&
            !state.revoked_grants.contains(it->second.grant)) {
            ws = it->second.workspace;
        }
    }
    if (!ws) {
        http_response res = json_response(401, graphql_error_body("invalid or expired token"));
        res.set("WWW-Authenticate", R"(Bearer error="invalid_token")");
        return res;
    }
    if (const auto d = state.limiter.admit(*ws, state.rate_now());
        d.what != rate_decision::verdict::admitted) {
        http_response res =
            json_response(429, graphql_error_body(d.what == rate_decision::verdict::refused_app
                                                      ? "rate limit exceeded for the app"
                                                      : "rate limit exceeded for the workspace"));
        res.set("Retry-After", std::to_string(d.retry_after.count()));
        return res;
    }
    json::error_code ec;
    json::value body = json::parse(req.body, ec);
    const json::object* o = ec ? nullptr : body.if_object();
    const json::value* query = o ? o->if_contains("query") : nullptr;
    if (!query || !query->is_string()) {
        return json_response(400, graphql_error_body("the body must be a JSON object with a "
                                                     "query string"));
    }
    json::object variables;
    if (const auto* v = o->if_contains("variables"); v && v->is_object()) {
        variables = v->get_object();
    }
    std::string operation_name;
    if (const auto* n = o->if_contains("operationName"); n && n->is_string()) {
        operation_name = n->get_string();
    }
    std::optional<executed_operation> ran;
    json::object result = execute_graphql(
        query->get_string(), variables, operation_name,
        [&state, &ws](operation_type type, std::string_view field, const json::object& args) {
            return resolve(state, *ws, type, field, args);
        },
        &ran);
    if (ran) {
        count_execution(state, *ws, *ran, query->get_string(), variables);
    }
    return json_response(200, json::serialize(result));
}

} // namespace glue::testing::detail
