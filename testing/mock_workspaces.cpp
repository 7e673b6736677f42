// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "testing/mock_workspaces.hpp"

#include "testing/mock_webhooks.hpp"

#include <mutex>
#include <utility>

namespace glue::testing::detail {

namespace json = boost::json;

json::object me_json(std::string_view ws) {
    return json::object{{"__typename", "User"}, {"id", app_user_id(ws)}, {"name", "Glue Test App"}};
}

json::object group_json(std::string_view ws, std::size_t i) {
    return json::object{{"__typename", "Group"},
                        {"id", stable_id("grp_", ws, i)},
                        {"name", "Group " + std::to_string(i + 1)}};
}

json::object thread_json(const thread_record& t) {
    return json::object{{"__typename", "Thread"},
                        {"id", t.id},
                        {"subject", t.subject},
                        {"threadType", t.chat ? "chat" : "thread"},
                        {"isPeristentChat", t.chat}, // sic: the spelling in Glue's documentation
                        {"createdAt", iso8601(t.created_at)}};
}

json::object user_json(std::string_view ws, std::string_view user) {
    if (user == app_user_id(ws)) {
        return me_json(ws);
    }
    return json::object{{"__typename", "User"}, {"id", user}, {"name", "Test Human"}};
}

json::object message_json(std::string_view ws, const message_record& m) {
    return json::object{{"__typename", "Message"},
                        {"id", m.id},
                        {"text", m.text},
                        {"createdAt", iso8601(m.created_at)},
                        {"user", user_json(ws, m.user_id)}};
}

workspace_state& workspace_locked(mock_state& state, const std::string& ws) {
    auto [it, added] = state.spaces.try_emplace(ws);
    if (added) {
        // Seeded threads predate anything sendMessage creates, an hour apart.
        const std::chrono::system_clock::time_point epoch =
            std::chrono::sys_days{std::chrono::year{2024} / 1 / 1};
        for (std::size_t i = 0; i < state.opts.threads_per_workspace; ++i) {
            add_thread_locked(it->second, stable_id("thr_", ws, i),
                              "Thread " + std::to_string(i + 1), false,
                              epoch + std::chrono::hours(i));
        }
    }
    return it->second;
}

std::size_t add_thread_locked(workspace_state& w, std::string id, std::string subject, bool chat,
                              std::chrono::system_clock::time_point when) {
    w.thread_at[id] = w.threads.size();
    w.threads.push_back({std::move(id), std::move(subject), chat, when, ++w.clock});
    return w.threads.size() - 1;
}

std::size_t thread_at_locked(workspace_state& w, const std::string& id,
                             std::chrono::system_clock::time_point now) {
    auto it = w.thread_at.find(id);
    // Glue's answer to an unknown thread id is undocumented; the mock adopts the thread.
    return it != w.thread_at.end() ? it->second : add_thread_locked(w, id, "", false, now);
}

message_record& add_message_locked(mock_state& state, workspace_state& w, std::size_t thread,
                                   std::string text, std::string user,
                                   std::chrono::system_clock::time_point now) {
    std::string id = "msg_" + state.random_id_locked(27);
    w.message_order.push_back(id);
    w.threads[thread].last_message = ++w.clock;
    return w.messages[id] =
               message_record{id, std::move(text), w.threads[thread].id, std::move(user), now};
}

std::string post_message(mock_state& state, const std::string& ws, const std::string& thread_id,
                         std::string text, std::string user) {
    const auto now = std::chrono::system_clock::now();
    std::lock_guard lock(state.mtx);
    auto& w = workspace_locked(state, ws);
    const std::size_t thread = thread_at_locked(w, thread_id, now);
    // A pointer, not a reference: GCC 14's -Wdangling-reference takes a reference returned by a
    // call with temporary arguments (the strings) for one that may point into them.
    const auto* m = &add_message_locked(state, w, thread, std::move(text), std::move(user), now);
    emit_locked(state, "message.created", ws, w.threads[thread], *m);
    return m->id;
}

std::string create_thread(mock_state& state, const std::string& ws, std::string subject,
                          std::string text, std::string user) {
    const auto now = std::chrono::system_clock::now();
    std::lock_guard lock(state.mtx);
    auto& w = workspace_locked(state, ws);
    const std::size_t thread =
        add_thread_locked(w, "thr_" + state.random_id_locked(27), std::move(subject), false, now);
    const auto* m = &add_message_locked(state, w, thread, std::move(text), std::move(user), now);
    emit_locked(state, "thread.created", ws, w.threads[thread], *m);
    return w.threads[thread].id;
}

} // namespace glue::testing::detail
