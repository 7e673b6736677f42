// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_ERROR_HPP
#define GLUE_ERROR_HPP

/// \file
/// What failed calls throw (glue::error) and the codes they carry (glue::errc), with what the
/// server said (glue::diagnostics).

#include <glue/export.hpp>
#include <glue/types.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace glue {

/// The error codes of the completion-token operations and of error::code().
using error_code = boost::system::error_code;

/// Errors that glue itself reports. Cancellation, transport and TLS failures keep their Asio/SSL
/// codes instead. The numeric values are stable: new values are only ever appended. They start
/// at 1 because an error_code whose value is 0 means success.
enum class errc {
    invalid_argument = 1, ///< rejected before any I/O (bad id, control characters, oversized input)
    oauth_error,          ///< the token endpoint answered an RFC 6749 error (see oauth_error())
    unauthorized,         ///< 401 that survived the one refetch-and-retry
    forbidden,            ///< 403
    rate_limited,         ///< 429 after retries
    server_error,         ///< 5xx after retries
    http_error,      ///< any other unexpected HTTP status (redirects included: none are followed)
    bad_response,    ///< malformed, truncated or oversized body; wrong content
    graphql_error,   ///< the answer carried a non-empty `errors` array
    timeout,         ///< a deadline passed
    decode_error,    ///< `data` does not match the requested C++ type (see diagnostics::json_path)
    repeated_cursor, ///< pagination: the server handed out a cursor it had handed out before
    too_many_pages,  ///< pagination: more pages than the caller's limit
    bad_signature,   ///< a webhook's X-Glue-Event-Signature does not match its body
    state_mismatch,  ///< an OAuth callback's `state` is missing or not the one sent
    authorization_denied, ///< the OAuth callback carries an `error` (see oauth_error())
    missing_code,         ///< the OAuth callback has neither a `code` nor an `error`
    internal_error,       ///< an unexpected exception inside the library (out of memory is ENOMEM)
};

/// The category of glue::errc; its name is "glue".
GLUE_DECL const boost::system::error_category& glue_category() noexcept;

/// `e` as an error_code of glue_category(), so that `error_code ec = errc::timeout;` works.
inline error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), glue_category()};
}

/// One entry of a GraphQL response's `errors` array (GraphQL spec §7.1.2).
struct graphql_error {
    std::string message;            ///< `message`: the server's text
    boost::json::array path;        ///< `path`: field names and list indexes to the failed field
    boost::json::array locations;   ///< `locations`: `{line, column}` objects in the document
    boost::json::object extensions; ///< `extensions`, e.g. an error `code`
};

/// What the server said about a failure, kept apart from the client-generated `what()` text
/// because server text may echo input. Shared, immutable: every waiter of one token request
/// sees the same diagnostics object.
struct diagnostics {
    int http_status = 0; ///< 0: no HTTP response was received
    /// The status of a proxy's answer to CONNECT when the proxy refused it (http_status holds
    /// it too); 0: the failure did not come from a proxy.
    int proxy_status = 0;
    std::string oauth_error;                   ///< RFC 6749 §5.2 `error`
    std::string oauth_error_description;       ///< RFC 6749 §5.2 `error_description` (server text)
    std::vector<graphql_error> graphql_errors; ///< the GraphQL `errors` array, when one came
    boost::json::value partial_data;           ///< `data` that came with `errors`, if any
    std::chrono::seconds retry_after{-1}; ///< from Retry-After (at most a year); negative: absent
    /// errc::decode_error: where in the response the value that did not fit is, as a JSON
    /// Pointer-like path from `data`, such as "/groups/nodes/3/name".
    std::string json_path;
    /// The response headers captured (client_config::capture_response_headers), names in lower
    /// case, in the order received.
    std::vector<http_header> response_headers;
    /// The server's id for the request that failed: the first captured of x-request-id,
    /// x-amzn-requestid, cf-ray. Kept only when it is 1 to 128 visible ASCII characters; then
    /// what() holds "[request id: <id>]", so a log line can be matched with the server's.
    std::string request_id;
};

namespace detail {
struct error_access; ///< the library's way to set error::reason()
} // namespace detail

/// What every failed glue operation throws. `code()` is a glue::errc, or
/// boost::asio::error::operation_aborted for a cancelled call, or the Asio/SSL code of a
/// transport or TLS failure. `what()` holds only client-generated text: never a secret, a
/// token, or anything the server sent but its request id (diagnostics::request_id, checked to
/// be plain visible ASCII).
class GLUE_DECL error : public boost::system::system_error {
public:
    /// An error with code `ec`; `context` is client-generated text that must hold no secret
    /// and no server text. `diag` null: empty diagnostics. what() is
    /// "<context>: <code().message()>", a line for people: the code's category, value and
    /// source location stay in code() (`code().what()` shows them all). The library's own
    /// context is "glue::<call>[ (HTTP <status>)][: <reason()>][ [request id: <id>]]".
    error(error_code ec, std::string context, std::shared_ptr<const diagnostics> diag = {});

    /// "<context>: <code().message()>" (see the constructor).
    const char* what() const noexcept override;
    /// The client's own explanation of the failure, beyond code().message() (e.g. "the GraphQL
    /// response is not a JSON object"); empty when code().message() says it all. Part of what().
    const std::string& reason() const noexcept;

    /// The HTTP status of the response that caused the failure; 0 when there was none.
    int http_status() const noexcept;
    /// RFC 6749 `error` from the token endpoint (e.g. "invalid_client"); empty otherwise.
    const std::string& oauth_error() const noexcept;
    /// RFC 6749 `error_description`; server text, so it is not part of what().
    const std::string& oauth_error_description() const noexcept;
    /// Non-empty when the server answered with a GraphQL `errors` array.
    const std::vector<graphql_error>& graphql_errors() const noexcept;
    /// The `data` that came with `errors` (null when there was none).
    const boost::json::value& partial_data() const noexcept;
    /// Everything above in one shared object (never null).
    const std::shared_ptr<const diagnostics>& details() const noexcept { return diag_; }

private:
    friend struct detail::error_access;
    std::shared_ptr<const diagnostics> diag_;
    std::string what_, reason_;
};

} // namespace glue

namespace boost::system {
template <>
struct is_error_code_enum<glue::errc> : std::true_type {};
} // namespace boost::system

#endif
