// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_CLIENT_GRAPHQL_CALL_HPP
#define GLUE_CLIENT_GRAPHQL_CALL_HPP

// A GraphQL call's decisions without its I/O: when to get a token, when to send again and after
// how long, what a 401 does, and when the call is over. The coroutine that owns a graphql_call
// carries out each action and resumes it with what happened; time and the jitter of a backoff
// come in with the events, so the unit reads no clock and draws nothing.
//
// The OAuth grants (authorization code, refresh token) use the same steps with a token of their
// own and not idempotent: a code or a rotating refresh token works once, so their request is sent
// again only when it certainly never left.

#include "protocol/http_message.hpp"
#include "support/clock.hpp"
#include "support/outcome.hpp"
#include "throttle/retry_budget.hpp"

#include <chrono>
#include <optional>
#include <variant>

namespace glue {
struct client_config;
struct graphql_request;
} // namespace glue

namespace glue::detail {

/// What one call may do: how often it sends, how long it waits between sends, until when.
struct call_settings {
    unsigned attempts = 1; ///< sends that count (1: no retry); declined sends and a 401 don't
    std::chrono::nanoseconds base_delay{}; ///< backoff before the second attempt, doubling after
    std::chrono::nanoseconds max_delay{};  ///< the backoff's cap (before jitter)
    steady_time deadline{};                ///< no retry's wait may reach it
    /// Sending it twice can't do twice what it does: a response, or a failure after the request
    /// may have left, can be retried. Otherwise only a request that never left is sent again.
    bool idempotent = false;
    /// The caller's own token: none is got from the cache, and a 401 is the answer.
    bool own_token = false;
    /// Pays for retries after failures (5xx, transport errors), not after throttling answers;
    /// a call whose retry it can't pay for ends with the failure. Null: nothing to pay.
    retry_budget* budget = nullptr;
    unsigned retry_cost = 0;   ///< a retry after a 5xx or a transport error
    unsigned timeout_cost = 0; ///< a retry after a transport timeout
};

/// graphql(): the request's own attempts or the client's, idempotent when the caller says so or
/// the document can't do anything twice (a query, a sendMessage upsert; may_send_twice); its
/// retries paid from `budget` (null: none).
call_settings graphql_call_settings(const client_config& cfg, const graphql_request& request,
                                    steady_time deadline, retry_budget* budget = nullptr);

/// exchange_code() and refresh(): the token request's attempts and base delay, no cap but the
/// deadline, never idempotent, with their own credentials.
call_settings grant_call_settings(const client_config& cfg, steady_time deadline);

/// A transport failure worth another try: not a cancellation, a deadline, a malformed answer
/// (glue's own codes), a TLS handshake refused, or an unknown host.
bool retryable(const failure& f) noexcept;

/// The events: what the last action came to.
namespace call_events {
struct start {};       ///< before the first action
struct token_ready {}; ///< get_token: the cache holds a token for the workspace
struct token_failed {  ///< get_token: none could be had
    failure error;
};
struct declined {}; ///< send: the token expired while waiting for a connection; nothing sent
struct responded {  ///< send: a whole response came back
    const http_response& response;
    steady_time now;
    double jitter; ///< a draw in [0, 1] (jitter_share()), spent if a backoff follows
};
struct send_failed { ///< send: the transport failed
    const failure& error;
    steady_time now;
    double jitter; ///< as in responded
};
struct invalidated { ///< invalidate_and_retry: the compare-and-invalidate was done
    /// The token is still cached but a forced refresh happened too recently: no refetch
    /// (invalidate_result::throttled).
    bool throttled;
};
struct slept { ///< sleep: true when the whole wait passed; false: cancelled or shut down
    bool completed;
};
} // namespace call_events

using call_event =
    std::variant<call_events::start, call_events::token_ready, call_events::token_failed,
                 call_events::declined, call_events::responded, call_events::send_failed,
                 call_events::invalidated, call_events::slept>;

struct call_action {
    enum kind_t {
        get_token,            ///< have a token cached for the workspace: find(), else get()
        send,                 ///< send the request once, reading the token when it is written
        invalidate_and_retry, ///< a 401: drop the token sent if still cached (once per call)
        sleep,                ///< wait `wait`, cut short by cancellation or shutdown
        done                  ///< the call is over: `error`, or else the last response
    };
    kind_t kind = done;
    std::chrono::nanoseconds wait{}; ///< sleep
    std::optional<failure> error;    ///< done: the call's failure; empty: the last response
};

class graphql_call {
public:
    explicit graphql_call(const call_settings& s) noexcept;

    /// The next action after `e`, the outcome of the last one. An event the last action can't
    /// produce ends the call with errc::internal_error.
    call_action resume(const call_event& e);

    const call_settings& settings() const noexcept { return settings_; }
    /// The attempt being made or about to be (1 for the first).
    unsigned attempt() const noexcept { return attempt_; }

private:
    enum class state { initial, getting_token, sending, invalidating, sleeping, finished };

    call_action on(const call_events::start&);
    call_action on(const call_events::token_ready&);
    call_action on(const call_events::token_failed&);
    call_action on(const call_events::declined&);
    call_action on(const call_events::responded&);
    call_action on(const call_events::send_failed&);
    call_action on(const call_events::invalidated&);
    call_action on(const call_events::slept&);

    /// The next send: after getting a token, unless the caller brought one.
    call_action next_send();
    /// Retry after `wait` if attempts remain, the wait ends before the deadline and the budget
    /// pays `cost` (0: free); else the answer is `error` (empty: the response).
    call_action retry_or_answer(std::optional<std::chrono::nanoseconds> wait, unsigned cost,
                                steady_time now, std::optional<failure> error);
    /// The backoff of this attempt, `jitter` of its cap.
    std::chrono::nanoseconds backoff(double jitter) const noexcept;
    /// How long to wait before sending again after `r`; none: don't.
    std::optional<std::chrono::nanoseconds> retry_wait(const http_response& r,
                                                       double jitter) const noexcept;
    call_action finish(std::optional<failure> error);
    call_action out_of_order();

    call_settings settings_;
    state state_ = state::initial;
    unsigned attempt_ = 1;
    bool retried_401_;  ///< a 401 was answered with invalidate_and_retry (or can't be)
    unsigned paid_ = 0; ///< what the last paid retry cost: a success gives it back
};

} // namespace glue::detail

#endif
