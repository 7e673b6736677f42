// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_WEBHOOK_HPP
#define GLUE_WEBHOOK_HPP

/// \file
/// Glue's outbound webhooks: POST {type, workspaceID, event{message, thread}} with
/// X-Glue-Event-Signature, the hex HMAC-SHA256 of the raw body under the app's webhook secret.
/// Verify the signature on the raw bytes first, answer 200 quickly (anything else is re-delivered
/// after 10 s, 1 min and 10 min), then parse.

#include <glue/export.hpp>

#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace glue::webhook {

/// The header that carries the signature.
inline constexpr std::string_view signature_field = "X-Glue-Event-Signature";

/// True iff `signature_header` is the HMAC-SHA256 of `raw_body` under `secret`, as 64 hex
/// digits in either case. The comparison takes the same time wherever the digits differ. Any
/// other length, a non-hex digit, or an empty secret (which anyone could sign with) is false.
GLUE_DECL bool verify(std::string_view raw_body, std::string_view signature_header,
                      std::string_view secret) noexcept;

/// The signature Glue sends for `raw_body`: lowercase hex HMAC-SHA256 under `secret`. For
/// tests and for servers that forward events.
GLUE_DECL std::string sign(std::string_view raw_body, std::string_view secret);

/// The event types Glue sends.
enum class event_type {
    message_created, ///< "message.created": a new message in an existing thread
    thread_created,  ///< "thread.created": a new thread with its first message
    unknown,         ///< any other type; event::type_name and event::body keep it whole
};

/// A Glue user as webhooks show it (the message's author).
struct user_object {
    std::string id;   ///< usr_…
    std::string name; ///< the display name; empty when the payload has none
};

/// A Message, as the GraphQL entity of that name.
struct message_object {
    std::string id;         ///< msg_…
    std::string text;       ///< the text, as sent
    std::string created_at; ///< as sent (ISO 8601)
    user_object user;       ///< the author; empty id when the payload names none
};

/// A Thread, as the GraphQL entity of that name.
struct thread_object {
    std::string id;          ///< thr_…
    std::string subject;     ///< empty when the payload has none
    std::string thread_type; ///< "thread" or "chat", as sent
};

/// One webhook delivery, parsed.
struct event {
    event_type type = event_type::unknown; ///< the type, as far as this library knows it
    std::string type_name;    ///< `type` as sent ("message.created", or an unknown type)
    std::string workspace_id; ///< `workspaceID`
    std::optional<message_object> message; ///< event.message, when present
    std::optional<thread_object> thread;   ///< event.thread, when present
    /// The whole payload, for fields not modelled above and for unknown types.
    boost::json::value body;
};

/// Parses a delivery's body (verify it first). Throws glue::error (errc::bad_response) for a
/// body that is not a JSON object with string `type` and `workspaceID`, for entity members
/// that are not objects, and for a message.created without `event.message` and `event.thread`
/// or a thread.created without `event.thread`, each with a string `id`.
GLUE_DECL event parse(std::string_view raw_body);

/// verify(), then parse(): throws glue::error (errc::bad_signature) without looking at the
/// body when the signature doesn't match.
GLUE_DECL event parse_verified(std::string_view raw_body, std::string_view signature_header,
                               std::string_view secret);

} // namespace glue::webhook

#endif
