// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_METRICS_HPP
#define GLUE_METRICS_HPP

/// \file
/// What the client did, as counters and histograms (client::stats(), client::throttling(),
/// client::metrics()) and as events (the on_token_event and on_request_event hooks in
/// client_config). None of them ever carries a token, a secret, a variable's value or query text.

#include <glue/error.hpp>
#include <glue/export.hpp>
#include <glue/types.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <span>
#include <string_view>

namespace glue {

/// Counters since the client was made; entries and in_flight are current values.
struct token_cache_stats {
    std::uint64_t hits = 0;               ///< calls that found a usable token
    std::uint64_t misses = 0;             ///< calls that had to wait for (or start) a token request
    std::uint64_t flights = 0;            ///< token flights started (each may retry inside)
    std::uint64_t waiters_joined = 0;     ///< calls that waited for a flight (sum over flights)
    std::uint64_t refresh_aheads = 0;     ///< flights started early, while the token was still good
    std::uint64_t token_requests = 0;     ///< HTTP requests to the token endpoint
    std::uint64_t failures_transient = 0; ///< failed requests: transport, timeout, 5xx, bad body
    std::uint64_t failures_permanent = 0; ///< failed requests: OAuth errors and other 4xx
    std::uint64_t failures_rate_limited = 0; ///< failed requests: 429, or 503 with Retry-After
    std::uint64_t flight_timeouts = 0;       ///< flights that ran out of token_request_timeout
    std::uint64_t remembered_error_hits = 0; ///< calls answered at once with a remembered error
    std::uint64_t invalidations_applied = 0; ///< 401s that dropped the cached token
    std::uint64_t invalidations_noop = 0;    ///< 401s for a token no longer cached, or throttled
    std::uint64_t evictions = 0;             ///< entries dropped to stay within the bound
    std::size_t entries = 0;                 ///< workspaces with an entry now
    std::size_t in_flight = 0;               ///< token requests on the wire now
    // With a shared cache (client_config::shared_cache_url), per flight:
    std::uint64_t shared_hits = 0;        ///< took a token another process had stored
    std::uint64_t shared_leases = 0;      ///< held the workspace's lease and requested the token
    std::uint64_t shared_unavailable = 0; ///< found the shared cache down or slow: in-process
};

/// What GraphQL calls met on their way out: throttling, the rate limits, retries
/// (client::throttling()). Counters since the client was made; the rates are current values.
struct throttle_stats {
    std::uint64_t requests_sent = 0;    ///< GraphQL requests written, every attempt counted
    std::uint64_t throttled = 0;        ///< answers 429, or 503 with Retry-After
    std::uint64_t retries = 0;          ///< attempts after a call's first
    std::uint64_t retries_denied = 0;   ///< retries the budget refused: the failure was the answer
    std::uint64_t workspace_pauses = 0; ///< pauses of one workspace's calls (429s)
    std::uint64_t app_pauses = 0;       ///< pauses of every call (see app_throttle_workspaces)
    /// Calls that failed before sending because their deadline came first: inside a pause, or
    /// before their turn of a rate limit.
    std::uint64_t calls_failed_waiting = 0;
    /// Time calls spent waiting for a pause to end or for their turn, summed over calls.
    std::uint64_t wait_ns = 0;
    double send_rate = 0;      ///< requests per second sent, over the last second
    double app_rate_limit = 0; ///< the app-wide rate in force (configured or adaptive); 0: none
    /// Units left in the retry budget (client_config::retry_budget when full; 0 without one).
    unsigned retry_budget_left = 0;
    std::uint64_t fleet_batches = 0; ///< round trips to Redis for fleet permits
    bool fleet_fallback = false;     ///< Redis unreachable: the process keeps to its own share
};

/// Something the token cache did to one workspace.
struct token_event {
    /// What happened.
    enum class kind {
        refresh_start,        ///< a flight started; reason: "miss", "refresh_ahead", "forced"
        refresh_success,      ///< a flight got a token; reason as at its start
        refresh_failure,      ///< a flight failed; reason as at its start, `error` says why
        invalidation_applied, ///< a 401 dropped the cached token; reason "401"
        invalidation_noop,    ///< a 401 changed nothing; reason "stale" or "throttled"
        eviction,             ///< the entry was dropped; reason "lru" or "expired"
        /// The shared cache became unreachable (once per outage; workspace empty): flights
        /// request their tokens in-process until it is back. reason: what failed.
        shared_cache_down,
        /// The shared cache is connected (at first, and after an outage); workspace empty.
        shared_cache_up,
        /// The fleet-wide rate limit (client_config::fleet_rate_limit) can't reach Redis (once
        /// per outage; workspace empty): this process keeps to its own share until it is back.
        fleet_rate_down,
        /// The fleet-wide rate limit reaches Redis again after an outage; workspace empty.
        fleet_rate_up,
    };
    kind what;                  ///< what happened
    std::string_view workspace; ///< the workspace; empty for shared_cache_* and fleet_rate_*
    std::string_view reason;    ///< why, in a word (see kind); valid during the hook's call only
    error_code error;           ///< refresh_failure only
};

/// Receives token events. Called from the library's own strands and from callers' threads,
/// never inside a lock; it must be thread-safe and quick, and must not throw.
using token_event_hook = std::function<void(const token_event&)>;

/// Why a GraphQL call sent its request again.
enum class retry_reason {
    throttled,    ///< 429
    unavailable,  ///< 503
    server_error, ///< 500, 502, 504
    network,      ///< the transport failed (refused, reset, closed early, timed out)
    unauthorized, ///< 401: the token was dropped and a fresh one fetched (once per call)
};
/// The number of retry_reason values (client_metrics::retries has one counter each).
inline constexpr std::size_t retry_reason_count = 5;
/// "throttled", "unavailable", "server_error", "network", "unauthorized".
GLUE_DECL std::string_view to_string(retry_reason r) noexcept;

/// How a GraphQL call ended, by class.
enum class call_outcome {
    ok,               ///< data without errors
    graphql_error,    ///< errc::graphql_error
    rejected,         ///< a 4xx: errc::unauthorized, forbidden, http_error
    rate_limited,     ///< errc::rate_limited (a 429, or refused before sending by a pause or limit)
    server_error,     ///< errc::server_error
    bad_response,     ///< errc::bad_response
    timeout,          ///< errc::timeout
    cancelled,        ///< operation_aborted
    network,          ///< a transport or TLS failure
    invalid_argument, ///< refused before any I/O
    other, ///< anything else (errc::internal_error, no memory, a token request's OAuth error)
};
/// The number of call_outcome values (client_metrics::outcomes has one counter each).
inline constexpr std::size_t call_outcome_count = 11;
/// "ok", "graphql_error", "rejected", "rate_limited", ... as the enumerators are spelled.
GLUE_DECL std::string_view to_string(call_outcome o) noexcept;
/// The class of a call's failure (`ec` empty: ok).
GLUE_DECL call_outcome classify_outcome(error_code ec) noexcept;

/// Why the pool closed a connection.
enum class close_reason {
    server_close, ///< the server ended it: Connection: close, or no keep-alive possible
    stale,        ///< found closed (or with unexpected bytes) when taken from the idle list
    error,        ///< an exchange failed on it (or its answer left it unusable)
    cancelled,    ///< the call using it was cancelled or ran out of time mid-exchange
    aged,         ///< idle longer than connection_idle_timeout, or past connection_max_lifetime
    shutdown,     ///< the client shut down
};
/// The number of close_reason values (pool_stats::closes has one counter each).
inline constexpr std::size_t close_reason_count = 6;
/// "server_close", "stale", "error", "cancelled", "aged", "shutdown".
GLUE_DECL std::string_view to_string(close_reason r) noexcept;

/// Durations with fixed log-scale buckets: 1, 2 and 5 per decade from 10 µs to 100 s, and one
/// for the rest. A snapshot: the client records into its own, without allocating or locking.
struct GLUE_DECL latency_histogram {
    /// The buckets' upper bounds, in seconds (inclusive, as Prometheus' `le`).
    static constexpr std::array<double, 22> bounds = {
        10e-6, 20e-6,  50e-6,  100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 20e-3,
        50e-3, 100e-3, 200e-3, 500e-3, 1.0,    2.0,    5.0,  10.0, 20.0, 50.0,  100.0};
    /// Durations per bucket (not cumulative); the last counts those above every bound.
    std::array<std::uint64_t, bounds.size() + 1> buckets{};
    std::uint64_t count = 0; ///< durations recorded: the sum of `buckets`
    double sum_seconds = 0;  ///< their sum, in seconds

