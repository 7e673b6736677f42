// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "cache/entry_policy.hpp"

#include "support/saturating.hpp"

#include <algorithm>
#include <utility>

namespace glue::detail {

namespace {

// Consecutive failed requests counted for the backoff: 2^63 of anything is past every cap.
constexpr unsigned max_counted_failures = 63;

} // namespace

hit_action entry_policy::on_hit(entry_state& e, bool flight_running,
                                steady_time now) const noexcept {
    const cached_token& t = *e.token;
    hit_action a;
    // Only a workspace in use, not one touched once after a long pause, is refreshed ahead: its
    // previous use must lie within the last soft window.
    const auto window = t.token.expires_at - t.refresh_from;
    const bool in_use = now <= saturating_add(e.last_used, window);
    // Recorded only every 1/16 of the window: most hits then write nothing but the shard's own
    // line, which keeps two threads from passing cache lines back and forth.
    if (now >= saturating_add(e.last_used, window / 16)) {
        e.last_used = now;
        a.record_use = true;
    }
    a.refresh_ahead =
        now >= t.refresh_from && in_use && !flight_running && now >= e.refresh_not_before;
    return a;
}

miss_action entry_policy::on_miss(entry_state& e, bool flight_running,
                                  steady_time now) const noexcept {
    e.last_used = now;
    if (flight_running) {
        return {miss_action::join};
    }
    if (now < e.retry_not_before && e.remembered) {
        return {miss_action::answer_remembered};
    }
    return {miss_action::start_flight, e.forced_pending ? "forced" : "miss"};
}

flight_plan entry_policy::on_flight_start(entry_state& e, steady_time now, bool shared) const {
    // With a shared cache, a flight may first wait (at most one flight_timeout) for another
    // process's flight, and then has a whole flight_timeout of its own.
    flight_plan p;
    p.deadline = saturating_add(saturating_add(now, rules_.flight_timeout),
                                shared ? rules_.flight_timeout : std::chrono::milliseconds(0));
    p.replacing = e.forced_pending ? std::exchange(e.rejected_stamp, std::string())
                  : e.token        ? e.token->stamp
                                   : std::string();
    return p;
}

void entry_policy::on_success(entry_state& e, token_ptr t, steady_time now) const noexcept {
    // A token that arrives already inside its soft window isn't refreshed at once.
    e.refresh_not_before =
        now >= t->refresh_from ? saturating_add(now, rules_.refresh_min_interval) : steady_time{};
    e.token = std::move(t);
    e.failed_requests = 0;
    e.remembered.reset();
    e.retry_not_before = {};
    e.forced_pending = false;
}

// A failure never drops a usable token: it only decides how long callers without one get the
// error at once, and when the next request may go. A flight that sent nothing (stopped by the
// endpoint's pause, or never given a slot before its deadline) failed for reasons that are not
// the key's: it leaves the key's state alone. One the pause stopped after failures of its own
// backs off for those, and leaves the pause as it is.
std::optional<steady_time> entry_policy::on_failure(entry_state& e, const failure& why,
                                                    unsigned failed_requests, bool paused,
                                                    steady_time now) const {
    e.forced_pending = false;
    const auto cls = classify(why);
    if (cls == failure_class::aborted || failed_requests == 0) {
        return std::nullopt;
    }
    e.failed_requests = failed_requests >= max_counted_failures
                            ? max_counted_failures
                            : std::min(e.failed_requests + failed_requests, max_counted_failures);
    auto wait = doubled(rules_.backoff_initial, e.failed_requests, rules_.backoff_max);
    // The server's Retry-After lengthens the backoff, never shortens it: `Retry-After: 0` must
    // not let every new caller send another request.
    const auto retry_after = why.diag ? why.diag->retry_after : std::chrono::seconds(-1);
    const auto asked = std::max<std::chrono::nanoseconds>(
        wait, std::min(saturating_cast<std::chrono::nanoseconds>(retry_after),
                       saturating_cast<std::chrono::nanoseconds>(rules_.retry_after_cap)));
    std::optional<steady_time> pause_endpoint;
    switch (paused ? failure_class::transient : cls) {
    case failure_class::permanent:
        wait = saturating_cast<std::chrono::nanoseconds>(rules_.permanent_failure_memory);
        break;
    case failure_class::client_rejected:
        wait = saturating_cast<std::chrono::nanoseconds>(rules_.permanent_failure_memory);
        pause_endpoint = saturating_add(now, wait);
        break;
    case failure_class::rate_limited:
        wait = asked;
        break;
    case failure_class::overloaded:
        wait = asked;
        pause_endpoint = saturating_add(now, wait);
        break;
    default:
        break;
    }
    e.remembered = why;
    e.retry_not_before = saturating_add(now, wait);
    e.refresh_not_before = e.retry_not_before;
    return pause_endpoint;
}

invalidate_result entry_policy::on_rejected(entry_state& e, const cached_token* rejected,
                                            steady_time now) const {
    if (!rejected || e.token.get() != rejected) {
        return invalidate_result::stale;
    }
    if (forced_recently(e, now)) {
        return invalidate_result::throttled;
    }
    e.rejected_stamp = e.token->stamp;
    e.token.reset();
    e.last_forced = now;
    e.forced_pending = true;
    return invalidate_result::applied;
}

bool entry_policy::keeps_state(const entry_state& e, steady_time now) const noexcept {
    return (e.remembered && now < e.retry_not_before) || forced_recently(e, now);
}

bool entry_policy::expired(const entry_state& e, bool flight_running, steady_time now) noexcept {
    return !flight_running && (!e.token || now >= e.token->token.expires_at) &&
           now >= e.retry_not_before;
}

std::optional<std::chrono::nanoseconds>
entry_policy::retry_wait(failure_class cls, unsigned attempt, bool threw) const noexcept {
    // Only a transient failure may go away by itself; a request that threw would do the same.
    if (cls != failure_class::transient || attempt >= rules_.retry_attempts || threw) {
        return std::nullopt;
    }
    return doubled(rules_.retry_base_delay, attempt, std::chrono::nanoseconds::max());
}

bool entry_policy::retry_in_time(steady_time now, std::chrono::nanoseconds wait,
                                 steady_time deadline) noexcept {
    return saturating_add(now, wait) < deadline;
}

bool entry_policy::forced_recently(const entry_state& e, steady_time now) const noexcept {
    return e.last_forced && now < saturating_add(*e.last_forced, rules_.forced_refresh_interval);
}

//------------------------------------------------------------------------------

void endpoint_pause::extend(steady_time until, const failure& why) {
    if (until > until_) {
        until_ = until;
        why_ = why;
    }
}

std::optional<failure> endpoint_pause::at(steady_time now) const {
    if (now < until_) {
        return why_;
    }
    return std::nullopt;
}

} // namespace glue::detail
