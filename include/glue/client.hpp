// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_CLIENT_HPP
#define GLUE_CLIENT_HPP

/// \file
/// glue::client: access tokens per workspace and GraphQL calls, as coroutines or with any
/// Asio completion token.

#include <glue/config.hpp>
#include <glue/decode.hpp>
#include <glue/error.hpp>
#include <glue/export.hpp>
#include <glue/metrics.hpp>
#include <glue/oauth.hpp>
#include <glue/types.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace glue {

namespace detail {
class client_impl;
}
class blocking_client;

/// A client of Glue's API for one app (one client_id): per-workspace access tokens through a
/// single-flight cache, and GraphQL calls over a pool of keep-alive connections.
///
/// \par Thread safety
/// Safe to call from coroutines running on several threads of one io_context. Completions run
/// on the awaiting coroutine's executor, never inside a lock.
///
/// \par Per-operation cancellation
/// Both operations honour terminal cancellation from the awaiting coroutine's cancellation slot
/// (what `||` and co_spawn with a bound slot deliver under a coroutine's default filter); the
/// async_ forms below honour every cancellation type. A cancelled call completes at once
/// with boost::asio::error::operation_aborted. Cancelling a call never affects other calls: a
/// token request it was waiting for goes on for the others, and a connection it was using is
/// closed rather than reused. As with any Asio operation, emit the cancellation on the
/// coroutine's own executor (use a strand when the io_context runs on several threads).
///
/// \par Lifetime
/// Destroying the client (or calling shutdown()) completes every call still in flight with
/// operation_aborted and closes its connections. An idle client keeps no work on the
/// io_context, so io_context::run() returns once the last call has completed.
class GLUE_DECL client {
public:
    /// A client configured by `cfg`, doing its I/O on `ex`.
    ///
    /// Throws glue::error (errc::invalid_argument) if the configuration can't be used:
    /// an unparseable api_url, `http://` to a non-loopback host without allow_insecure_http,
    /// missing credentials, control characters in a credential, an unreadable ca_file.
    client(boost::asio::any_io_executor ex, client_config cfg);
    /// Shuts the client down (see shutdown()).
    ~client();
    /// Takes over `other`'s cache, connections and calls in flight. `other` is left empty: its
    /// calls fail with errc::invalid_argument, and its figures are zeros.
    client(client&& other) noexcept;
    /// Shuts this client down (see shutdown()), then takes over `other` as the move constructor
    /// does.
    client& operator=(client&& other) noexcept;

    /// An access token for the workspace: from the cache when it holds a usable one, else from
    /// the one token request that all concurrent callers for the workspace share.
    ///
    /// Throws glue::error: errc::invalid_argument (before any I/O) for an empty, overlong or
    /// malformed id; errc::oauth_error with oauth_error() when the token endpoint refuses;
    /// errc::timeout; operation_aborted when cancelled; the transport's code otherwise.
    /// `workspace_id` is copied: the returned awaitable may be started after it is gone.
    boost::asio::awaitable<access_token> fetch_token(std::string_view workspace_id);

    /// Runs a GraphQL operation in the workspace with its access token. A 401 drops the token
    /// (only if it is still the cached one), fetches a new one and retries once.
    ///
    /// Throws glue::error: errc::graphql_error with graphql_errors() and partial_data() when
    /// the answer carries `errors` (also for a 4xx with a GraphQL errors envelope);
    /// errc::unauthorized, forbidden, rate_limited, server_error, http_error with
    /// http_status(); errc::bad_response for a malformed, truncated or oversized body;
    /// errc::timeout when request_timeout passes; operation_aborted when cancelled.
    /// `workspace_id` is copied: the returned awaitable may be started after it is gone.
    boost::asio::awaitable<graphql_response> graphql(std::string_view workspace_id,
                                                     graphql_request request);

    /// graphql() decoding `data` into T with glue::decode (Boost.JSON conversions: described
    /// structs, containers, std::optional, or your own tag_invoke). Throws what graphql()
    /// throws, and glue::error with errc::decode_error naming the JSON path of a value that
    /// doesn't fit.
    template <class T>
    boost::asio::awaitable<T> graphql(std::string_view workspace_id, graphql_request request) {
        graphql_response r = co_await graphql(workspace_id, std::move(request));
        co_return glue::decode<T>(r.data);
    }

    /// \name The authorization-code flow (see <glue/oauth.hpp>)
    /// Both go to the token endpoint through the same connections, limits and error mapping as
    /// fetch_token(), within token_request_timeout, and honour the awaiting coroutine's
    /// cancellation. Their arguments are copied. A code (and a rotating refresh token) works
    /// once, so neither request is sent twice unless it certainly never reached the server
    /// (a refused connection: then up to token_retry_attempts).
    ///
    /// Throws glue::error: errc::invalid_argument before any I/O for an empty, overlong (over
    /// 4096) or non-printable code or refresh token, a missing redirect_uri or a malformed
    /// verifier; errc::oauth_error with oauth_error() when the server refuses ("invalid_grant":
    /// an unknown, expired or used code or refresh token, another redirect_uri, a wrong
    /// verifier); errc::bad_response for an answer without a usable access_token;
    /// errc::timeout; operation_aborted when cancelled; the transport's code otherwise.
    /// @{

    /// Exchanges an authorization code (oauth::parse_callback) for the installation's token set
    /// (RFC 6749 §4.1.3). `redirect_uri` must be the authorization request's (empty:
    /// client_config::redirect_uri); `code_verifier` is the PKCE verifier, if PKCE was used.
    boost::asio::awaitable<oauth::token_set> exchange_code(std::string_view code,
                                                           std::string_view redirect_uri = {},
                                                           std::string_view code_verifier = {});