    /// The q-quantile (q in [0, 1]) in seconds, interpolated inside its bucket (geometrically:
    /// the buckets are log-scale); 0 when empty. Above the last bound: that bound.
    double quantile(double q) const noexcept;
};

/// The connection pool as it is now, and what it did since the client was made.
struct pool_stats {
    std::size_t open = 0; ///< connections open (idle or leased)
    std::size_t idle = 0; ///< kept for the next request (HTTP/2: carrying none)
    /// Exchanges in progress: one per HTTP/1.1 connection in use, one per HTTP/2 stream (so
    /// it may exceed `open`).
    std::size_t leased = 0;
    std::size_t http2 = 0;              ///< of `open`: speaking HTTP/2
    std::size_t connecting = 0;         ///< being opened
    std::size_t waiting = 0;            ///< requests waiting for a connection
    std::uint64_t connects = 0;         ///< connections opened successfully
    std::uint64_t connect_failures = 0; ///< attempts to open one that failed or timed out
    std::uint64_t tls_handshakes = 0;   ///< TLS handshakes completed
    /// Requests sent again on a new connection after a kept-alive one failed before answering
    /// (the server closed it as it was reused).
    std::uint64_t resends = 0;
    std::array<std::uint64_t, close_reason_count> closes{}; ///< by close_reason
    /// Connections closed for reason `r`.
    std::uint64_t closed(close_reason r) const noexcept {
        return closes[static_cast<std::size_t>(r)];
    }
};

/// GraphQL calls and the transport under them (client::metrics()). Counters since the client
/// was made; pool's gauges as they are now. With client_config::collect_metrics off, only
/// `pool` is kept.
struct client_metrics {
    std::uint64_t calls = 0;    ///< GraphQL calls that ended, however
    std::uint64_t attempts = 0; ///< GraphQL requests sent (a call's retries included)
    std::array<std::uint64_t, retry_reason_count> retries{};  ///< by retry_reason
    std::array<std::uint64_t, call_outcome_count> outcomes{}; ///< by call_outcome
    /// From a call's start to its end: token, throttling, connection, exchanges, retries.
    latency_histogram call_duration;
    /// One request written and its response read (GraphQL and token requests alike).
    latency_histogram exchange_duration;
    pool_stats pool; ///< the connection pool (kept with collect_metrics off too)

