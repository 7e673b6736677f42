// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_SUPPORT_BACKOFF_HPP
#define GLUE_SUPPORT_BACKOFF_HPP

// Exponential backoff with full jitter: the wait before retry n is uniform in
// [0, min(max, base × 2^(n-1))), so clients that failed together don't retry together.

#include "support/saturating.hpp"

#include <algorithm>
#include <chrono>
#include <random>

namespace glue::detail {

/// A uniform draw in [0, 1): the share of a backoff's cap to wait.
inline double jitter_share() {
    thread_local std::minstd_rand rng{std::random_device{}()};
    std::uniform_real_distribution<double> share(0.0, 1.0);
    return share(rng);
}

/// `share` of `cap`, `share` taken into [0, 1] (NaN as 0): a wait with full jitter, its draw
/// made by the caller, so that code deciding on waits draws nothing itself.
inline std::chrono::nanoseconds jittered(std::chrono::nanoseconds cap, double share) noexcept {
    share = share > 0.0 ? (share < 1.0 ? share : 1.0) : 0.0;
    return saturating_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double, std::nano>(static_cast<double>(cap.count()) * share));
}

inline std::chrono::nanoseconds full_jitter(std::chrono::nanoseconds cap) {
    return jittered(cap, jitter_share());
}

/// The wait before retry number `retry` (1 for the first).
template <class Rep1, class Period1, class Rep2, class Period2>
std::chrono::nanoseconds backoff_delay(std::chrono::duration<Rep1, Period1> base, unsigned retry,
                                       std::chrono::duration<Rep2, Period2> max) {
    return full_jitter(doubled(base, retry, max));
}

} // namespace glue::detail

#endif
