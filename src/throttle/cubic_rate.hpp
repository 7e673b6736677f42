// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_THROTTLE_CUBIC_RATE_HPP
#define GLUE_THROTTLE_CUBIC_RATE_HPP

// The adaptive send rate of one scope (client_config::adaptive_rate), as TCP CUBIC (RFC 9438)
// and the AWS SDKs' adaptive retry mode shape it: a throttling answer cuts the rate to β of its
// reference, and from then on the rate follows W(t) = C·(t − K)³ + W_max, which climbs quickly
// back towards W_max, lingers near it, then probes beyond. t is seconds since the cut and
// K = ∛(W_max·(1 − β)/C), so W(0) = β·W_max.
//
// Two choices differ from the SDKs':
// - W_max is the rate the server *accepted* over the last second, not the rate sent. After a
//   burst at full speed the sending rate says nothing about the limit (it may be 40 times it);
//   what got through does, so one cut lands near the limit instead of several.
// - Only an answer to a request sent after the last cut cuts again: the requests already on
//   their way were sent at the old rate, and their 429s say nothing new (TCP's one reduction per
//   round trip).
// Unlike the SDKs, nothing is limited before the first throttling answer.

#include "support/clock.hpp"

namespace glue::detail {

class cubic_rate {
public:
    static constexpr double beta = 0.7;  // the share of W_max kept by a cut
    static constexpr double scale = 0.4; // C, in requests/s per s³
    static constexpr double min_rate = 0.5;

    /// Limiting: a throttling answer has come.
    bool active() const noexcept { return active_; }

    /// The rate in force (requests per second); meaningless while !active().
    double rate() const noexcept { return rate_; }

    /// A throttling answer to a request sent at `sent`: cuts the rate, from `accepted` (requests
    /// per second the server let through over the last second) unless that answer is older than
    /// the last cut. True when it cut.
    bool on_throttle(steady_time now, steady_time sent, double accepted) noexcept;

    /// An answer that was not throttled: the rate grows along the curve, to at most twice the
    /// rate actually sent (`sending`), so an idle stretch doesn't build up a rate that was never
    /// tried.
    void on_success(steady_time now, double sending) noexcept;

private:
    bool active_ = false;
    double rate_ = 0;
    double w_max_ = 0;
    double k_ = 0; // seconds from the cut back to W_max
    steady_time cut_{};
};

} // namespace glue::detail

#endif
