// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_CACHE_ENTRY_POLICY_HPP
#define GLUE_CACHE_ENTRY_POLICY_HPP

// What happens to one workspace's cache entry (docs/design.md, "Token cache"), as a pure unit:
// each event (a hit, a miss, a flight's start, success or failure, a 401, the passing of time)
// takes the entry's state and the current time, updates the state, and says what the cache must
// do. Nothing here reads a clock, takes a lock or does I/O; the cache's coroutines carry out the
// actions, so every rule is tested without timers.

#include "cache/cached_token.hpp"
#include "cache/failure_class.hpp"
#include "support/clock.hpp"
#include "support/outcome.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace glue::detail {

/// The settings the entry policy decides with (token_cache_options holds them too).
struct entry_rules {
    std::chrono::milliseconds flight_timeout{std::chrono::seconds(10)};
    std::chrono::milliseconds forced_refresh_interval{std::chrono::seconds(5)};
    std::chrono::milliseconds refresh_min_interval{std::chrono::seconds(10)};
    unsigned retry_attempts = 3;
    std::chrono::milliseconds retry_base_delay{200};
    std::chrono::milliseconds backoff_initial{std::chrono::seconds(1)};
    std::chrono::milliseconds backoff_max{std::chrono::seconds(60)};
    std::chrono::milliseconds permanent_failure_memory{std::chrono::seconds(30)};
    std::chrono::seconds retry_after_cap{600};
};

enum class invalidate_result {
    applied,  ///< the key held the rejected token: dropped, the next get() fetches
    stale,    ///< the key no longer holds it (already replaced or dropped): nothing to do
    throttled ///< it does, but a forced refresh happened too recently: don't refetch
};

/// Everything the policy knows about one workspace. Bounded: a fixed set of fields.
struct entry_state {
    token_ptr token;
    steady_time last_used{};          ///< the previous use: is the workspace in steady use?
    steady_time refresh_not_before{}; ///< no refresh-ahead before (min interval, backoff)
    steady_time retry_not_before{};   ///< until then, callers without a token get `remembered`
    std::optional<failure> remembered;
    unsigned failed_requests = 0; ///< in a row, across flights: drives the backoff
    std::optional<steady_time> last_forced;
    bool forced_pending = false; ///< the next flight follows an applied 401
    std::string rejected_stamp;  ///< with forced_pending: the rejected token's, if shared
};

/// What the cache does for a caller that found a usable token.
struct hit_action {
    bool record_use = false;    ///< the use was recorded: make the entry the most recently used
    bool refresh_ahead = false; ///< start a refresh-ahead flight, unless the endpoint is paused
};

/// What the cache does for a caller that found no usable token and will wait for one.
struct miss_action {
    enum kind {
        join,              ///< a flight is running: wait for its outcome
        answer_remembered, ///< the remembered error is in force: it is the answer, at once
        start_flight,      ///< start one (unless the endpoint is paused: its failure answers)
    };
    kind what;
    std::string_view reason{}; ///< with start_flight: "miss", or "forced" after an applied 401
};

/// What a new flight is given.
struct flight_plan {
    steady_time deadline;
    /// For the shared cache: the stamp of the token this flight replaces, or of the one a 401
    /// rejected.
    std::string replacing;
};

class entry_policy {
public:
    explicit entry_policy(const entry_rules& rules) : rules_(rules) {}

    /// A token is handed out only before its hard margin.
    static bool usable(const token_ptr& t, steady_time now) noexcept {
        return t && now < t->usable_until;
    }

    /// A caller is handed `e.token`, which is usable. Inside the soft window of a workspace in
    /// steady use this also asks for a refresh, in the background.
    hit_action on_hit(entry_state& e, bool flight_running, steady_time now) const noexcept;

    /// A caller found no usable token and will wait for one.
    miss_action on_miss(entry_state& e, bool flight_running, steady_time now) const noexcept;

    /// A flight starts for the entry; `shared`: there is a shared cache to ask first.
    flight_plan on_flight_start(entry_state& e, steady_time now, bool shared) const;

    /// The entry's flight got `t`, which is usable.
    void on_success(entry_state& e, token_ptr t, steady_time now) const noexcept;

    /// The entry's flight failed with `why` after `failed_requests` failed requests of its own;
    /// `paused`: the endpoint's pause stopped it (then `why` is the pause's failure). Returns
    /// when the whole endpoint must pause until, with `why` as what callers get meanwhile.
    std::optional<steady_time> on_failure(entry_state& e, const failure& why,
                                          unsigned failed_requests, bool paused,
                                          steady_time now) const;

    /// A 401 came back for `rejected`: compare and invalidate, at most once per
    /// forced_refresh_interval.
    invalidate_result on_rejected(entry_state& e, const cached_token* rejected,
                                  steady_time now) const;

    /// The entry still holds back requests (an error in force, a recent forced refresh): it
    /// is evicted only after entries that don't.
    bool keeps_state(const entry_state& e, steady_time now) const noexcept;

    /// Nothing left worth keeping: no flight, no token that could still be used, no error still
    /// being remembered. Such an entry is swept.
    static bool expired(const entry_state& e, bool flight_running, steady_time now) noexcept;

    /// After request number `attempt` (1 for the first) of a flight failed with `cls`: the
    /// longest wait before the next one (the flight waits a random share of it), or none when
    /// the flight ends with this failure. `threw`: the request threw (a bug or no memory).
    std::optional<std::chrono::nanoseconds> retry_wait(failure_class cls, unsigned attempt,
                                                       bool threw) const noexcept;

    /// A retry after `wait` still starts before the flight's deadline.
    static bool retry_in_time(steady_time now, std::chrono::nanoseconds wait,
                              steady_time deadline) noexcept;

private:
    bool forced_recently(const entry_state& e, steady_time now) const noexcept;

    entry_rules rules_;
};

/// The whole endpoint's pause: while it lasts no request is sent for any workspace, and callers
/// without a token get its failure. Asked for by an overloaded endpoint or a rejected client.
class endpoint_pause {
public:
    /// Lengthens the pause to `until` (never shortens it), with `why` as its failure.
    void extend(steady_time until, const failure& why);

    /// The pause's failure while it lasts.
    std::optional<failure> at(steady_time now) const;

private:
    steady_time until_{};
    std::optional<failure> why_;
};

} // namespace glue::detail

#endif
