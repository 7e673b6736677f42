// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_THROTTLE_RETRY_BUDGET_HPP
#define GLUE_THROTTLE_RETRY_BUDGET_HPP

// The client's retry budget (client_config::retry_budget), the AWS SDKs' retry quota: each retry
// after a failure pays for itself out of a shared pool, and calls that succeed fill it back. A
// healthy server costs nothing; during an outage the pool runs dry after capacity / cost retries
// and from then on every call makes one attempt, so the load a client adds to a failing server
// is bounded by its calls, not multiplied by its attempts. Lock-free: it is on every call's path.

#include <atomic>
#include <cstdint>

namespace glue::detail {

class retry_budget {
public:
    /// `capacity` 0: no budget, every retry is allowed.
    explicit retry_budget(unsigned capacity) noexcept : capacity_(capacity), left_(capacity) {}

    bool enabled() const noexcept { return capacity_ > 0; }

    /// Pays `cost` for a retry; false (and nothing paid) when the budget can't.
    bool try_spend(unsigned cost) noexcept {
        if (!enabled()) {
            return true;
        }
        unsigned left = left_.load(std::memory_order_relaxed);
        do {
            if (left < cost) {
                denied_.fetch_add(1, std::memory_order_relaxed);
                return false;
            }
        } while (!left_.compare_exchange_weak(left, left - cost, std::memory_order_relaxed));
        return true;
    }

    /// A call succeeded: it gives back what its last retry cost, or 1 if it paid for none.
    void on_success(unsigned paid) noexcept {
        if (!enabled()) {
            return;
        }
        const unsigned back = paid > 0 ? paid : 1;
        unsigned left = left_.load(std::memory_order_relaxed);
        while (left < capacity_ &&
               !left_.compare_exchange_weak(
                   left, back >= capacity_ - left ? capacity_ : left + back, // can't overflow
                   std::memory_order_relaxed)) {
        }
    }

    unsigned left() const noexcept { return left_.load(std::memory_order_relaxed); }
    std::uint64_t denied() const noexcept { return denied_.load(std::memory_order_relaxed); }

private:
    const unsigned capacity_;
    std::atomic<unsigned> left_;
    std::atomic<std::uint64_t> denied_{0};
};

} // namespace glue::detail

#endif
