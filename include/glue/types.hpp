// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_TYPES_HPP
#define GLUE_TYPES_HPP

/// \file
/// The values a client takes and gives: GraphQL requests and responses, access tokens, HTTP
/// headers.
#include <glue/export.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace glue {

/// An HTTP header field: a request's extra header (graphql_request::headers,
/// client_config::default_headers), or one captured from a response
/// (client_config::capture_response_headers, names then in lower case).
struct http_header {
    std::string name;  ///< the field name (case-insensitive on the wire)
    std::string value; ///< the field value, as sent or received
    /// Same name (compared exactly, case included) and same value.
    friend bool operator==(const http_header&, const http_header&) = default;
};

/// A workspace access token (OAuth2 client-credentials grant with subject = workspace id).
struct access_token {
    std::string value;      ///< the bearer token; a secret
    std::string token_type; ///< "Bearer"
    std::string user_id;    ///< the app's user in the workspace (usr_…), when the server sent it
    /// When the token expires, on the monotonic clock, anchored at the moment the token request
    /// was sent (so network delay can only make it expire early, never late).
    std::chrono::steady_clock::time_point expires_at;
};

/// Prints the token with its value redacted to at most its last 4 characters.
GLUE_DECL std::ostream& operator<<(std::ostream& os, const access_token& token);

/// A GraphQL request (GraphQL over HTTP): empty variables and operation_name are not sent.
///
/// Not an aggregate on purpose: GCC 12 miscompiles an aggregate temporary inside a co_await
/// expression (it copies it bitwise, so its strings point into freed memory), and
/// `co_await client.graphql(ws, {"{ me { id } }"})` is exactly where requests are written.
/// With these constructors that line is safe on every compiler.
struct graphql_request {
    std::string query;             ///< the GraphQL document
    boost::json::object variables; ///< the values of the document's variables
    std::string operation_name;    ///< which operation of the document to run

    /// Sending the request twice does no harm, so a mutation may be retried after a failure
    /// that leaves its fate unknown (a dropped connection, a 5xx). Queries are retried anyway,
    /// and so is a `sendMessage(input: $input)` whose input carries message.uniqueBy (and
    /// thread.threadBy when it creates a thread): Glue upserts those.
    bool idempotent = false;
    /// Overall deadline of this call; zero: client_config::request_timeout.
    std::chrono::milliseconds timeout{0};
    /// Attempts for this call; zero: client_config::graphql_retry_attempts.
    unsigned retry_attempts = 0;
    /// Non-empty: sent as the Bearer token instead of the workspace's client-credentials token,
    /// such as an installation's oauth::token_set::access_token. The cache is not consulted, so a
    /// 401 is not retried: it throws errc::unauthorized (refresh the set and call again).
    std::string access_token;
    /// Extra headers for this call's requests (a W3C `traceparent`, say), after
    /// client_config::default_headers. Refused with errc::invalid_argument before any I/O: a
    /// name that is not an HTTP token, a value with CR, LF, NUL or another control character
    /// but tab, and the names the client sets itself (Host, Authorization, Content-Length,
    /// Content-Type, Transfer-Encoding, Connection, ...; see docs/design.md, "Headers").
    std::vector<http_header> headers;

    /// An empty request; set query before sending it.
    graphql_request() = default;
    /// A request for `query` with `variables`, running `operation_name` (empty: the only one).
    graphql_request(std::string query, boost::json::object variables = {},
                    std::string operation_name = {})
        : query(std::move(query))
        , variables(std::move(variables))
        , operation_name(std::move(operation_name)) {}
};

/// Whether sending `req` twice can't do twice what it does, as graphql() judges it before
/// retrying a call whose outcome is unknown: a query, or a mutation whose every top-level field
/// is a `sendMessage(input: $var)` with message.uniqueBy in that variable (and thread.threadBy
/// when it creates a thread). `req.idempotent` is not considered.
GLUE_DECL bool safe_to_repeat(const graphql_request& req) noexcept;

/// GraphQL variables from JSON text (a command line's --variables, a file): an object, or
/// empty text or `null` for none. Throws glue::error (errc::invalid_argument) for text that is
/// not JSON or a value that is not an object (variables are always an object in GraphQL over
/// HTTP).
GLUE_DECL boost::json::object parse_variables(std::string_view json_text);

/// A complete GraphQL answer: one without `errors` (an answer with errors throws glue::error).
struct graphql_response {
    boost::json::value data;        ///< `data`: the result
    boost::json::object extensions; ///< `extensions`, if the server sent any
};

} // namespace glue

#endif