    /// Requests sent again for reason `r`.
    std::uint64_t retried(retry_reason r) const noexcept {
        return retries[static_cast<std::size_t>(r)];
    }
    /// Calls that ended with outcome `o`.
    std::uint64_t ended(call_outcome o) const noexcept {
        return outcomes[static_cast<std::size_t>(o)];
    }
};

/// One request's attempt, as it ended (client_config::on_request_event): a GraphQL call's every
/// attempt, and every request to the token endpoint. Times are from the steady clock; the
/// strings and headers are valid only during the hook's call.
///
/// Reading the time split: `total` is the attempt from its start (the call's start, or the end
/// of the previous attempt) to its end, and is the sum of the parts below, up to a few
/// microseconds of the library's own work:
/// backoff + token_wait + throttle_wait + connection_wait + exchange. connection_wait includes
/// opening a new connection (dns + tcp + tunnel + tls, when `new_connection`) if this request
/// waited for it to open.
struct request_event {
    /// Where a request goes.
    enum class endpoint {
        graphql, ///< /public/graphql
        token,   ///< /oauth/token (a workspace token, or an authorization-code or refresh grant)
    };
    endpoint target = endpoint::graphql; ///< the endpoint the request went to
    std::string_view workspace;          ///< empty for the authorization-code and refresh grants
    std::string_view operation;          ///< graphql_request::operation_name; empty when not given
    /// The request's number in its call, from 1: retries and a 401's second request count (a
    /// token flight's requests are numbered within the flight).
    unsigned attempt = 1;
    /// The request was written, at least in part. False: the attempt ended before: no token
    /// could be had, its deadline came inside a pause or before a connection, it was cancelled.
    bool sent = false;
    int http_status = 0; ///< the response's status; 0: none came
    /// Why the attempt got no response (a transport failure, timeout, operation_aborted), or
    /// for the last attempt of a failed call, the call's failure. Empty: a response came and,
    /// if `last`, the call succeeded.
    error_code error;
    /// What the client does next: send again (`retry`, after `retry_delay`, for `reason`) or
    /// not. Token requests: retries are the token cache's (token_event), never set here.
    bool retry = false;
    retry_reason reason = retry_reason::network; ///< why the client sends again (with `retry`)
    std::chrono::nanoseconds retry_delay{0};     ///< how long it waits first (with `retry`)
    bool last = false;                           ///< the call ends with this attempt
    bool new_connection = false;      ///< sent on a connection opened for it, not a kept-alive one
    std::uint64_t bytes_sent = 0;     ///< the request as written (header and body)
    std::uint64_t bytes_received = 0; ///< the response as received (before decompression)

