// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_SUPPORT_SATURATING_HPP
#define GLUE_SUPPORT_SATURATING_HPP

// Duration and deadline arithmetic that clamps instead of overflowing. Every timeout, backoff
// and lifetime is configurable, and std::chrono arithmetic is plain signed integer arithmetic:
// `now + milliseconds::max()` is undefined behaviour and in practice a deadline in the past, and
// `backoff × 2^n` in nanoseconds wraps negative after a few dozen failures. Deadlines and waits
// go through these helpers, so an absurd value means "very long", never "already over".

#include <chrono>
#include <limits>

namespace glue::detail {

/// `d` in `To`'s units, clamped to To's range (rounded toward zero, as duration_cast).
template <class To, class Rep, class Period>
constexpr To saturating_cast(std::chrono::duration<Rep, Period> d) noexcept {
    // Compared in floating point, where no conversion between units can overflow.
    const long double v = std::chrono::duration<long double, typename To::period>(d).count();
    if (v >= static_cast<long double>(To::max().count())) {
        return To::max();
    }
    if (v <= static_cast<long double>(To::min().count())) {
        return To::min();
    }
    return std::chrono::duration_cast<To>(d);
}

/// `t + d`, clamped to the range of t's type.
template <class Clock, class Dur, class Rep, class Period>
constexpr std::chrono::time_point<Clock, Dur>
saturating_add(std::chrono::time_point<Clock, Dur> t,
               std::chrono::duration<Rep, Period> d) noexcept {
    using time_point = std::chrono::time_point<Clock, Dur>;
    const Dur step = saturating_cast<Dur>(d);
    const Dur since = t.time_since_epoch();
    if (step > Dur::zero() && since > Dur::max() - step) {
        return time_point::max();
    }
    if (step < Dur::zero() && since < Dur::min() - step) {
        return time_point::min();
    }
    return t + step;
}

/// `a - b`, clamped to the range of their duration type.
template <class Clock, class Dur>
constexpr Dur saturating_sub(std::chrono::time_point<Clock, Dur> a,
                             std::chrono::time_point<Clock, Dur> b) noexcept {
    const Dur x = a.time_since_epoch(), y = b.time_since_epoch();
    if (y < Dur::zero() && x > Dur::max() + y) {
        return Dur::max();
    }
    if (y > Dur::zero() && x < Dur::min() + y) {
        return Dur::min();
    }
    return x - y;
}

/// `base × 2^(n-1)` (n ≥ 1), at most `cap`: the exponential part of a backoff.
template <class Rep1, class Period1, class Rep2, class Period2>
constexpr std::chrono::nanoseconds doubled(std::chrono::duration<Rep1, Period1> base, unsigned n,
                                           std::chrono::duration<Rep2, Period2> max) noexcept {
    const auto cap = saturating_cast<std::chrono::nanoseconds>(max);
    auto d = saturating_cast<std::chrono::nanoseconds>(base);
    if (d <= std::chrono::nanoseconds::zero()) {
        return std::chrono::nanoseconds::zero();
    }
    for (unsigned i = 1; i < n && d < cap; ++i) {
        d = d > std::chrono::nanoseconds::max() / 2 ? std::chrono::nanoseconds::max() : 2 * d;
    }
    return d < cap ? d : cap;
}

} // namespace glue::detail

#endif
