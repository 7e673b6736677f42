// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_THROTTLE_THROTTLE_TABLE_HPP
#define GLUE_THROTTLE_THROTTLE_TABLE_HPP

// When a GraphQL request may go, for every call of the client at once: the pauses the server
// asked for, per workspace and app-wide, and the send rates, configured and adaptive, of both
// scopes. Decisions only: the caller waits for the times it is given (the table runs no timer)
// and reports what it sent and what came back. Thread-safe; no callback, no I/O, under one mutex.
//
// The scope of a throttling answer (the server's documentation names no limit, so the rule is
// glue's, and docs/design.md "Throttling" gives the reasoning):
// - a 429 pauses its workspace's calls until Retry-After (a doubling backoff when it has none);
// - it throttles the app (every call pauses, and with adaptive_rate the app's rate is cut) when
//   429s came for app_workspaces different workspaces within `window` and at least 5% of the
//   app's answers of the last second were 429s: an app-wide limit refuses whoever comes next;
// - otherwise, with adaptive_rate, the workspace's own rate is cut when its 429s are its own: at
//   least three in the last second, three times the app's share of refusals (a workspace over a
//   limit of its own is refused far more often than the others), and three answers a second
//   let through (fewer measure no limit);
// - a 503 with Retry-After throttles the app (the service, not a workspace, is unavailable), as
//   does a 429 with no workspace in play.

#include <glue/metrics.hpp>

#include "support/clock.hpp"
#include "support/outcome.hpp"
#include "throttle/cubic_rate.hpp"
#include "throttle/rate_meter.hpp"
#include "throttle/token_bucket.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace glue::detail {

struct throttle_options {
    double app_rate = 0;       ///< requests per second; 0: none
    double workspace_rate = 0; ///< per workspace; 0: none
    std::size_t burst = 0;     ///< 0: a tenth of a second's worth, at least 1
    bool adaptive = true;
    std::size_t app_workspaces = 3;
    std::chrono::nanoseconds window{std::chrono::seconds(1)};
    std::chrono::nanoseconds backoff_base{std::chrono::milliseconds(100)};
    std::chrono::nanoseconds backoff_max{std::chrono::seconds(10)};
    std::chrono::nanoseconds max_pause{std::chrono::seconds(600)};
};

/// throttle_table::admit()'s answer.
struct admission {
    enum kind_t {
        go,         ///< send now
        wait_pause, ///< a pause lasts until `at`: wait, then ask again
        wait_turn,  ///< the turn is at `at`: wait, then send (give_back() if the call won't)
        refused     ///< `error`: the deadline comes first
    };
    kind_t kind = go;
    steady_time at{};
    std::optional<failure> error;
    /// wait_turn: the turn is the workspace's; at `at`, ask again for the app's (with
    /// workspace_turn_taken), so that a workspace held back by its own limit doesn't hold a
    /// turn of the app's meanwhile, and with it every other workspace.
    bool workspace_turn = false;
    // The turns taken, for give_back(), and the buckets' generations then, for turn_holds().
    std::optional<steady_time> app_taken, workspace_taken;
    unsigned app_generation = 0, workspace_generation = 0;
};

/// Throttling as the server signals it, seen from one answer.
enum class answer_signal {
    accepted,   ///< it got through (any answer but 429 and 5xx)
    throttled,  ///< 429
    unavailable ///< 503 with Retry-After
};

class throttle_table {
public:
    explicit throttle_table(throttle_options o);

    /// What a call for `ws` (empty: none) asking at `now` may do, within `deadline`: the pauses,
    /// then a turn of the workspace's limit (unless `workspace_turn_taken`), then one of the
    /// app's.
    admission admit(std::string_view ws, steady_time now, steady_time deadline,
                    bool workspace_turn_taken = false);

    /// A wait_turn admission whose request won't be sent (cancelled, shut down, paused meanwhile).
    void give_back(std::string_view ws, const admission& a);

    /// Whether the wait_turn admission `a` may send at `now`: no pause holds `ws` or the app, and
    /// no pause began since the turn was given (it restarted the turns; the call asks again).
    /// With an empty admission: whether no pause holds `ws` or the app.
    bool turn_holds(std::string_view ws, const admission& a, steady_time now);

    /// The request goes now (after go, or at its turn).
    void on_sent(std::string_view ws, steady_time now);

    /// An answer to a request for `ws` sent at `sent`. `retry_after` negative: none.
    /// `jitter` in [0, 1] spreads a backoff pause.
    void on_answer(std::string_view ws, answer_signal s, std::chrono::nanoseconds retry_after,
                   steady_time sent, steady_time now, double jitter);

    /// Time a call spent waiting for a pause or a turn; a call that failed waiting.
    void add_wait(std::chrono::nanoseconds d) noexcept;

    /// The counters and rates (retries and the budget are the caller's to fill in).
    throttle_stats stats(steady_time now) const;

    /// Workspaces with a state now (tests: the table stays bounded).
    std::size_t workspace_states() const;

private:
    struct scope {
        steady_time pause_began{}, pause_until{};
        errc pause_error = errc::rate_limited;
        unsigned throttles_in_row = 0;
        token_bucket bucket;
        cubic_rate cubic;
        rate_meter sent, accepted, refused; // refused: 429s
        bool busy(steady_time now) const noexcept;
        double refused_share(steady_time now) const noexcept;
    };

    scope* find(std::string_view ws);
    scope& get(std::string_view ws, steady_time now);
    double rate_in_force(const scope& s) const noexcept;
    const scope& pausing(const scope* w) const noexcept;
    void reconfigure(scope& s) noexcept;
    double burst_of(double rate) const noexcept;
    /// Pauses `s` until now + retry_after, or a backoff when none; true when a new pause began.
    bool pause(scope& s, errc why, std::chrono::nanoseconds retry_after, steady_time now,
               double jitter);
    /// A throttling answer for `s`: its pause, and its rate cut when `cut`.
    void throttle(scope& s, errc why, std::chrono::nanoseconds retry_after, steady_time sent,
                  steady_time now, double jitter, bool app, bool cut);
    /// True when this 429 on `ws` throttles the app (see the rule above).
    bool app_evidence(std::string_view ws, steady_time now);
    bool own_limit(const scope& w, steady_time now) const noexcept;
    static double accepted_rate(const scope& s, steady_time now) noexcept;

    /// The share of the app's answers of the last second that must be 429s for 429s on several
    /// workspaces to throttle the app.
    static constexpr double app_refused_share = 0.05;
    void sweep(steady_time now);

    const throttle_options opts_;
    mutable std::mutex mtx_;
    scope app_;
    // Looked up by string_view, without making a string.
    struct name_hash : std::hash<std::string_view> {
        using is_transparent = void;
    };
    std::unordered_map<std::string, scope, name_hash, std::equal_to<>> workspaces_;
    std::size_t sweep_at_ = 1024;
    // The workspaces refused within the window, and when last; at most app_workspaces.
    std::vector<std::pair<std::string, steady_time>> recent_refusals_;
    throttle_stats counts_; // the counters of stats()
};

} // namespace glue::detail

#endif