    /// A new token set for a refresh token (RFC 6749 §6). The answer may carry a new refresh
    /// token that replaces the old one: store the whole set.
    boost::asio::awaitable<oauth::token_set> refresh(std::string_view refresh_token);
    /// @}

    /// \name Any completion token
    /// fetch_token() and graphql() in the Asio style, for callbacks, `use_future`, `deferred`,
    /// `use_awaitable`, `as_tuple(...)` and the rest. The handler's signature is
    /// `void(glue::error_code, T)`: failures come as an error_code, never as an exception. Pass a
    /// glue::diagnostics to get what the server said (HTTP status, OAuth error, GraphQL errors
    /// and partial data); it is written before the handler runs and must outlive the operation.
    ///
    /// The workspace id and request are copied, so nothing needs to outlive the call. The
    /// operation runs on the handler's associated executor (by default the client's) and
    /// completes there.
    ///
    /// Per-operation cancellation: the handler's associated cancellation slot is honoured for
    /// terminal, partial and total cancellation alike. A cancelled operation completes promptly
    /// with boost::asio::error::operation_aborted; the connection it was using is closed, not
    /// reused, and a token request it was waiting for goes on for other callers. Emit the signal
    /// on the handler's executor, where the operation completes.
    /// @{

    /// fetch_token(), completing with `void(glue::error_code, glue::access_token)`.
    template <class CompletionToken>
    auto async_fetch_token(std::string_view workspace_id, CompletionToken&& token) {
        return async_fetch_token_impl(workspace_id, nullptr, std::forward<CompletionToken>(token));
    }
    /// fetch_token(), completing with `void(glue::error_code, glue::access_token)`; `diag` gets
    /// what the server said about a failure (emptied on success).
    template <class CompletionToken>
    auto async_fetch_token(std::string_view workspace_id, diagnostics& diag,
                           CompletionToken&& token) {
        return async_fetch_token_impl(workspace_id, &diag, std::forward<CompletionToken>(token));
    }
    /// graphql(), completing with `void(glue::error_code, glue::graphql_response)`.
    template <class CompletionToken>
    auto async_graphql(std::string_view workspace_id, graphql_request request,
                       CompletionToken&& token) {
        return async_graphql_impl(workspace_id, std::move(request), nullptr,
                                  std::forward<CompletionToken>(token));
    }
    /// graphql(), completing with `void(glue::error_code, glue::graphql_response)`; `diag` gets
    /// what the server said about a failure (emptied on success).
    template <class CompletionToken>
    auto async_graphql(std::string_view workspace_id, graphql_request request, diagnostics& diag,
                       CompletionToken&& token) {
        return async_graphql_impl(workspace_id, std::move(request), &diag,
                                  std::forward<CompletionToken>(token));
    }
    /// @}

    /// Completes every call in flight with operation_aborted, closes all connections, and makes
    /// later calls fail the same way. Thread-safe; also done by the destructor.
    void shutdown();

    /// The token cache's counters (see <glue/metrics.hpp>). Thread-safe.
    token_cache_stats stats() const;
    /// What GraphQL calls met: throttling, the rate limits, retries. Thread-safe.
    throttle_stats throttling() const;
    /// GraphQL calls, attempts, retries and outcomes, latency histograms, and the connection
    /// pool (see <glue/metrics.hpp>). Thread-safe.
    client_metrics metrics() const;

    /// The executor the client was made with (an empty one after a move).
    boost::asio::any_io_executor get_executor() const noexcept;
    /// The configuration the client was made with (the defaults after a move).
    const client_config& config() const noexcept;

private:
    // Runs the implementation's operations itself, so that their failures cross threads as
    // values and become a glue::error on the waiting thread.
    friend class blocking_client;

    using token_handler = boost::asio::any_completion_handler<void(error_code, access_token)>;
    using graphql_handler = boost::asio::any_completion_handler<void(error_code, graphql_response)>;

    // Compiled once, in src/: the templates above only wrap the handler.
    // The operations hold the implementation, so a deferred operation initiated after the
    // client was destroyed completes with operation_aborted (a moved-from client: with
    // errc::invalid_argument).
    static void launch_fetch_token(std::shared_ptr<detail::client_impl> impl,
                                   std::string workspace_id, diagnostics* diag, token_handler h);
    static void launch_graphql(std::shared_ptr<detail::client_impl> impl, std::string workspace_id,
                               graphql_request request, diagnostics* diag, graphql_handler h);

    template <class CompletionToken>
    auto async_fetch_token_impl(std::string_view workspace_id, diagnostics* diag,
                                CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, void(error_code, access_token)>(
            [impl = impl_](auto handler, std::string ws, diagnostics* d) {
                launch_fetch_token(impl, std::move(ws), d, token_handler(std::move(handler)));
            },
            token, std::string(workspace_id), diag);
    }

    template <class CompletionToken>
    auto async_graphql_impl(std::string_view workspace_id, graphql_request request,
                            diagnostics* diag, CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, void(error_code, graphql_response)>(
            [impl = impl_](auto handler, std::string ws, graphql_request req, diagnostics* d) {
                launch_graphql(impl, std::move(ws), std::move(req), d,
                               graphql_handler(std::move(handler)));
            },
            token, std::string(workspace_id), std::move(request), diag);
    }

    std::shared_ptr<detail::client_impl> impl_;
};

} // namespace glue

#endif
