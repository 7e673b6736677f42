// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
//
// The mock server's schema as a client sees it: threads and node(id:), Relay paging in both
// directions with its limits and a misbehaving-cursor knob, and a mutation that takes effect
// though its answer never comes.

#include "support/client_fixture.hpp"

#include <boost/json/parse.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace glue::test;

constexpr std::string_view other_ws = "wks_2hSyORgf8VqMLg0ADIvTi9oY6Nk";

const std::string send_mutation =
    "mutation Send($input: SendMessageInput!) { sendMessage(input: $input) "
    "{ thread { id subject threadType isPeristentChat } message { id text createdAt } } }";

/// The data of an operation that must succeed (graphql() throws on `errors`).
json::value data_of(client_fixture& f, std::string query, json::object variables = {},
                    std::string_view workspace = ws) {
    glue::graphql_request req{std::move(query), std::move(variables)};
    return f.run(f.client->graphql(workspace, std::move(req))).data;
}

/// The first GraphQL error message of an operation that must fail with errc::graphql_error.
std::string error_message(client_fixture& f, std::string query, json::object variables = {}) {
    glue::graphql_request req{std::move(query), std::move(variables)};
    auto e = f.error_of(f.client->graphql(ws, std::move(req)));
    CHECK(e.code() == errc::graphql_error);
    REQUIRE(!e.graphql_errors().empty());
    return e.graphql_errors().front().message;
}

/// sendMessage's payload.
json::value send(client_fixture& f, json::object input, std::string_view workspace = ws) {
    return data_of(f, send_mutation, {{"input", std::move(input)}}, workspace).at("sendMessage");
}

std::vector<std::string> ids_of(const json::value& connection) {
    std::vector<std::string> ids;
    for (const auto& node : connection.at("nodes").as_array()) {
        ids.emplace_back(node.at("id").as_string());
    }
    return ids;
}

std::vector<std::string> threads_in(client_fixture& f, std::string_view order = {}) {
    const std::string args = order.empty() ? "" : "(order: " + std::string(order) + ")";
    return ids_of(data_of(f, "{ threads" + args + " { nodes { id } } }").at("threads"));
}

struct walked {
    std::vector<std::string> ids; // in list order
    int pages = 0;
    bool stopped = false; // the server said there was no more
};

// GCC 12 pairs Asio's frame allocation (aligned_alloc) with the frame's own operator delete
// and calls it a mismatch; Asio frees it with the matching function.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
/// Walks `field` `size` at a time as a client would: forward with after = endCursor while
/// hasNextPage, or backward with before = startCursor while hasPreviousPage.
asio::awaitable<walked> walk(glue::client& c, std::string field, bool forward, int size,
                             int max_pages = 10) {
    const std::string n = std::to_string(size);
    const std::string query =
        forward ? "query($c: String) { " + field + "(first: " + n + ", after: $c) "
                : "query($c: String) { " + field + "(last: " + n + ", before: $c) ";
    const std::string full = query + "{ nodes { id } edges { cursor node { id } } pageInfo "
                                     "{ hasNextPage hasPreviousPage startCursor endCursor } } }";
    walked out;
    std::vector<std::vector<std::string>> pages;
    json::object variables;
    while (out.pages < max_pages) {
        glue::graphql_request req{full, variables};
        glue::graphql_response r = co_await c.graphql(ws, req);
        const json::value& conn = r.data.at(field);
        const json::value& info = conn.at("pageInfo");
        const json::array& edges = conn.at("edges").as_array();
        pages.push_back(ids_of(conn));
        ++out.pages;
        // edges and nodes agree, and the page's cursors are its first and last edges'.
        REQUIRE(edges.size() == pages.back().size());
        for (std::size_t i = 0; i < edges.size(); ++i) {
            CHECK(edges[i].at("node").at("id").as_string() == pages.back()[i]);
        }
        if (!edges.empty()) {
            CHECK(info.at("startCursor") == edges.front().at("cursor"));
            CHECK(info.at("endCursor") == edges.back().at("cursor"));
        }
        if (!info.at(forward ? "hasNextPage" : "hasPreviousPage").as_bool()) {
            out.stopped = true;
            break;
        }
        variables["c"] = info.at(forward ? "endCursor" : "startCursor");
    }
    if (!forward) {
        std::reverse(pages.begin(), pages.end());
    }
    for (const auto& page : pages) {
        out.ids.insert(out.ids.end(), page.begin(), page.end());
    }
    co_return out;
}
#pragma GCC diagnostic pop

glue::testing::mock_server_options with_groups(std::size_t n) {
    glue::testing::mock_server_options opts;
    opts.groups_per_workspace = n;
    return opts;
}

} // namespace

