// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include <glue/operations.hpp>

#include "protocol/checks.hpp"
#include "support/outcome.hpp"

#include <boost/json/object.hpp>

#include <utility>

namespace glue {

namespace json = boost::json;

namespace {

// Aliases give the snake_case keys the described structs use.
constexpr std::string_view thread_fields =
    "id subject type: threadType persistent_chat: isPeristentChat created_at: createdAt";

[[noreturn]] void reject(std::string_view message) {
    throw detail::to_error(detail::make_failure(errc::invalid_argument, message), "operation");
}

void check_id(std::string_view id) {
    if (id.empty() || id.size() > detail::max_workspace_id_size * 2 || !detail::is_plain_id(id)) {
        reject("an id is empty, too long, or contains a space, a control or a non-ASCII "
               "character");
    }
}

// A connection query: `field(first:, after:[, extra]) { nodes { selection } pageInfo }`.
std::string connection_query(std::string_view field, std::string_view extra_args,
                             std::string_view selection) {
    std::string q = "query($first: Int, $after: String) { ";
    q.append(field).append("(first: $first, after: $after").append(extra_args).append(") { ");
    q.append("nodes { ").append(selection).append(" } pageInfo { hasNextPage endCursor } } }");
    return q;
}

template <class T>
boost::asio::awaitable<std::vector<T>> all_nodes(client& c, std::string_view ws, std::string query,
                                                 std::string_view field, page_options opts) {
    graphql_request req(std::move(query));
    pager pages(c, std::string(ws), std::move(req), field, std::move(opts));
    std::vector<T> out;
    while (auto p = co_await pages.next()) {
        auto items = p->template nodes_as<T>();
        out.insert(out.end(), std::make_move_iterator(items.begin()),
                   std::make_move_iterator(items.end()));
    }
    co_return out;
}

json::object to_json(const send_message_input& in) {
    json::object input;
    if (!in.thread_id.empty()) {
        check_id(in.thread_id);
        input["threadID"] = in.thread_id;
    }
    if (in.thread) {
        json::object t;
        json::array recipients;
        for (const auto& r : in.thread->recipients) {
            check_id(r);
            recipients.emplace_back(r);
        }
        t["recipients"] = std::move(recipients);
        if (!in.thread->subject.empty()) {
            t["subject"] = in.thread->subject;
        }
        if (!in.thread->thread_by.empty()) {
            t["threadBy"] = in.thread->thread_by;
        }
        input["thread"] = std::move(t);
    }
    if (in.thread_id.empty() && (!in.thread || in.thread->recipients.empty())) {
        reject("send_message needs a thread_id or thread recipients");
    }
    if (in.message.text.empty()) {
        reject("send_message needs a message text");
    }
    json::object m;
    m["text"] = in.message.text;
    if (!in.message.unique_by.empty()) {
        m["uniqueBy"] = in.message.unique_by;
    }
    if (!in.message.attachments.empty()) {
        json::array files;
        for (const auto& f : in.message.attachments) {
            check_id(f);
            files.emplace_back(f);
        }
        m["attachments"] = std::move(files);
    }
    input["message"] = std::move(m);
    return input;
}

} // namespace

boost::asio::awaitable<user> me(client& c, std::string_view workspace_id) {
    graphql_request req("query Me { me { id name } }");
    auto data = co_await c.graphql<json::object>(workspace_id, std::move(req));
    co_return decode<user>(data["me"]);
}

boost::asio::awaitable<std::vector<group>> groups(client& c, std::string_view workspace_id,
                                                  page_options opts) {
    co_return co_await all_nodes<group>(c, workspace_id, connection_query("groups", "", "id name"),
                                        "groups", std::move(opts));
}

boost::asio::awaitable<std::vector<thread>> threads(client& c, std::string_view workspace_id,
                                                    thread_order order, page_options opts) {
    const std::string_view by =
        order == thread_order::last_message ? ", order: lastMessage" : ", order: createdAt";
    co_return co_await all_nodes<thread>(c, workspace_id,
                                         connection_query("threads", by, thread_fields), "threads",
                                         std::move(opts));
}

boost::asio::awaitable<json::value> node(client& c, std::string_view workspace_id,
                                         std::string_view id, std::string_view selection) {
    check_id(id);
    if (selection.empty()) {
        reject("node needs a selection");
    }
    std::string query = "query Node($id: ID!) { node(id: $id) { ";
    query.append(selection).append(" } }");
    graphql_request req(std::move(query), json::object{{"id", id}});
    auto data = co_await c.graphql<json::object>(workspace_id, std::move(req));
    co_return std::move(data["node"]);
}

boost::asio::awaitable<send_message_result> send_message(client& c, std::string_view workspace_id,
                                                         send_message_input input) {
    std::string query = "mutation SendMessage($input: SendMessageInput!) { sendMessage(input: "
                        "$input) { thread { ";
    query.append(thread_fields).append(" } message { id text } } }");
    // A variable, as Glue asks: it also lets the client see the upsert keys and retry safely.
    graphql_request req(std::move(query), json::object{{"input", to_json(input)}});
    auto data = co_await c.graphql<json::object>(workspace_id, std::move(req));
    co_return decode<send_message_result>(data["sendMessage"]);
}

} // namespace glue
