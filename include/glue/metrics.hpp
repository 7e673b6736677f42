// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_METRICS_HPP
#define GLUE_METRICS_HPP

// What the token cache did, as counters (client::stats()) and as events (the on_token_event hook
// in client_config). Neither ever carries a token.

#include <glue/error.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
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
    unsigned retry_budget_left = 0;
    std::uint64_t fleet_batches = 0; ///< round trips to Redis for fleet permits
    bool fleet_fallback = false;     ///< Redis unreachable: the process keeps to its own share
};

/// Something the token cache did to one workspace.
struct token_event {
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
    kind what;
    std::string_view workspace;
    std::string_view reason;
    error_code error; ///< refresh_failure only
};

/// Receives token events. Called from the library's own strands and from callers' threads,
/// never inside a lock; it must be thread-safe and quick, and must not throw.
using token_event_hook = std::function<void(const token_event&)>;

} // namespace glue

#endif
