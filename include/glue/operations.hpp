// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_OPERATIONS_HPP
#define GLUE_OPERATIONS_HPP

/// \file
/// Typed helpers for the operations Glue documents. Each one builds a GraphQL request and runs it
/// through client::graphql(), so retries, 401 handling and errors are the raw call's. Fields Glue
/// leaves undocumented are optional here.

#include <glue/client.hpp>
#include <glue/export.hpp>
#include <glue/pagination.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/describe/class.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace glue {

/// A Glue user (`usr_…`), e.g. the app's own user in a workspace.
struct user {
    std::string id;                  ///< usr_…
    std::optional<std::string> name; ///< the display name, when Glue gives one
};

/// A group (`grp_…`; a workspace id stands for its General group).
struct group {
    std::string id;   ///< grp_…, or the workspace id for its General group
    std::string name; ///< the name people see in Glue
};

/// A thread or chat (`thr_…`).
struct thread {
    std::string id;                        ///< thr_…
    std::optional<std::string> subject;    ///< the subject line, when Glue gives one
    std::optional<std::string> type;       ///< `threadType`: "thread" or "chat"
    std::optional<bool> persistent_chat;   ///< `isPeristentChat` (Glue's spelling)
    std::optional<std::string> created_at; ///< `createdAt`, ISO 8601
};

/// A message (`msg_…`).
struct message {
    std::string id;   ///< msg_…
    std::string text; ///< markdown
};

BOOST_DESCRIBE_STRUCT(user, (), (id, name))
BOOST_DESCRIBE_STRUCT(group, (), (id, name))
BOOST_DESCRIBE_STRUCT(thread, (), (id, subject, type, persistent_chat, created_at))
BOOST_DESCRIBE_STRUCT(message, (), (id, text))

/// The order of threads(): by creation (oldest first) or by latest message (newest first).
enum class thread_order { created_at, last_message };

/// sendMessage's input. Give thread_id to post into an existing thread, or `thread` to post to
/// recipients: without a subject it goes to their chat, with one it starts a thread.
struct send_message_input {
    /// Where a message goes without a thread_id: its recipients, and a subject to start a thread.
    struct thread_input {
        std::vector<std::string> recipients; ///< user, group or workspace ids
        std::string subject;                 ///< empty: none
        std::string thread_by;               ///< upsert key for the thread; empty: none
    };
    /// The message itself.
    struct message_input {
        std::string text; ///< markdown
        /// Upsert key: a repeat with the same key updates the message instead of posting it
        /// again. With it (and thread_by when a thread is created), the call is idempotent
        /// and retried like a query.
        std::string unique_by;
        std::vector<std::string> attachments; ///< fil_… ids
    };

    std::string thread_id;              ///< the thread to post into (thr_…); empty: see `thread`
    std::optional<thread_input> thread; ///< the recipients, when thread_id is empty
    message_input message;              ///< the message
};

/// What sendMessage answers with.
struct send_message_result {
    glue::thread thread;   ///< the thread the message is in (created for it, perhaps)
    glue::message message; ///< the message posted (or updated, by an upsert)
};
BOOST_DESCRIBE_STRUCT(send_message_result, (), (thread, message))

/// The app's own user in the workspace (`me`).
GLUE_DECL boost::asio::awaitable<user> me(client& c, std::string_view workspace_id);

/// Every group in the workspace, page by page.
GLUE_DECL boost::asio::awaitable<std::vector<group>>
groups(client& c, std::string_view workspace_id, page_options opts = {});

/// Every thread the app can see, in `order`, page by page.
GLUE_DECL boost::asio::awaitable<std::vector<thread>>
threads(client& c, std::string_view workspace_id, thread_order order = thread_order::created_at,
        page_options opts = {});

/// Relay's node(id:): the object with that id with `selection` selected (GraphQL fields,
/// inline fragments such as `... on Thread { subject }`), or null when there is none.
GLUE_DECL boost::asio::awaitable<boost::json::value>
node(client& c, std::string_view workspace_id, std::string_view id,
     std::string_view selection = "__typename id");

/// Posts a message (sendMessage). Throws glue::error (errc::invalid_argument) before any I/O
/// for empty text, neither thread_id nor thread recipients, or an id with a space or a control
/// character.
GLUE_DECL boost::asio::awaitable<send_message_result>
send_message(client& c, std::string_view workspace_id, send_message_input input);

} // namespace glue

#endif
