// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.

#include "shared_cache/fleet_schedule.hpp"

#include "support/saturating.hpp"

#include <algorithm>
#include <cmath>

namespace glue::detail {

namespace {

using std::chrono::microseconds;
using std::chrono::nanoseconds;
using seconds_f = std::chrono::duration<double>;

// `count` of `To`'s units, rounded, within [lo, hi] (NaN: hi, as an absurd rate would be).
template <class To>
To span(long double count, typename To::rep lo, typename To::rep hi) {
    if (!(count >= static_cast<long double>(lo))) {
        return To(std::isnan(count) ? hi : lo);
    }
    return To(count >= static_cast<long double>(hi)
                  ? hi
                  : static_cast<typename To::rep>(std::llround(count)));
}

// The arguments the reserve script keeps exact (reserve_turns_command), the local bucket alike.
constexpr long long max_spacing_us = 1LL << 40, max_tolerance_us = 1LL << 50;

} // namespace

fleet_schedule::fleet_schedule(double rate, double burst, double fallback_rate)
    : spacing_(span<microseconds>(1e6L / rate, 1, max_spacing_us))
    , tolerance_(
          span<microseconds>((std::max(burst, 1.0) - 1) * spacing_.count(), 0, max_tolerance_us)) {
    const double local = fallback_rate > 0 ? fallback_rate : rate;
    // The burst's share is the rate's: a tenth of the rate gets a tenth of the burst.
    const double local_burst = std::max(1.0, std::max(burst, 1.0) * local / rate);
    local_spacing_ = span<nanoseconds>(1e9L / local, 1, max_spacing_us * 1000);
    local_tolerance_ =
        span<nanoseconds>((local_burst - 1) * local_spacing_.count(), 0, max_tolerance_us * 1000);
}

double fleet_schedule::demand(steady_time now) const noexcept {
    if (now <= takes_at_) {
        return takes_;
    }
    return takes_ * std::exp(-seconds_f(now - takes_at_).count() / seconds_f(window).count());
}

void fleet_schedule::note_take(steady_time now) noexcept {
    takes_ = demand(now) + 1;
    takes_at_ = std::max(takes_at_, now);
}

std::optional<steady_time> fleet_schedule::next_held(steady_time now) {
    // A turn handed out late would go out together with the turns after it, more than the
    // fleet's bucket allows in that span: once past, it is lost.
    while (!held_.empty() && held_.front() < now) {
        held_.pop_front();
    }
    if (held_.empty()) {
        return std::nullopt;
    }
    return held_.front();
}

void fleet_schedule::take_held() noexcept {
    if (!held_.empty()) {
        held_.pop_front();
    }
}

long long fleet_schedule::batch_size(std::size_t waiting, steady_time now) const noexcept {
    // The look-ahead: the callers expected in the next window (as many as in the last one),
    // but only as many as arrive before their turns pass. Turns come one per spacing from
    // `lead_` ahead (how far the fleet's schedule ran ahead at the last reply); callers at
    // `rate`: caller i comes at i / rate and may have turn i until lead + i x spacing. At or
    // above the fleet's rate (the fleet saturated by this process) all of them do; below it,
    // only rate x lead / (1 - rate x spacing). An idle fleet (lead 0) so gets no look-ahead
    // from a process slower than it: turns it would lose.
    const double expected = demand(now);
    const double rate = expected / seconds_f(window).count();
    const double load = rate * seconds_f(spacing_).count();
    double ahead = expected;
    if (load < 1) {
        ahead = std::min(ahead, rate * seconds_f(lead_).count() / (1 - load));
    }
    const double n = static_cast<double>(waiting) + std::floor(ahead);
    return std::clamp<long long>(
        n >= static_cast<double>(max_batch) ? max_batch : static_cast<long long>(n), 1, max_batch);
}

steady_time fleet_schedule::reserved(steady_time anchor, const fleet_reservation& r) {
    // A reply is bounded as its arguments were, whatever it says.
    const long long first =
        std::clamp<long long>(r.first.count(), -max_tolerance_us, max_tolerance_us);
    const long long step = std::clamp<long long>(r.spacing.count(), 1, max_spacing_us);
    const long long count = std::clamp<long long>(r.count, 0, max_batch);
    for (long long i = 0; i < count; ++i) {
        held_.push_back(saturating_add(anchor, microseconds(std::max(0LL, first + i * step))));
    }
    lead_ = microseconds(std::max(0LL, first));
    return saturating_add(anchor, microseconds(std::max(0LL, first + count * step)));
}

steady_time fleet_schedule::local_next(steady_time now) const noexcept {
    return std::max(now, saturating_add(local_tat_, -local_tolerance_));
}

void fleet_schedule::local_take(steady_time now) noexcept {
    local_tat_ = saturating_add(std::max(local_tat_, now), local_spacing_);
}

} // namespace glue::detail
