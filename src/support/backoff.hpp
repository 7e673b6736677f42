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

inline std::chrono::nanoseconds full_jitter(std::chrono::nanoseconds cap) {
    thread_local std::minstd_rand rng{std::random_device{}()};
    std::uniform_real_distribution<double> share(0.0, 1.0);
    return saturating_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double, std::nano>(static_cast<double>(cap.count()) * share(rng)));
}

/// The wait before retry number `retry` (1 for the first).
template <class Rep1, class Period1, class Rep2, class Period2>
std::chrono::nanoseconds backoff_delay(std::chrono::duration<Rep1, Period1> base, unsigned retry,
                                       std::chrono::duration<Rep2, Period2> max) {
    return full_jitter(doubled(base, retry, max));
}

} // namespace glue::detail

#endif
