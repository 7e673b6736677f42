// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_THROTTLE_RATE_METER_HPP
#define GLUE_THROTTLE_RATE_METER_HPP

// Events per second over the last second, counted in eighths of a second: a fixed array, no
// allocation, no timer; slots older than a second are skipped when read and reused when written.

#include "support/clock.hpp"

#include <array>
#include <chrono>
#include <cstdint>

namespace glue::detail {

class rate_meter {
public:
    void add(steady_time now, std::uint32_t n = 1) noexcept {
        const auto e = epoch(now);
        auto& s = slots_[static_cast<std::size_t>(e % slot_count)];
        if (s.epoch != e) {
            s.epoch = e;
            s.count = 0;
        }
        s.count += n;
    }

    /// Events in the second before `now` (the current eighth included), per second.
    double per_second(steady_time now) const noexcept {
        const auto e = epoch(now);
        std::uint64_t sum = 0;
        for (const auto& s : slots_) {
            if (s.epoch <= e && e - s.epoch < slot_count) {
                sum += s.count;
            }
        }
        return static_cast<double>(sum);
    }

    bool quiet(steady_time now) const noexcept { return per_second(now) == 0; }

private:
    static constexpr std::int64_t slot_count = 8;
    static constexpr std::chrono::nanoseconds slot_length =
        std::chrono::nanoseconds(std::chrono::seconds(1)) / slot_count;

    static std::int64_t epoch(steady_time t) noexcept { return t.time_since_epoch() / slot_length; }

    struct slot {
        std::int64_t epoch = -slot_count; // never current
        std::uint64_t count = 0;
    };
    std::array<slot, slot_count> slots_{};
};

} // namespace glue::detail

#endif
