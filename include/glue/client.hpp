// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_CLIENT_HPP
#define GLUE_CLIENT_HPP

#include <glue/config.hpp>
#include <glue/error.hpp>
#include <glue/metrics.hpp>
#include <glue/types.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string_view>

namespace glue {

namespace detail {
class client_impl;
}

/// A client of Glue's API for one app (one client_id): per-workspace access tokens through a
/// single-flight cache, and GraphQL calls over a pool of keep-alive connections.
///
/// \par Thread safety
/// Safe to call from coroutines running on several threads of one io_context. Completions run
/// on the awaiting coroutine's executor, never inside a lock.
///
/// \par Per-operation cancellation
/// Both operations honour the awaiting coroutine's cancellation slot (what `||` and co_spawn
/// with a bound slot emit), for every cancellation type. A cancelled call completes at once
/// with boost::asio::error::operation_aborted. Cancelling a call never affects other calls: a
/// token request it was waiting for goes on for the others, and a connection it was using is
/// closed rather than reused. As with any Asio operation, emit the cancellation on the
/// coroutine's own executor (use a strand when the io_context runs on several threads).
///
/// \par Lifetime
/// Destroying the client (or calling shutdown()) completes every call still in flight with
/// operation_aborted and closes its connections. An idle client keeps no work on the
/// io_context, so io_context::run() returns once the last call has completed.
class client {
public:
    /// Throws glue::error (errc::invalid_argument) if the configuration can't be used:
    /// an unparseable api_url, `http://` to a non-loopback host without allow_insecure_http,
    /// missing credentials, control characters in a credential, an unreadable ca_file.
    client(boost::asio::any_io_executor ex, client_config cfg);
    ~client();
    client(client&&) noexcept;
    client& operator=(client&&) noexcept;

    /// An access token for the workspace: from the cache when it holds a usable one, else from
    /// the one token request that all concurrent callers for the workspace share.
    ///
    /// Throws glue::error: errc::invalid_argument (before any I/O) for an empty, overlong or
    /// malformed id; errc::oauth_error with oauth_error() when the token endpoint refuses;
    /// errc::timeout; operation_aborted when cancelled; the transport's code otherwise.
    /// `workspace_id` is referenced until the returned awaitable completes.
    boost::asio::awaitable<access_token> fetch_token(std::string_view workspace_id);

    /// Runs a GraphQL operation in the workspace with its access token. A 401 drops the token
    /// (only if it is still the cached one), fetches a new one and retries once.
    ///
    /// Throws glue::error: errc::graphql_error with graphql_errors() and partial_data() when
    /// the answer carries `errors` (also for a 4xx with a GraphQL errors envelope);
    /// errc::unauthorized, forbidden, rate_limited, server_error, http_error with
    /// http_status(); errc::bad_response for a malformed, truncated or oversized body;
    /// errc::timeout when request_timeout passes; operation_aborted when cancelled.
    /// `workspace_id` is referenced until the returned awaitable completes.
    boost::asio::awaitable<graphql_response> graphql(std::string_view workspace_id,
                                                     graphql_request request);

    /// Completes every call in flight with operation_aborted, closes all connections, and makes
    /// later calls fail the same way. Thread-safe; also done by the destructor.
    void shutdown();

    /// The token cache's counters (see <glue/metrics.hpp>). Thread-safe.
    token_cache_stats stats() const;

    boost::asio::any_io_executor get_executor() const noexcept;
    const client_config& config() const noexcept;

private:
    std::shared_ptr<detail::client_impl> impl_;
};

} // namespace glue

#endif
