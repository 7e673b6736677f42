// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TESTING_INTERNAL_MOCK_WORKSPACES_HPP
#define GLUE_TESTING_INTERNAL_MOCK_WORKSPACES_HPP

// The mock's in-memory workspaces: the app user, the groups, the threads and messages, as
// GraphQL objects; and what Glue's human users do in them. Functions named *_locked want
// state.mtx held.

#include "testing/mock_state.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace glue::testing::detail {

boost::json::object me_json(std::string_view ws);
boost::json::object group_json(std::string_view ws, std::size_t i);
boost::json::object thread_json(const thread_record& t);
boost::json::object user_json(std::string_view ws, std::string_view user);
boost::json::object message_json(std::string_view ws, const message_record& m);

/// The workspace's state, seeded with its threads on first use.
workspace_state& workspace_locked(mock_state& state, const std::string& ws);
/// Adds a thread; returns its index in w.threads.
std::size_t add_thread_locked(workspace_state& w, std::string id, std::string subject, bool chat,
                              std::chrono::system_clock::time_point when);
/// The index of thread `id`, adopted (created without a subject) when unknown.
std::size_t thread_at_locked(workspace_state& w, const std::string& id,
                             std::chrono::system_clock::time_point now);
/// Adds a message to w.threads[thread], which it makes the thread's latest.
message_record& add_message_locked(mock_state& state, workspace_state& w, std::size_t thread,
                                   std::string text, std::string user,
                                   std::chrono::system_clock::time_point now);

/// A human writes a message in a thread (message.created). Returns the message id.
std::string post_message(mock_state& state, const std::string& ws, const std::string& thread_id,
                         std::string text, std::string user);
/// A human starts a thread with a first message (thread.created). Returns the thread id.
std::string create_thread(mock_state& state, const std::string& ws, std::string subject,
                          std::string text, std::string user);

} // namespace glue::testing::detail

#endif