TEST_SUITE("mock schema") {

    TEST_CASE_FIXTURE(client_fixture, "threads: seeded ones, oldest first, with Glue's fields") {
        const auto d = data_of(*this, "{ threads { nodes { __typename id subject threadType "
                                      "isPeristentChat createdAt } } }");
        const auto& nodes = d.at("threads").at("nodes").as_array();
        REQUIRE(nodes.size() == 3);
        const std::regex iso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
        for (std::size_t i = 0; i < nodes.size(); ++i) {
            CAPTURE(i);
            const auto& t = nodes[i];
            CHECK(t.at("__typename") == "Thread");
            CHECK(t.at("id").as_string().starts_with("thr_"));
            CHECK(t.at("id").as_string().size() == 4 + 27);
            CHECK(t.at("subject") == json::string("Thread " + std::to_string(i + 1)));
            CHECK(t.at("threadType") == "thread");
            CHECK(t.at("isPeristentChat") == false);
            CHECK(std::regex_match(std::string(t.at("createdAt").as_string()), iso));
            if (i > 0) {
                CHECK(nodes[i - 1].at("createdAt").as_string() < t.at("createdAt").as_string());
            }
        }
        // Stable ids: another server has the same ones; another workspace has its own.
        client_fixture again;
        CHECK(threads_in(again) == threads_in(*this));
        const auto other =
            ids_of(data_of(*this, "{ threads { nodes { id } } }", {}, other_ws).at("threads"));
        REQUIRE(other.size() == 3);
        CHECK(std::ranges::find_first_of(other, threads_in(*this)) == other.end());
    }

    TEST_CASE("threads: threads_per_workspace seeds that many, paged like any connection") {
        glue::testing::mock_server_options opts;
        opts.threads_per_workspace = 0;
        client_fixture none(opts);
        CHECK(threads_in(none).empty());

        opts.threads_per_workspace = 5;
        client_fixture five(opts);
        const auto w = five.run(walk(*five.client, "threads", true, 2));
        CHECK(w.pages == 3);
        CHECK(w.stopped);
        CHECK(w.ids == threads_in(five));
    }

    TEST_CASE_FIXTURE(client_fixture, "threads: sendMessage adds threads and chats, and "
                                      "order: lastMessage puts the latest message first") {
        const auto seeded = threads_in(*this);
        REQUIRE(seeded.size() == 3);

        const auto created =
            send(*this, {{"thread", {{"recipients", {"grp_a"}}, {"subject", "Deploys"}}},
                         {"message", {{"text", "v1 is out"}}}});
        CHECK(created.at("thread").at("threadType") == "thread");
        CHECK(created.at("thread").at("isPeristentChat") == false);
        CHECK(created.at("message").at("text") == "v1 is out");
        const std::string thread(created.at("thread").at("id").as_string());

        // A group without a subject: its chat, the same one every time.
        json::object to_chat = {{"thread", {{"recipients", {"grp_a"}}}},
                                {"message", {{"text", "hello"}}}};
        const auto chat = send(*this, to_chat).at("thread");
        CHECK(chat.at("threadType") == "chat");
        CHECK(chat.at("isPeristentChat") == true);
        CHECK(send(*this, to_chat).at("thread").at("id") == chat.at("id"));
        const std::string chat_id(chat.at("id").as_string());

        const std::vector<std::string> by_creation = {seeded[0], seeded[1], seeded[2], thread,
                                                      chat_id};
        CHECK(threads_in(*this) == by_creation);
        CHECK(threads_in(*this, "createdAt") == by_creation);
        CHECK(threads_in(*this, "lastMessage") ==
              std::vector<std::string>{chat_id, thread, seeded[2], seeded[1], seeded[0]});

        // A message into the oldest thread makes it the most recent; creation order stays.
        send(*this, {{"threadID", seeded[0]}, {"message", {{"text", "bump"}}}});
        CHECK(threads_in(*this, "lastMessage") ==
              std::vector<std::string>{seeded[0], chat_id, thread, seeded[2], seeded[1]});
        CHECK(threads_in(*this) == by_creation);

        // The order can come from a variable, as an enum's name.
        const auto d =
            data_of(*this, "query($o: ThreadOrder) { threads(order: $o) { nodes { id } } }",
                    {{"o", "lastMessage"}});
        CHECK(ids_of(d.at("threads")).front() == seeded[0]);
        // Another workspace sees none of it.
        CHECK(ids_of(data_of(*this, "{ threads { nodes { id } } }", {}, other_ws).at("threads"))
                  .size() == 3);
    }

    TEST_CASE_FIXTURE(client_fixture, "threads: an unknown order fails that field only") {
        glue::graphql_request req{"{ me { id } threads(order: newest) { nodes { id } } }"};
        auto e = error_of(client->graphql(ws, std::move(req)));
        CHECK(e.code() == errc::graphql_error);
        REQUIRE(e.graphql_errors().size() == 1);
        CHECK(e.graphql_errors()[0].message.find("order") != std::string::npos);
        CHECK(e.graphql_errors()[0].path == json::array{"threads"});
        CHECK(e.partial_data().at("me").at("id").is_string());
        CHECK(e.partial_data().at("threads").is_null());
        CHECK(error_message(*this, R"({ threads(order: "sideways") { nodes { id } } })")
                  .find("order") != std::string::npos);
    }

    TEST_CASE_FIXTURE(client_fixture,
                      "node(id:) finds each kind, with type-conditioned fragments") {
        const std::string query = R"(query($id: ID!) { node(id: $id) { __typename id
            ... on Group { name }
            ... on Thread { ...ThreadFields }
            ... on User { name }
            ... on Message { text createdAt } } }
            fragment ThreadFields on Thread { subject threadType isPeristentChat })";
        const auto node = [&](std::string_view id) {
            return data_of(*this, query, {{"id", id}}).at("node");
        };
        const auto expect = [](std::string_view fields) { return json::parse(fields); };

        const auto groups = ids_of(data_of(*this, "{ groups { nodes { id } } }").at("groups"));
        CHECK(node(groups[1]) == expect(R"({"__typename": "Group", "id": ")" + groups[1] +
                                        R"(", "name": "Group 2"})"));

        const auto threads = threads_in(*this);
        CHECK(
            node(threads[0]) ==
            expect(
                R"({"__typename": "Thread", "id": ")" + threads[0] +
                R"(", "subject": "Thread 1", "threadType": "thread", "isPeristentChat": false})"));

        const std::string user = run(client->fetch_token(ws)).user_id;
        CHECK(node(user) == expect(R"({"__typename": "User", "id": ")" + user +
                                   R"(", "name": "Glue Test App"})"));

        // The workspace's id is also its General group's.
        CHECK(node(ws) == expect(R"({"__typename": "Group", "id": ")" + std::string(ws) +
                                 R"(", "name": "General"})"));

        const auto sent = send(*this, {{"threadID", threads[2]}, {"message", {{"text", "hi"}}}});
        const std::string message(sent.at("message").at("id").as_string());
        CHECK(message.starts_with("msg_"));
        const auto found = node(message);
        CHECK(found.at("__typename") == "Message");
        CHECK(found.at("text") == "hi");
        CHECK(found.at("createdAt") == sent.at("message").at("createdAt"));
        CHECK(found.as_object().size() == 4); // no fields of the other types' fragments

        // The thread sendMessage created or used is a node too, with its new fields.
        const auto chat = send(
            *this, {{"thread", {{"recipients", {"grp_x"}}}}, {"message", {{"text", "in a chat"}}}});
        CHECK(node(chat.at("thread").at("id").as_string()).at("threadType") == "chat");
    }

    TEST_CASE_FIXTURE(client_fixture, "node(id:): an id the workspace doesn't have is null") {
        const std::string ours(
            send(*this, {{"thread", {{"recipients", {"grp_a"}}}}, {"message", {{"text", "x"}}}})
                .at("message")
                .at("id")
                .as_string());
        const auto their_groups =
            ids_of(data_of(*this, "{ groups { nodes { id } } }", {}, other_ws).at("groups"));
        const auto their_threads =
            ids_of(data_of(*this, "{ threads { nodes { id } } }", {}, other_ws).at("threads"));
        // One query, no errors: every unknown id is a null node.
        const auto d = data_of(*this, R"(query($a: ID!, $b: ID!, $c: ID!, $d: ID!, $e: ID!) {
            a: node(id: $a) { id } b: node(id: $b) { id } c: node(id: $c) { id }
            d: node(id: $d) { id } e: node(id: $e) { id } })",
                               {{"a", "thr_2hSyORgf8VqMLg0ADIvTi9oY6Nk"},
                                {"b", their_groups[0]},
                                {"c", their_threads[0]},
                                {"d", other_ws},
                                {"e", "not an id"}});
        CHECK(d == json::parse(R"({"a": null, "b": null, "c": null, "d": null, "e": null})"));
        // A message is found only in its own workspace.
        const std::string by_id = R"(query($id: ID!) { node(id: $id) { id } })";
        CHECK(data_of(*this, by_id, {{"id", ours}}, other_ws).at("node").is_null());
        CHECK(data_of(*this, by_id, {{"id", ours}}).at("node").at("id") == json::string(ours));
        // No id at all is an error, not a null.
        CHECK(error_message(*this, "{ node { id } }").find("id") != std::string::npos);
    }

    TEST_CASE("pagination: 137 groups, 50 at a time, each exactly once, both ways") {
        client_fixture f(with_groups(137));
        std::vector<std::string> expected;
        for (const auto& id :
             ids_of(data_of(f, "{ groups(first: 100) { nodes { id } } }").at("groups"))) {
            expected.push_back(id);
        }
        const auto rest = data_of(f, "{ groups(last: 37) { nodes { id } } }").at("groups");
        for (const auto& id : ids_of(rest)) {
            expected.push_back(id);
        }
        REQUIRE(std::set<std::string>(expected.begin(), expected.end()).size() == 137);

        const auto forward = f.run(walk(*f.client, "groups", true, 50));
        CHECK(forward.pages == 3);
        CHECK(forward.stopped);
        CHECK(forward.ids == expected);

        const auto backward = f.run(walk(*f.client, "groups", false, 50));
        CHECK(backward.pages == 3);
        CHECK(backward.stopped);
        CHECK(backward.ids == expected);
    }

    TEST_CASE("pagination: pageInfo follows the Relay spec") {
        client_fixture f(with_groups(137));
        const std::string info = "{ nodes { id } pageInfo { hasNextPage hasPreviousPage "
                                 "startCursor endCursor } }";
        const auto page = [&](std::string args, json::object variables = {}) {
            const std::string decl = variables.empty() ? "" : "($c: String)";
            return data_of(f, "query" + decl + " { groups" + args + " " + info + " }",
                           std::move(variables))
                .at("groups");
        };
        const auto flags = [](const json::value& conn) {
            const auto& p = conn.at("pageInfo");
            return std::pair(p.at("hasNextPage").as_bool(), p.at("hasPreviousPage").as_bool());
        };
        // No arguments: the first 50.
        const auto first = page("");
        const auto first_ids = ids_of(first);
        CHECK(first_ids.size() == 50);
        CHECK(flags(first) == std::pair(true, false));
        // After a cursor there is a previous page; the last page has no next one.
        const json::value end = first.at("pageInfo").at("endCursor");
        const auto second = page("(first: 100, after: $c)", {{"c", end}});
        CHECK(ids_of(second).size() == 87);
        CHECK(flags(second) == std::pair(false, true));
        // Backward: last 10 before the cursor ends right before its item.
        const auto before = page("(last: 10, before: $c)", {{"c", end}});
        CHECK(ids_of(before) == std::vector(first_ids.begin() + 39, first_ids.end() - 1));
        CHECK(flags(before) == std::pair(true, true));
        // Between two cursors.
        const json::value start = first.at("pageInfo").at("startCursor");
        const auto between =
            data_of(
                f,
                "query($a: String, $b: String) { groups(after: $a, before: $b) { nodes { id } } }",
                {{"a", start}, {"b", end}})
                .at("groups");
        CHECK(ids_of(between) == std::vector(first_ids.begin() + 1, first_ids.end() - 1));
        // An empty page has no cursors.
        const auto empty = page("(first: 0)");
        CHECK(ids_of(empty).empty());
        CHECK(empty.at("pageInfo").at("startCursor").is_null());
        CHECK(empty.at("pageInfo").at("endCursor").is_null());
    }

    TEST_CASE("pagination: page sizes are bounded by max_page_size") {
        client_fixture f(with_groups(137));
        CHECK(ids_of(data_of(f, "{ groups(first: 100) { nodes { id } } }").at("groups")).size() ==
              100);
        CHECK(ids_of(data_of(f, "{ groups(last: 100) { nodes { id } } }").at("groups")).size() ==
              100);
        CHECK(error_message(f, "{ groups(first: 101) { nodes { id } } }").find("101") !=
              std::string::npos);
        CHECK(error_message(f, "{ threads(last: 101) { nodes { id } } }").find("101") !=
              std::string::npos);
        CHECK(!error_message(f, "{ groups(first: -1) { nodes { id } } }").empty());
        CHECK(!error_message(f, R"({ groups(first: "ten") { nodes { id } } })").empty());

        auto opts = with_groups(137);
        opts.max_page_size = 20;
        client_fixture small(opts);
        CHECK(ids_of(data_of(small, "{ groups { nodes { id } } }").at("groups")).size() == 20);
        CHECK(!error_message(small, "{ groups(first: 21) { nodes { id } } }").empty());
    }

    TEST_CASE_FIXTURE(client_fixture, "pagination: cursors are opaque and belong to their list") {
        const auto groups =
            data_of(*this, "{ groups { edges { cursor node { id } } } }").at("groups").at("edges");
        const std::string cursor(groups.at(0).at("cursor").as_string());
        const std::string id(groups.at(0).at("node").at("id").as_string());
        CHECK(cursor.find(id) == std::string::npos);
        const std::string after = "query($c: String) { threads(after: $c) { nodes { id } } }";
        CHECK(error_message(*this, after, {{"c", cursor}}).find("cursor") != std::string::npos);
        CHECK(error_message(*this, after, {{"c", "cursor:1"}}).find("cursor") != std::string::npos);
    }

    TEST_CASE("pagination: set_repeat_cursor makes every page point back at the same cursor") {
        client_fixture f(with_groups(137));
        f.server.set_repeat_cursor(true);
        const std::string query = "query($c: String) { groups(first: 50, after: $c) { nodes { id } "
                                  "pageInfo { hasNextPage endCursor } } }";
        const auto one = data_of(f, query).at("groups");
        const json::value cursor = one.at("pageInfo").at("endCursor");
        const auto two = data_of(f, query, {{"c", cursor}}).at("groups");
        CHECK(two.at("pageInfo").at("hasNextPage") == true);
        CHECK(two.at("pageInfo").at("endCursor") == cursor);
        CHECK(ids_of(two) != ids_of(one)); // the items move on; only the cursor is stuck
        const auto three = data_of(f, query, {{"c", cursor}}).at("groups");
        CHECK(three.at("pageInfo").at("endCursor") == cursor);

        // Every connection, even a short or empty one, claims a next page.
        const auto threads =
            data_of(f, "{ threads(first: 50) { pageInfo { hasNextPage endCursor } } }");
        CHECK(threads.at("threads").at("pageInfo").at("hasNextPage") == true);
        const auto walked_threads = f.run(walk(*f.client, "threads", true, 50, 4));
        CHECK(!walked_threads.stopped);

        f.server.set_repeat_cursor(false);
        const auto w = f.run(walk(*f.client, "groups", true, 50));
        CHECK(w.stopped);
        CHECK(w.pages == 3);
    }

    TEST_CASE_FIXTURE(client_fixture,
                      "close_after_processing: the mutation takes effect, its answer never comes") {
        data_of(*this, "{ me { id } }"); // a kept-alive connection, which a retry could reuse
        server.reset_counters();
        server.set_fault(endpoint::graphql, misbehaving(fault::kind::close_after_processing, 1));
        glue::graphql_request req{
            send_mutation,
            {{"input",
              {{"thread", {{"recipients", {"grp_a"}}, {"subject", "Incident"}}},
               {"message", {{"text", "db is down"}}}}}}};
        auto e = error_of(client->graphql(ws, std::move(req)));
        CHECK(e.code() == asio::error::eof);
        CHECK(server.graphql_requests() == 1); // sent once, not again
        CHECK(server.messages_created() == 1);
        CHECK(server.messages_created(ws) == 1);
        CHECK(server.messages_created(other_ws) == 0);
        // The thread it created is there for the next call to find.
        const auto d = data_of(*this, "{ threads { nodes { subject } } }");
        CHECK(d.at("threads").at("nodes").as_array().back().at("subject") == "Incident");

        // close_without_response drops the request before processing: nothing happens.
        server.set_fault(endpoint::graphql, misbehaving(fault::kind::close_without_response, 1));
        glue::graphql_request again{
            send_mutation,
            {{"input",
              {{"thread", {{"recipients", {"grp_a"}}, {"subject", "Other"}}},
               {"message", {{"text", "lost"}}}}}}};
        CHECK(error_of(client->graphql(ws, std::move(again))).code() == asio::error::eof);
        CHECK(server.messages_created() == 1);
        CHECK(threads_in(*this).size() == 4);
    }

    TEST_CASE_FIXTURE(client_fixture, "messages_created counts per workspace") {
        json::object input = {{"thread", {{"recipients", {"grp_a"}}}},
                              {"message", {{"text", "x"}, {"uniqueBy", "once"}}}};
        send(*this, input);
        send(*this, input); // an upsert: no new message
        send(*this, input, other_ws);
        CHECK(server.messages_created() == 2);
        CHECK(server.messages_created(ws) == 1);
        CHECK(server.messages_created(other_ws) == 1);
        server.reset_counters();
        CHECK(server.messages_created(ws) == 0);
    }

} // TEST_SUITE
