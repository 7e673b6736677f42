// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "throttle/throttle_table.hpp"

#include "support/backoff.hpp"
#include "support/saturating.hpp"

#include <algorithm>
#include <cmath>

namespace glue::detail {

using std::chrono::nanoseconds;

throttle_table::throttle_table(throttle_options o) : opts_(o) {
    reconfigure(app_);
}

// A workspace quiet for a second loses its adaptive rate with its state: it learns it again if
// it comes back and is throttled, and the table can't grow with every workspace ever throttled.
bool throttle_table::scope::busy(steady_time now) const noexcept {
    return pause_until > now || !bucket.idle(now) || !sent.quiet(now) || !accepted.quiet(now) ||
           !refused.quiet(now);
}

double throttle_table::burst_of(double rate) const noexcept {
    return opts_.burst > 0 ? static_cast<double>(opts_.burst) : default_burst(rate);
}

// The lower of the configured rate and the adaptive one; 0: neither limits.
double throttle_table::rate_in_force(const scope& s) const noexcept {
    const double rate = &s == &app_ ? opts_.app_rate : opts_.workspace_rate;
    if (!s.cubic.active()) {
        return rate;
    }
    return rate > 0 ? std::min(rate, s.cubic.rate()) : s.cubic.rate();
}

void throttle_table::reconfigure(scope& s) noexcept {
    const double rate = rate_in_force(s);
    s.bucket.configure(rate, burst_of(rate));
}

// The scope whose pause ends last: a workspace's (`w`, null for none) or the app's.
const throttle_table::scope& throttle_table::pausing(const scope* w) const noexcept {
    return w && w->pause_until > app_.pause_until ? *w : app_;
}

throttle_table::scope* throttle_table::find(std::string_view ws) {
    if (ws.empty()) {
        return nullptr;
    }
    auto it = workspaces_.find(ws);
    return it == workspaces_.end() ? nullptr : &it->second;
}

// A workspace's state, made when first needed: a workspace limit, or adaptive mode (whose cut
// needs the rate the workspace got through before its first 429).
throttle_table::scope& throttle_table::get(std::string_view ws, steady_time now) {
    if (auto it = workspaces_.find(ws); it != workspaces_.end()) {
        return it->second;
    }
    if (workspaces_.size() + 1 >= sweep_at_) {
        sweep(now); // before the new state goes in: nothing may point into the table then
    }
    auto& s = workspaces_.try_emplace(std::string(ws)).first->second;
    reconfigure(s);
    return s;
}

// Drops the states of workspaces that are done (no pause, a full bucket, nothing sent or
// accepted for a second), once the table has doubled since the last sweep: each state is
// looked at O(1) times on average, and the table holds about the workspaces of the last second.
void throttle_table::sweep(steady_time now) {
    for (auto it = workspaces_.begin(); it != workspaces_.end();) {
        it = it->second.busy(now) ? std::next(it) : workspaces_.erase(it);
    }
    sweep_at_ = std::max<std::size_t>(1024, 2 * workspaces_.size());
}

admission throttle_table::admit(std::string_view ws, steady_time now, steady_time deadline,
                                bool workspace_turn_taken) {
    std::lock_guard lock(mtx_);
    scope* w = find(ws);
    // Pauses first: nothing is sent while the server asked for none.
    if (const scope& p = pausing(w); p.pause_until > now) {
        admission a;
        if (p.pause_until >= deadline) {
            ++counts_.calls_failed_waiting;
            a.kind = admission::refused;
            a.error = make_wait_failure(p.pause_error, now, p.pause_until,
                                        "the server asked for a pause that lasts past the call's "
                                        "deadline");
            return a;
        }
        a.kind = admission::wait_pause;
        a.at = p.pause_until;
        return a;
    }
    if (!w && opts_.workspace_rate > 0 && !ws.empty()) {
        w = &get(ws, now);
    }
    admission a;
    auto refuse = [&](steady_time turn) {
        ++counts_.calls_failed_waiting;
        a.kind = admission::refused;
        a.error =
            make_wait_failure(errc::rate_limited, now, turn,
                              "the call's turn under the rate limit comes after its deadline");
        return a;
    };
    if (w && w->bucket.limited() && !workspace_turn_taken) {
        const steady_time turn = w->bucket.next_turn(now);
        if (turn > now && turn >= deadline) {
            return refuse(turn);
        }
        a.workspace_taken = w->bucket.take(turn);
        a.workspace_generation = w->bucket.generation();
        if (turn > now) {
            a.kind = admission::wait_turn;
            a.workspace_turn = true;
            a.at = turn;
            return a;
        }
    }
    const steady_time turn = app_.bucket.next_turn(now);
    if (turn > now && turn >= deadline) {
        if (a.workspace_taken) {
            w->bucket.give_back(*a.workspace_taken);
        }
        return refuse(turn);
    }
    a.app_taken = app_.bucket.take(turn);
    a.app_generation = app_.bucket.generation();
    a.kind = turn > now ? admission::wait_turn : admission::go;
    a.at = turn;
    return a;
}

void throttle_table::give_back(std::string_view ws, const admission& a) {
    std::lock_guard lock(mtx_);
    if (a.app_taken) {
        app_.bucket.give_back(*a.app_taken);
    }
    if (scope* w = find(ws); w && a.workspace_taken) {
        w->bucket.give_back(*a.workspace_taken);
    }
}

bool throttle_table::turn_holds(std::string_view ws, const admission& a, steady_time now) {
    std::lock_guard lock(mtx_);
    const scope* w = find(ws);
    if (pausing(w).pause_until > now) {
        return false;
    }
    if (a.app_taken && a.app_generation != app_.bucket.generation()) {
        return false;
    }
    return !(w && a.workspace_taken && a.workspace_generation != w->bucket.generation());
}

void throttle_table::on_sent(std::string_view ws, steady_time now) {
    std::lock_guard lock(mtx_);
    ++counts_.requests_sent;
    app_.sent.add(now);
    if (!ws.empty() && (opts_.adaptive || opts_.workspace_rate > 0)) {
        get(ws, now).sent.add(now);
    }
}

bool throttle_table::pause(scope& s, errc why, nanoseconds retry_after, steady_time now,
                           double jitter) {
    nanoseconds wait = retry_after;
    if (wait.count() < 0) {
        // No Retry-After: half the doubling backoff for sure, the other half jittered, so the
        // scope's calls don't all come back at once yet the pause still grows.
        const nanoseconds cap = doubled(opts_.backoff_base, s.throttles_in_row, opts_.backoff_max);
        wait = cap / 2 + jittered(cap / 2, jitter);
    }
    wait = std::min(wait, opts_.max_pause);
    const steady_time until = saturating_add(now, wait);
    const bool began = s.pause_until <= now;
    if (began) {
        s.pause_began = now;
    }
    if (until > s.pause_until) {
        s.pause_until = until;
        s.pause_error = why;
        // The calls holding turns will ask again after the pause: their turns are void, and the
        // first turn is the pause's end (else the void ones would leave the limit idle after it).
        if (s.bucket.limited()) {
            s.bucket.restart_at(until);
        }
    }
    return began;
}

void throttle_table::throttle(scope& s, errc why, nanoseconds retry_after, steady_time sent,
                              steady_time now, double jitter, bool app, bool cut) {
    // Read before this answer's pause starts: it measures the time the last pause left.
    const double accepted = accepted_rate(s, now);
    ++s.throttles_in_row;
    if (pause(s, why, retry_after, now, jitter)) {
        ++(app ? counts_.app_pauses : counts_.workspace_pauses);
    }
    // A scope that got nothing through in the last second keeps its rate: its 429 says nothing
    // about how much it may send (it was idle, or everything is refused and the pause covers
    // it), and a cut from zero would leave it at the floor.
    if (opts_.adaptive && cut && accepted >= 1 && s.cubic.on_throttle(now, sent, accepted)) {
        reconfigure(s);
    }
}

// What the server accepted of `s` per second of the last one that `s` was not paused: right
// after a pause the plain count says more about the pause than about the server.
double throttle_table::accepted_rate(const scope& s, steady_time now) noexcept {
    const steady_time from =
        saturating_add(now, -std::chrono::nanoseconds(std::chrono::seconds(1)));
    const auto paused = std::min(now, s.pause_until) - std::max(from, s.pause_began);
    const double active = 1.0 - std::clamp(std::chrono::duration<double>(paused).count(), 0.0, 0.9);
    return s.accepted.per_second(now) / active;
}

// The share of the answers of the last second that were 429s.
double throttle_table::scope::refused_share(steady_time now) const noexcept {
    const double no = refused.per_second(now);
    const double all = no + accepted.per_second(now);
    return all > 0 ? no / all : 0;
}

bool throttle_table::app_evidence(std::string_view ws, steady_time now) {
    std::erase_if(recent_refusals_, [&](const auto& r) { return now - r.second > opts_.window; });
    auto it = std::find_if(recent_refusals_.begin(), recent_refusals_.end(),
                           [&](const auto& r) { return r.first == ws; });
    if (it != recent_refusals_.end()) {
        it->second = now;
    } else if (recent_refusals_.size() < opts_.app_workspaces) {
        recent_refusals_.emplace_back(std::string(ws), now);
    }
    return recent_refusals_.size() >= opts_.app_workspaces &&
           app_.refused_share(now) >= app_refused_share;
}

// Whether `w`'s 429s are its own: at least three in the last second, and at least three times
// the share of the app's answers that were refused. Under an app-wide limit every workspace is
// refused about as often as the others. A workspace the server let through fewer than three
// times in the last second isn't cut either: too few answers to tell a limit of its own from the
// first refusals of an app-wide one (a cut to a rate that low would hold its waiting calls to
// turns far apart, long after the rate grew back); its pauses hold it.
bool throttle_table::own_limit(const scope& w, steady_time now) const noexcept {
    return w.refused.per_second(now) >= 3 && accepted_rate(w, now) >= 3 &&
           w.refused_share(now) >= 3 * app_.refused_share(now);
}

void throttle_table::on_answer(std::string_view ws, answer_signal sig, nanoseconds retry_after,
                               steady_time sent, steady_time now, double jitter) {
    std::lock_guard lock(mtx_);
    scope* w = ws.empty() ? nullptr : (opts_.adaptive ? &get(ws, now) : find(ws));
    switch (sig) {
    case answer_signal::accepted:
        for (scope* s : {&app_, w}) {
            if (!s) {
                continue;
            }
            s->throttles_in_row = 0;
            s->accepted.add(now);
            if (s->cubic.active()) {
                s->cubic.on_success(now, s->sent.per_second(now));
                reconfigure(*s);
            }
        }
        return;
    case answer_signal::throttled: {
        ++counts_.throttled;
        app_.refused.add(now);
        if (!w && !ws.empty()) {
            w = &get(ws, now);
        }
        const bool app = !w || app_evidence(ws, now);
        if (w) {
            w->refused.add(now);
            throttle(*w, errc::rate_limited, retry_after, sent, now, jitter, false,
                     !app && own_limit(*w, now));
        }
        if (app) {
            throttle(app_, errc::rate_limited, retry_after, sent, now, jitter, true, true);
        }
        return;
    }
    case answer_signal::unavailable:
        ++counts_.throttled;
        throttle(app_, errc::server_error, retry_after, sent, now, jitter, true, true);
        return;
    }
}

void throttle_table::add_wait(nanoseconds d) noexcept {
    std::lock_guard lock(mtx_);
    const auto add = static_cast<std::uint64_t>(std::max<nanoseconds::rep>(d.count(), 0));
    counts_.wait_ns = add > UINT64_MAX - counts_.wait_ns ? UINT64_MAX : counts_.wait_ns + add;
}

throttle_stats throttle_table::stats(steady_time now) const {
    std::lock_guard lock(mtx_);
    throttle_stats s = counts_;
    s.send_rate = app_.sent.per_second(now);
    s.app_rate_limit = rate_in_force(app_);
    return s;
}

std::size_t throttle_table::workspace_states() const {
    std::lock_guard lock(mtx_);
    return workspaces_.size();
}

} // namespace glue::detail