    /// Where the attempt's time went (see "Reading the time split" above).
    struct time_split {
        std::chrono::nanoseconds backoff{0};    ///< waiting before a retry
        std::chrono::nanoseconds token_wait{0}; ///< waiting for the workspace's token
        /// Waiting for a server-ordered pause to end or for a turn of the rate limits.
        std::chrono::nanoseconds throttle_wait{0};
        /// From asking the pool for a connection to having one (opening it included).
        std::chrono::nanoseconds connection_wait{0};
        // Opening a new connection (new_connection only):
        std::chrono::nanoseconds dns{0};      ///< name resolution (0 for an IP address)
        std::chrono::nanoseconds tcp{0};      ///< TCP connect (to the proxy, with one)
        std::chrono::nanoseconds tunnel{0};   ///< the proxy's CONNECT
        std::chrono::nanoseconds tls{0};      ///< TLS handshake
        std::chrono::nanoseconds exchange{0}; ///< writing the request and reading the response
        /// The whole attempt: backoff + token_wait + throttle_wait + connection_wait + exchange.
        std::chrono::nanoseconds total{0};
    } time; ///< where this attempt's time went

    /// The server's id for the request: the first captured of x-request-id, x-amzn-requestid,
    /// cf-ray (client_config::capture_response_headers); empty when none came.
    std::string_view request_id;
    /// The response headers captured (client_config::capture_response_headers), names in lower
    /// case, in the order received.
    std::span<const http_header> response_headers;
};

/// One line for a person or a log, nothing secret in it (the fields above only):
///
///     POST /public/graphql ws=wks_… op=Me attempt=1 status=200 next=done conn=new
///     sent=312B received=845B total=3.21ms backoff=0ms token=1.02ms throttle=0ms
///     connection=0.91ms (dns=0.05ms tcp=0.12ms tls=0.61ms) exchange=1.20ms request_id=req_12
///
/// (one line, without a trailing newline), with `error=<message>` after the status when there
/// is one, `next=retry:<reason>:<delay>` when the client sends again, and the connect steps
/// only for a new connection.
GLUE_DECL std::ostream& operator<<(std::ostream& os, const request_event& e);

/// Receives request events, under the same rules as token_event_hook: called from the
/// library's strands and callers' threads, never inside a lock and never after the client is
/// shut down or destroyed; it must be thread-safe and quick, and must not throw.
using request_event_hook = std::function<void(const request_event&)>;

} // namespace glue

#endif
