// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "throttle/cubic_rate.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace glue::detail {

bool cubic_rate::on_throttle(steady_time now, steady_time sent, double accepted) noexcept {
    if (active_ && sent <= cut_) {
        return false;
    }
    // Nothing accepted for a second (an outage): the floor, from where the curve climbs.
    double reference = std::max(accepted, min_rate);
    if (active_) {
        reference = std::min(reference, std::max(rate_, min_rate));
    }
    w_max_ = reference;
    rate_ = std::max(w_max_ * beta, min_rate);
    k_ = std::cbrt(w_max_ * (1 - beta) / scale);
    cut_ = now;
    active_ = true;
    return true;
}

void cubic_rate::on_success(steady_time now, double sending) noexcept {
    if (!active_) {
        return;
    }
    const double t = std::chrono::duration<double>(now - cut_).count() - k_;
    const double curve = scale * t * t * t + w_max_;
    rate_ = std::max(min_rate, std::min(curve, std::max(2 * sending, rate_)));
}

} // namespace glue::detail
