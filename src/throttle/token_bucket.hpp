// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_THROTTLE_TOKEN_BUCKET_HPP
#define GLUE_THROTTLE_TOKEN_BUCKET_HPP

// A token bucket kept as the time its next request conforms (GCRA, the "virtual scheduling"
// form): a rate r and a burst b let a request through at t when t ≥ tat - (b - 1)/r, and each
// request moves tat on by 1/r. A request that can't go now is given its turn, a time in the
// future, instead of a refusal; turns are handed out in the order they are asked for, so the
// waiters are served first come, first served, and nothing has to run while the bucket refills.

#include "support/clock.hpp"
#include "support/saturating.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace glue::detail {

/// The burst of a limit configured without one: a tenth of a second's worth, at least 1. A
/// double: a tenth of a huge rate doesn't fit an integer.
inline double default_burst(double rate) noexcept {
    return std::max(1.0, std::ceil(rate / 10));
}

class token_bucket {
public:
    /// Sets the rate (requests per second; ≤ 0, NaN or infinite: no limit) and the burst
    /// (requests, at least 1). Turns already given keep their times.
    void configure(double rate, double burst) noexcept {
        if (!(rate > 0) || std::isinf(rate)) {
            interval_ = std::chrono::nanoseconds::zero();
            return;
        }
        interval_ = std::chrono::nanoseconds(
            static_cast<std::chrono::nanoseconds::rep>(std::min(1e9 / rate, 1e18)));
        interval_ = std::max(interval_, std::chrono::nanoseconds(1));
        const double b = std::max(burst, 1.0);
        tolerance_ = std::chrono::nanoseconds(static_cast<std::chrono::nanoseconds::rep>(
            std::min((b - 1) * static_cast<double>(interval_.count()), 1e18)));
    }

    bool limited() const noexcept { return interval_.count() > 0; }

    /// The earliest time a request asked for at `now` may go.
    steady_time next_turn(steady_time now) const noexcept {
        if (!limited()) {
            return now;
        }
        return std::max(now, saturating_add(tat_, -tolerance_));
    }

    /// Takes the turn at `t` (not before next_turn()); the value to give back() if it goes
    /// unused.
    steady_time take(steady_time t) noexcept {
        if (limited()) {
            tat_ = saturating_add(std::max(tat_, t), interval_);
        }
        return tat_;
    }

    /// A turn taken with take() (`taken`: what it returned) that will not be used: the bucket
    /// gets it back if no later turn was taken since, else it is lost (it can't be moved).
    void give_back(steady_time taken) noexcept {
        if (limited() && tat_ == taken) {
            tat_ = saturating_add(tat_, -interval_);
        }
    }

    /// Forgets every turn given: the next goes at `t`. For a pause, after which every waiting
    /// call asks for a turn again; generation() tells the turns given before from those after.
    void restart_at(steady_time t) noexcept {
        tat_ = t;
        ++generation_;
    }

    unsigned generation() const noexcept { return generation_; }

    /// True when the bucket is full at `now`: forgetting it would change nothing.
    bool idle(steady_time now) const noexcept { return !limited() || tat_ <= now; }

private:
    std::chrono::nanoseconds interval_{};  // 1/rate; zero: no limit
    std::chrono::nanoseconds tolerance_{}; // (burst - 1)/rate
    steady_time tat_{};                    // theoretical arrival time of the next request
    unsigned generation_ = 0;              // restarts so far
};

} // namespace glue::detail

#endif
