// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_DETAIL_BACKOFF_HPP
#define GLUE_DETAIL_BACKOFF_HPP

// Exponential backoff with full jitter: the wait before retry n is uniform in
// [0, min(max, base × 2^(n-1))), so clients that failed together don't retry together.

#include <algorithm>
#include <chrono>
#include <random>

namespace glue::detail {

inline std::chrono::nanoseconds full_jitter(std::chrono::nanoseconds cap) {
    thread_local std::minstd_rand rng{std::random_device{}()};
    std::uniform_real_distribution<double> share(0.0, 1.0);
    return std::chrono::duration_cast<std::chrono::nanoseconds>(cap * share(rng));
}

/// The wait before retry number `retry` (1 for the first).
inline std::chrono::nanoseconds backoff_delay(std::chrono::nanoseconds base, unsigned retry,
                                              std::chrono::nanoseconds max) {
    auto cap = base;
    for (unsigned i = 1; i < retry && cap < max; ++i) {
        cap *= 2;
    }
    return full_jitter(std::min(cap, max));
}

} // namespace glue::detail

#endif
