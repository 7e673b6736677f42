// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_CLIENT_CALL_METRICS_HPP
#define GLUE_CLIENT_CALL_METRICS_HPP

// client::metrics()'s counters and histograms, recorded by every call without a lock or an
// allocation: relaxed atomic increments, read as a snapshot (each figure exact, the set of them
// not one instant's).

#include <glue/metrics.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace glue::detail {

/// latency_histogram's buckets, filled concurrently.
class atomic_histogram {
public:
    void record(std::chrono::nanoseconds d) noexcept {
        const auto ns = std::max<std::int64_t>(d.count(), 0);
        // The first bound a duration does not exceed (bounds are inclusive); past them all, the
        // last bucket.
        const auto at = std::lower_bound(bounds_ns.begin(), bounds_ns.end(), ns);
        buckets_[static_cast<std::size_t>(at - bounds_ns.begin())].fetch_add(
            1, std::memory_order_relaxed);
        sum_ns_.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
    }

    latency_histogram snapshot() const noexcept {
        latency_histogram h;
        for (std::size_t i = 0; i < buckets_.size(); ++i) {
            h.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
            h.count += h.buckets[i];
        }
        h.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) * 1e-9;
        return h;
    }

private:
    static constexpr std::array<std::int64_t, latency_histogram::bounds.size()> bounds_ns = [] {
        std::array<std::int64_t, latency_histogram::bounds.size()> ns{};
        for (std::size_t i = 0; i < ns.size(); ++i) {
            // The bounds are 1, 2 or 5 times a power of ten: exact in nanoseconds once rounded.
            ns[i] = static_cast<std::int64_t>(latency_histogram::bounds[i] * 1e9 + 0.5);
        }
        return ns;
    }();

    std::array<std::atomic<std::uint64_t>, latency_histogram::bounds.size() + 1> buckets_{};
    std::atomic<std::uint64_t> sum_ns_{0}; // 584 years of durations before it wraps
};

/// What GraphQL calls and exchanges did (client_metrics but the pool's figures).
class call_metrics {
public:
    void call_ended(call_outcome o, std::chrono::nanoseconds took) noexcept {
        calls_.fetch_add(1, std::memory_order_relaxed);
        outcomes_[static_cast<std::size_t>(o)].fetch_add(1, std::memory_order_relaxed);
        call_duration_.record(took);
    }
    void attempt_sent() noexcept { attempts_.fetch_add(1, std::memory_order_relaxed); }
    void retried(retry_reason r) noexcept {
        retries_[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
    }
    void exchanged(std::chrono::nanoseconds took) noexcept { exchange_duration_.record(took); }

    /// Everything but `pool`.
    client_metrics snapshot() const noexcept {
        client_metrics m;
        m.calls = calls_.load(std::memory_order_relaxed);
        m.attempts = attempts_.load(std::memory_order_relaxed);
        for (std::size_t i = 0; i < retries_.size(); ++i) {
            m.retries[i] = retries_[i].load(std::memory_order_relaxed);
        }
        for (std::size_t i = 0; i < outcomes_.size(); ++i) {
            m.outcomes[i] = outcomes_[i].load(std::memory_order_relaxed);
        }
        m.call_duration = call_duration_.snapshot();
        m.exchange_duration = exchange_duration_.snapshot();
        return m;
    }

private:
    std::atomic<std::uint64_t> calls_{0}, attempts_{0};
    std::array<std::atomic<std::uint64_t>, retry_reason_count> retries_{};
    std::array<std::atomic<std::uint64_t>, call_outcome_count> outcomes_{};
    atomic_histogram call_duration_, exchange_duration_;
};

} // namespace glue::detail

#endif
