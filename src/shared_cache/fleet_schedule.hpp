// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_SHARED_CACHE_FLEET_SCHEDULE_HPP
#define GLUE_SHARED_CACHE_FLEET_SCHEDULE_HPP

// The fleet permits' decisions, sans-io (time passed in, no clock read, no lock, no I/O): how
// many turns to ask Redis for, the turns a reservation gives on this process's steady clock,
// which held turn the next caller gets, and the local bucket used while Redis is unreachable.
// fleet_permits.cpp carries them out under its lock.

#include "support/clock.hpp"

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>

namespace glue::detail {

/// What the reserve script (reserve_turns_command) replied, in µs from the moment it ran.
struct fleet_reservation {
    std::chrono::microseconds first{0}; ///< turn i at max(0, first + i x spacing)
    std::chrono::microseconds spacing{1};
    long long count = 0; ///< turns reserved
};

class fleet_schedule {
public:
    /// At most this many turns per round trip: a batch's unused turns are lost to the fleet.
    static constexpr long long max_batch = 50;
    /// The look-ahead is the demand of this long (and demand is counted over it).
    static constexpr std::chrono::milliseconds window{100};

    /// `rate`, `burst`: the fleet's; `fallback_rate`: this process's while Redis is unreachable
    /// (<= 0: the fleet's rate), with the same share of the burst, at least 1.
    fleet_schedule(double rate, double burst, double fallback_rate);

    std::chrono::microseconds spacing() const noexcept { return spacing_; }
    /// How early the burst lets a turn come: (burst - 1) x spacing.
    std::chrono::microseconds tolerance() const noexcept { return tolerance_; }

    /// A take() at `now`: counted into the demand.
    void note_take(steady_time now) noexcept;

    /// The next held turn a caller at `now` may have; turns already past are dropped first
    /// (lost). None: a round trip.
    std::optional<steady_time> next_held(steady_time now);
    /// Hands that turn out.
    void take_held() noexcept;
    std::size_t held() const noexcept { return held_.size(); }

    /// The turns to reserve for `waiting` queued callers at `now`: all of them, plus a look-ahead
    /// of the callers expected before its turns pass, at most max_batch.
    long long batch_size(std::size_t waiting, steady_time now) const noexcept;

    /// A reservation whose reply arrived at `anchor` (Redis's "now" is mapped there: never
    /// earlier than Redis meant). Its turns are held after any still held; returns the time of
    /// the first turn it did not reserve.
    steady_time reserved(steady_time anchor, const fleet_reservation& r);

    /// The local bucket's next turn at `now`, and taking it.
    steady_time local_next(steady_time now) const noexcept;
    void local_take(steady_time now) noexcept;

private:
    double demand(steady_time now) const noexcept; // takes in the last window, decayed

    std::chrono::microseconds spacing_, tolerance_;
    std::chrono::nanoseconds local_spacing_, local_tolerance_;
    std::deque<steady_time> held_;
    std::chrono::microseconds lead_{0}; // how far ahead the fleet's next turn was, last reply
    double takes_ = 0;                  // decayed count, as of takes_at_
    steady_time takes_at_{};
    steady_time local_tat_{}; // the local bucket's theoretical arrival time
};

} // namespace glue::detail

#endif
